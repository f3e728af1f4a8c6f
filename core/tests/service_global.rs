//! Global mode (`svc_election=false`) on one node, output by output: the leader adds, announces
//! and writes status; a follower only cleans; losing the Lease withdraws first; deleting a
//! Service, changing its type, class or address removes what is no longer wanted; shutdown
//! withdraws, removes, then releases.

mod service_support;

use std::collections::BTreeMap;

use kvip_core::service::model::ANNOTATION_VIP_HOST;
use kvip_core::service::{
    Ingress, ServiceEvent, ServicesInput, ServicesNode, ServicesOutput, StatusWrite,
};
use kvip_core::wire::announcement;
use kvip_core::{Event, LeaseRequest, LossReason, OpId, VipAddress, WatchEvent};
use service_support::*;

fn vip32(s: &str) -> VipAddress {
    VipAddress {
        address: ip(s),
        prefix_len: 32,
    }
}

fn add(op: u64, s: &str) -> ServicesOutput {
    ServicesOutput::AddAddress {
        op: OpId(op),
        vip: vip32(s),
        link: None,
    }
}

fn remove(op: u64, s: &str) -> ServicesOutput {
    ServicesOutput::RemoveAddress {
        op: OpId(op),
        vip: vip32(s),
        link: None,
    }
}

fn apply(view: kvip_core::service::ServiceView) -> ServicesInput {
    ServicesInput::ServiceWatch(WatchEvent::Apply(view))
}

/// A leader at 0 ms announcing Service default/a on 10.0.0.10 (ops 3 = add, 4 = status write).
fn leader_with_a() -> ServicesNode {
    let mut n = holding("n1", global_mode(), ms(0));
    let out = list_services(
        &mut n,
        ms(0),
        vec![with_ips(lb("default", "a"), "10.0.0.10")],
    );
    complete_addresses(&mut n, ms(0), &out);
    n
}

#[test]
fn the_leader_adds_then_announces_then_writes_status_once() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = with_ips(lb("default", "a"), "10.0.0.10");
    let out = list_services(&mut n, ms(0), vec![a.clone()]);
    assert_eq!(effects(&out), vec![add(3, "10.0.0.10")]);
    assert!(
        out.contains(&ServicesOutput::ServiceEvent(ServiceEvent::Announcing(
            a.key.clone()
        )))
    );
    let write = StatusWrite {
        key: a.key.clone(),
        uid: a.uid.clone(),
        ingress: vec![Ingress {
            ip: ip("10.0.0.10"),
            ports: vec![tcp(80)],
        }],
        annotations: BTreeMap::from([(ANNOTATION_VIP_HOST.to_owned(), Some("n1".to_owned()))]),
    };
    let mac = config("n1", global_mode()).mac;
    let out = complete_addresses(&mut n, ms(0), &out);
    assert_eq!(
        out,
        vec![
            ServicesOutput::Event(Event::AddressAdded(ip("10.0.0.10"))),
            ServicesOutput::SendFrame {
                address: ip("10.0.0.10"),
                frame: announcement(mac, ip("10.0.0.10")),
                link: None,
            },
            ServicesOutput::WriteStatus {
                op: OpId(4),
                write: write.clone(),
            },
        ]
    );
    let ok = ServicesInput::StatusWritten {
        op: OpId(4),
        result: Ok(()),
    };
    assert_eq!(input(&mut n, ms(1), ok), vec![]);
    assert_eq!(
        input(&mut n, ms(2), apply(after_write(a.clone(), &write))),
        vec![]
    );
    // A relist of the same state changes nothing either.
    let stored = after_write(a, &write);
    assert_eq!(list_services(&mut n, ms(3), vec![stored]), vec![]);
    assert_eq!(n.announcing(), [ip("10.0.0.10")].into());
}

#[test]
fn a_follower_only_cleans_stale_addresses() {
    let mut n = ServicesNode::new(config("n2", global_mode()), ms(0)).expect("config");
    let (op, _) = lease_request(&drain(&mut n));
    let held = lease_obj("7", record(Some("n1"), 5));
    let result = Ok(held);
    input(&mut n, ms(0), ServicesInput::LeaseResponse { op, result });
    assert!(!n.is_holding());
    let out = list_services(
        &mut n,
        ms(1),
        vec![with_ips(lb("default", "a"), "10.0.0.10")],
    );
    assert_eq!(effects(&out), vec![remove(2, "10.0.0.10")]);
    let out = complete_addresses(&mut n, ms(1), &out);
    assert_eq!(
        out,
        vec![ServicesOutput::Event(Event::AddressRemoved(ip(
            "10.0.0.10"
        )))]
    );
    assert!(n.announcing().is_empty());
}

