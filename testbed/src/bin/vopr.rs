//! `vopr`: sweeps seeds through the simulator with every fault on, prints each violation with the
//! command that reproduces it, a failover table per timing profile, and a last line
//! `seeds: N, violations: V, failovers: F, sim-seconds: S, wall-seconds: W`.
//! Exits non-zero when V > 0.

use std::process::ExitCode;
use std::time::Duration;

use kvip_core::Defects;
use kvip_testbed::sim::{profile, run, run_traced, PROFILES};
use kvip_testbed::vopr::{
    failover_table, options_for, render_table, reproduce_command, sweep, Overrides,
};

const USAGE: &str = "usage: vopr [--seeds N | --seed S] [--first S] [--nodes K] [--profile 15/10/2|5/3/1|1/0.6/0.2]
            [--sim-seconds SECS] [--threads T] [--failover-runs R] [--no-table] [--trace] [--plant DEFECT]
  --seeds N          run seeds first..first+N (default 100), 600 simulated seconds each
  --seed S           run one seed (add --trace to print its whole timeline)
  --failover-runs R  quiet runs per profile and kind for the failover table (default 50; 0 = no table)";

struct Args {
    first: u64,
    count: u64,
    single: bool,
    overrides: Overrides,
    sim_seconds: u64,
    threads: usize,
    failover_runs: u64,
    trace: bool,
    plant: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        first: 0,
        count: 100,
        single: false,
        overrides: Overrides::default(),
        sim_seconds: 600,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        failover_runs: 50,
        trace: false,
        plant: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        let num = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: expected a whole number, got {v:?}"))
        };
        match flag.as_str() {
            "--seeds" => a.count = num("--seeds", value("--seeds")?)?,
            "--seed" => {
                a.first = num("--seed", value("--seed")?)?;
                a.count = 1;
                a.single = true;
            }
            "--first" => a.first = num("--first", value("--first")?)?,
            "--nodes" => {
                let n = num("--nodes", value("--nodes")?)?;
                if !(3..=7).contains(&n) {
                    return Err(format!("--nodes: expected 3 to 7, got {n}"));
                }
                a.overrides.nodes = Some(n as usize);
            }
            "--profile" => {
                let v = value("--profile")?;
                let names: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
                a.overrides.profile = Some(
                    profile(&v)
                        .ok_or(format!("--profile: expected one of {names:?}, got {v:?}"))?,
                );
            }
            "--sim-seconds" => a.sim_seconds = num("--sim-seconds", value("--sim-seconds")?)?,
            "--threads" => a.threads = num("--threads", value("--threads")?)? as usize,
            "--failover-runs" => {
                a.failover_runs = num("--failover-runs", value("--failover-runs")?)?
            }
            "--no-table" => a.failover_runs = 0,
            "--trace" => a.trace = true,
            "--plant" => a.plant = Some(value("--plant")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn defects(plant: Option<&str>) -> Result<Defects, String> {
    let Some(name) = plant else {
        return Ok(Defects::default());
    };
    let defect = kvip_core::Defect::from_name(name).ok_or_else(|| {
        let names: Vec<_> = kvip_core::Defect::ALL.iter().map(|d| d.name()).collect();
        format!("--plant: unknown defect {name:?}; known: {names:?}")
    })?;
    #[cfg(feature = "planted-defects")]
    return Ok(Defects::planted(defect));
    #[cfg(not(feature = "planted-defects"))]
    Err(format!(
        "--plant {}: rebuild with --features planted-defects",
        defect.name()
    ))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let defects = match defects(args.plant.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let phase = Duration::from_secs(args.sim_seconds);
    println!(
        "vopr: seeds {}..{} fault-phase {}s threads {} plant {}",
        args.first,
        args.first + args.count,
        args.sim_seconds,
        args.threads,
        args.plant.as_deref().unwrap_or("none")
    );
    if args.single {
        let opts = options_for(args.first, phase, &args.overrides);
        println!("options: {opts}");
        if args.trace {
            let report = run_traced(opts, defects.clone());
            for line in &report.trace {
                println!("{line}");
            }
            println!("trace-hash: {:016x}", report.trace_hash);
        }
    }
    let summary = sweep(
        args.first,
        args.count,
        phase,
        &args.overrides,
        &defects,
        args.threads,
    );
    for r in &summary.violations {
        println!(
            "VIOLATION {}",
            r.violation.as_ref().expect("only violations are kept")
        );
        println!("  options: {}", r.options);
        println!(
            "  reproduce: {}",
            reproduce_command(&r.options, args.plant.as_deref())
        );
    }
    let replay = options_for(args.first, phase, &args.overrides);
    let (a, b) = (
        run(replay.clone(), defects.clone()),
        run(replay, defects.clone()),
    );
    let deterministic = a.trace_hash == b.trace_hash;
    println!(
        "determinism: seed {} run twice -> trace hashes {:016x} {:016x} ({})",
        args.first,
        a.trace_hash,
        b.trace_hash,
        if deterministic { "same" } else { "DIFFERENT" }
    );
    if args.failover_runs > 0 && !args.single {
        let latency = Duration::from_millis(5);
        print!(
            "{}",
            render_table(&failover_table(args.failover_runs, 5, latency), latency)
        );
    }
    println!(
        "seeds: {}, violations: {}, failovers: {}, sim-seconds: {:.0}, wall-seconds: {:.1}",
        summary.seeds,
        summary.violations.len(),
        summary.failovers,
        summary.sim_seconds,
        summary.wall_seconds
    );
    if summary.violations.is_empty() && deterministic {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
