//! S2's LoadBalancer part (seed 001), on S2's cluster (master01–03 .90–.92 with kvip and the
//! static pod's environment verbatim, `svc_enable=true` included; worker node01 .93; client .100):
//! 1. `kvip cloud-provider` with `range-global: 192.168.66.210-192.168.66.219`; Service `nginx-lb`
//!    (port 80, no address) gets `.210`: annotation, `spec.loadBalancerIP`, status ingress;
//! 2. `.210` is on the services-lease holder and nowhere else; from the client `.210:80` answers
//!    `nginx <holder>` and `.210:22` (no Service claims it) `sshd <holder>`;
//! 3. SIGTERM to kvip on that holder (the static pod's manifest removed): `.210` moves and
//!    `.210:22` now answers the new holder; kvip comes back and leaves it there;
//! 4. the Service's port changed to 22 (kube-proxy follows): `.210:22` answers `nginx …`;
//! 5. a Service pinned to the control-plane VIP `.101` answers on its port, while kubectl's path
//!    through the VIP keeps working, one host answering ARP for it, also after the Service goes;
//! 6. `nginx-lb` deleted: `.210` withdrawn everywhere.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::harness::{LbScenario, ANSWER_BOUND, LEASE_NAMESPACE};
use super::kube::{wait_for, ServiceSpec, SERVICES_LEASE};
use super::stand_in::{hosts_with, nginx_reply, sshd_reply, Answer, NGINX_PORT, SSHD_PORT};
use super::timeline::Timeline;
use super::Mode;
use crate::runner::now_ns;
use crate::story;

/// The article's pool.
pub const RANGE_GLOBAL: &str = "192.168.66.210-192.168.66.219";
/// The first address of the pool: what `nginx-lb` gets.
pub const FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 66, 210);

/// Runs S2's LoadBalancer part.
pub fn run(mode: Mode) -> Result<Timeline> {
    let mut lb = LbScenario::start(story::s2(None), &["node01"], "s2-lb")?;
    let nginx = ServiceSpec::new("nginx-lb", "default", 80, NGINX_PORT);
    let provider = lb.start_cloud_provider("master01");
    lb.put_configmap(&[("range-global", RANGE_GLOBAL)])?;
    lb.create(&nginx)?;
    if provider {
        lb.wait_assigned(&nginx, |a| a == FIRST, RANGE_GLOBAL);
    }
    if mode == Mode::BringUp {
        bring_up_objects(&mut lb, &nginx)?;
        return Ok(lb.finish());
    }
    if let Some((addr, holder)) = lb.publish(&nginx, |a| a == FIRST, "192.168.66.210")? {
        lb.expect(
            addr,
            SSHD_PORT,
            Answer::Reply(sshd_reply(&holder)),
            ANSWER_BOUND,
        );
        if let Some(new) = graceful_move(&mut lb, &nginx, addr, &holder)? {
            change_port(&mut lb, &nginx, addr, &new)?;
        }
    }
    pinned_to_the_vip(&mut lb)?;
    withdraw(&mut lb, &nginx, FIRST)?;
    Ok(lb.finish())
}

/// Bring-up only: the pinned Service is accepted, the port change and the deletion land in the
/// API server (what the full story then asks kvip to follow).
fn bring_up_objects(lb: &mut LbScenario, nginx: &ServiceSpec) -> Result<()> {
    let vip = lb.scenario.story.vip.to_string();
    lb.create(&ServiceSpec::new("nginx-pinned", "default", 80, NGINX_PORT).with_ip(&vip))?;
    let pinned = lb.kube.load_balancer_ip("default", "nginx-pinned")?;
    lb.tl.check(
        pinned.as_deref() == Some(vip.as_str()),
        format!("nginx-pinned: spec.loadBalancerIP = {vip}"),
        format!("nginx-pinned: spec.loadBalancerIP is {pinned:?}, not {vip}"),
    );
    lb.kube
        .set_service_port(&nginx.namespace, &nginx.name, 0, SSHD_PORT)?;
    let port = lb.kube.jsonpath(
        "service",
        &nginx.namespace,
        &nginx.name,
        "{.spec.ports[0].port}",
    )?;
    lb.tl.check(
        port.as_deref() == Some("22"),
        "nginx-lb: port changed 80 -> 22",
        format!("nginx-lb: port is {port:?} after the patch, not 22"),
    );
    lb.kube.delete_service(&nginx.namespace, &nginx.name)?;
    let gone = lb
        .kube
        .jsonpath("service", &nginx.namespace, &nginx.name, "{.metadata.name}")?;
    lb.tl.check(
        gone.is_none(),
        "nginx-lb deleted",
        format!("nginx-lb still there after delete: {gone:?}"),
    );
    let holder = lb.services_holder();
    lb.tl.note(format!(
        "bring-up only: stopping here ({SERVICES_LEASE} held by {holder:?})"
    ));
    Ok(())
}

