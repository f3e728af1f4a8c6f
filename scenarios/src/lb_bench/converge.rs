//! When global mode has converged, judged from the outside: the addresses (one `ip addr` per live
//! master, every 50 ms) and the Services' state (one `kubectl get` per poll) are watched on two
//! threads, so each condition gets its own time: "one live master, other than the old holder, has
//! every address" and "every Service's ingress is written (and, after a leader change, its
//! `kube-vip.io/vipHost` names one master, other than the old holder)". Also the steady state
//! between leader changes: the Lease holder has every address, no other live master has any, and
//! every Service names the holder.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::Result;
use kvip_testbed::netns::{Host, Kubectl};

use super::cluster::{addresses_of, states_of, BenchCluster};
use super::plan::{Plan, SvcState};
use super::wait::{some, until, until_since, Waited};
use super::WAIT_BOUND;
use crate::lb::kube::SERVICES_LEASE;

/// What a watch saw: the master with every address (and when), the master the Services name
/// (and when), and when the first address appeared on a master other than the old holder.
#[derive(Debug)]
pub struct Converged {
    /// The master that had every address, and the time from the start.
    pub addresses: Waited<String>,
    /// The master every Service names (empty when the names were not checked), and the time.
    pub services: Waited<String>,
    /// When a master other than `old` first had one of the addresses.
    pub first_address: Option<Duration>,
}

/// Watches from `t0` until one live master other than `old` has every address of `plan` and
/// every Service's ingress is written (with `names`: and names one master other than `old`).
pub fn watch(
    c: &BenchCluster,
    plan: &Plan,
    old: Option<&str>,
    names: bool,
    t0: Instant,
) -> Result<Converged> {
    let hosts = c.live_hosts()?;
    let k = c.kubectl(old);
    let want: BTreeMap<String, Ipv4Addr> = (0..plan.count)
        .map(|i| (plan.name(i), plan.addr(i)))
        .collect();
    let old = old.map(str::to_string);
    let (addresses, first_address, services) = std::thread::scope(|s| {
        let a = s.spawn(|| address_watch(&hosts, plan, old.as_deref(), t0));
        let b = s.spawn(|| service_watch(&k, &want, old.as_deref(), names, t0));
        let (addr, first) = a
            .join()
            .unwrap_or_else(|_| (Err("address watch panicked".into()), None));
        let svc = b
            .join()
            .unwrap_or_else(|_| Err("service watch panicked".into()));
        (addr, first, svc)
    });
    Ok(Converged {
        addresses,
        services,
        first_address,
    })
}

fn address_watch(
    hosts: &[Host],
    plan: &Plan,
    old: Option<&str>,
    t0: Instant,
) -> (Waited<String>, Option<Duration>) {
    let all = plan.addrs();
    let mut first = None;
    let r = until_since(t0, WAIT_BOUND, Duration::from_millis(50), || {
        let have = addresses_of(hosts, plan)?;
        let others = have.iter().filter(|(h, _)| Some(h.as_str()) != old);
        let mut best = (String::new(), 0usize);
        for (h, a) in others {
            let n = a.intersection(&all).count();
            if n > 0 && first.is_none() {
                first = Some(t0.elapsed());
            }
            if n == all.len() {
                return Ok(Ok(h.clone()));
            }
            if n >= best.1 {
                best = (h.clone(), n);
            }
        }
        Ok(Err(format!(
            "no master other than {old:?} has all {} addresses; best {} with {} (missing there: {})",
            all.len(),
            best.0,
            best.1,
            some(all.difference(have.get(&best.0).unwrap_or(&Default::default())))
        )))
    });
    (r, first)
}