#[test]
fn losing_the_lease_withdraws_before_anything_else() {
    let mut n = leader_with_a();
    // The renew at 1 s is never answered; the fence falls 3 s after the last successful send (0 s).
    let mut out = vec![];
    while let Some(t) = n.poll_timeout().filter(|&t| t < ms(3_000)) {
        n.handle_timeout(t);
        out.extend(drain(&mut n));
    }
    let renew = lease_request(&effects(&out));
    assert!(matches!(renew.1, LeaseRequest::Replace { .. }));
    n.handle_timeout(ms(3_000));
    assert_eq!(
        drain(&mut n),
        vec![
            ServicesOutput::Event(Event::LostLeadership(LossReason::RenewDeadline)),
            remove(6, "10.0.0.10"),
            ServicesOutput::ServiceEvent(ServiceEvent::Withdrawn(
                kvip_core::service::ServiceKey::new("default", "a")
            )),
        ]
    );
    assert!(n.announcing().is_empty());
}

#[test]
fn deleting_or_changing_a_service_removes_what_it_no_longer_wants() {
    let mut n = holding("n1", global_mode(), ms(0));
    let views = vec![
        with_ips(lb("default", "a"), "10.0.0.10"),
        with_ips(lb("default", "b"), "10.0.0.11"),
        with_ips(lb("default", "c"), "10.0.0.12"),
        with_ips(lb("default", "d"), "10.0.0.13"),
    ];
    let out = list_services(&mut n, ms(0), views.clone());
    complete_addresses(&mut n, ms(0), &out);
    assert_eq!(n.configured().len(), 4);
    // Deleted.
    let out = input(
        &mut n,
        ms(1),
        ServicesInput::ServiceWatch(WatchEvent::Delete(views[0].clone())),
    );
    assert_eq!(effects(&out), vec![remove(11, "10.0.0.10")]);
    // Type changed to ClusterIP.
    let mut b = views[1].clone();
    b.is_load_balancer = false;
    assert_eq!(
        effects(&input(&mut n, ms(2), apply(b))),
        vec![remove(12, "10.0.0.11")]
    );
    // Another implementation's class.
    let mut c = views[2].clone();
    c.load_balancer_class = Some("example.com/other".into());
    assert_eq!(
        effects(&input(&mut n, ms(3), apply(c))),
        vec![remove(13, "10.0.0.12")]
    );
    // New address: the old one goes, the new one comes.
    let d = with_ips(views[3].clone(), "10.0.0.14");
    let out = input(&mut n, ms(4), apply(d));
    assert_eq!(
        effects(&out),
        vec![remove(14, "10.0.0.13"), add(15, "10.0.0.14")]
    );
    // Address annotation removed: nothing wanted any more (d's first status write, op 10, is
    // still unanswered, so completing 10.0.0.14 queued no second one).
    let mut e = views[3].clone();
    e.annotations.clear();
    complete_addresses(&mut n, ms(5), &out);
    assert_eq!(
        effects(&input(&mut n, ms(6), apply(e))),
        vec![remove(16, "10.0.0.14")]
    );
}

#[test]
fn shutdown_withdraws_then_removes_then_releases() {
    let mut n = leader_with_a();
    n.shutdown(ms(10));
    let out = drain(&mut n);
    assert_eq!(effects(&out), vec![remove(5, "10.0.0.10")]);
    assert!(n.announcing().is_empty());
    let out = complete_addresses(&mut n, ms(11), &out);
    let (op, request) = lease_request(&out);
    let LeaseRequest::Replace { record, .. } = request else {
        panic!("expected the release, got {request:?}");
    };
    assert_eq!(record.holder_identity, None);
    let released = lease_obj("2", record);
    let result = Ok(released);
    let out = input(&mut n, ms(12), ServicesInput::LeaseResponse { op, result });
    assert_eq!(out.last(), Some(&ServicesOutput::Stopped));
    assert!(n.is_stopped());
}

#[test]
fn local_policy_follows_ready_local_endpoints() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = local(with_ips(lb("default", "a"), "10.0.0.10"));
    let ep =
        |nodes: &[&str]| ServicesInput::EndpointsWatch(WatchEvent::Apply(endpoints(&a.key, nodes)));
    for e in relist(vec![endpoints(&a.key, &["n2"])]) {
        input(&mut n, ms(0), ServicesInput::EndpointsWatch(e));
    }
    let out = list_services(&mut n, ms(0), vec![a.clone()]);
    assert_eq!(effects(&out), vec![remove(3, "10.0.0.10")]);
    complete_addresses(&mut n, ms(0), &out);
    let out = input(&mut n, ms(1), ep(&["n2", "n1"]));
    assert_eq!(effects(&out), vec![add(4, "10.0.0.10")]);
    complete_addresses(&mut n, ms(1), &out);
    assert_eq!(n.announcing(), [ip("10.0.0.10")].into());
    let out = input(&mut n, ms(2), ep(&["n2"]));
    assert_eq!(effects(&out), vec![remove(6, "10.0.0.10")]);
    assert!(n.announcing().is_empty());
}
