//! Per-Service interfaces (`kube-vip.io/serviceInterface`): a Service naming another interface
//! of this node gets its address added, announced (with that interface's MAC), watched and
//! removed there; changing the annotation moves the address; a shared address follows its first
//! Service; an interface that comes or goes later moves its Services; shutdown removes addresses
//! from every interface before the Lease is released; a DHCP Service leases on a macvlan of the
//! interface it names.

mod service_support;

use std::collections::BTreeMap;

use kvip_core::service::{ServiceView, ServicesInput, ServicesNode, ServicesOutput};
use kvip_core::wire::MacAddr;
use kvip_core::WatchEvent;
use service_support::*;

const ETH1_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0xe1, 1]);

fn node() -> ServicesNode {
    let mut cfg = config("n1", global_mode());
    cfg.links = BTreeMap::from([("eth1".to_owned(), ETH1_MAC)]);
    holding_with(cfg, ms(0))
}

fn on(mut view: ServiceView, interface: &str) -> ServiceView {
    view.annotations
        .insert("kube-vip.io/serviceInterface".into(), interface.into());
    view
}

/// (address, link) of every add in `out`.
fn adds(out: &[ServicesOutput]) -> Vec<(String, Option<String>)> {
    address_ops(out, true)
}

/// (address, link) of every removal in `out`.
fn removals(out: &[ServicesOutput]) -> Vec<(String, Option<String>)> {
    address_ops(out, false)
}

fn address_ops(out: &[ServicesOutput], adding: bool) -> Vec<(String, Option<String>)> {
    out.iter()
        .filter_map(|o| match (o, adding) {
            (ServicesOutput::AddAddress { vip, link, .. }, true)
            | (ServicesOutput::RemoveAddress { vip, link, .. }, false) => {
                Some((vip.address.to_string(), link.clone()))
            }
            _ => None,
        })
        .collect()
}

/// (link, source MAC) of every frame in `out`.
fn frames(out: &[ServicesOutput]) -> Vec<(Option<String>, [u8; 6])> {
    out.iter()
        .filter_map(|o| match o {
            ServicesOutput::SendFrame { frame, link, .. } => {
                let mut mac = [0; 6];
                mac.copy_from_slice(&frame[6..12]);
                Some((link.clone(), mac))
            }
            _ => None,
        })
        .collect()
}

fn eth1() -> Option<String> {
    Some("eth1".to_owned())
}

#[test]
fn a_service_naming_another_interface_is_added_and_announced_there() {
    let mut n = node();
    let a = on(with_ips(lb("default", "a"), "10.0.0.20"), "eth1");
    let b = with_ips(lb("default", "b"), "10.0.0.21");
    let out = list_services(&mut n, ms(0), vec![a, b]);
    let mut added = adds(&out);
    added.sort();
    assert_eq!(
        added,
        vec![("10.0.0.20".into(), eth1()), ("10.0.0.21".into(), None)]
    );
    let done = complete_addresses(&mut n, ms(1), &out);
    let sent = frames(&done);
    assert!(sent.contains(&(eth1(), ETH1_MAC.0)), "{sent:?}");
    assert!(sent.contains(&(None, [2, 0, 0, 0, 0, b'1'])), "{sent:?}");
    assert_eq!(sent.len(), 2, "one frame per address: {sent:?}");
    let mut written: Vec<String> = status_writes(&done)
        .iter()
        .flat_map(|(_, w)| w.ingress.iter().map(|i| i.ip.to_string()))
        .collect();
    written.sort();
    assert_eq!(written, vec!["10.0.0.20", "10.0.0.21"]);
}

#[test]
fn changing_the_interface_moves_the_address() {
    let mut n = node();
    let a = on(with_ips(lb("default", "a"), "10.0.0.20"), "eth1");
    let out = list_services(&mut n, ms(0), vec![a.clone()]);
    complete_addresses(&mut n, ms(1), &out);
    let back = on(a.clone(), "eth0");
    let out = input(
        &mut n,
        ms(10),
        ServicesInput::ServiceWatch(WatchEvent::Apply(back)),
    );
    assert_eq!(removals(&out), vec![("10.0.0.20".into(), eth1())]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), None)]);
    let done = complete_addresses(&mut n, ms(11), &out);
    assert_eq!(frames(&done), vec![(None, [2, 0, 0, 0, 0, b'1'])]);
    assert!(n.announcing().contains(&ip("10.0.0.20")));
    let out = input(
        &mut n,
        ms(20),
        ServicesInput::ServiceWatch(WatchEvent::Apply(a)),
    );
    assert_eq!(removals(&out), vec![("10.0.0.20".into(), None)]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), eth1())]);
}

#[test]
fn an_address_removed_behind_our_back_is_put_back_on_its_interface() {
    let mut n = node();
    let a = on(with_ips(lb("default", "a"), "10.0.0.20"), "eth1");
    let out = list_services(&mut n, ms(0), vec![a]);
    complete_addresses(&mut n, ms(1), &out);
    // The same address vanishing from the Services interface is none of its business.
    let elsewhere = ServicesInput::AddressObserved {
        address: ip("10.0.0.20"),
        present: false,
        link: None,
    };
    assert_eq!(adds(&input(&mut n, ms(5), elsewhere)), vec![]);
    let gone = ServicesInput::AddressObserved {
        address: ip("10.0.0.20"),
        present: false,
        link: eth1(),
    };
    assert_eq!(
        adds(&input(&mut n, ms(6), gone)),
        vec![("10.0.0.20".into(), eth1())]
    );
}

