//! Per-service mode (`svc_election=true` added to S2's environment: a membership Lease per node,
//! Services spread by bounded-load rendezvous hashing) on its own cluster of 3 masters: M Services
//! created, then how evenly they spread (most / least loaded master) and whether every address is
//! on exactly one master; then the most loaded master is powered off (SIGKILL of its namespace,
//! link down) and timed until each of its addresses is on exactly one live master (against
//! leaseDuration + 1 s), and until every address is: keeping loads exactly even also moves a few
//! Services between the live masters, and those wait out the handover delay (2 × retryPeriod), so
//! the second figure is reported with the moved Services listed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::cluster::{secs, BenchCluster};
use super::plan::Plan;
use super::report::{Report, Target};
use super::wait::{some, until, until_since};
use super::{Options, WAIT_BOUND};
use crate::faults::Fault;
use crate::story;

/// The spread target: most loaded / least loaded.
const BALANCE_TARGET: f64 = 1.1;
/// How many snapshots (a second apart) must all show every address exactly once.
const STABLE_SNAPSHOTS: usize = 3;

/// Who has which address: `Ok(count per master)` when every address of `plan` is on exactly one
/// of the masters in `have`, else what is wrong.
pub fn exactly_once(
    have: &BTreeMap<String, BTreeSet<Ipv4Addr>>,
    plan: &Plan,
) -> std::result::Result<BTreeMap<String, usize>, String> {
    let mut holders: BTreeMap<Ipv4Addr, Vec<&str>> =
        plan.addrs().into_iter().map(|a| (a, Vec::new())).collect();
    for (h, addrs) in have {
        for a in addrs {
            if let Some(v) = holders.get_mut(a) {
                v.push(h);
            }
        }
    }
    let none: Vec<_> = holders
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(a, _)| a)
        .collect();
    let many: Vec<_> = holders
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(a, v)| format!("{a} on {}", v.join("+")))
        .collect();
    if !none.is_empty() || !many.is_empty() {
        return Err(format!(
            "on no master: [{}]; on several: [{}]",
            some(none),
            some(many)
        ));
    }
    Ok(have
        .iter()
        .map(|(h, a)| (h.clone(), a.intersection(&plan.addrs()).count()))
        .collect())
}

/// Whether each of `addrs` is on exactly one of the masters in `have`.
pub fn once_each(have: &BTreeMap<String, BTreeSet<Ipv4Addr>>, addrs: &BTreeSet<Ipv4Addr>) -> bool {
    addrs
        .iter()
        .all(|a| have.values().filter(|on| on.contains(a)).count() == 1)
}

/// The addresses that were on a master other than `victim` and are now on another one.
pub fn moved_between_live(
    before: &BTreeMap<String, BTreeSet<Ipv4Addr>>,
    after: &BTreeMap<String, BTreeSet<Ipv4Addr>>,
    victim: &str,
) -> Vec<Ipv4Addr> {
    let mut moved = Vec::new();
    for (h, addrs) in before.iter().filter(|(h, _)| h.as_str() != victim) {
        for a in addrs {
            let elsewhere = after.iter().any(|(o, on)| o != h && on.contains(a));
            if elsewhere {
                moved.push(*a);
            }
        }
    }
    moved
}

/// Most loaded / least loaded (∞ when one has none).
pub fn balance(counts: &BTreeMap<String, usize>) -> f64 {
    let max = counts.values().max().copied().unwrap_or(0) as f64;
    let min = counts.values().min().copied().unwrap_or(0) as f64;
    if min == 0.0 {
        f64::INFINITY
    } else {
        max / min
    }
}

