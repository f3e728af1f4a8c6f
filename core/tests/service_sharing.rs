//! Several Services on one address: disjoint ports share it; on a port clash the Service whose
//! stored status already lists the address keeps it (else the smaller namespace/name), the other
//! loses only that address and gets one Problem report; malformed entries are reported once and
//! never affect another Service.

mod service_support;

use kvip_core::service::sharing::{share, Claimant, PortClash};
use kvip_core::service::{ProblemKind, ServiceKey, ServiceProblem, ServicesInput, ServicesOutput};
use kvip_core::{OpId, VipAddress, WatchEvent};
use service_support::*;

fn key(name: &str) -> ServiceKey {
    ServiceKey::new("default", name)
}

#[test]
fn disjoint_ports_share_and_clashes_go_to_the_first_holder() {
    let (a, b, c) = (key("a"), key("b"), key("c"));
    let shared = [ip("10.0.0.1")];
    let two = [ip("10.0.0.1"), ip("10.0.0.2")];
    let (p80, p443, both) = ([tcp(80)], [tcp(443)], [tcp(80), tcp(443)]);
    let claim = |key, addresses, ports, status| Claimant {
        key,
        addresses,
        ports,
        status,
    };
    let s = share(&[
        claim(&a, &shared[..], &p80[..], &[][..]),
        claim(&b, &shared[..], &p443[..], &[][..]),
        claim(&c, &two[..], &both[..], &[][..]),
    ]);
    assert_eq!(s.kept[&a], shared.to_vec());
    assert_eq!(s.kept[&b], shared.to_vec());
    assert_eq!(s.kept[&c], vec![ip("10.0.0.2")]);
    assert_eq!(
        s.clashes,
        vec![PortClash {
            address: ip("10.0.0.1"),
            service: c.clone(),
            holder: a.clone(),
            ports: vec![tcp(80)]
        }]
    );
    // The stored status decides before the name: b had the address first.
    let s = share(&[
        claim(&a, &shared[..], &p80[..], &[][..]),
        claim(&b, &shared[..], &p80[..], &shared[..]),
    ]);
    assert_eq!((s.kept[&a].len(), s.kept[&b].len()), (0, 1));
    assert_eq!(s.clashes[0].holder, b);
}

#[test]
fn a_shared_address_stays_while_any_of_its_services_is_announced() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = with_ports(with_ips(lb("default", "a"), "10.0.0.1"), &[80]);
    let b = with_ports(with_ips(lb("default", "b"), "10.0.0.1"), &[443]);
    let out = list_services(&mut n, ms(0), vec![a.clone(), b.clone()]);
    let vip = VipAddress {
        address: ip("10.0.0.1"),
        prefix_len: 32,
    };
    assert_eq!(
        effects(&out),
        vec![ServicesOutput::AddAddress {
            op: OpId(3),
            vip,
            link: None
        }]
    );
    assert_eq!(n.plan().groups.len(), 1);
    assert_eq!(
        n.plan().groups[0].services,
        vec![a.key.clone(), b.key.clone()]
    );
    let writes = status_writes(&complete_addresses(&mut n, ms(0), &out));
    let written: Vec<(ServiceKey, Vec<u16>)> = writes
        .iter()
        .map(|(_, w)| {
            (
                w.key.clone(),
                w.ingress
                    .iter()
                    .flat_map(|i| i.ports.iter().map(|p| p.port))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        written,
        vec![(a.key.clone(), vec![80]), (b.key.clone(), vec![443])]
    );
    let delete = |v| ServicesInput::ServiceWatch(WatchEvent::Delete(v));
    assert_eq!(effects(&input(&mut n, ms(1), delete(a))), vec![]);
    assert_eq!(n.announcing(), [ip("10.0.0.1")].into());
    assert_eq!(
        effects(&input(&mut n, ms(2), delete(b))),
        vec![ServicesOutput::RemoveAddress {
            op: OpId(6),
            vip,
            link: None
        }]
    );
}

#[test]
fn a_clash_costs_the_loser_only_that_address_and_is_reported_once() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = with_ips(lb("default", "a"), "10.0.0.1");
    let b = with_ips(lb("default", "b"), "10.0.0.1,10.0.0.2");
    let out = list_services(&mut n, ms(0), vec![a.clone(), b.clone()]);
    let problem = ServiceProblem {
        key: b.key.clone(),
        uid: b.uid.clone(),
        kind: ProblemKind::PortClash,
        message: "address 10.0.0.1 is shared with Service default/a on the same port(s) 80/TCP; \
                  it stays with default/a and is not announced for this Service"
            .into(),
    };
    let problems: Vec<&ServicesOutput> = out
        .iter()
        .filter(|o| matches!(o, ServicesOutput::Problem(_)))
        .collect();
    assert_eq!(problems, vec![&ServicesOutput::Problem(problem)]);
    let writes = status_writes(&complete_addresses(&mut n, ms(0), &out));
    let ingress: Vec<(ServiceKey, Vec<std::net::IpAddr>)> = writes
        .iter()
        .map(|(_, w)| (w.key.clone(), w.ingress.iter().map(|i| i.ip).collect()))
        .collect();
    assert_eq!(
        ingress,
        vec![
            (a.key.clone(), vec![ip("10.0.0.1")]),
            (b.key.clone(), vec![ip("10.0.0.2")])
        ]
    );
    // Still the same problem after a relist: not reported again.
    let again = list_services(&mut n, ms(1), vec![a, b]);
    assert!(!again
        .iter()
        .any(|o| matches!(o, ServicesOutput::Problem(_))));
}

