//! Global mode (S2's environment: `svc_enable`, one Lease `plndr-svcs-lock` whose holder announces
//! every Service) on one cluster, in this order:
//! 1. (part `writes`) one Service, settled: API writes per second over the window;
//! 2. the other Services created in batches: time until the holder has every address and every
//!    ingress is written; kvip's peak RSS;
//! 3. (part `writes`) API writes per second with N Services, and the ratio to one;
//! 4. (part `global`) leader changes: graceful stop (SIGTERM) and power-off of the holder, each
//!    timed until one other master has every address and every Service names it in
//!    `kube-vip.io/vipHost`; the cluster is restored and steady between them;
//! 5. peak RSS again (the restarted kvips included).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::cluster::{secs, BenchCluster};
use super::converge::{steady, watch, Converged};
use super::metrics::{self, Writes};
use super::plan::Plan;
use super::report::{Report, Target};
use super::Options;
use crate::faults::Fault;
use crate::lb::kube::SERVICES_LEASE;
use crate::story;

/// The leader-change target (every address on the new holder and every Service naming it).
const LEADER_CHANGE_TARGET_S: f64 = 5.0;
/// The RSS target per kvip, MB.
const RSS_TARGET_MB: f64 = 40.0;
/// The target for writes/s with N Services over writes/s with one.
const WRITES_RATIO_TARGET: f64 = 2.0;
/// Quiet time after a settle before a write window opens (last status writes, events).
const QUIET: Duration = Duration::from_secs(3);

/// Runs the global-mode parts.
pub fn run(opts: &Options, kvip: &Path, report: &mut Report) -> Result<()> {
    let n = opts.services;
    report.say(format!(
        "== global mode: S2's environment (svc_enable, Lease kube-system/{SERVICES_LEASE}), {n} Services =="
    ));
    let t = Instant::now();
    let mut c = BenchCluster::start(story::s2(None), kvip)?;
    report.say(format!(
        "cluster up in {} (3 masters: etcd + kube-apiserver + kvip each)",
        secs(t.elapsed())
    ));
    let plan = Plan::new("lb", 210, n);
    let mut first = 0;
    let mut one = None;
    if opts.writes && n > 1 {
        c.create(&plan, 0..1)?;
        let single = Plan::new("lb", 210, 1);
        let holder = steady(&c, &single)
            .map_err(|e| anyhow::anyhow!("1 Service never settled: {e}"))?
            .0;
        report.say(format!("1 Service settled on {holder}"));
        std::thread::sleep(QUIET);
        one = Some(writes_window(&c, opts.window, report, "1 Service")?);
        first = 1;
    }

    report.say(format!(
        "creating Services {first}..{n} (kubectl create, batches of 250)"
    ));
    let t0 = Instant::now();
    c.create(&plan, first..n)?;
    let created = t0.elapsed();
    report.say(format!("  created in {}", secs(created)));
    let conv = watch(&c, &plan, None, false, t0)?;
    match (&conv.addresses, &conv.services) {
        (Ok((h, ta)), Ok((_, ts))) => {
            report.say(format!(
                "  all {} addresses on {h} at {}, every ingress written at {} (from the first create)",
                n - first,
                secs(*ta),
                secs(*ts)
            ));
            report.figure(
                format!(
                    "global: create {} Services -> all addresses on holder",
                    n - first
                ),
                ta.as_secs_f64(),
                "s",
                Target::None,
            );
            report.figure(
                format!(
                    "global: create {} Services -> all ingress written",
                    n - first
                ),
                ts.as_secs_f64(),
                "s",
                Target::None,
            );
        }
        _ => fail_converged(report, "initial settle", &conv),
    }
    let holder = steady(&c, &plan)
        .map_err(|e| anyhow::anyhow!("{n} Services never settled: {e}"))?
        .0;
    report.say(format!(
        "steady: {holder} holds {SERVICES_LEASE} and all {n} addresses; every Service names it"
    ));
    let mut peak = rss(&mut c, report, "after the Services settled");

    if let Some(one) = one {
        std::thread::sleep(QUIET);
        let many = writes_window(&c, opts.window, report, &format!("{n} Services"))?;
        report.figure("writes/s, global, 1 Service", one, "writes/s", Target::None);
        report.figure(
            format!("writes/s, global, {n} Services"),
            many,
            "writes/s",
            Target::None,
        );
        let ratio = if one > 0.0 { many / one } else { f64::INFINITY };
        report.figure(
            format!("writes/s ratio {n} / 1"),
            ratio,
            "x",
            Target::AtMost(WRITES_RATIO_TARGET),
        );
    }

    if opts.global {
        for fault in [Fault::GracefulStop, Fault::PowerOff] {
            if let Err(e) = leader_change(&mut c, &plan, fault, report) {
                report.failed(format!("leader change ({fault}): {e:#}"));
                break;
            }
        }
        for (name, kb) in c.kvip_hwm() {
            peak = peak.max(kb);
            report.say(format!(
                "  {name}: VmHWM {:.1} MB (at the end)",
                kb as f64 / 1024.0
            ));
        }
    }
    report.figure(
        format!("kvip peak RSS (VmHWM, max of masters), {n} Services"),
        peak as f64 / 1024.0,
        "MB",
        Target::AtMost(RSS_TARGET_MB),
    );
    Ok(())
}

/// Prints every kvip's VmHWM; returns the largest, kB.
fn rss(c: &mut BenchCluster, report: &mut Report, when: &str) -> u64 {
    let mut peak = 0;
    for (name, kb) in c.kvip_hwm() {
        peak = peak.max(kb);
        report.say(format!(
            "  {name}: VmHWM {:.1} MB ({when})",
            kb as f64 / 1024.0
        ));
    }
    peak
}

