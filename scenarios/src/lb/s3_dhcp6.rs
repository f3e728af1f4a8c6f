//! S3's DHCPv6 step (`kube-vip.io/loadbalancerIPs: "::"`), beside the article's DHCPv4 one: the
//! LAN also carries `fd00:205::/64` (the DHCP server `::1`, every node `::1N`, so a node has a
//! route back to the LAN), and the same dnsmasq serves DHCPv6 from [`POOL`]. `nginx-dhcp6` gets
//! an address of that pool in its status, held on a macvlan of the services-lease holder (a /128,
//! not on the Services interface), leased to the DUID-LL of the MAC written in
//! `kube-vip.io/hwaddr`, with `kube-vip.io/requestedIP` written; the DHCP server reaches it; and
//! deleting the Service releases the lease and removes the address.

use std::net::Ipv6Addr;
use std::time::Duration;

use anyhow::Result;
use kvip_core::wire::MacAddr;
use kvip_testbed::netns::dnsmasq::{read_leases_v6, Dnsmasq};
use kvip_testbed::netns::Host;

use super::harness::{LbScenario, PUBLISH_BOUND};
use super::kube::{wait_for, ServiceSpec, ANNOTATION_LB_IPS};
use super::stand_in::NGINX_PORT;

/// dnsmasq's DHCPv6 pool.
pub const POOL: (Ipv6Addr, Ipv6Addr) = (
    Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x100),
    Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x1ff),
);
/// The DHCP server's address on the LAN's IPv6 prefix.
pub const SERVER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 1);
/// How long a release or a removal may take to show.
pub const GONE_BOUND: Duration = Duration::from_secs(10);

pub fn in_pool(a: Ipv6Addr) -> bool {
    (POOL.0..=POOL.1).contains(&a)
}

/// Puts the LAN's IPv6 prefix on the DHCP server (`::1`) and every node (`::11`, `::12`, …),
/// before dnsmasq starts (it serves a DHCPv6 range only on an interface with an address in it).
pub fn add_lan_prefix(dhcp: &Host, nodes: &[Host]) -> Result<()> {
    let mut hosts = vec![(dhcp, SERVER)];
    for (i, h) in nodes.iter().enumerate() {
        hosts.push((
            h,
            Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x11 + i as u16),
        ));
    }
    for (h, a) in hosts {
        h.ns.sysctl("net.ipv6.conf.all.disable_ipv6", "0")?;
        let cidr = format!("{a}/64");
        h.ns.ip(&["-6", "addr", "add", &cidr, "dev", &h.ifname, "nodad"])?;
    }
    Ok(())
}

/// The IPv6 addresses of the Service's `status.loadBalancer.ingress`.
pub fn ingress_v6(lb: &LbScenario, svc: &ServiceSpec) -> Result<Vec<Ipv6Addr>> {
    let path = "{.status.loadBalancer.ingress[*].ip}";
    let text = lb
        .kube
        .jsonpath("service", &svc.namespace, &svc.name, path)?
        .unwrap_or_default();
    Ok(text
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect())
}

/// The interface of `host` holding `addr` as a /128, if any.
pub fn interface_with_v6(host: &Host, addr: Ipv6Addr) -> Option<String> {
    let out = host.ns.ip(&["-6", "-o", "addr", "show"]).ok()?;
    let needle = format!("inet6 {addr}/128");
    out.lines()
        .find(|l| l.contains(&needle))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|i| i.split('@').next().unwrap_or(i).to_string())
}

