//! The controller's rules, each shown on exact outputs: when it writes, what, and what it reports.

use std::time::Duration;

use super::test_support::{addresses, at, config_map, drain, ip, lb, pinned, synced, written};
use super::*;
use crate::io::WatchEvent;
use crate::service::ServiceKey;

const S2: &[(&str, &str)] = &[("range-global", "192.168.66.210-192.168.66.219")];

#[test]
fn nothing_is_decided_before_both_lists_nor_by_a_follower() {
    let mut c = IpamController::new(IpamSettings::default());
    c.set_leading(at(0), true);
    c.handle_services(at(0), WatchEvent::Init);
    c.handle_services(
        at(0),
        WatchEvent::InitApply(lb("default", "nginx-lb", &[80])),
    );
    c.handle_services(at(0), WatchEvent::InitDone);
    assert_eq!(drain(&mut c), (vec![], vec![]), "ConfigMap not listed yet");
    c.set_leading(at(0), false);
    c.handle_config_map(at(0), WatchEvent::Init);
    c.handle_config_map(at(0), WatchEvent::InitApply(config_map(S2)));
    c.handle_config_map(at(0), WatchEvent::InitDone);
    assert_eq!(drain(&mut c), (vec![], vec![]), "a follower never writes");
    c.set_leading(at(1), true);
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [("nginx-lb".to_string(), ip("192.168.66.210"))]
    );
}

#[test]
fn s2_the_first_service_gets_210_with_annotation_spec_and_label_data() {
    let mut c = synced(vec![lb("default", "nginx-lb", &[80])], Some(S2));
    let (assigns, reports) = drain(&mut c);
    assert!(reports.is_empty());
    let (op, a) = &assigns[0];
    assert_eq!(a.key, ServiceKey::new("default", "nginx-lb"));
    assert_eq!(a.annotation_value(), "192.168.66.210");
    assert_eq!(
        (a.pool_key.as_str(), a.shared, a.uid.as_str()),
        ("range-global", false, "default-nginx-lb-1")
    );
    let stored = written(lb("default", "nginx-lb", &[80]), a);
    c.handle_write_done(at(1), *op, Ok(stored));
    let (more, reports) = drain(&mut c);
    assert!(more.is_empty());
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].reason, Reason::AddressAssigned);
    assert!(reports[0].message.contains("192.168.66.210"));
}

#[test]
fn one_pass_never_gives_two_services_the_same_address_and_order_is_by_key() {
    let svcs = vec![
        lb("b", "z", &[80]),
        lb("a", "y", &[80]),
        lb("a", "x", &[80]),
    ];
    let mut c = synced(svcs, Some(S2));
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [
            ("x".to_string(), ip("192.168.66.210")),
            ("y".to_string(), ip("192.168.66.211")),
            ("z".to_string(), ip("192.168.66.212"))
        ]
    );
}

#[test]
fn a_written_address_stays_reserved_while_the_watch_lags() {
    let mut c = synced(vec![lb("default", "a", &[80])], Some(S2));
    let (assigns, _) = drain(&mut c);
    let (op, a) = assigns[0].clone();
    c.handle_write_done(at(1), op, Ok(written(lb("default", "a", &[80]), &a)));
    drain(&mut c);
    // The watch now delivers the Service's creation, older than the write.
    c.handle_services(at(1), WatchEvent::Apply(lb("default", "a", &[80])));
    c.handle_services(at(1), WatchEvent::Apply(lb("default", "b", &[80])));
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [("b".to_string(), ip("192.168.66.211"))],
        "a is not re-assigned and .210 is not reused"
    );
}

#[test]
fn overlapping_namespace_and_global_pools_never_hand_out_an_address_twice() {
    // Upstream computes the in-use set of a namespace pool within that namespace only: team/api
    // would get .210, already held by default/web from range-global.
    let data = &[
        ("range-global", "192.168.66.210-192.168.66.219"),
        ("cidr-team", "192.168.66.208/29"),
    ];
    let mut web = lb("default", "web", &[80]);
    web.annotations.insert(
        "kube-vip.io/loadbalancerIPs".into(),
        "192.168.66.210".into(),
    );
    let svcs = vec![
        web,
        pinned(lb("default", "x", &[80]), "192.168.66.208"),
        pinned(lb("default", "y", &[80]), "192.168.66.209"),
        lb("team", "api", &[80]),
        lb("zeta", "next", &[80]),
    ];
    let mut c = synced(svcs, Some(data));
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [
            ("api".to_string(), ip("192.168.66.211")),
            ("next".to_string(), ip("192.168.66.212"))
        ],
        "pinned .208/.209, held .210, then api's .211 are all skipped"
    );
}

