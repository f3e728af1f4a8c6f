//! `scenario`: runs a story of SCENARIOS.md in network namespaces with real etcd and
//! kube-apiservers and kvip on every master, injects faults on the holder, prints each timeline
//! and exits non-zero when a check fails. Without root it runs the simulated story instead.
//!
//! `scenario [s1|s2] [--fault power-off|graceful-stop|apiserver-killed|lan-cut|link-flap|all]
//!           [--profile 5/3/1|1/0.6/0.2|15/10/2]`
//!
//! The LoadBalancer stories (namespaces only, root): `scenario s2-lb|s3 [--bring-up]` runs S2's
//! LoadBalancer part or S3 (see `kvip_scenarios::lb`); `--bring-up` stops once the cluster, the
//! stand-ins, the objects and the cloud provider's assignments are in place.

use std::process::ExitCode;

use kvip_scenarios::faults::Fault;
use kvip_scenarios::runner::Scenario;
use kvip_scenarios::{binaries, lb, story, trial};
use kvip_testbed::netns;
use kvip_testbed::sim::profile;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(story) = args.first().filter(|a| *a == "s2-lb" || *a == "s3") {
        return load_balancer(story, &args[1..]);
    }
    let mut name = "s2".to_string();
    let mut faults = vec![Fault::PowerOff];
    let mut timing = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "s1" | "s2" => name = a.clone(),
            "--fault" => {
                let v = it.next().map(String::as_str).unwrap_or("");
                faults = match v {
                    "all" => Fault::ALL.to_vec(),
                    _ => match Fault::from_name(v) {
                        Some(f) => vec![f],
                        None => return usage(&format!("unknown fault {v:?}")),
                    },
                };
            }
            "--profile" => {
                let v = it.next().map(String::as_str).unwrap_or("");
                match profile(v) {
                    Some(p) => timing = Some(p.timing),
                    None => return usage(&format!("unknown profile {v:?}")),
                }
            }
            "-h" | "--help" => return usage(""),
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    if let Some(reason) = netns::skip_reason() {
        println!("scenario {name}: namespaces unavailable ({reason}); running the simulated story instead");
        let p = profile("5/3/1").expect("known profile");
        let report = kvip_testbed::story::leader_loss(p);
        for line in &report.trace {
            println!("{line}");
        }
        return if report.violations.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match run(&name, timing, &faults) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("scenario {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    name: &str,
    timing: Option<kvip_core::ElectionTiming>,
    faults: &[Fault],
) -> anyhow::Result<bool> {
    let kvip = binaries::kvip()?;
    let story = if name == "s1" {
        story::s1(timing)
    } else {
        story::s2(timing)
    };
    println!("scenario {name}: VIP {} timing {:?}; building the cluster (real etcd + kube-apiserver per master)…", story.vip, story.timing);
    let started = std::time::Instant::now();
    let mut s = Scenario::start(story, kvip, &binaries::workspace().join("deploy"))?;
    println!(
        "cluster up and first holder elected in {:.1} s: {:?}",
        started.elapsed().as_secs_f64(),
        s.holders()
    );
    let mut ok = true;
    for &fault in faults {
        let report = trial::run(&mut s, fault)?;
        println!("{fault}:");
        print!("{}", report.render());
        ok &= report.failures.is_empty();
    }
    Ok(ok)
}

/// `scenario s2-lb|s3 [--bring-up]`.
fn load_balancer(story: &str, rest: &[String]) -> ExitCode {
    let mut mode = lb::Mode::Full;
    for a in rest {
        match a.as_str() {
            "--bring-up" => mode = lb::Mode::BringUp,
            "-h" | "--help" => return usage(""),
            other => return usage(&format!("unknown argument {other:?} for {story}")),
        }
    }
    if let Some(reason) = lb::skip_reason() {
        eprintln!(
            "scenario {story}: cannot run ({reason}); the LoadBalancer stories need namespaces"
        );
        return ExitCode::from(2);
    }
    match lb::run(story, mode) {
        Ok(timeline) if timeline.failures.is_empty() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("scenario {story}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage(error: &str) -> ExitCode {
    if !error.is_empty() {
        eprintln!("scenario: {error}");
    }
    eprintln!("usage: scenario [s1|s2] [--fault power-off|graceful-stop|apiserver-killed|lan-cut|link-flap|all] [--profile 5/3/1|1/0.6/0.2|15/10/2]");
    eprintln!("       scenario s2-lb|s3 [--bring-up]");
    if error.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
