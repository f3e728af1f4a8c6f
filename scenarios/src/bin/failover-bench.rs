//! `failover-bench`: the failover benchmark (issue 3, item 6). In one run, on S2's topology in
//! namespaces (real etcd + kube-apiserver per master, the same client probe), it runs every fault R
//! times on the holder for kvip at profiles 5/3/1 and 1/0.6/0.2 and for keepalived configured as S4
//! describes, and prints p50 / p99 / max client outage per (system, profile, fault), the ratio
//! kvip / keepalived, kvip's first-announcement latency, the one-MAC checks, and the daemons'
//! peak RSS (VmHWM) and idle CPU. One cluster per (system, profile), restored between trials.
//!
//! ```text
//! failover-bench [--runs 20] [--faults power-off,graceful-stop,…] [--systems kvip,keepalived]
//!                [--profiles 5/3/1,1/0.6/0.2] [--idle-secs 10] [--max-minutes 180] [--out FILE]
//!                [--timelines]
//! ```
//! Needs root (namespaces) and the cached kube-apiserver; it is a binary, never run by `cargo test`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use kvip_scenarios::bench::{self, Cell, Key, Stats};
use kvip_scenarios::faults::Fault;
use kvip_scenarios::keepalived::Keepalived;
use kvip_scenarios::runner::{Daemon, Scenario};
use kvip_scenarios::{binaries, story, trial};
use kvip_testbed::netns;
use kvip_testbed::sim::profile;

/// The failover benchmark: kvip (two profiles) against keepalived (S4) on S2's topology.
#[derive(Parser, Debug)]
#[command(name = "failover-bench")]
struct Args {
    /// Trials per (system, profile, fault).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Comma-separated faults (power-off, graceful-stop, apiserver-killed, lan-cut, link-flap) or `all`.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Comma-separated systems: kvip, keepalived.
    #[arg(long, default_value = "kvip,keepalived")]
    systems: String,
    /// Comma-separated kvip profiles (leaseDuration/renewDeadline/retryPeriod).
    #[arg(long, default_value = "5/3/1,1/0.6/0.2")]
    profiles: String,
    /// Idle window for the CPU reading, seconds (≥ 10).
    #[arg(long, default_value_t = 10)]
    idle_secs: u64,
    /// Stop starting trials after this many minutes (the table shows what ran).
    #[arg(long, default_value_t = 180)]
    max_minutes: u64,
    /// Also write one line per trial (TSV) to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Print every trial's timeline (otherwise only the first of each fault and failed ones).
    #[arg(long)]
    timelines: bool,
}

/// The daemon's resource figures of one (system, profile).
#[derive(Debug, Default)]
struct Resources {
    /// Peak VmHWM per process kind (`kvip`, `keepalived`, `keepalived-vrrp`), kB.
    hwm_kb: BTreeMap<String, u64>,
    /// Idle CPU per process: (name, % own, % with reaped children), over `idle`.
    idle: Vec<(String, f64, f64)>,
    /// The idle window.
    window: Duration,
}