fn fail_converged(report: &mut Report, what: &str, conv: &Converged) {
    if let Err(e) = &conv.addresses {
        report.failed(format!("{what}: addresses {e}"));
    }
    if let Err(e) = &conv.services {
        report.failed(format!("{what}: Services {e}"));
    }
}

/// `fault` on the holder of the services Lease: prints and records the times, then restores the
/// master and waits for the steady state again.
fn leader_change(
    c: &mut BenchCluster,
    plan: &Plan,
    fault: Fault,
    report: &mut Report,
) -> Result<()> {
    let old = c
        .lease_holder(SERVICES_LEASE, None)?
        .context("the services Lease has no holder")?;
    report.say(format!(
        "-- leader change: {fault} of {old} (holder of {SERVICES_LEASE})"
    ));
    let t0 = Instant::now();
    let t0_ns = crate::runner::now_ns();
    match c.scenario.inject(fault, &old) {
        Ok(_) => report.say(format!("  {fault} done in {}", secs(t0.elapsed()))),
        Err(e) => report.failed(format!("{fault} of {old}: {e:#}")),
    }
    if fault == Fault::PowerOff {
        c.off.insert(old.clone());
    }
    let conv = watch(c, plan, Some(&old), true, t0)?;
    if let Some(f) = conv.first_address {
        report.say(format!("  first address on another master at {}", secs(f)));
    }
    match (&conv.addresses, &conv.services) {
        (Ok((a, ta)), Ok((s, ts))) => {
            report.say(format!(
                "  every address on {a} at {}; every Service names {s} at {}",
                secs(*ta),
                secs(*ts)
            ));
            if a != s {
                report.failed(format!("{fault}: addresses on {a} but Services name {s}"));
            }
            let total = ta.max(ts);
            report.figure(
                format!(
                    "leader change, {fault}: fault -> addresses + vipHost ({} Services)",
                    plan.count
                ),
                total.as_secs_f64(),
                "s",
                Target::None,
            );
            // The leader change itself starts when the new holder takes the Lease: at once after
            // a graceful stop, after leaseDuration after a power-off.
            let acquired = c
                .scenario
                .daemon_events(a, t0_ns)
                .into_iter()
                .find(|(_, what)| what == "services lease acquired")
                .map(|(t, _)| Duration::from_secs_f64(t));
            match acquired {
                Some(at) => {
                    report.say(format!("  {a} took {SERVICES_LEASE} at {}", secs(at)));
                    report.figure(
                        format!(
                            "leader change, {fault}: Lease taken -> addresses + vipHost ({} Services)",
                            plan.count
                        ),
                        total.saturating_sub(at).as_secs_f64(),
                        "s",
                        Target::AtMost(LEADER_CHANGE_TARGET_S),
                    );
                }
                None => report.failed(format!(
                    "{fault}: no `services lease acquired` in {a}'s log after the fault"
                )),
            }
            if let Some(f) = conv.first_address {
                report.figure(
                    format!("leader change, {fault}: first -> last address/vipHost"),
                    total.saturating_sub(f).as_secs_f64(),
                    "s",
                    Target::None,
                );
            }
        }
        _ => fail_converged(report, &format!("leader change ({fault})"), &conv),
    }
    if fault == Fault::GracefulStop {
        let left = c.addresses_on(plan, &old)?.len();
        report.say(format!("  addresses left on the stopped {old}: {left}"));
        report.figure(
            format!("graceful stop: {old} removed every address"),
            if left == 0 { 1.0 } else { 0.0 },
            "",
            Target::Holds,
        );
    }
    let t = Instant::now();
    if fault == Fault::PowerOff {
        let n = c.flush(plan, &old)?;
        report.say(format!(
            "  restoring {old}: {n} stale addresses removed (a reboot starts without them)"
        ));
    }
    c.scenario.restore(fault, &old)?;
    c.off.remove(&old);
    let holder = steady(c, plan)
        .map_err(|e| anyhow::anyhow!("not steady after restoring {old}: {e}"))?
        .0;
    report.say(format!(
        "  restored {old}; steady again on {holder} after {}",
        secs(t.elapsed())
    ));
    Ok(())
}

/// API write requests per second over `window`, summed over every live master's API server;
/// prints the breakdown by resource.
fn writes_window(
    c: &BenchCluster,
    window: Duration,
    report: &mut Report,
    what: &str,
) -> Result<f64> {
    let masters = c.live();
    let read = |m: &str| -> Result<(Writes, Instant)> {
        let text = c.metrics(m)?;
        Ok((metrics::writes(&text), Instant::now()))
    };
    let before: Vec<(Writes, Instant)> = masters.iter().map(|m| read(m)).collect::<Result<_>>()?;
    if before.iter().all(|(w, _)| w.is_empty()) {
        bail!("no apiserver_request_total (or apiserver_request_count) write counters in /metrics");
    }
    std::thread::sleep(window);
    let mut sum = Writes::new();
    let mut rate = 0.0;
    for (m, (b, tb)) in masters.iter().zip(&before) {
        let (a, _) = read(m)?;
        let secs = tb.elapsed().as_secs_f64();
        let d = metrics::delta(b, &a);
        rate += metrics::total(&d) / secs;
        let per: Writes = d.into_iter().map(|(k, v)| (k, v / secs)).collect();
        metrics::add(&mut sum, &per);
    }
    let parts: Vec<String> = sum.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
    report.say(format!(
        "  API writes with {what}, over {:?} on {} API servers: {rate:.2}/s ({})",
        window,
        masters.len(),
        parts.join(", ")
    ));
    Ok(rate)
}