#[test]
fn pinned_addresses_of_any_class_count_as_used_and_are_left_alone() {
    let mut metallb = pinned(lb("other", "m", &[80]), "192.168.66.210");
    metallb.load_balancer_class = Some("metallb.io/metallb".into());
    let mut ignored = pinned(lb("other", "i", &[80]), "192.168.66.211");
    ignored
        .annotations
        .insert("kube-vip.io/ignore".into(), "true".into());
    let mine = pinned(lb("default", "p", &[80]), "192.168.66.101");
    let mut c = synced(
        vec![metallb, ignored, mine, lb("default", "new", &[80])],
        Some(S2),
    );
    let (assigns, reports) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [("new".to_string(), ip("192.168.66.212"))]
    );
    assert!(reports.is_empty());
}

#[test]
fn an_exhausted_pool_warns_once_and_others_still_get_addresses_then_a_freed_one_is_used() {
    let data = &[
        ("range-small", "10.0.0.1-10.0.0.1"),
        ("range-global", "10.9.0.1-10.9.0.9"),
    ];
    let holder = pinned(lb("small", "a", &[80]), "10.0.0.1");
    let mut c = synced(
        vec![holder.clone(), lb("small", "b", &[80]), lb("x", "c", &[80])],
        Some(data),
    );
    let (assigns, reports) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("c".to_string(), ip("10.9.0.1"))]);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].reason, Reason::Exhausted);
    assert_eq!(
        reports[0].target,
        ReportTarget::Service {
            key: ServiceKey::new("small", "b"),
            uid: "small-b-1".into()
        }
    );
    assert!(
        reports[0].message.contains("range-small"),
        "{}",
        reports[0].message
    );
    c.handle_services(at(2), WatchEvent::Apply(lb("x", "d", &[81])));
    let (_, reports) = drain(&mut c);
    assert!(
        reports.iter().all(|r| r.reason != Reason::Exhausted),
        "reported once"
    );
    c.handle_services(at(3), WatchEvent::Delete(holder));
    let (assigns, _) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("b".to_string(), ip("10.0.0.1"))]);
}

#[test]
fn a_malformed_key_is_reported_on_the_config_map_once_and_other_keys_work() {
    let data = &[
        ("cidr-global", "10.0.0.0/33"),
        ("range-team", "10.1.0.5-10.1.0.6"),
    ];
    let mut c = synced(
        vec![lb("team", "ok", &[80]), lb("default", "bad", &[80])],
        Some(data),
    );
    let (assigns, reports) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("ok".to_string(), ip("10.1.0.5"))]);
    let on_cm: Vec<_> = reports
        .iter()
        .filter(|r| matches!(r.target, ReportTarget::ConfigMap { .. }))
        .collect();
    assert_eq!(on_cm.len(), 1);
    assert_eq!(on_cm[0].reason, Reason::InvalidConfig);
    assert!(on_cm[0].message.contains("cidr-global") && on_cm[0].message.contains("expected"));
    let on_svc: Vec<_> = reports
        .iter()
        .filter(|r| r.reason == Reason::InvalidPool)
        .collect();
    assert_eq!(on_svc.len(), 1);
    assert!(on_svc[0].message.contains("cidr-global"));
    c.handle_config_map(at(1), WatchEvent::Apply(config_map(data)));
    assert!(
        drain(&mut c).1.is_empty(),
        "an unchanged error is not repeated"
    );
    c.handle_config_map(
        at(2),
        WatchEvent::Apply(config_map(&[("cidr-global", "10.0.0.0/30")])),
    );
    let (assigns, _) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("bad".to_string(), ip("10.0.0.1"))]);
}

#[test]
fn no_config_map_is_reported_and_its_creation_serves_the_service() {
    let mut c = synced(vec![lb("default", "s", &[80])], None);
    let (assigns, reports) = drain(&mut c);
    assert!(assigns.is_empty());
    assert_eq!(reports[0].reason, Reason::NoPool);
    assert!(reports[0].message.contains("kube-system/kubevip not found"));
    c.handle_config_map(
        at(1),
        WatchEvent::Apply(config_map(&[("range-other", "10.0.0.1-10.0.0.2")])),
    );
    let (_, reports) = drain(&mut c);
    assert!(reports[0]
        .message
        .contains("cidr-default, range-default, cidr-global, range-global"));
    c.handle_config_map(
        at(2),
        WatchEvent::Apply(config_map(&[("cidr-default", "0.0.0.0/32")])),
    );
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [("s".to_string(), ip("0.0.0.0"))],
        "DHCP"
    );
}

#[test]
fn a_failed_write_is_retried_after_a_doubling_delay_and_warned() {
    let mut c = synced(vec![lb("default", "s", &[80])], Some(S2));
    let (assigns, _) = drain(&mut c);
    let failed = || {
        Err(WriteError::Failed {
            message: "403".into(),
            maybe_applied: false,
        })
    };
    c.handle_write_done(at(1), assigns[0].0, failed());
    let (again, reports) = drain(&mut c);
    assert!(again.is_empty());
    assert_eq!(reports[0].reason, Reason::AssignFailed);
    assert_eq!(c.poll_timeout(), Some(at(2)));
    c.handle_timeout(at(2));
    let (again, _) = drain(&mut c);
    assert_eq!(addresses(&again), [("s".to_string(), ip("192.168.66.210"))]);
    c.handle_write_done(at(2), again[0].0, failed());
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(at(4)), "1 s, then 2 s");
}