struct Group {
    system: String,
    profile: String,
    daemon: Daemon,
    timing: Option<kvip_core::ElectionTiming>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(reason) = netns::skip_reason() {
        eprintln!("failover-bench: namespaces unavailable ({reason}); the benchmark needs root and the cached kube-apiserver");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("failover-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_faults(s: &str) -> Result<Vec<Fault>> {
    if s == "all" {
        return Ok(Fault::ALL.to_vec());
    }
    s.split(',')
        .map(|f| Fault::from_name(f.trim()).with_context(|| format!("unknown fault {f:?}")))
        .collect()
}

fn groups(args: &Args) -> Result<Vec<Group>> {
    let mut out = Vec::new();
    for system in args.systems.split(',').map(str::trim) {
        match system {
            "kvip" => {
                for p in args.profiles.split(',').map(str::trim) {
                    let prof = profile(p).with_context(|| format!("unknown profile {p:?}"))?;
                    out.push(Group {
                        system: "kvip".into(),
                        profile: p.into(),
                        daemon: Daemon::Kvip,
                        timing: Some(prof.timing),
                    });
                }
            }
            "keepalived" => {
                let k = Keepalived::s4();
                out.push(Group {
                    system: "keepalived".into(),
                    profile: format!("S4 adv{}s", k.advert_int),
                    daemon: Daemon::Keepalived(k),
                    timing: None,
                })
            }
            other => bail!("unknown system {other:?} (kvip, keepalived)"),
        }
    }
    if out.is_empty() {
        bail!("no system to run");
    }
    Ok(out)
}

/// A rough per-trial time for the estimate: probe lead, failover, tail, arping, restore.
fn estimate(g: &Group, fault: Fault) -> Duration {
    let failover = match (&g.daemon, fault) {
        (Daemon::Kvip, Fault::GracefulStop | Fault::LinkFlap) => Duration::from_secs(1),
        (Daemon::Kvip, _) => g
            .timing
            .map_or(Duration::from_secs(5), |t| t.lease_duration),
        (Daemon::Keepalived(k), Fault::ApiServerKilled) => {
            Duration::from_secs(u64::from(k.script_interval * k.script_fall))
                + Duration::from_secs(4)
        }
        (Daemon::Keepalived(_), _) => Duration::from_secs(4),
    };
    let restore = match fault {
        Fault::PowerOff | Fault::ApiServerKilled => Duration::from_secs(7),
        _ => Duration::from_secs(1),
    };
    let settle = match (&g.daemon, fault) {
        (Daemon::Keepalived(_), Fault::ApiServerKilled) => Duration::from_secs(10),
        (Daemon::Keepalived(_), _) => Duration::from_secs(5),
        _ => Duration::ZERO,
    };
    Duration::from_secs(5) + failover + restore + settle
}

fn run(args: &Args) -> Result<()> {
    let faults = parse_faults(&args.faults)?;
    let groups = groups(args)?;
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let idle = Duration::from_secs(args.idle_secs.max(10));
    let deadline = Instant::now() + Duration::from_secs(args.max_minutes * 60);
    let est: Duration = groups
        .iter()
        .map(|g| {
            Duration::from_secs(25)
                + idle
                + faults.iter().map(|&f| estimate(g, f)).sum::<Duration>() * args.runs as u32
        })
        .sum();
    println!(
        "failover-bench: {} × {:?} × {} runs on S2 in namespaces; estimated {:.0} min (bound {} min)",
        groups
            .iter()
            .map(|g| format!("{} {}", g.system, g.profile))
            .collect::<Vec<_>>()
            .join(", "),
        faults.iter().map(|f| f.name()).collect::<Vec<_>>(),
        args.runs,
        est.as_secs_f64() / 60.0,
        args.max_minutes
    );
    let kvip = binaries::kvip()?;
    let deploy = binaries::workspace().join("deploy");
    let mut out = match &args.out {
        Some(p) => {
            let mut f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            writeln!(f, "system\tprofile\tfault\trun\toutage_ms\told\tnew\tarping\tcapture\tswitches\ttwo_holders\tfailures")?;
            Some(f)
        }
        None => None,
    };
    let started = Instant::now();
    let mut cells: BTreeMap<Key, Cell> = BTreeMap::new();
    let mut resources: Vec<(String, String, Resources)> = Vec::new();
    let mut announce: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut stopped_early = false;
    for g in &groups {
        order.push((g.system.clone(), g.profile.clone()));
        if Instant::now() >= deadline {
            stopped_early = true;
            break;
        }
        let start = |g: &Group| -> Result<Scenario> {
            let t = Instant::now();
            let s =
                Scenario::start_with(story::s2(g.timing), g.daemon.clone(), kvip.clone(), &deploy)?;
            println!(
                "[{:>6.0}s] {} {}: cluster up, first holder {:?} in {:.1} s",
                started.elapsed().as_secs_f64(),
                g.system,
                g.profile,
                s.holders(),
                t.elapsed().as_secs_f64()
            );
            Ok(s)
        };
        let mut s = start(g)?;
        let mut res = Resources {
            window: idle,
            ..Resources::default()
        };
        std::thread::sleep(Duration::from_secs(2));
        res.idle = idle_cpu(&mut s, idle);
        sample_hwm(&mut s, &mut res);
        let mut rebuilds = 0;
        let mut logs: Vec<String> = Vec::new();
        'rounds: for r in 0..args.runs {
            for &fault in &faults {
                if Instant::now() >= deadline {
                    stopped_early = true;
                    break 'rounds;
                }
                let key = (g.system.clone(), g.profile.clone(), fault);
                sample_hwm(&mut s, &mut res);
                let result = trial::run(&mut s, fault);
                sample_hwm(&mut s, &mut res);
                let cell = cells.entry(key).or_default();
                match result {
                    Ok(rep) => {
                        let ok = rep.failures.is_empty();
                        cell.outages.push(rep.outage);
                        cell.passed += usize::from(ok);
                        cell.arping_one += usize::from(rep.arping_macs.len() == 1);
                        let allowed = bench::allowed_switches(fault, s.preempts());
                        cell.capture_one += usize::from(rep.capture_switches <= allowed);
                        cell.max_switches = cell.max_switches.max(rep.capture_switches);
                        cell.two_holders += usize::from(rep.two_holders);
                        println!(
                            "[{:>6.0}s] {} {} {} #{}: outage {:.0} ms, {} -> {}{}",
                            started.elapsed().as_secs_f64(),
                            g.system,
                            g.profile,
                            fault,
                            r + 1,
                            rep.outage.as_secs_f64() * 1000.0,
                            rep.old_holder,
                            rep.new_holder,
                            if ok {
                                String::new()
                            } else {
                                format!(", FAILED: {}", rep.failures.join("; "))
                            }
                        );
                        if args.timelines || r == 0 || !ok {
                            print!("{}", rep.render());
                        }
                        if let Some(f) = out.as_mut() {
                            writeln!(
                                f,
                                "{}\t{}\t{}\t{}\t{:.1}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                                g.system,
                                g.profile,
                                fault,
                                r + 1,
                                rep.outage.as_secs_f64() * 1000.0,
                                rep.old_holder,
                                rep.new_holder,
                                rep.arping_macs.join(","),
                                rep.capture_macs.join(","),
                                rep.capture_switches,
                                rep.two_holders,
                                rep.failures.join("; ")
                            )?;
                        }
                    }
                    Err(e) => {
                        cell.errors += 1;
                        println!(
                            "[{:>6.0}s] {} {} {} #{}: ERROR {e:#}; rebuilding the cluster",
                            started.elapsed().as_secs_f64(),
                            g.system,
                            g.profile,
                            fault,
                            r + 1
                        );
                        rebuilds += 1;
                        logs.extend(kvip_logs(&s));
                        drop(s);
                        if rebuilds > 3 {
                            bail!(
                                "{} {}: more than 3 rebuilds; giving up",
                                g.system,
                                g.profile
                            );
                        }
                        s = start(g)?;
                    }
                }
            }
        }
        sample_hwm(&mut s, &mut res);
        logs.extend(kvip_logs(&s));
        if matches!(g.daemon, Daemon::Kvip) {
            let lat: Vec<Duration> = logs
                .iter()
                .flat_map(|l| bench::announce_latencies(l))
                .collect();
            announce.insert(g.profile.clone(), lat);
        }
        resources.push((g.system.clone(), g.profile.clone(), res));
        drop(s);
    }
    println!(
        "\n=== failover-bench: S2 topology (3 masters, real etcd + kube-apiserver), client probe TCP + HTTPS /readyz every 10 ms; {} runs per cell; {:.1} min{} ===",
        args.runs,
        started.elapsed().as_secs_f64() / 60.0,
        if stopped_early { " (stopped at --max-minutes: n < runs)" } else { "" }
    );
    println!("client outage: last good probe before the first failure → first good probe after the last failure (0 = no failed probe); percentiles nearest-rank");
    println!("pass = trials with every check passed; arp1 = arping -b answered by one MAC; mac1 = the capture saw one MAC at a time (the announcing MAC changed once per handover: 1, or 2 when keepalived preempts back after a LAN cut / link flap); sw = most MAC changes in one trial; 2hold = two holders seen at once; err = trials that errored (cluster rebuilt)\n");
    print!("{}", bench::render_table(&cells, &order, &faults));
    println!("\nkvip first announcement after the address add (from kvip's logs, every takeover of the run):");
    for (p, lat) in &announce {
        let st = Stats::of(lat);
        println!(
            "  kvip {p:<10} n={:<4} p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            st.n,
            st.p50.as_secs_f64() * 1000.0,
            st.p99.as_secs_f64() * 1000.0,
            st.max.as_secs_f64() * 1000.0
        );
    }
    println!("\ndaemon resources (VmHWM sampled from /proc before and after every trial; idle CPU = Δ(utime+stime) / wall over an idle window):");
    for (sys, p, r) in &resources {
        let hwm: Vec<String> = r
            .hwm_kb
            .iter()
            .map(|(k, v)| format!("{k} {:.1} MB", *v as f64 / 1024.0))
            .collect();
        println!("  {sys} {p}: peak RSS {}", hwm.join(", "));
        for (name, own, with_children) in &r.idle {
            println!(
                "    idle CPU over {:.0} s: {name} {own:.2} %{}",
                r.window.as_secs_f64(),
                if (with_children - own).abs() > 0.005 {
                    format!(" ({with_children:.2} % with its reaped children, e.g. check scripts)")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}

/// Every kvip log of the scenario (empty for keepalived).
fn kvip_logs(s: &Scenario) -> Vec<String> {
    if !matches!(s.daemon(), Daemon::Kvip) {
        return Vec::new();
    }
    s.master_names().iter().map(|m| s.kvip_log(m)).collect()
}

/// The kind of a daemon process from its name (`kvip-master01` → `kvip`).
fn kind(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((k, _)) => k.to_string(),
        None => name.to_string(),
    }
}

fn sample_hwm(s: &mut Scenario, res: &mut Resources) {
    for (name, pid) in s.daemon_pids() {
        if let Some(kb) = bench::read_vm_hwm_kb(pid) {
            let e = res.hwm_kb.entry(kind(&name)).or_default();
            *e = (*e).max(kb);
        }
    }
}

/// Idle CPU of every daemon process over `window`: (name, % own, % with reaped children).
fn idle_cpu(s: &mut Scenario, window: Duration) -> Vec<(String, f64, f64)> {
    let hz = clock_ticks();
    type Reading = (String, u32, Option<(u64, u64)>);
    let before: Vec<Reading> = s
        .daemon_pids()
        .into_iter()
        .map(|(n, p)| (n, p, bench::read_cpu_ticks(p)))
        .collect();
    let t = Instant::now();
    std::thread::sleep(window);
    let wall = t.elapsed().as_secs_f64();
    before
        .into_iter()
        .filter_map(|(name, pid, b)| {
            let (own0, ch0) = b?;
            let (own1, ch1) = bench::read_cpu_ticks(pid)?;
            let own = own1.saturating_sub(own0) as f64 / hz / wall * 100.0;
            let all = (own1 + ch1).saturating_sub(own0 + ch0) as f64 / hz / wall * 100.0;
            Some((name, own, all))
        })
        .collect()
}

/// `getconf CLK_TCK` (100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
