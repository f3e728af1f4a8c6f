//! S3 (seed 002), on S1's cluster (K3s servers k3s1–3 .11–.13 on `ens3`, VIP .200, kvip with the
//! environment the generator writes for S1's flags, `--services` included) plus the LAN's DHCP
//! server (dnsmasq on `dhcp`, .1, pool .60–.90, `--no-ping`, short T1/T2); every node has
//! `arp_ignore=1`, `arp_announce=2` (PEERS.md §3: macvlan-held DHCP addresses answer with their
//! own MAC):
//! 1. a Service with no address is not published (no annotation, no `loadBalancerIP`);
//! 2. `nginx` with `loadBalancerIP: 192.168.205.202` → EXTERNAL-IP `.202`, reachable;
//! 3. `nginx-dhcp` with `loadBalancerIP: 0.0.0.0` → an address from dnsmasq's pool (in its lease
//!    file), on a macvlan of the holder, reachable; renewed at T1; the same address and MAC after
//!    a graceful failover, and after every kvip is stopped and started again; `nginx-dhcp6`
//!    (`::`) gets one from dnsmasq's DHCPv6 pool ([`super::s3_dhcp6`]); `nginx-dual`
//!    (`0.0.0.0,::`) one of each on one macvlan ([`super::s3_dual`]);
//! 4. the cloud provider with `cidr-global=192.168.205.216/29` → `nginx-cidr` gets one from that
//!    block; with `range-global=192.168.205.220-192.168.205.230` → `nginx-range` gets one from the
//!    range; `range-team-a` → `team-a/nginx` gets one from the namespace's pool, not the global one;
//! 5. a second NIC on another LAN and a Service naming it ([`super::s3_interface`]).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::Result;
use kvip_core::wire::MacAddr;
use kvip_testbed::netns::dnsmasq::{Dnsmasq, DnsmasqConfig};
use kvip_testbed::netns::ClusterSpec;

use super::harness::{LbScenario, ANSWER_BOUND};
use super::kube::{wait_for, ServiceSpec};
use super::stand_in::{hosts_with, interface_with, nginx_reply, Answer, NGINX_PORT};
use super::timeline::Timeline;
use super::Mode;
use crate::story;

/// `nginx`'s pinned address.
pub const STATIC: Ipv4Addr = Ipv4Addr::new(192, 168, 205, 202);
/// The cloud provider's first pool.
pub const CIDR_GLOBAL: &str = "192.168.205.216/29";
/// The cloud provider's second pool.
pub const RANGE_GLOBAL: &str = "192.168.205.220-192.168.205.230";
/// The namespace with its own pool.
pub const TEAM: &str = "team-a";
/// `team-a`'s pool.
pub const RANGE_TEAM: &str = "192.168.205.240-192.168.205.245";

fn last_octet_in(a: Ipv4Addr, lo: u8, hi: u8) -> bool {
    let o = a.octets();
    o[..3] == [192, 168, 205] && (lo..=hi).contains(&o[3])
}

/// dnsmasq's configuration: pool .60–.90 on `ens3`, 2 min leases, T1 10 s, T2 20 s.
pub fn dhcp_config() -> DnsmasqConfig {
    DnsmasqConfig {
        interface: "ens3".into(),
        range_start: Ipv4Addr::new(192, 168, 205, 60),
        range_end: Ipv4Addr::new(192, 168, 205, 90),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        lease_time: Duration::from_secs(120),
        router: None,
        t1: Some(Duration::from_secs(10)),
        t2: Some(Duration::from_secs(20)),
        reservations: Vec::new(),
        range_v6: Some(super::s3_dhcp6::POOL),
    }
}