/// SIGTERM to kvip on `old`: the address must move to another node, which then answers on 22
/// and 80; kvip restarted on `old` must leave it there. Returns the new holder.
fn graceful_move(
    lb: &mut LbScenario,
    svc: &ServiceSpec,
    addr: Ipv4Addr,
    old: &str,
) -> Result<Option<String>> {
    let t0 = now_ns();
    match lb.scenario.stop_kvip(old) {
        Ok(took) => lb.tl.note(format!(
            "graceful stop: SIGTERM to kvip on {old}, exited in {} ms",
            took.as_millis()
        )),
        Err(e) => lb.tl.fail(format!("graceful stop of kvip on {old}: {e:#}")),
    }
    let bound = lb.scenario.story.timing.lease_duration + Duration::from_secs(5);
    let Some((new, took)) = lb.wait_single_holder(addr, Some(old), bound) else {
        let on = hosts_with(&lb.all_hosts(), addr);
        lb.tl.fail(format!(
            "{addr} did not move off {old} within {bound:?}: on {on:?}"
        ));
        lb.scenario.start_daemon(old)?;
        return Ok(None);
    };
    lb.tl.note(format!(
        "{addr} moved to {new} ({} ms after the stop)",
        took.as_millis()
    ));
    let kube = &lb.kube;
    let lease = wait_for(Duration::from_secs(5), Duration::from_millis(100), || {
        Ok(kube
            .lease_holder(LEASE_NAMESPACE, SERVICES_LEASE)?
            .filter(|h| *h == new))
    });
    lb.tl.check(
        lease.is_some(),
        format!("{SERVICES_LEASE} held by {new}"),
        format!(
            "{SERVICES_LEASE} held by {:?}, not {new}",
            lb.services_holder()
        ),
    );
    lb.expect(
        addr,
        SSHD_PORT,
        Answer::Reply(sshd_reply(&new)),
        ANSWER_BOUND,
    );
    lb.expect(
        addr,
        svc.ports[0],
        Answer::Reply(nginx_reply(&new)),
        ANSWER_BOUND,
    );
    lb.check_vip_host(svc, &new);
    for master in lb.scenario.master_names() {
        for (t, what) in lb.scenario.daemon_events(&master, t0) {
            lb.tl.note(format!(
                "  kvip log on {master}: {what} at +{t:.3}s after the stop"
            ));
        }
    }
    lb.scenario.start_daemon(old)?;
    lb.tl.note(format!("kvip started again on {old}"));
    std::thread::sleep(Duration::from_secs(3));
    let on = hosts_with(&lb.all_hosts(), addr);
    lb.tl.check(
        on == [new.clone()],
        format!("{addr} stays on {new} after {old} is back"),
        format!("{addr} is on {on:?} after {old} came back, not only on {new}"),
    );
    Ok(Some(new))
}