/// What is wrong with the Services' state: `Ok(the master they all name)` or what is missing.
fn judge(
    states: &[SvcState],
    want: &BTreeMap<String, Ipv4Addr>,
    old: Option<&str>,
    names: bool,
) -> std::result::Result<String, String> {
    let seen: BTreeMap<&str, &SvcState> = states.iter().map(|s| (s.name.as_str(), s)).collect();
    let absent: Vec<&String> = want
        .keys()
        .filter(|n| !seen.contains_key(n.as_str()))
        .collect();
    if !absent.is_empty() {
        return Err(format!("Services not listed: {}", some(absent)));
    }
    let no_ingress: Vec<&String> = want
        .iter()
        .filter(|(n, a)| !seen[n.as_str()].ingress.contains(a))
        .map(|(n, _)| n)
        .collect();
    if !no_ingress.is_empty() {
        return Err(format!("ingress not written: {}", some(no_ingress)));
    }
    if !names {
        return Ok(String::new());
    }
    let mut by_host: BTreeMap<&str, usize> = BTreeMap::new();
    for n in want.keys() {
        *by_host
            .entry(seen[n.as_str()].vip_host.as_str())
            .or_default() += 1;
    }
    match by_host.keys().collect::<Vec<_>>().as_slice() {
        [one] if !one.is_empty() && Some(**one) != old => Ok(one.to_string()),
        _ => Err(format!("kube-vip.io/vipHost by value: {by_host:?}")),
    }
}

fn service_watch(
    k: &Kubectl,
    want: &BTreeMap<String, Ipv4Addr>,
    old: Option<&str>,
    names: bool,
    t0: Instant,
) -> Waited<String> {
    until_since(t0, WAIT_BOUND, Duration::from_millis(100), || {
        Ok(judge(&states_of(k)?, want, old, names))
    })
}

/// Waits (bounded) for the steady state: the holder of `plndr-svcs-lock` has every address, no
/// other live master has any, every Service's ingress is written and names the holder. Returns
/// the holder.
pub fn steady(c: &BenchCluster, plan: &Plan) -> Waited<String> {
    let all = plan.addrs();
    let want: BTreeMap<String, Ipv4Addr> = (0..plan.count)
        .map(|i| (plan.name(i), plan.addr(i)))
        .collect();
    until(WAIT_BOUND, Duration::from_millis(200), || {
        let Some(holder) = c.lease_holder(SERVICES_LEASE, None)? else {
            return Ok(Err(format!("{SERVICES_LEASE} has no holder")));
        };
        let have = c.addresses(plan)?;
        let missing: Vec<_> = all
            .difference(have.get(&holder).unwrap_or(&Default::default()))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Ok(Err(format!("holder {holder} lacks {}", some(missing))));
        }
        let extra: Vec<String> = have
            .iter()
            .filter(|(h, a)| **h != holder && !a.is_empty())
            .map(|(h, a)| format!("{h} ({})", a.len()))
            .collect();
        if !extra.is_empty() {
            return Ok(Err(format!("addresses also on {}", extra.join(", "))));
        }
        Ok(match judge(&c.states(None)?, &want, None, true) {
            Ok(h) if h == holder => Ok(holder),
            Ok(h) => Err(format!("Services name {h}, the holder is {holder}")),
            Err(e) => Err(e),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(name: &str, host: &str, ip: Option<Ipv4Addr>) -> SvcState {
        SvcState {
            name: name.into(),
            vip_host: host.into(),
            ingress: ip.into_iter().collect(),
        }
    }

    #[test]
    fn services_are_judged() {
        let p = Plan::new("lb", 210, 2);
        let want: BTreeMap<String, Ipv4Addr> = (0..2).map(|i| (p.name(i), p.addr(i))).collect();
        let a = |i| Some(p.addr(i));
        let ok = [st("lb-0000", "m2", a(0)), st("lb-0001", "m2", a(1))];
        assert_eq!(judge(&ok, &want, Some("m1"), true), Ok("m2".into()));
        assert!(judge(&ok, &want, Some("m2"), true).is_err());
        let mixed = [st("lb-0000", "m2", a(0)), st("lb-0001", "m1", a(1))];
        assert_eq!(judge(&mixed, &want, None, false), Ok(String::new()));
        assert!(judge(&mixed, &want, None, true).unwrap_err().contains("m1"));
        let bare = [st("lb-0000", "", None)];
        assert!(judge(&bare, &want, None, false)
            .unwrap_err()
            .contains("lb-0001"));
    }
}
