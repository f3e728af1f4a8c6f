//! S3's dual-stack DHCP step: `nginx-dual` asks for `kube-vip.io/loadbalancerIPs: "0.0.0.0,::"`.
//! Both of its addresses come from the dnsmasq: one from the v4 pool, leased to the MAC written
//! in `kube-vip.io/hwaddr`, and one from the v6 pool, leased to that MAC's DUID-LL. Both are in
//! its status, and `kube-vip.io/requestedIP` lists both. They sit on the one macvlan of that MAC
//! (named after it) on the services-lease holder, and the DHCP server reaches both. After a
//! graceful stop of the holder's kvip, another node has both again on one macvlan of that MAC,
//! one lease of each.
//!
//! Re-annotated to `0.0.0.0`, the v6 lease is released and its address removed. The v4 address
//! stays on the same macvlan, still leased and answering. Deleted, the v4 lease is released and
//! the macvlan is gone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anyhow::Result;
use kvip_core::dhcp::macvlan_name;
use kvip_core::wire::MacAddr;
use kvip_testbed::netns::dnsmasq::{read_leases_v6, Dnsmasq};
use kvip_testbed::netns::Host;

use super::harness::{LbScenario, PUBLISH_BOUND};
use super::kube::{wait_for, ServiceSpec, ANNOTATION_LB_IPS};
use super::s3_dhcp6::{in_pool, ingress_v6, interface_with_v6, GONE_BOUND};
use super::stand_in::{interface_with, NGINX_PORT};

/// dnsmasq's DHCPv4 pool: `.60`–`.90` of the LAN.
fn in_pool_v4(a: Ipv4Addr) -> bool {
    a.octets()[..3] == [192, 168, 205] && (60..=90).contains(&a.octets()[3])
}

/// The Service's two leased addresses, once both are in its status.
fn published(lb: &LbScenario, svc: &ServiceSpec) -> Result<Option<(Ipv4Addr, Ipv6Addr)>> {
    let v4 = lb
        .kube
        .ingress_ips(&svc.namespace, &svc.name)?
        .into_iter()
        .find(|a| in_pool_v4(*a));
    let v6 = ingress_v6(lb, svc)?.into_iter().find(|a| in_pool(*a));
    Ok(v4.zip(v6))
}

/// Whether the DHCP server's namespace gets an answer from `addr` (one ping, 1 s).
fn answers(dnsmasq: &Dnsmasq, addr: IpAddr) -> bool {
    let family = if addr.is_ipv4() { "-4" } else { "-6" };
    dnsmasq
        .netns()
        .cmd("ping")
        .args([family, "-c", "1", "-W", "1", &addr.to_string()])
        .output()
        .is_ok_and(|o| o.ok())
}

/// Where on `host` the two addresses are: (v4's interface, v6's interface).
fn placed(host: &Host, v4: Ipv4Addr, v6: Ipv6Addr) -> (Option<String>, Option<String>) {
    (
        interface_with(host, v4).ok().flatten(),
        interface_with_v6(host, v6),
    )
}

/// Whether interface `name` exists on `host`.
fn has_link(host: &Host, name: &str) -> bool {
    host.ns.ip(&["link", "show", "dev", name]).is_ok()
}