#[test]
fn a_shared_address_goes_on_the_interface_of_its_first_service() {
    let mut n = node();
    let a = on(
        with_ports(with_ips(lb("default", "a"), "10.0.0.30"), &[80]),
        "eth1",
    );
    let b = with_ports(with_ips(lb("default", "b"), "10.0.0.30"), &[443]);
    let out = list_services(&mut n, ms(0), vec![a, b]);
    assert_eq!(adds(&out), vec![("10.0.0.30".into(), eth1())]);
}

#[test]
fn shutdown_removes_addresses_from_every_interface_before_stopping() {
    let mut n = node();
    let a = on(with_ips(lb("default", "a"), "10.0.0.20"), "eth1");
    let b = with_ips(lb("default", "b"), "10.0.0.21");
    let out = list_services(&mut n, ms(0), vec![a, b]);
    complete_addresses(&mut n, ms(1), &out);
    n.shutdown(ms(100));
    let out = drain(&mut n);
    let mut removed = removals(&out);
    removed.sort();
    assert_eq!(
        removed,
        vec![("10.0.0.20".into(), eth1()), ("10.0.0.21".into(), None)]
    );
    assert!(!out.iter().any(|o| matches!(o, ServicesOutput::Stopped)));
    let removal_ops: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            ServicesOutput::RemoveAddress { op, link, .. } => Some((*op, link.clone())),
            _ => None,
        })
        .collect();
    // Only the eth1 removal done: still not stopped.
    let (eth1_op, _) = removal_ops
        .iter()
        .find(|(_, l)| l.is_some())
        .cloned()
        .expect("an eth1 removal");
    let after = input(
        &mut n,
        ms(101),
        ServicesInput::AddressDone {
            op: eth1_op,
            result: Ok(()),
        },
    );
    assert!(!after.iter().any(|o| matches!(o, ServicesOutput::Stopped)));
    assert!(n.announcing().is_empty());
}

/// An interface that appears after start (a NIC brought up later) is used once the runtime
/// reports it, and one that goes sends its Services back to the Services interface; when it
/// comes back, they are added there again (the kernel dropped them with the interface).
#[test]
fn an_interface_that_comes_or_goes_moves_its_services() {
    let mut n = holding("n1", global_mode(), ms(0));
    let a = on(with_ips(lb("default", "a"), "10.0.0.20"), "eth1");
    let out = list_services(&mut n, ms(0), vec![a]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), None)]);
    complete_addresses(&mut n, ms(1), &out);
    let with_eth1 = BTreeMap::from([("eth1".to_owned(), ETH1_MAC)]);
    let came = ServicesInput::LinksChanged { links: with_eth1 };
    let out = input(&mut n, ms(10), came);
    assert_eq!(removals(&out), vec![("10.0.0.20".into(), None)]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), eth1())]);
    complete_addresses(&mut n, ms(11), &out);
    let went = ServicesInput::LinksChanged {
        links: BTreeMap::new(),
    };
    let out = input(&mut n, ms(20), went);
    // The address went with the interface: nothing to remove there.
    assert_eq!(removals(&out), vec![]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), None)]);
    complete_addresses(&mut n, ms(21), &out);
    // The interface comes back (its addresses did not): the address is added there again.
    let with_eth1 = BTreeMap::from([("eth1".to_owned(), ETH1_MAC)]);
    let back = ServicesInput::LinksChanged { links: with_eth1 };
    let out = input(&mut n, ms(30), back);
    assert_eq!(removals(&out), vec![("10.0.0.20".into(), None)]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), eth1())]);
    complete_addresses(&mut n, ms(31), &out);
    assert_eq!(n.configured(), [ip("10.0.0.20")].into());
}

/// (link, release) of every DHCP start (release `None`) and stop in `out`.
fn dhcp_ops(out: &[ServicesOutput]) -> Vec<(&'static str, Option<String>, bool)> {
    out.iter()
        .filter_map(|o| match o {
            ServicesOutput::DhcpStart { link, .. } => Some(("start", link.clone(), false)),
            ServicesOutput::DhcpStop { release, .. } => Some(("stop", None, *release)),
            _ => None,
        })
        .collect()
}

/// A DHCP Service naming another interface leases on a macvlan of that interface; when the
/// annotation changes, its client moves to the new parent without releasing the lease.
#[test]
fn a_dhcp_service_leases_on_the_interface_it_names() {
    let mut n = node();
    let a = on(with_ips(lb("default", "a"), "0.0.0.0"), "eth1");
    let out = list_services(&mut n, ms(0), vec![a.clone()]);
    assert_eq!(dhcp_ops(&out), vec![("start", eth1(), false)]);
    let moved = on(a, "eth0");
    let out = input(
        &mut n,
        ms(10),
        ServicesInput::ServiceWatch(WatchEvent::Apply(moved)),
    );
    assert_eq!(
        dhcp_ops(&out),
        vec![("stop", None, false), ("start", None, false)]
    );
}

/// An interface made again with another MAC (a NIC replaced, a bond rebuilt) lost its addresses:
/// they are added again without a removal first, and announced with the new MAC.
#[test]
fn an_interface_made_again_gets_its_addresses_back_with_its_new_mac() {
    let mut n = node();
    let a = on(with_ips(lb("default", "a"), "10.0.0.20"), "eth1");
    let out = list_services(&mut n, ms(0), vec![a]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), eth1())]);
    complete_addresses(&mut n, ms(1), &out);
    let new_mac = MacAddr([2, 0, 0, 0, 0xe1, 2]);
    let remade = ServicesInput::LinksChanged {
        links: BTreeMap::from([("eth1".to_owned(), new_mac)]),
    };
    let out = input(&mut n, ms(10), remade);
    assert_eq!(removals(&out), vec![]);
    assert_eq!(adds(&out), vec![("10.0.0.20".into(), eth1())]);
    let done = complete_addresses(&mut n, ms(11), &out);
    assert_eq!(frames(&done), vec![(eth1(), new_mac.0)]);
}
