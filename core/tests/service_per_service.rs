//! Per-service mode across several nodes in the deterministic world: spreading, handover on
//! join (delayed gain, immediate loss), takeover after a crash (after Lease expiry) and after a
//! graceful stop (at once), and API writes that do not grow with the number of Services.

mod service_support;

use std::collections::BTreeMap;
use std::net::IpAddr;

use kvip_core::service::ServiceKey;
use service_support::cluster::Cluster;
use service_support::{ip, lb, ms, per_service_mode, with_ips};

/// Service `i` wants 10.1.x.y.
fn address(i: usize) -> IpAddr {
    ip(&format!("10.1.{}.{}", i / 250, i % 250 + 1))
}

fn world(nodes: &[&str], services: usize) -> Cluster {
    let mut c = Cluster::new(per_service_mode());
    for i in 0..services {
        c.services.insert(
            ServiceKey::new("default", format!("svc-{i}")),
            with_ips(lb("default", &format!("svc-{i}")), &address(i).to_string()),
        );
    }
    for n in nodes {
        c.start(n);
    }
    c.run_until(ms(6_000));
    c
}

/// Who announces each Service's address (exactly one node each, or the test fails).
fn owners(c: &Cluster, services: usize) -> BTreeMap<IpAddr, String> {
    (0..services)
        .map(|i| {
            let a = address(i);
            let who = c.announcers(a);
            assert_eq!(who.len(), 1, "{a} announced by {who:?} at {}", c.now);
            (a, who[0].clone())
        })
        .collect()
}

fn loads(owners: &BTreeMap<IpAddr, String>) -> BTreeMap<String, usize> {
    let mut l = BTreeMap::new();
    for n in owners.values() {
        *l.entry(n.clone()).or_default() += 1;
    }
    l
}

#[test]
fn services_spread_evenly_and_each_is_announced_once() {
    let c = world(&["n1", "n2", "n3"], 60);
    let l = loads(&owners(&c, 60));
    assert_eq!(l.values().copied().collect::<Vec<_>>(), vec![20, 20, 20]);
    assert!(c.overlaps.is_empty(), "{:?}", c.overlaps);
    // Every node computed the same assignment.
    let a1 = c.hosts["n1"].node.assignment().cloned();
    assert!(a1.is_some());
    assert_eq!(a1.as_ref(), c.hosts["n2"].node.assignment());
    assert_eq!(a1.as_ref(), c.hosts["n3"].node.assignment());
}

#[test]
fn a_joining_node_gains_after_the_handover_delay_and_losers_withdraw_at_once() {
    let mut c = world(&["n1", "n2"], 40);
    let before = owners(&c, 40);
    let t = c.now;
    c.start("n3");
    // The final owners, as every node now computes them.
    let assignment = c.hosts["n3"]
        .node
        .assignment()
        .expect("n3 assigned")
        .clone();
    assert_eq!(Some(&assignment), c.hosts["n1"].node.assignment());
    let after: BTreeMap<IpAddr, String> = assignment
        .iter()
        .map(|(k, n)| {
            let i: usize = k.name.trim_start_matches("svc-").parse().expect("index");
            (address(i), n.clone())
        })
        .collect();
    let changed: Vec<IpAddr> = after
        .iter()
        .filter(|(a, n)| before[*a] != **n)
        .map(|(a, _)| *a)
        .collect();
    let to_newcomer = after.values().filter(|n| *n == "n3").count();
    assert!((13..=14).contains(&to_newcomer), "{to_newcomer}");
    assert!(changed.len() <= to_newcomer + 3, "{} moved", changed.len());
    // Losers withdrew at the join; nobody announces a moved address during the delay.
    for at in [0, 1_999] {
        c.run_until(t + std::time::Duration::from_millis(at));
        for (a, n) in &before {
            let expected = if changed.contains(a) {
                vec![]
            } else {
                vec![n.clone()]
            };
            assert_eq!(c.announcers(*a), expected, "{a} at join + {at} ms");
        }
    }
    c.run_until(t + std::time::Duration::from_millis(2_000));
    assert_eq!(owners(&c, 40), after);
    assert!(c.overlaps.is_empty(), "{:?}", c.overlaps);
}

