//! S3's second network (a per-Service interface): the nodes get a second NIC `eth1` on another
//! LAN (192.168.206.0/24, its own bridge and client) while kvip runs. `nginx-eth1`
//! (`loadBalancerIP: 192.168.206.50`, `kube-vip.io/serviceInterface: eth1`) must then be held on
//! the services-lease holder's `eth1` only; the second LAN's client (which takes gratuitous ARP)
//! must learn the holder's `eth1` MAC for it before sending anything (the announcement left
//! `eth1`) and then get an answer; changing the annotation to the Services interface moves it.
//! `nginx-eth1-dhcp` (`0.0.0.0`, `eth1`) leases from a dnsmasq on the second LAN on a macvlan
//! of the holder's `eth1`, answers client2, and is released when deleted.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kvip_testbed::netns::dnsmasq::{Dnsmasq, DnsmasqConfig};
use kvip_testbed::netns::{Host, Lan, Netns};

use super::harness::{LbScenario, ANSWER_BOUND};
use super::kube::{wait_for, ServiceSpec};
use super::stand_in::{ask_until, interface_with, sshd_reply, Answer, NGINX_PORT, SSHD_PORT};

/// The second LAN.
const SUBNET: &str = "192.168.206.0/24";
/// `nginx-eth1`'s address, on the second LAN.
const ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 206, 50);
/// The node's second NIC.
const SECOND_NIC: &str = "eth1";

/// Runs the step (cluster of S3 up, kvip running on every node).
pub fn service_interface(lb: &mut LbScenario) -> Result<()> {
    let nodes = lb.nodes().to_vec();
    let services_interface = nodes
        .first()
        .map(|h| h.ifname.clone())
        .context("no nodes")?;
    let (lan2, client2) = second_lan(lb, &nodes)?;
    lb.tl.note(format!(
        "second LAN {SUBNET}: {SECOND_NIC} on {:?} (added while kvip runs), client2 .100",
        nodes.iter().map(|h| h.name.as_str()).collect::<Vec<_>>()
    ));
    let mut svc =
        ServiceSpec::new("nginx-eth1", "default", 80, NGINX_PORT).with_ip(&ADDRESS.to_string());
    svc.annotations
        .push(("kube-vip.io/serviceInterface".into(), SECOND_NIC.into()));
    let t = Instant::now();
    lb.create(&svc)?;
    let hosts: Vec<Host> = lan2.hosts().to_vec();
    let bound = Duration::from_secs(15);
    let Some(holder) = lb.check_holder(&svc, ADDRESS) else {
        return Ok(());
    };
    let host = lb.scenario.cluster.host(&holder)?.clone();
    let on = interface_with(&host, ADDRESS)?;
    lb.tl.check(
        on.as_deref() == Some(SECOND_NIC),
        format!(
            "nginx-eth1: {ADDRESS} on {holder}'s {SECOND_NIC} ({} ms after the create)",
            t.elapsed().as_millis()
        ),
        format!("nginx-eth1: {ADDRESS} on {holder}'s {on:?}, not {SECOND_NIC}"),
    );
    // Before client2 sends anything: its neighbour entry can only come from the announcement.
    let mac = link_mac(&host.ns, SECOND_NIC)?;
    let announced = wait_for(Duration::from_secs(3), Duration::from_millis(20), || {
        Ok(neighbour_mac(&client2, ADDRESS)?.filter(|m| *m == mac))
    });
    let neighbour = neighbour_mac(&client2, ADDRESS)?;
    lb.tl.check(
        announced.is_some(),
        format!(
            "client2 learned {ADDRESS} at {mac} ({holder}'s {SECOND_NIC}) from the announcement"
        ),
        format!("client2's neighbour entry for {ADDRESS}: {neighbour:?}, want {mac}"),
    );
    let target = SocketAddrV4::new(ADDRESS, SSHD_PORT);
    let want = Answer::Reply(sshd_reply(&holder));
    match ask_until(&client2, target, &want, ANSWER_BOUND) {
        Ok(took) => lb.tl.note(format!(
            "client2: {target} answers {want} (after {} ms)",
            took.as_millis()
        )),
        Err(last) => lb
            .tl
            .fail(format!("client2: {target} answers {last}, not {want}")),
    }
    let others: Vec<String> = hosts
        .iter()
        .filter(|h| h.name != holder)
        .filter(|h| interface_with(h, ADDRESS).is_ok_and(|i| i.is_some()))
        .map(|h| h.name.clone())
        .collect();
    lb.tl.check(
        others.is_empty(),
        format!("nginx-eth1: {ADDRESS} on no other host of the second LAN"),
        format!("nginx-eth1: {ADDRESS} also on {others:?}"),
    );

    svc.annotations = vec![(
        "kube-vip.io/serviceInterface".into(),
        services_interface.clone(),
    )];
    let t = Instant::now();
    lb.create(&svc)?;
    let moved = wait_for(bound, Duration::from_millis(50), || {
        Ok(interface_with(&host, ADDRESS)?.filter(|i| *i == services_interface))
    });
    let now = interface_with(&host, ADDRESS)?;
    lb.tl.check(
        moved.is_some(),
        format!(
            "nginx-eth1 annotated {services_interface}: {ADDRESS} moved to {holder}'s \
             {services_interface} after {} ms",
            t.elapsed().as_millis()
        ),
        format!("nginx-eth1 annotated {services_interface}: {ADDRESS} on {now:?} after {bound:?}"),
    );
    lb.kube.delete_service(&svc.namespace, &svc.name)?;
    dhcp_on_second_nic(lb, &client2)
}

