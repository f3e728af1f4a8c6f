//! The VOPR: runs many seeds with all faults on, and measures failover per timing profile in quiet
//! worlds. The `vopr` binary prints what these return.

use std::time::{Duration, Instant as WallInstant};

use kvip_core::Defects;

use crate::sim::stats::{percentiles, RunStats};
use crate::sim::{run, Profile, RunReport, SimOptions, World, PROFILES};

/// Overrides applied to every seed of a sweep.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Node count.
    pub nodes: Option<usize>,
    /// Timing profile.
    pub profile: Option<Profile>,
}

/// The options seed `seed` names under `overrides`.
pub fn options_for(seed: u64, fault_phase: Duration, overrides: &Overrides) -> SimOptions {
    let mut opts = SimOptions::from_seed(seed, fault_phase);
    if let Some(n) = overrides.nodes {
        opts.nodes = n;
    }
    if let Some(p) = overrides.profile {
        opts.profile = p;
    }
    opts
}

/// The command that reproduces one seed.
pub fn reproduce_command(opts: &SimOptions, plant: Option<&str>) -> String {
    let features = if plant.is_some() {
        " --features planted-defects"
    } else {
        ""
    };
    let plant = plant.map(|p| format!(" --plant {p}")).unwrap_or_default();
    format!(
        "cargo run --release -p kvip-testbed{features} --bin vopr -- --seed {} --nodes {} --profile {} --sim-seconds {}{plant} --trace",
        opts.seed,
        opts.nodes,
        opts.profile.name,
        opts.fault_phase.as_secs()
    )
}

/// Totals of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepSummary {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that broke an invariant.
    pub violations: Vec<RunReport>,
    /// Failovers seen.
    pub failovers: u64,
    /// Simulated seconds.
    pub sim_seconds: f64,
    /// Wall seconds.
    pub wall_seconds: f64,
}

/// Runs `count` seeds from `first` on `threads` threads.
pub fn sweep(
    first: u64,
    count: u64,
    fault_phase: Duration,
    overrides: &Overrides,
    defects: &Defects,
    threads: usize,
) -> SweepSummary {
    let started = WallInstant::now();
    let threads = threads.max(1) as u64;
    let results: Vec<(u64, Vec<RunReport>, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let (mut failovers, mut bad, mut sim) = (0, Vec::new(), 0.0);
                    let mut seed = first + t;
                    while seed < first + count {
                        let report =
                            run(options_for(seed, fault_phase, overrides), defects.clone());
                        failovers += report.stats.failovers;
                        sim += report.stats.sim_ns as f64 / 1e9;
                        if report.violation.is_some() {
                            bad.push(report);
                        }
                        seed += threads;
                    }
                    (failovers, bad, sim)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sweep thread"))
            .collect()
    });
    let mut summary = SweepSummary {
        seeds: count,
        ..Default::default()
    };
    for (f, bad, sim) in results {
        summary.failovers += f;
        summary.violations.extend(bad);
        summary.sim_seconds += sim;
    }
    summary.violations.sort_by_key(|r| r.options.seed);
    summary.wall_seconds = started.elapsed().as_secs_f64();
    summary
}

/// Failover figures of one profile, in ns.
#[derive(Debug, Clone)]
pub struct FailoverRow {
    /// The profile.
    pub profile: Profile,
    /// Crash failover samples.
    pub crash: Vec<u64>,
    /// Graceful handover samples.
    pub graceful: Vec<u64>,
}

/// Measures crash failover and graceful handover in quiet worlds (`nodes` nodes, fixed API
/// latency), `runs` of each per profile.
pub fn failover_table(runs: u64, nodes: usize, api_latency: Duration) -> Vec<FailoverRow> {
    PROFILES
        .iter()
        .map(|&profile| {
            let mut stats = RunStats::default();
            for seed in 0..runs {
                for graceful in [false, true] {
                    let opts = SimOptions::quiet(seed, nodes, profile, api_latency);
                    let mut world = World::new(opts, Defects::default(), false);
                    world.measure_takeover(graceful);
                    let report = world.run();
                    stats.crash_ns.extend(report.stats.crash_ns);
                    stats.graceful_ns.extend(report.stats.graceful_ns);
                }
            }
            FailoverRow {
                profile,
                crash: stats.crash_ns,
                graceful: stats.graceful_ns,
            }
        })
        .collect()
}

/// Renders the failover table.
pub fn render_table(rows: &[FailoverRow], api_latency: Duration) -> String {
    let ms = |ns: u64| ns as f64 / 1e6;
    let mut s = format!(
        "failover (quiet world, API latency {api_latency:?}; ms from fault to the new holder's first announcement)\n\
         {:<10} {:>5} {:>9} {:>9} {:>9}   {:>5} {:>9} {:>9} {:>9}   {:>12}\n",
        "profile", "crash", "p50", "p99", "max", "grace", "p50", "p99", "max", "lease+retry"
    );
    for r in rows {
        let (c50, c99, cmax) = percentiles(&r.crash);
        let (g50, g99, gmax) = percentiles(&r.graceful);
        let t = r.profile.timing;
        s += &format!(
            "{:<10} {:>5} {:>9.1} {:>9.1} {:>9.1}   {:>5} {:>9.1} {:>9.1} {:>9.1}   {:>12.1}\n",
            r.profile.name,
            r.crash.len(),
            ms(c50),
            ms(c99),
            ms(cmax),
            r.graceful.len(),
            ms(g50),
            ms(g99),
            ms(gmax),
            (t.lease_duration + t.retry_period).as_secs_f64() * 1000.0
        );
    }
    s
}