#[test]
fn a_crashed_nodes_services_move_once_its_lease_expires() {
    let mut c = world(&["n1", "n2", "n3"], 30);
    let before = owners(&c, 30);
    let lost: Vec<IpAddr> = before
        .iter()
        .filter(|(_, n)| *n == "n1")
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(lost.len(), 10);
    let t = c.now;
    c.kill("n1");
    // n1's last renewal was observed within the last retry period; leaseDuration is 5 s.
    c.run_until(t + std::time::Duration::from_millis(3_900));
    for a in &lost {
        assert!(
            c.announcers(*a).is_empty(),
            "{a} taken over before n1 expired"
        );
    }
    c.run_until(t + std::time::Duration::from_millis(5_000));
    let after = owners(&c, 30);
    for a in &lost {
        assert_ne!(after[a], "n1");
    }
    for (a, n) in &before {
        if n != "n1" {
            assert_eq!(&after[a], n, "a live member's service moved");
        }
    }
    let l = loads(&after);
    assert_eq!(l.values().copied().collect::<Vec<_>>(), vec![15, 15]);
}

#[test]
fn a_graceful_stop_hands_over_without_delay() {
    let mut c = world(&["n1", "n2", "n3"], 30);
    let before = owners(&c, 30);
    c.stop("n1");
    // Same instant: n1 removed its addresses, released its Lease, the others took over.
    let after = owners(&c, 30);
    for (a, n) in &before {
        if n == "n1" {
            assert_ne!(after[a], "n1");
        } else {
            assert_eq!(&after[a], n);
        }
    }
    assert!(c.hosts["n1"].node.configured().is_empty());
    assert!(c.overlaps.is_empty(), "{:?}", c.overlaps);
}

/// Lease requests and status writes in one simulated minute of steady state.
fn writes_per_minute(services: usize) -> (usize, usize) {
    let mut c = world(&["n1", "n2", "n3"], services);
    c.run_until(ms(10_000));
    let (leases, statuses) = (c.total_lease_requests(), c.status_writes);
    c.run_until(ms(70_000));
    assert!(c.overlaps.is_empty());
    (
        c.total_lease_requests() - leases,
        c.status_writes - statuses,
    )
}

#[test]
fn api_writes_do_not_grow_with_the_number_of_services() {
    let one = writes_per_minute(1);
    let thousand = writes_per_minute(1000);
    // One renewal per node per retry period (1 s), nothing else, whatever the Service count.
    assert_eq!(one, (180, 0));
    assert_eq!(thousand, (180, 0));
}

#[test]
fn local_policy_follows_the_endpoints_from_node_to_node() {
    let mut c = world(&["n1", "n2", "n3"], 0);
    let svc = service_support::local(with_ips(lb("default", "web"), "10.9.0.1"));
    c.apply_endpoints(service_support::endpoints(&svc.key, &["n2"]));
    c.apply_service(svc.clone());
    assert_eq!(c.announcers(ip("10.9.0.1")), vec!["n2".to_owned()]);
    let t = c.now;
    c.apply_endpoints(service_support::endpoints(&svc.key, &["n3"]));
    // n2 has no local endpoint any more: it withdraws at once; n3 gains from a live member.
    assert!(c.announcers(ip("10.9.0.1")).is_empty());
    c.run_until(t + std::time::Duration::from_millis(2_000));
    assert_eq!(c.announcers(ip("10.9.0.1")), vec!["n3".to_owned()]);
    c.apply_endpoints(service_support::endpoints(&svc.key, &[]));
    assert!(c.announcers(ip("10.9.0.1")).is_empty());
    assert!(c.overlaps.is_empty(), "{:?}", c.overlaps);
}

#[test]
fn a_problem_is_reported_by_one_node_only() {
    let mut c = world(&["n1", "n2", "n3"], 3);
    c.apply_service(with_ips(lb("default", "bad"), "10.9.0.2,not-an-ip"));
    c.run_until(ms(20_000));
    assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
    assert_eq!(c.problems[0].1.key, ServiceKey::new("default", "bad"));
}