/// The step.
pub fn dual_stack_service(lb: &mut LbScenario, dnsmasq: &Dnsmasq) -> Result<()> {
    let mut svc = ServiceSpec::new("nginx-dual", "default", 80, NGINX_PORT);
    svc.annotations
        .push((ANNOTATION_LB_IPS.into(), "0.0.0.0,::".into()));
    lb.create(&svc)?;
    let got = wait_for(PUBLISH_BOUND, Duration::from_millis(200), || {
        published(lb, &svc)
    });
    let Some(((v4, v6), took)) = got else {
        let status = lb
            .kube
            .jsonpath("service", &svc.namespace, &svc.name, "{.status}")?;
        lb.tl.fail(format!(
            "nginx-dual (`0.0.0.0,::`): no v4 and v6 pool address in status within \
             {PUBLISH_BOUND:?} (status {status:?})"
        ));
        return Ok(());
    };
    lb.tl.note(format!(
        "nginx-dual (`0.0.0.0,::`): EXTERNAL-IP {v4} and {v6} after {} ms",
        took.as_millis()
    ));
    let hwaddr = lb
        .kube
        .annotation(&svc.namespace, &svc.name, "kube-vip.io/hwaddr")?;
    let Some(mac) = hwaddr.as_deref().and_then(|m| m.parse::<MacAddr>().ok()) else {
        lb.tl.fail(format!(
            "nginx-dual: kube-vip.io/hwaddr is {hwaddr:?}, not a MAC"
        ));
        return Ok(());
    };
    let requested = lb
        .kube
        .annotation(&svc.namespace, &svc.name, "kube-vip.io/requestedIP")?;
    let want = format!("{v4},{v6}");
    lb.tl.check(
        requested.as_deref() == Some(want.as_str()),
        format!("nginx-dual: kube-vip.io/requestedIP {want}, kube-vip.io/hwaddr {mac}"),
        format!("nginx-dual: kube-vip.io/requestedIP is {requested:?}, want {want:?}"),
    );
    let lease4 = dnsmasq.leases()?.into_iter().find(|l| l.ip == v4);
    let leases6 = read_leases_v6(dnsmasq.lease_file())?;
    let lease6 = leases6.iter().find(|l| l.address == v6);
    lb.tl.check(
        lease4.as_ref().is_some_and(|l| l.mac == mac)
            && lease6.is_some_and(|l| l.duid_ll_mac() == Some(mac)),
        format!("dnsmasq lease file: {v4} to {mac}, {v6} to the DUID-LL of {mac}"),
        format!(
            "dnsmasq: want {v4} to {mac} and {v6} to its DUID-LL, have {lease4:?} and {lease6:?}"
        ),
    );
    let holder = lb.services_holder().unwrap_or_default();
    let macvlan = macvlan_name(mac);
    let held: Vec<_> = lb
        .nodes()
        .iter()
        .map(|h| (h.name.clone(), placed(h, v4, v6)))
        .filter(|(_, (a, b))| a.is_some() || b.is_some())
        .collect();
    let on_one_macvlan = held.len() == 1
        && held[0].0 == holder
        && held[0].1 .0.as_deref() == Some(macvlan.as_str())
        && held[0].1 .1.as_deref() == Some(macvlan.as_str());
    lb.tl.check(
        on_one_macvlan,
        format!("{v4} and {v6} both on {holder}'s macvlan {macvlan} (the holder's only)"),
        format!("want {v4} and {v6} on {holder}'s {macvlan} only, have {held:?}"),
    );
    let (reach4, reach6) = (answers(dnsmasq, v4.into()), answers(dnsmasq, v6.into()));
    lb.tl.check(
        reach4 && reach6,
        format!("the DHCP server reaches {v4} and {v6} (ping)"),
        format!("the DHCP server reaches {v4}: {reach4}, {v6}: {reach6}"),
    );
    let Some(host) = dual_failover(lb, &svc, dnsmasq, &holder, (v4, v6, mac))? else {
        return Ok(());
    };
    let holder = host.name.clone();
    drop_v6(lb, &mut svc, dnsmasq, &host, (v4, v6, mac))?;
    lb.kube.delete_service(&svc.namespace, &svc.name)?;
    let gone = wait_for(GONE_BOUND, Duration::from_millis(200), || {
        let leased = dnsmasq.leases()?.iter().any(|l| l.ip == v4);
        Ok((!leased && !has_link(&host, &macvlan)).then_some(()))
    });
    match gone {
        Some(((), took)) => lb.tl.note(format!(
            "nginx-dual deleted: {v4} released, macvlan {macvlan} gone after {} ms",
            took.as_millis()
        )),
        None => lb.tl.fail(format!(
            "nginx-dual deleted: {v4} still leased or {macvlan} still on {holder} after {GONE_BOUND:?}"
        )),
    }
    Ok(())
}