/// Runs the per-service part.
pub fn run(opts: &Options, kvip: &Path, report: &mut Report) -> Result<()> {
    let m = opts.per_service;
    let mut s = story::s2(None);
    s.env.push(("svc_election".into(), "true".into()));
    let lease = s.timing.lease_duration;
    report.say(format!(
        "== per-service mode: S2's environment + svc_election=true, {m} Services, leaseDuration {lease:?} =="
    ));
    let t = Instant::now();
    let mut c = BenchCluster::start(s, kvip)?;
    report.say(format!("cluster up in {}", secs(t.elapsed())));
    let plan = Plan::new("ps", 211, m);
    let t0 = Instant::now();
    c.create(&plan, 0..m)?;
    report.say(format!("  created in {}", secs(t0.elapsed())));
    let spread = until_since(t0, WAIT_BOUND, Duration::from_millis(100), || {
        Ok(exactly_once(&c.addresses(&plan)?, &plan))
    });
    let counts = match spread {
        Ok((counts, took)) => {
            report.say(format!(
                "  every address on exactly one master at {} from the first create: {counts:?}",
                secs(took)
            ));
            report.figure(
                format!("per-service: create {m} Services -> each address on one master"),
                took.as_secs_f64(),
                "s",
                Target::None,
            );
            counts
        }
        Err(e) => {
            report.failed(format!("per-service settle: {e}"));
            describe(&c, &plan, report);
            return Ok(());
        }
    };
    let names = status_names(&c, &plan, None);
    report.say(format!(
        "  Services naming their address's master (vipHost + ingress): {names}"
    ));
    let mut stable = true;
    let mut last = counts;
    for _ in 0..STABLE_SNAPSHOTS {
        std::thread::sleep(Duration::from_secs(1));
        match exactly_once(&c.addresses(&plan)?, &plan) {
            Ok(counts) => last = counts,
            Err(e) => {
                report.say(format!("  snapshot: {e}"));
                stable = false;
            }
        }
    }
    report.say(format!("  addresses per master: {last:?}"));
    report.figure(
        format!("per-service: every address on exactly one master ({STABLE_SNAPSHOTS} snapshots)"),
        f64::from(u8::from(stable)),
        "",
        Target::Holds,
    );
    report.figure(
        "per-service: most / least loaded master",
        balance(&last),
        "x",
        Target::AtMost(BALANCE_TARGET),
    );

    let victim = last
        .iter()
        .max_by_key(|(h, n)| (**n, std::cmp::Reverse((*h).clone())))
        .map(|(h, _)| h.clone())
        .unwrap_or_else(|| c.masters()[0].clone());
    report.say(format!(
        "-- power-off of {victim} ({} Services)",
        last.get(&victim).copied().unwrap_or(0)
    ));
    let before = c.addresses(&plan)?;
    let victims = before.get(&victim).cloned().unwrap_or_default();
    let t1 = Instant::now();
    c.scenario.inject(Fault::PowerOff, &victim)?;
    c.off.insert(victim.clone());
    let target = lease + Duration::from_secs(1);
    let mut victims_moved: Option<Duration> = None;
    let settled = until_since(t1, WAIT_BOUND, Duration::from_millis(50), || {
        let have = c.addresses(&plan)?;
        if victims_moved.is_none() && once_each(&have, &victims) {
            victims_moved = Some(t1.elapsed());
        }
        Ok(exactly_once(&have, &plan).map(|counts| (counts, have)))
    });
    match victims_moved {
        Some(took) => {
            report.say(format!(
                "  {victim}'s {} addresses each on exactly one live master at {}",
                victims.len(),
                secs(took)
            ));
            report.figure(format!("per-service: power-off -> its Services on one live master each (target leaseDuration + 1 s = {target:?})"), took.as_secs_f64(), "s", Target::AtMost(target.as_secs_f64()));
        }
        None => report.failed(format!(
            "per-service takeover after power-off of {victim}: its addresses never each on one live master"
        )),
    }
    match settled {
        Ok(((counts, after), took)) => {
            let moved = moved_between_live(&before, &after, &victim);
            report.say(format!(
                "  every address on exactly one live master at {}: {counts:?}; {} Services of live masters moved between them (the exact load bound) and waited out the handover delay: {}",
                secs(took),
                moved.len(),
                some(&moved)
            ));
            report.figure(
                "per-service: power-off -> every address on one live master each (incl. moves between live masters)",
                took.as_secs_f64(),
                "s",
                Target::None,
            );
            report.figure(
                "per-service after power-off: most / least loaded",
                balance(&counts),
                "x",
                Target::None,
            );
        }
        Err(e) => report.failed(format!(
            "per-service takeover after power-off of {victim}: {e}"
        )),
    }
    let names = until(WAIT_BOUND, Duration::from_millis(200), || {
        let have = c.addresses(&plan)?;
        let states = c.states(Some(&victim))?;
        Ok(check_names(&have, &states, &plan))
    });
    match names {
        Ok((_, took)) => report.say(format!(
            "  every Service's vipHost names its live master {} after the takeover",
            secs(took)
        )),
        Err(e) => report.failed(format!("vipHost after the takeover: {e}")),
    }
    Ok(())
}