/// Runs S3.
pub fn run(mode: Mode) -> Result<Timeline> {
    let mut story = story::s1(None);
    story.name = "s3";
    story.spec = ClusterSpec::s3();
    let mut lb = LbScenario::start(story, &[], "s3")?;
    for h in lb.nodes().to_vec() {
        h.ns.sysctl("net.ipv4.conf.all.arp_ignore", "1")?;
        h.ns.sysctl("net.ipv4.conf.all.arp_announce", "2")?;
    }
    lb.tl.note("arp_ignore=1, arp_announce=2 on every node");
    let dhcp_host = lb.scenario.cluster.host("dhcp")?.clone();
    super::s3_dhcp6::add_lan_prefix(&dhcp_host, lb.nodes())?;
    let dhcp_ns = dhcp_host.ns.clone();
    let dnsmasq = Dnsmasq::start(lb.scenario.cluster.run_mut(), &dhcp_ns, &dhcp_config())?;
    lb.tl.note(format!(
        "dnsmasq (pid {}) on dhcp 192.168.205.1: pool .60-.90, --no-ping, T1 10 s, T2 20 s; \
         DHCPv6 on fd00:205::1/64: pool ::100-::1ff",
        dnsmasq.pid()
    ));

    let none = ServiceSpec::new("nginx-none", "default", 80, NGINX_PORT);
    let created = Instant::now();
    lb.create(&none)?;
    let nginx = ServiceSpec::new("nginx", "default", 80, NGINX_PORT).with_ip(&STATIC.to_string());
    lb.create(&nginx)?;
    let dhcp = ServiceSpec::new("nginx-dhcp", "default", 80, NGINX_PORT).with_ip("0.0.0.0");
    lb.create(&dhcp)?;
    if mode == Mode::Full {
        lb.publish(&nginx, |a| a == STATIC, "192.168.205.202")?;
        dhcp_service(&mut lb, &dhcp, &dnsmasq)?;
        super::s3_dhcp6::dhcp6_service(&mut lb, &dnsmasq)?;
        super::s3_dual::dual_stack_service(&mut lb, &dnsmasq)?;
        std::thread::sleep(Duration::from_secs(3).saturating_sub(created.elapsed()));
        let ips = lb.kube.ingress_ips(&none.namespace, &none.name)?;
        lb.tl.check(
            ips.is_empty(),
            "nginx-none (no annotation, no loadBalancerIP): not published",
            format!("nginx-none has no address to publish but status has {ips:?}"),
        );
    }
    if mode == Mode::Full {
        bad_annotation(&mut lb, &nginx)?;
        super::s3_interface::service_interface(&mut lb)?;
    }
    // Gone before the cloud provider starts, which would give it an address.
    lb.kube.delete_service(&none.namespace, &none.name)?;

    let provider = lb.start_cloud_provider("k3s1");
    lb.put_configmap(&[("cidr-global", CIDR_GLOBAL)])?;
    let cidr = ServiceSpec::new("nginx-cidr", "default", 80, NGINX_PORT);
    lb.create(&cidr)?;
    let in_cidr = |a| last_octet_in(a, 216, 223);
    let cidr_addr = if provider {
        lb.wait_assigned(&cidr, in_cidr, CIDR_GLOBAL)
    } else {
        None
    };
    let full = mode == Mode::Full;
    if let Some(a) = cidr_addr.filter(|_| full) {
        lb.publish(&cidr, |x| x == a, &a.to_string())?;
    }

    lb.put_configmap(&[("range-global", RANGE_GLOBAL)])?;
    let range = ServiceSpec::new("nginx-range", "default", 80, NGINX_PORT);
    lb.create(&range)?;
    if provider {
        let fresh = |a| last_octet_in(a, 220, 230) && Some(a) != cidr_addr;
        if let Some(a) = lb
            .wait_assigned(&range, fresh, RANGE_GLOBAL)
            .filter(|_| full)
        {
            lb.publish(&range, |x| x == a, &a.to_string())?;
        }
    }

    lb.kube.create_namespace(TEAM)?;
    let team_key = format!("range-{TEAM}");
    lb.put_configmap(&[
        ("range-global", RANGE_GLOBAL),
        (team_key.as_str(), RANGE_TEAM),
    ])?;
    let team = ServiceSpec::new("nginx", TEAM, 80, NGINX_PORT);
    lb.create(&team)?;
    if provider {
        let in_team = |a| last_octet_in(a, 240, 245);
        if let Some(a) = lb
            .wait_assigned(&team, in_team, RANGE_TEAM)
            .filter(|_| full)
        {
            lb.publish(&team, |x| x == a, &a.to_string())?;
        }
    }
    if !full {
        lb.tl
            .note("bring-up only: no Service was waited for from kvip");
    }
    Ok(lb.finish())
}