/// `nginx-dual` re-annotated to `0.0.0.0`: v6 released and removed, v4 kept where it was.
fn drop_v6(
    lb: &mut LbScenario,
    svc: &mut ServiceSpec,
    dnsmasq: &Dnsmasq,
    host: &Host,
    (v4, v6, mac): (Ipv4Addr, Ipv6Addr, MacAddr),
) -> Result<()> {
    svc.annotations.retain(|(k, _)| k != ANNOTATION_LB_IPS);
    svc.annotations
        .push((ANNOTATION_LB_IPS.into(), "0.0.0.0".into()));
    lb.create(svc)?;
    let released = wait_for(GONE_BOUND, Duration::from_millis(200), || {
        let leased = read_leases_v6(dnsmasq.lease_file())?
            .iter()
            .any(|l| l.address == v6);
        let held = lb
            .nodes()
            .iter()
            .any(|h| interface_with_v6(h, v6).is_some());
        let status = ingress_v6(lb, svc)?;
        Ok((!leased && !held && status.is_empty()).then_some(()))
    });
    let Some(((), took)) = released else {
        lb.tl.fail(format!(
            "nginx-dual annotated `0.0.0.0`: {v6} still leased, held or in status after {GONE_BOUND:?}"
        ));
        return Ok(());
    };
    let macvlan = macvlan_name(mac);
    let kept_on = interface_with(host, v4)?;
    let lease4 = dnsmasq.leases()?.into_iter().find(|l| l.ip == v4);
    let status = lb.kube.ingress_ips(&svc.namespace, &svc.name)?;
    lb.tl.check(
        kept_on.as_deref() == Some(macvlan.as_str())
            && lease4.is_some_and(|l| l.mac == mac)
            && status == vec![v4]
            && answers(dnsmasq, v4.into()),
        format!(
            "nginx-dual annotated `0.0.0.0`: {v6} released and removed after {} ms; {v4} still on \
             {macvlan}, leased to {mac}, the only status address, answering",
            took.as_millis()
        ),
        format!(
            "nginx-dual annotated `0.0.0.0`: {v4} on {kept_on:?} (want {macvlan}), status \
             {status:?} (want [{v4}]), or no longer leased to {mac} or answering"
        ),
    );
    Ok(())
}

/// A graceful stop of kvip on the holder: another node leases both addresses again, with the
/// same MAC, onto one macvlan of that MAC; the status keeps both and dnsmasq has one lease of
/// each. kvip comes back on the old holder. Returns the new holder.
fn dual_failover(
    lb: &mut LbScenario,
    svc: &ServiceSpec,
    dnsmasq: &Dnsmasq,
    old: &str,
    (v4, v6, mac): (Ipv4Addr, Ipv6Addr, MacAddr),
) -> Result<Option<Host>> {
    if let Err(e) = lb.scenario.stop_kvip(old) {
        lb.tl.fail(format!("graceful stop of kvip on {old}: {e:#}"));
        return Ok(None);
    }
    let macvlan = macvlan_name(mac);
    let bound = lb.scenario.story.timing.lease_duration + Duration::from_secs(10);
    let moved = wait_for(bound, Duration::from_millis(100), || {
        let both: Vec<Host> = lb
            .nodes()
            .iter()
            .filter(|h| h.name != old)
            .filter(|h| {
                let (a, b) = placed(h, v4, v6);
                a.as_deref() == Some(macvlan.as_str()) && b.as_deref() == Some(macvlan.as_str())
            })
            .cloned()
            .collect();
        Ok((both.len() == 1).then(|| both[0].clone()))
    });
    let new = match moved {
        Some((new, took)) => {
            lb.tl.note(format!(
                "graceful stop of kvip on {old}: nginx-dual's {v4} and {v6} on {}'s {macvlan} \
                 {} ms later",
                new.name,
                took.as_millis()
            ));
            let status = (
                lb.kube.ingress_ips(&svc.namespace, &svc.name)?,
                ingress_v6(lb, svc)?,
            );
            let leases4: Vec<_> = dnsmasq
                .leases()?
                .into_iter()
                .filter(|l| l.ip == v4)
                .collect();
            let leases6: Vec<_> = read_leases_v6(dnsmasq.lease_file())?
                .into_iter()
                .filter(|l| l.address == v6)
                .collect();
            lb.tl.check(
                status == (vec![v4], vec![v6])
                    && leases4.len() == 1
                    && leases4[0].mac == mac
                    && leases6.len() == 1
                    && leases6[0].duid_ll_mac() == Some(mac),
                format!(
                    "nginx-dual after the failover: status still {v4} and {v6}, one lease of each \
                     to {mac}"
                ),
                format!(
                    "nginx-dual after the failover: status {status:?}, leases {leases4:?} and \
                     {leases6:?}; want {v4} and {v6}, one lease each to {mac}"
                ),
            );
            Some(new)
        }
        None => {
            let on: Vec<_> = lb
                .nodes()
                .iter()
                .map(|h| (h.name.clone(), placed(h, v4, v6)))
                .collect();
            lb.tl.fail(format!(
                "graceful stop of kvip on {old}: nginx-dual's {v4} and {v6} not on one other \
                 node's {macvlan} within {bound:?} ({on:?})"
            ));
            None
        }
    };
    lb.scenario.start_daemon(old)?;
    lb.tl.note(format!("kvip started again on {old}"));
    Ok(new)
}