#[test]
fn a_malformed_entry_is_reported_and_harms_nothing_else() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = with_ips(lb("default", "a"), "10.0.0.10, bogus");
    let b = with_ips(lb("default", "b"), "10.0.0.11");
    let out = list_services(&mut n, ms(0), vec![a.clone(), b]);
    let added = added_addresses(&out);
    assert_eq!(added, vec![ip("10.0.0.10"), ip("10.0.0.11")]);
    let problems = reported(&out);
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].key.clone(), problems[0].kind),
        (a.key, ProblemKind::InvalidAddress)
    );
    assert!(
        problems[0].message.contains("\"bogus\""),
        "{}",
        problems[0].message
    );
}

/// `kube-vip.io/serviceInterface` naming an interface this node does not have (the Services
/// interface is `eth0` and there is no other here): reported once, and the Service is still
/// announced (on `eth0`); naming `eth0` itself is no problem.
#[test]
fn an_unknown_service_interface_is_reported_and_announced_on_the_services_interface() {
    let mut n = holding("n1", global_mode(), ms(0));
    let mut a = with_ips(lb("default", "a"), "10.0.0.20");
    a.annotations
        .insert("kube-vip.io/serviceInterface".into(), "eth1".into());
    let mut b = with_ips(lb("default", "b"), "10.0.0.21");
    b.annotations
        .insert("kube-vip.io/serviceInterface".into(), "eth0".into());
    let out = list_services(&mut n, ms(0), vec![a.clone(), b]);
    let added = added_addresses(&out);
    assert_eq!(added, vec![ip("10.0.0.20"), ip("10.0.0.21")]);
    let problems = reported(&out);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].key.clone(), problems[0].kind),
        (a.key, ProblemKind::UnknownInterface)
    );
    assert!(
        problems[0].message.contains("eth1"),
        "{}",
        problems[0].message
    );
}

/// The addresses `out` adds, in order.
fn added_addresses(out: &[ServicesOutput]) -> Vec<std::net::IpAddr> {
    effects(out)
        .into_iter()
        .filter_map(|o| match o {
            ServicesOutput::AddAddress { vip, .. } => Some(vip.address),
            _ => None,
        })
        .collect()
}

/// The problems `out` reports.
fn reported(out: &[ServicesOutput]) -> Vec<ServiceProblem> {
    out.iter()
        .filter_map(|o| match o {
            ServicesOutput::Problem(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}