/// `nginx-dhcp` (`loadBalancerIP: 0.0.0.0`): published with an address of dnsmasq's pool that
/// its lease file shows, held on a macvlan (not `ens3`), reachable.
fn dhcp_service(lb: &mut LbScenario, svc: &ServiceSpec, dnsmasq: &Dnsmasq) -> Result<()> {
    let in_pool = |a| last_octet_in(a, 60, 90);
    let Some((addr, holder)) = lb.publish(svc, in_pool, "from dnsmasq's pool .60-.90")? else {
        return Ok(());
    };
    let lease = wait_for(Duration::from_secs(5), Duration::from_millis(100), || {
        Ok(dnsmasq.leases()?.into_iter().find(|l| l.ip == addr))
    });
    let Some((first, _)) = lease else {
        lb.tl.fail(format!(
            "{addr} is not in dnsmasq's lease file {}",
            dnsmasq.lease_file().display()
        ));
        return Ok(());
    };
    lb.tl.note(format!(
        "dnsmasq lease file: {addr} leased to {} (expires {})",
        first.mac, first.expiry
    ));
    let hwaddr = lb
        .kube
        .annotation(&svc.namespace, &svc.name, "kube-vip.io/hwaddr")?;
    lb.tl.check(
        hwaddr.as_deref() == Some(first.mac.to_string().as_str()),
        format!(
            "{}: kube-vip.io/hwaddr={} (the lease's MAC)",
            svc.name, first.mac
        ),
        format!(
            "{}: kube-vip.io/hwaddr is {hwaddr:?}, the lease's MAC is {}",
            svc.name, first.mac
        ),
    );
    let host = lb.scenario.cluster.host(&holder)?.clone();
    let iface = interface_with(&host, addr)?;
    lb.tl.check(
        iface.as_deref().is_some_and(|i| i != host.ifname),
        format!(
            "{addr} on {holder}'s {iface:?} (a macvlan, not {})",
            host.ifname
        ),
        format!(
            "{addr} on {holder}'s {iface:?}, expected a macvlan beside {}",
            host.ifname
        ),
    );
    renewal_at_t1(lb, dnsmasq, addr, first.expiry);
    dhcp_failover(lb, svc, dnsmasq, (addr, first.mac), &holder)?;
    dhcp_restart_all(lb, svc, dnsmasq, (addr, first.mac))
}

/// The client renews at T1 (10 s): the lease file's expiry moves forward, same address and MAC.
fn renewal_at_t1(lb: &mut LbScenario, dnsmasq: &Dnsmasq, addr: Ipv4Addr, expiry: u64) {
    let t = Instant::now();
    let renewed = wait_for(Duration::from_secs(16), Duration::from_millis(200), || {
        Ok(dnsmasq
            .leases()?
            .into_iter()
            .find(|l| l.ip == addr && l.expiry > expiry))
    });
    match renewed {
        Some((l, _)) => lb.tl.note(format!(
            "renewal at T1: {addr} expiry {expiry} -> {} in the lease file ({:.1} s later)",
            l.expiry,
            t.elapsed().as_secs_f64()
        )),
        None => lb.tl.fail(format!(
            "{addr}: no renewal in dnsmasq's lease file within 16 s (T1 10 s)"
        )),
    }
}

/// SIGTERM to kvip on the holder: the Service moves to another node, which leases the same
/// address again with the MAC from `kube-vip.io/hwaddr`; kvip comes back on the old holder.
fn dhcp_failover(
    lb: &mut LbScenario,
    svc: &ServiceSpec,
    dnsmasq: &Dnsmasq,
    (addr, mac): (Ipv4Addr, MacAddr),
    old: &str,
) -> Result<()> {
    if let Err(e) = lb.scenario.stop_kvip(old) {
        lb.tl.fail(format!("graceful stop of kvip on {old}: {e:#}"));
        return Ok(());
    }
    lb.tl
        .note(format!("graceful stop: SIGTERM to kvip on {old}"));
    let bound = lb.scenario.story.timing.lease_duration + Duration::from_secs(10);
    match lb.wait_single_holder(addr, Some(old), bound) {
        Some((new, took)) => {
            lb.tl.note(format!(
                "{}: {addr} again, now on {new} ({} ms after the stop)",
                svc.name,
                took.as_millis()
            ));
            let ips = lb.kube.ingress_ips(&svc.namespace, &svc.name)?;
            lb.tl.check(
                ips == [addr],
                format!("{}: status still {addr} after the failover", svc.name),
                format!(
                    "{}: status {ips:?} after the failover, not {addr}",
                    svc.name
                ),
            );
            one_lease(lb, dnsmasq, (addr, mac), "the failover")?;
        }
        None => {
            let on = hosts_with(&lb.all_hosts(), addr);
            lb.tl.fail(format!(
                "{}: {addr} not re-acquired off {old} within {bound:?} (on {on:?})",
                svc.name
            ));
        }
    }
    lb.scenario.start_daemon(old)?;
    lb.tl.note(format!("kvip started again on {old}"));
    Ok(())
}