/// Whether every Service's `vipHost` names the master that has its address and its ingress is written.
fn check_names(
    have: &BTreeMap<String, BTreeSet<Ipv4Addr>>,
    states: &[super::plan::SvcState],
    plan: &Plan,
) -> std::result::Result<(), String> {
    let owner: BTreeMap<Ipv4Addr, &str> = have
        .iter()
        .flat_map(|(h, a)| a.iter().map(move |a| (*a, h.as_str())))
        .collect();
    let by_name: BTreeMap<&str, &super::plan::SvcState> =
        states.iter().map(|s| (s.name.as_str(), s)).collect();
    let wrong: Vec<String> = (0..plan.count)
        .filter_map(|i| {
            let (name, addr) = (plan.name(i), plan.addr(i));
            let st = by_name.get(name.as_str());
            let ok = st.is_some_and(|s| {
                s.ingress.contains(&addr) && owner.get(&addr) == Some(&s.vip_host.as_str())
            });
            (!ok).then(|| {
                format!(
                    "{name} (vipHost {:?}, on {:?})",
                    st.map(|s| s.vip_host.as_str()),
                    owner.get(&addr)
                )
            })
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(some(wrong))
    }
}

/// Prints the addresses per master and the state of every Service whose address is on no master
/// (after a failed wait).
fn describe(c: &BenchCluster, plan: &Plan, report: &mut Report) {
    let Ok(have) = c.addresses(plan) else {
        return;
    };
    let counts: BTreeMap<&String, usize> = have.iter().map(|(h, a)| (h, a.len())).collect();
    report.say(format!("  addresses per master: {counts:?}"));
    let states = c.states(None).unwrap_or_default();
    for i in 0..plan.count {
        let addr = plan.addr(i);
        if have.values().any(|a| a.contains(&addr)) {
            continue;
        }
        let st = states.iter().find(|s| s.name == plan.name(i));
        report.say(format!(
            "  {} ({addr}) on no master; read back: {st:?}",
            plan.name(i)
        ));
    }
}

/// "all" or what differs, for one reading.
fn status_names(c: &BenchCluster, plan: &Plan, avoid: Option<&str>) -> String {
    let r = until(Duration::from_secs(30), Duration::from_millis(200), || {
        Ok(check_names(&c.addresses(plan)?, &c.states(avoid)?, plan))
    });
    match r {
        Ok((_, took)) => format!("all, within {} more", secs(took)),
        Err(e) => format!("not all: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_once_and_balance() {
        let p = Plan::new("ps", 211, 3);
        let set = |v: &[usize]| v.iter().map(|i| p.addr(*i)).collect::<BTreeSet<_>>();
        let mut have = BTreeMap::new();
        have.insert("m1".to_string(), set(&[0, 1]));
        have.insert("m2".to_string(), set(&[2]));
        let counts = exactly_once(&have, &p).unwrap();
        assert_eq!(balance(&counts), 2.0);
        have.insert("m3".to_string(), set(&[2]));
        assert!(exactly_once(&have, &p).unwrap_err().contains("m2+m3"));
        let moved_from = have.clone();
        have.insert("m3".to_string(), set(&[]));
        have.insert("m2".to_string(), set(&[]));
        assert!(exactly_once(&have, &p).unwrap_err().contains("10.211.0.12"));
        assert!(!once_each(&moved_from, &set(&[2])) && once_each(&moved_from, &set(&[0, 1])));
        // m1 powered off; m2's address went to m3 (a move between live masters).
        let mut after = BTreeMap::new();
        after.insert("m2".to_string(), set(&[0]));
        after.insert("m3".to_string(), set(&[1, 2]));
        let mut before = BTreeMap::new();
        before.insert("m1".to_string(), set(&[0, 1]));
        before.insert("m2".to_string(), set(&[2]));
        assert_eq!(moved_between_live(&before, &after, "m1"), vec![p.addr(2)]);
    }
}