#[test]
fn an_ambiguous_write_keeps_its_address_reserved_until_the_echo_deadline() {
    let mut c = synced(vec![lb("default", "a", &[80])], Some(S2));
    let (assigns, _) = drain(&mut c);
    let unknown = Err(WriteError::Failed {
        message: "timeout".into(),
        maybe_applied: true,
    });
    c.handle_write_done(at(1), assigns[0].0, unknown);
    drain(&mut c);
    c.handle_services(at(1), WatchEvent::Apply(lb("default", "b", &[80])));
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [("b".to_string(), ip("192.168.66.211"))]
    );
    let echo = IpamSettings::default().echo_timeout;
    c.handle_timeout(at(1) + echo + Duration::from_secs(1));
    let (assigns, _) = drain(&mut c);
    assert_eq!(
        addresses(&assigns),
        [("a".to_string(), ip("192.168.66.210"))],
        "retried after the deadline"
    );
}

#[test]
fn a_stale_answer_is_applied_and_a_deleted_service_is_not_revived() {
    let mut c = synced(
        vec![lb("default", "a", &[80]), lb("default", "b", &[80])],
        Some(S2),
    );
    let (assigns, _) = drain(&mut c);
    let pinned_now = pinned(lb("default", "a", &[80]), "192.168.66.215");
    c.handle_write_done(
        at(1),
        assigns[0].0,
        Err(WriteError::Stale(Some(Box::new(pinned_now)))),
    );
    c.handle_services(at(1), WatchEvent::Delete(lb("default", "b", &[80])));
    c.handle_write_done(
        at(1),
        assigns[1].0,
        Ok(written(lb("default", "b", &[80]), &assigns[1].1)),
    );
    drain(&mut c);
    assert!(!c.services().contains_key(&ServiceKey::new("default", "b")));
    assert_eq!(
        c.services()[&ServiceKey::new("default", "a")]
            .load_balancer_ip
            .as_deref(),
        Some("192.168.66.215")
    );
    c.handle_timeout(at(5));
    assert_eq!(drain(&mut c).0, vec![]);
}

#[test]
fn decisions_wait_for_a_relist_to_finish() {
    let mut c = synced(vec![], Some(S2));
    c.handle_services(at(1), WatchEvent::Init);
    c.handle_services(at(1), WatchEvent::InitApply(lb("default", "a", &[80])));
    assert_eq!(drain(&mut c).0, vec![]);
    c.handle_services(
        at(1),
        WatchEvent::InitApply(pinned(lb("default", "p", &[80]), "192.168.66.210")),
    );
    c.handle_services(at(1), WatchEvent::InitDone);
    assert_eq!(
        addresses(&drain(&mut c).0),
        [("a".to_string(), ip("192.168.66.211"))]
    );
}

#[test]
fn sharing_with_disjoint_ports_and_the_interface_is_passed_through() {
    let data = &[
        ("range-global", "10.0.0.1-10.0.0.1"),
        ("allow-share-global", "true"),
        ("interface-global", "eth1"),
    ];
    let mut web = lb("default", "web", &[80]);
    web.annotations
        .insert("kube-vip.io/loadbalancerIPs".into(), "10.0.0.1".into());
    let mut c = synced(
        vec![
            web,
            lb("default", "dns", &[53]),
            lb("default", "web2", &[80]),
        ],
        Some(data),
    );
    let (assigns, reports) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("dns".to_string(), ip("10.0.0.1"))]);
    assert!(assigns[0].1.shared);
    assert_eq!(assigns[0].1.interface.as_deref(), Some("eth1"));
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].reason, Reason::Exhausted, "web2 overlaps on 80");
}

#[test]
fn a_reserved_address_follows_the_current_allow_share_not_the_one_it_was_decided_under() {
    // Found by the proptest: a reservation kept the allow-share of its decision.
    let shared = &[
        ("range-global", "10.0.0.1-10.0.0.2"),
        ("allow-share-global", "true"),
    ];
    let mut c = synced(vec![lb("a", "dns", &[53])], Some(shared));
    let (assigns, _) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("dns".to_string(), ip("10.0.0.1"))]);
    let strict = &[
        ("range-global", "10.0.0.1-10.0.0.2"),
        ("allow-share-global", "false"),
    ];
    c.handle_config_map(at(1), WatchEvent::Apply(config_map(strict)));
    c.handle_services(at(1), WatchEvent::Apply(lb("a", "web", &[80])));
    let (assigns, _) = drain(&mut c);
    assert_eq!(addresses(&assigns), [("web".to_string(), ip("10.0.0.2"))]);
}