/// The step: `nginx-dhcp6` leased, held, reachable, released.
pub fn dhcp6_service(lb: &mut LbScenario, dnsmasq: &Dnsmasq) -> Result<()> {
    let mut svc = ServiceSpec::new("nginx-dhcp6", "default", 80, NGINX_PORT);
    svc.annotations
        .push((ANNOTATION_LB_IPS.into(), "::".into()));
    lb.create(&svc)?;
    let published = wait_for(PUBLISH_BOUND, Duration::from_millis(200), || {
        Ok(ingress_v6(lb, &svc)?.into_iter().find(|a| in_pool(*a)))
    });
    let Some((addr, took)) = published else {
        let got = ingress_v6(lb, &svc).unwrap_or_default();
        lb.tl.fail(format!(
            "nginx-dhcp6 (`::`): no address of dnsmasq's DHCPv6 pool {}-{} in status within {PUBLISH_BOUND:?} (has {got:?})",
            POOL.0, POOL.1
        ));
        return Ok(());
    };
    lb.tl.note(format!(
        "nginx-dhcp6 (`::`): EXTERNAL-IP {addr} (DHCPv6 pool) after {} ms",
        took.as_millis()
    ));
    let holder = lb.services_holder().unwrap_or_default();
    let held: Vec<(String, String)> = lb
        .nodes()
        .iter()
        .filter_map(|h| interface_with_v6(h, addr).map(|i| (h.name.clone(), i)))
        .collect();
    let on_macvlan = held.len() == 1 && held[0].0 == holder && held[0].1 != "ens3";
    lb.tl.check(
        on_macvlan,
        format!("{addr} held on {held:?}: a macvlan of the services-lease holder {holder}"),
        format!("{addr} should be on one macvlan of {holder}, is on {held:?}"),
    );
    let hwaddr = lb
        .kube
        .annotation(&svc.namespace, &svc.name, "kube-vip.io/hwaddr")?;
    let mac = hwaddr.as_deref().and_then(|m| m.parse::<MacAddr>().ok());
    let requested = lb
        .kube
        .annotation(&svc.namespace, &svc.name, "kube-vip.io/requestedIP")?;
    lb.tl.check(
        mac.is_some() && requested.as_deref() == Some(addr.to_string().as_str()),
        format!("kube-vip.io/hwaddr {hwaddr:?}, kube-vip.io/requestedIP {addr}"),
        format!("want hwaddr a MAC and requestedIP {addr}, have {hwaddr:?} and {requested:?}"),
    );
    let leases = read_leases_v6(dnsmasq.lease_file())?;
    let lease = leases.iter().find(|l| l.address == addr);
    lb.tl.check(
        lease.is_some_and(|l| l.duid_ll_mac() == mac && mac.is_some()),
        format!("dnsmasq lease file: {addr} leased to {lease:?}, the DUID-LL of {hwaddr:?}"),
        format!("dnsmasq's DHCPv6 leases {leases:?}: want {addr} to the DUID-LL of {hwaddr:?}"),
    );
    let ns = dnsmasq.netns().clone();
    let target = addr.to_string();
    let answered = wait_for(GONE_BOUND, Duration::from_millis(200), || {
        let out = ns
            .cmd("ping")
            .args(["-6", "-c", "1", "-W", "1", &target])
            .output()?;
        Ok(out.ok().then_some(()))
    });
    lb.tl.check(
        answered.is_some(),
        format!("the DHCP server reaches {addr} (ping)"),
        format!("the DHCP server gets no answer from {addr} within {GONE_BOUND:?}"),
    );
    lb.kube.delete_service(&svc.namespace, &svc.name)?;
    let released = wait_for(GONE_BOUND, Duration::from_millis(200), || {
        let leased = read_leases_v6(dnsmasq.lease_file())?
            .iter()
            .any(|l| l.address == addr);
        let held = lb
            .nodes()
            .iter()
            .any(|h| interface_with_v6(h, addr).is_some());
        Ok((!leased && !held).then_some(()))
    });
    match released {
        Some(((), took)) => lb.tl.note(format!(
            "nginx-dhcp6 deleted: lease released and {addr} removed after {} ms",
            took.as_millis()
        )),
        None => lb.tl.fail(format!(
            "nginx-dhcp6 deleted: {addr} still leased or held after {GONE_BOUND:?}"
        )),
    }
    Ok(())
}