/// `nginx-eth1-dhcp` (`0.0.0.0`, `serviceInterface: eth1`) leases from the second LAN's dnsmasq
/// on a macvlan of the holder's `eth1`, answers client2, and releases on delete.
fn dhcp_on_second_nic(lb: &mut LbScenario, client2: &Netns) -> Result<()> {
    let config = DnsmasqConfig {
        interface: "eth0".into(),
        range_start: Ipv4Addr::new(192, 168, 206, 60),
        range_end: Ipv4Addr::new(192, 168, 206, 90),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        lease_time: Duration::from_secs(120),
        router: None,
        t1: None,
        t2: None,
        reservations: Vec::new(),
        range_v6: None,
    };
    let run = lb.scenario.cluster.run_mut();
    let dnsmasq = Dnsmasq::start_named(run, client2, &config, "dnsmasq-lan2")?;
    lb.tl
        .note("dnsmasq on client2 (second LAN): pool 192.168.206.60-.90");
    let mut svc = ServiceSpec::new("nginx-eth1-dhcp", "default", 80, NGINX_PORT).with_ip("0.0.0.0");
    svc.annotations
        .push(("kube-vip.io/serviceInterface".into(), SECOND_NIC.into()));
    lb.create(&svc)?;
    let in_pool =
        |a: Ipv4Addr| a.octets()[..3] == [192, 168, 206] && (60..=90).contains(&a.octets()[3]);
    let Some(addr) = lb.wait_ingress(&svc, in_pool, "from the second LAN's pool .60-.90") else {
        dnsmasq.stop(lb.scenario.cluster.run_mut());
        return Ok(());
    };
    let Some((holder, _)) = lb.wait_single_holder(addr, None, Duration::from_secs(5)) else {
        lb.tl
            .fail(format!("nginx-eth1-dhcp: {addr} not on exactly one host"));
        dnsmasq.stop(lb.scenario.cluster.run_mut());
        return Ok(());
    };
    let host = lb.scenario.cluster.host(&holder)?.clone();
    let iface = interface_with(&host, addr)?.unwrap_or_default();
    let link = host
        .ns
        .ip(&["-o", "link", "show", "dev", &iface])
        .unwrap_or_default();
    lb.tl.check(
        link.contains(&format!("@{SECOND_NIC}:")),
        format!("nginx-eth1-dhcp: {addr} on {holder}'s {iface}, a macvlan of {SECOND_NIC}"),
        format!("nginx-eth1-dhcp: {addr} on {holder}'s {iface:?}: {link:?}"),
    );
    let leased = dnsmasq.leases()?.into_iter().any(|l| l.ip == addr);
    lb.tl.check(
        leased,
        format!("the second LAN's dnsmasq leased {addr}"),
        format!("{addr} not in {}", dnsmasq.lease_file().display()),
    );
    let target = SocketAddrV4::new(addr, SSHD_PORT);
    let want = Answer::Reply(sshd_reply(&holder));
    if let Err(last) = ask_until(client2, target, &want, ANSWER_BOUND) {
        lb.tl
            .fail(format!("client2: {target} answers {last}, not {want}"));
    } else {
        lb.tl.note(format!("client2: {target} answers {want}"));
    }
    lb.kube.delete_service(&svc.namespace, &svc.name)?;
    let released = wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        Ok(dnsmasq.leases()?.iter().all(|l| l.ip != addr).then_some(()))
    });
    lb.tl.check(
        released.is_some(),
        format!("nginx-eth1-dhcp deleted: {addr} released (gone from the lease file)"),
        format!("nginx-eth1-dhcp deleted, but {addr} still leased after 10 s"),
    );
    dnsmasq.stop(lb.scenario.cluster.run_mut());
    Ok(())
}

/// The second LAN with `eth1` on every node (.10 up) and `client2` at .100.
fn second_lan(lb: &mut LbScenario, nodes: &[Host]) -> Result<(Lan, Netns)> {
    let run = lb.scenario.cluster.run_mut();
    let mut lan2 = Lan::named(run, "lan2", SUBNET)?;
    for (i, h) in nodes.iter().enumerate() {
        let ip = Ipv4Addr::new(192, 168, 206, 10 + i as u8);
        lan2.add_interface(&h.ns, &h.name, ip, SECOND_NIC)?;
    }
    let client2 = lan2.add_host(run, "client2", Ipv4Addr::new(192, 168, 206, 100), "eth0")?;
    // Gratuitous ARP creates neighbour entries: the announcement becomes visible.
    client2.ns.sysctl("net.ipv4.conf.all.arp_accept", "1")?;
    client2.ns.sysctl("net.ipv4.conf.eth0.arp_accept", "1")?;
    Ok((lan2, client2.ns))
}

/// The MAC of `ifname` in `ns`.
fn link_mac(ns: &Netns, ifname: &str) -> Result<String> {
    let out = ns.ip(&["-o", "link", "show", ifname])?;
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .map(str::to_owned)
        .with_context(|| format!("no MAC in {out:?}"))
}

/// The MAC `ns`'s neighbour table holds for `addr`, if any.
fn neighbour_mac(ns: &Netns, addr: Ipv4Addr) -> Result<Option<String>> {
    let out = ns.ip(&["neigh", "show", &addr.to_string()])?;
    Ok(out
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .map(str::to_owned))
}