/// The Service's port becomes 22: `.210:22` reaches nginx, `.210:80` is served by nobody.
fn change_port(lb: &mut LbScenario, svc: &ServiceSpec, addr: Ipv4Addr, holder: &str) -> Result<()> {
    lb.kube
        .set_service_port(&svc.namespace, &svc.name, 0, SSHD_PORT)?;
    lb.tl.note(format!("{}: port changed 80 -> 22", svc.name));
    lb.route(svc, addr, &[SSHD_PORT])?;
    lb.expect(
        addr,
        SSHD_PORT,
        Answer::Reply(nginx_reply(holder)),
        ANSWER_BOUND,
    );
    lb.expect(addr, 80, Answer::Refused, ANSWER_BOUND);
    let on = hosts_with(&lb.all_hosts(), addr);
    lb.tl.check(
        on == [holder.to_string()],
        format!("{addr} still on {holder} after the port change"),
        format!("{addr} on {on:?} after the port change, not only on {holder}"),
    );
    Ok(())
}

/// `https://VIP:6443/readyz` from the client, `tries` times 200 ms apart: how many answered ok.
fn control_plane_ok(lb: &LbScenario, tries: usize) -> usize {
    let url = format!("https://{}:6443", lb.scenario.story.vip);
    let admin = lb.scenario.cluster.admin().clone();
    (0..tries)
        .filter(|i| {
            if *i > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            matches!(
                lb.scenario.cluster.get("client", &url, &admin, "/readyz"),
                Ok((200, body)) if body.trim() == "ok"
            )
        })
        .count()
}

/// A Service pinned to the control-plane VIP: one address, two users.
fn pinned_to_the_vip(lb: &mut LbScenario) -> Result<()> {
    let vip = lb.scenario.story.vip;
    let svc = ServiceSpec::new("nginx-pinned", "default", 80, NGINX_PORT).with_ip(&vip.to_string());
    lb.create(&svc)?;
    if lb
        .wait_ingress(&svc, |a| a == vip, "= the control-plane VIP")
        .is_some()
    {
        let on = hosts_with(&lb.all_hosts(), vip);
        lb.tl.check(
            on.len() == 1,
            format!("{vip} on {on:?} only"),
            format!("{vip} is on {on:?}: not exactly one host"),
        );
        lb.route(&svc, vip, &[80])?;
        if let Some(h) = on.first() {
            lb.expect(vip, 80, Answer::Reply(nginx_reply(h)), ANSWER_BOUND);
        }
    }
    let ok = control_plane_ok(lb, 5);
    lb.tl.check(
        ok == 5,
        format!("kubectl's path through {vip}:6443 still works (5/5 /readyz)"),
        format!("{vip}:6443 /readyz answered {ok}/5 with the pinned Service"),
    );
    let macs = lb.scenario.arping_macs();
    lb.tl.check(
        macs.len() == 1,
        format!("arping -b {vip}: one MAC {macs:?}"),
        format!("arping -b {vip}: {macs:?}, not exactly one MAC"),
    );
    lb.kube.delete_service(&svc.namespace, &svc.name)?;
    lb.unroute(&svc)?;
    lb.tl.note("nginx-pinned deleted");
    std::thread::sleep(Duration::from_secs(3));
    let holders = lb.scenario.holders();
    let ok = control_plane_ok(lb, 5);
    lb.tl.check(
        holders.len() == 1 && ok == 5,
        format!("control-plane VIP still on {holders:?}, 5/5 /readyz, after nginx-pinned is gone"),
        format!("after nginx-pinned is gone: VIP on {holders:?}, /readyz {ok}/5"),
    );
    Ok(())
}

/// Deletes `svc`: `addr` must leave every host.
fn withdraw(lb: &mut LbScenario, svc: &ServiceSpec, addr: Ipv4Addr) -> Result<()> {
    lb.kube.delete_service(&svc.namespace, &svc.name)?;
    lb.unroute(svc)?;
    lb.tl.note(format!("{} deleted", svc.name));
    let hosts = lb.all_hosts();
    let t = Instant::now();
    let gone = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        Ok(hosts_with(&hosts, addr).is_empty().then_some(()))
    });
    lb.tl.check(
        gone.is_some(),
        format!(
            "{addr} withdrawn from every host ({} ms)",
            t.elapsed().as_millis()
        ),
        format!(
            "{addr} still on {:?} 10 s after the Service was deleted",
            hosts_with(&hosts, addr)
        ),
    );
    Ok(())
}
