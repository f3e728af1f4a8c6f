//! Service status writes: only addresses actually configured, only when what is stored differs
//! (or what kvip wants changed since its last write), none in steady state or after a restart,
//! none with `disable_service_updates`, retried after a failure, cleared only by the node named
//! in `vipHost`, and foreign (control-plane) addresses written without being configured.

mod service_support;

use std::collections::BTreeMap;

use kvip_core::service::model::ANNOTATION_VIP_HOST;
use kvip_core::service::{ServiceKey, ServicesInput, ServicesOutput, StatusWrite};
use kvip_core::{OpId, WatchEvent};
use service_support::cluster::Cluster;
use service_support::*;

fn ingress_ips(w: &StatusWrite) -> Vec<std::net::IpAddr> {
    w.ingress.iter().map(|i| i.ip).collect()
}

fn ok(op: OpId) -> ServicesInput {
    ServicesInput::StatusWritten { op, result: Ok(()) }
}

fn apply(view: kvip_core::service::ServiceView) -> ServicesInput {
    ServicesInput::ServiceWatch(WatchEvent::Apply(view))
}

#[test]
fn only_configured_addresses_are_written_as_each_add_completes() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = with_ips(lb("default", "a"), "10.0.0.1,10.0.0.2");
    let out = list_services(&mut n, ms(0), vec![a]);
    let done = |op| ServicesInput::AddressDone {
        op: OpId(op),
        result: Ok(()),
    };
    let w = status_writes(&input(&mut n, ms(1), done(3)));
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].0, ingress_ips(&w[0].1)),
        (OpId(5), vec![ip("10.0.0.1")])
    );
    assert_eq!(status_writes(&input(&mut n, ms(2), ok(OpId(5)))), vec![]);
    let w = status_writes(&input(&mut n, ms(3), done(4)));
    assert_eq!(ingress_ips(&w[0].1), vec![ip("10.0.0.1"), ip("10.0.0.2")]);
    assert_eq!(effects(&out).len(), 2);
}

#[test]
fn a_port_change_rewrites_and_a_failure_is_retried_after_a_second() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = with_ips(lb("default", "a"), "10.0.0.1");
    let out = list_services(&mut n, ms(0), vec![a.clone()]);
    let (op, first) = status_writes(&complete_addresses(&mut n, ms(0), &out))[0].clone();
    input(&mut n, ms(1), ok(op));
    let stored = after_write(a, &first);
    input(&mut n, ms(2), apply(stored.clone()));
    let changed = with_ports(stored, &[80, 443]);
    let w = status_writes(&input(&mut n, ms(3), apply(changed)));
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].1.ingress[0].ports, vec![tcp(80), tcp(443)]);
    let failed = ServicesInput::StatusWritten {
        op: w[0].0,
        result: Err("503".into()),
    };
    assert_eq!(status_writes(&input(&mut n, ms(4), failed)), vec![]);
    let mut retried = vec![];
    while let Some(t) = n.poll_timeout().filter(|&t| t <= ms(1_004)) {
        n.handle_timeout(t);
        for (op, write) in status_writes(&drain(&mut n)) {
            retried.push((t, op, write));
        }
    }
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].0, ms(1_004));
    assert_eq!(retried[0].2, w[0].1);
}

#[test]
fn steady_state_and_restarts_write_nothing() {
    let mut c = Cluster::new(global_mode());
    for i in 0..20 {
        let v = with_ips(
            lb("default", &format!("s{i}")),
            &format!("10.2.0.{}", i + 1),
        );
        c.services.insert(v.key.clone(), v);
    }
    c.start("n1");
    c.run_until(ms(5_000));
    assert_eq!(c.status_writes, 20);
    c.run_until(ms(65_000));
    assert_eq!(c.status_writes, 20);
    c.kill("n1");
    c.start("n1");
    c.run_until(ms(70_000));
    assert_eq!(c.status_writes, 20);
    assert_eq!(c.hosts["n1"].node.configured().len(), 20);
}

#[test]
fn disabled_service_updates_write_nothing() {
    let mut cfg = config("n1", global_mode());
    cfg.write_status = false;
    let mut n = holding_with(cfg, ms(0));
    let out = list_services(
        &mut n,
        ms(0),
        vec![with_ips(lb("default", "a"), "10.0.0.1")],
    );
    let out = complete_addresses(&mut n, ms(0), &out);
    assert_eq!(status_writes(&out), vec![]);
    assert_eq!(n.announcing(), [ip("10.0.0.1")].into());
}

#[test]
fn only_the_node_named_in_vip_host_clears_a_status() {
    for (host, clears) in [("n1", true), ("n2", false)] {
        let mut n = holding("n1", global_mode(), ms(0));
        let mut a = lb("default", "a");
        a.status_ingress = vec![ip("10.0.0.1")];
        a.annotations
            .insert(ANNOTATION_VIP_HOST.into(), host.into());
        let w = status_writes(&list_services(&mut n, ms(0), vec![a.clone()]));
        let expected = StatusWrite {
            key: ServiceKey::new("default", "a"),
            uid: a.uid.clone(),
            ingress: vec![],
            annotations: BTreeMap::from([(ANNOTATION_VIP_HOST.to_owned(), None)]),
        };
        assert_eq!(
            w.into_iter().map(|(_, w)| w).collect::<Vec<_>>(),
            if clears { vec![expected] } else { vec![] }
        );
    }
}

#[test]
fn a_foreign_address_is_written_but_never_configured() {
    let mut cfg = config("n1", global_mode());
    cfg.foreign_addresses = [ip("192.168.66.101")].into();
    let mut n = holding_with(cfg, ms(0));
    let mut a = lb("default", "nginx-lb");
    a.load_balancer_ip = Some("192.168.66.101".into());
    let out = list_services(&mut n, ms(0), vec![a]);
    let effects = effects(&out);
    assert_eq!(effects.len(), 1, "{effects:?}");
    let ServicesOutput::WriteStatus { write, .. } = &effects[0] else {
        panic!("expected only a status write, got {effects:?}");
    };
    assert_eq!(ingress_ips(write), vec![ip("192.168.66.101")]);
    assert!(n.announcing().is_empty());
}
