//! `story`: the main job for now — a simulated leader loss on three masters with its timeline
//! (lease writes, address changes, announcements, the crash, the takeover) and the failover time.
//! `story [PROFILE]` with PROFILE one of 15/10/2, 5/3/1 (default, the articles'), 1/0.6/0.2.

use std::process::ExitCode;

use kvip_testbed::sim::{profile, PROFILES};
use kvip_testbed::story::{leader_loss, options};

fn main() -> ExitCode {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "5/3/1".to_string());
    let Some(p) = profile(&name) else {
        let names: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
        eprintln!("unknown profile {name:?}; expected one of {names:?}");
        return ExitCode::from(2);
    };
    println!("story: leader loss, simulated; {}", options(p));
    let report = leader_loss(p);
    for line in &report.trace {
        println!("{line}");
    }
    for v in &report.violations {
        println!("VIOLATION {v}");
    }
    match report.stats.crash_ns.first() {
        Some(ns) if report.violations.is_empty() => {
            let t = p.timing;
            println!(
                "failover: {:.1} ms from power-off to the new holder's first announcement \
                 (leaseDuration {:?} + retryPeriod {:?} = {:?}; invariants held)",
                *ns as f64 / 1e6,
                t.lease_duration,
                t.retry_period,
                t.lease_duration + t.retry_period
            );
            ExitCode::SUCCESS
        }
        _ => {
            println!("FAILED: no takeover measured or an invariant broke");
            ExitCode::FAILURE
        }
    }
}
