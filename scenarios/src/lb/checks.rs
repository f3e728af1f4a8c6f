//! The checks both LoadBalancer stories repeat, on an [`LbScenario`]: the cloud provider's
//! assignment, the status ingress kvip writes, the address on the services-lease holder alone
//! with `kube-vip.io/vipHost` naming it, and the client's answers; [`LbScenario::publish`] is all
//! of them for one Service. Each result goes to the timeline, each failure to its failed checks.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use anyhow::Result;

use super::harness::{LbScenario, ANSWER_BOUND, ASSIGN_BOUND, PUBLISH_BOUND};
use super::kube::{wait_for, ServiceSpec, ANNOTATION_LB_IPS, ANNOTATION_VIP_HOST, SERVICES_LEASE};
use super::stand_in::{ask_until, hosts_with, nginx_reply, Answer};

impl LbScenario {
    /// Waits for the cloud provider's `kube-vip.io/loadbalancerIPs` on `svc`, checks that it is
    /// in the pool (`in_pool`, described by `pool`) and that `spec.loadBalancerIP` says the same.
    pub fn wait_assigned(
        &mut self,
        svc: &ServiceSpec,
        in_pool: impl Fn(Ipv4Addr) -> bool,
        pool: &str,
    ) -> Option<Ipv4Addr> {
        let (ns, name) = (svc.namespace.as_str(), svc.name.as_str());
        let kube = &self.kube;
        let got = wait_for(ASSIGN_BOUND, Duration::from_millis(100), || {
            kube.annotation(ns, name, ANNOTATION_LB_IPS)
        });
        let Some((value, took)) = got else {
            self.tl.fail(format!(
                "{name}: no {ANNOTATION_LB_IPS} from the cloud provider within {ASSIGN_BOUND:?}"
            ));
            return None;
        };
        let addr: Option<Ipv4Addr> = value.parse().ok().filter(|a| in_pool(*a));
        if !self.tl.check(
            addr.is_some(),
            format!(
                "{name}: cloud provider assigned {value} (pool {pool}) in {} ms",
                took.as_millis()
            ),
            format!("{name}: cloud provider assigned {value:?}, not one address of {pool}"),
        ) {
            return None;
        }
        let spec_ip = self.kube.load_balancer_ip(ns, name).ok().flatten();
        self.tl.check(
            spec_ip.as_deref() == Some(value.as_str()),
            format!("{name}: spec.loadBalancerIP = {value}"),
            format!("{name}: spec.loadBalancerIP is {spec_ip:?}, annotation {value}"),
        );
        addr
    }

    /// Waits until `svc`'s status ingress has an address `wanted` accepts (described by `what`).
    pub fn wait_ingress(
        &mut self,
        svc: &ServiceSpec,
        wanted: impl Fn(Ipv4Addr) -> bool,
        what: &str,
    ) -> Option<Ipv4Addr> {
        let (ns, name) = (svc.namespace.as_str(), svc.name.as_str());
        let kube = &self.kube;
        let got = wait_for(PUBLISH_BOUND, Duration::from_millis(100), || {
            Ok(kube.ingress_ips(ns, name)?.into_iter().find(|a| wanted(*a)))
        });
        match got {
            Some((addr, took)) => {
                self.tl.note(format!(
                    "{name}: status.loadBalancer.ingress {addr} (EXTERNAL-IP) after {} ms",
                    took.as_millis()
                ));
                Some(addr)
            }
            None => {
                let seen = self.kube.ingress_ips(ns, name).unwrap_or_default();
                self.tl.fail(format!(
                    "{name}: no ingress address {what} within {PUBLISH_BOUND:?} (status has {seen:?})"
                ));
                None
            }
        }
    }

    /// Checks that `addr` is on exactly one host, the services-lease holder, and that
    /// `kube-vip.io/vipHost` names it; returns the host.
    pub fn check_holder(&mut self, svc: &ServiceSpec, addr: Ipv4Addr) -> Option<String> {
        let name = svc.name.clone();
        let Some((holder, _)) = self.wait_single_holder(addr, None, Duration::from_secs(5)) else {
            let on = hosts_with(&self.all_hosts(), addr);
            self.tl.fail(format!(
                "{name}: {addr} is on {on:?}, not on exactly one host"
            ));
            return None;
        };
        let lease = self.services_holder();
        self.tl.check(
            lease.as_deref() == Some(holder.as_str()),
            format!("{name}: {addr} on {holder} only, the holder of {SERVICES_LEASE}"),
            format!("{name}: {addr} on {holder} only, but {SERVICES_LEASE} is held by {lease:?}"),
        );
        self.check_vip_host(svc, &holder);
        Some(holder)
    }

    /// Waits (bounded) for `kube-vip.io/vipHost` on `svc` to name `holder`.
    pub fn check_vip_host(&mut self, svc: &ServiceSpec, holder: &str) -> bool {
        let (ns, name) = (svc.namespace.as_str(), svc.name.as_str());
        let kube = &self.kube;
        let got = wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
            Ok(kube
                .annotation(ns, name, ANNOTATION_VIP_HOST)?
                .filter(|h| h == holder))
        });
        let now = self
            .kube
            .annotation(ns, name, ANNOTATION_VIP_HOST)
            .ok()
            .flatten();
        self.tl.check(
            got.is_some(),
            format!("{name}: {ANNOTATION_VIP_HOST}={holder}"),
            format!("{name}: {ANNOTATION_VIP_HOST} is {now:?}, not {holder}"),
        )
    }

    /// From the client, `addr:port` must answer `want` within `bound`.
    pub fn expect(&mut self, addr: Ipv4Addr, port: u16, want: Answer, bound: Duration) -> bool {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => {
                self.tl.fail(format!("no client: {e:#}"));
                return false;
            }
        };
        let target = SocketAddrV4::new(addr, port);
        match ask_until(&client, target, &want, bound) {
            Ok(took) => {
                self.tl.note(format!(
                    "client: {target} answers {want} (after {} ms)",
                    took.as_millis()
                ));
                true
            }
            Err(last) => {
                self.tl.fail(format!(
                    "client: {target} answers {last}, not {want}, after {bound:?}"
                ));
                false
            }
        }
    }

    /// The whole publication of `svc` on its first port: ingress address accepted by `wanted`,
    /// on the services-lease holder alone with `vipHost` naming it, routed by the kube-proxy
    /// stand-in, and answering `nginx <holder>` from the client. Returns (address, holder).
    pub fn publish(
        &mut self,
        svc: &ServiceSpec,
        wanted: impl Fn(Ipv4Addr) -> bool,
        what: &str,
    ) -> Result<Option<(Ipv4Addr, String)>> {
        let Some(addr) = self.wait_ingress(svc, wanted, what) else {
            return Ok(None);
        };
        let Some(holder) = self.check_holder(svc, addr) else {
            return Ok(None);
        };
        self.route(svc, addr, &svc.ports)?;
        let port = svc.ports[0];
        self.expect(
            addr,
            port,
            Answer::Reply(nginx_reply(&holder)),
            ANSWER_BOUND,
        );
        Ok(Some((addr, holder)))
    }
}