/// Every kvip stopped (SIGTERM: the address and its macvlan go, the lease is abandoned, not
/// released), then started again (a DaemonSet upgrade): the new holder leases the same address
/// with the same MAC, from `kube-vip.io/hwaddr` and `kube-vip.io/requestedIP`.
fn dhcp_restart_all(
    lb: &mut LbScenario,
    svc: &ServiceSpec,
    dnsmasq: &Dnsmasq,
    (addr, mac): (Ipv4Addr, MacAddr),
) -> Result<()> {
    let masters = lb.scenario.master_names();
    for m in &masters {
        if let Err(e) = lb.scenario.stop_kvip(m) {
            lb.tl.fail(format!("graceful stop of kvip on {m}: {e:#}"));
        }
    }
    let on = hosts_with(&lb.all_hosts(), addr);
    lb.tl.check(
        on.is_empty(),
        format!("every kvip stopped: {addr} on no host"),
        format!("every kvip stopped, but {addr} still on {on:?}"),
    );
    let t = Instant::now();
    for m in &masters {
        lb.scenario.start_daemon(m)?;
    }
    let bound = lb.scenario.story.timing.lease_duration + Duration::from_secs(15);
    let Some((holder, _)) = lb.wait_single_holder(addr, None, bound) else {
        let on = hosts_with(&lb.all_hosts(), addr);
        lb.tl.fail(format!(
            "{}: {addr} not leased again within {bound:?} of restarting every kvip (on {on:?})",
            svc.name
        ));
        return Ok(());
    };
    lb.tl.note(format!(
        "{}: {addr} again after restarting every kvip, on {holder} ({} ms after the starts)",
        svc.name,
        t.elapsed().as_millis()
    ));
    one_lease(lb, dnsmasq, (addr, mac), "the restart")
}

/// Checks that dnsmasq's lease file has exactly one lease for `addr`, still to `mac`, after `what`.
fn one_lease(
    lb: &mut LbScenario,
    dnsmasq: &Dnsmasq,
    (addr, mac): (Ipv4Addr, MacAddr),
    what: &str,
) -> Result<()> {
    let leases: Vec<_> = dnsmasq
        .leases()?
        .into_iter()
        .filter(|l| l.ip == addr)
        .collect();
    lb.tl.check(
        leases.len() == 1 && leases[0].mac == mac,
        format!("dnsmasq after {what}: one lease for {addr}, still MAC {mac}"),
        format!("dnsmasq leases for {addr} after {what}: {leases:?}, want one for {mac}"),
    );
    Ok(())
}

/// A Service whose `kube-vip.io/loadbalancerIPs` is not an address: a Warning Event on it, and
/// `nginx` keeps its address and answers.
fn bad_annotation(lb: &mut LbScenario, nginx: &ServiceSpec) -> Result<()> {
    let mut bad = ServiceSpec::new("nginx-bad", "default", 80, NGINX_PORT);
    bad.annotations.push((
        "kube-vip.io/loadbalancerIPs".into(),
        "192.168.205.300".into(),
    ));
    lb.create(&bad)?;
    let kube = &lb.kube;
    let event = wait_for(Duration::from_secs(15), Duration::from_millis(200), || {
        Ok(kube
            .warning_events(&bad.namespace, &bad.name)?
            .into_iter()
            .next())
    });
    match event {
        Some(((reason, message), took)) => lb.tl.note(format!(
            "nginx-bad (loadbalancerIPs 192.168.205.300): Warning Event {reason}: {message:?} after {} ms",
            took.as_millis()
        )),
        None => lb.tl.fail("nginx-bad (loadbalancerIPs 192.168.205.300): no Warning Event within 15 s"),
    }
    let ips = lb.kube.ingress_ips(&bad.namespace, &bad.name)?;
    lb.tl.check(
        ips.is_empty(),
        "nginx-bad: not published",
        format!("nginx-bad has an unusable address but status has {ips:?}"),
    );
    lb.expect(
        STATIC,
        nginx.ports[0],
        Answer::Reply(nginx_reply(&lb.services_holder().unwrap_or_default())),
        ANSWER_BOUND,
    );
    lb.kube.delete_service(&bad.namespace, &bad.name)
}
