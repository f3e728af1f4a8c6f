//! Which addresses are in use in the whole cluster, by whom, on which ports; and which Services
//! need an address from the cloud provider at all.
//!
//! An address is in use when any Service in any namespace names it: annotation
//! `kube-vip.io/loadbalancerIPs`, `spec.loadBalancerIP` (pinned, or written by an older
//! controller), or `status.loadBalancer.ingress` (written by another load balancer). Services of
//! other classes, of other types and ignored ones count too: an address two controllers announce
//! is broken for both. `0.0.0.0` and `::` (DHCP) are never in use.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::addr::Span;
use crate::service::model::{ANNOTATION_IGNORE, ANNOTATION_LOADBALANCER_IPS, DEFAULT_LB_CLASS};
use crate::service::{ServiceKey, ServiceView};

/// Which `spec.loadBalancerClass` values the cloud provider serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFilter {
    /// The class name (`kube-vip.io/kube-vip-class`, or `KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME`).
    pub class: String,
    /// Serve only Services of exactly that class (`KUBEVIP_ENABLE_LOADBALANCERCLASS=true`);
    /// otherwise Services without a class or of that class.
    pub class_only: bool,
}

impl Default for ClassFilter {
    fn default() -> Self {
        ClassFilter {
            class: DEFAULT_LB_CLASS.to_string(),
            class_only: false,
        }
    }
}

impl ClassFilter {
    /// Whether a Service with this class is ours.
    pub fn matches(&self, class: Option<&str>) -> bool {
        match class {
            Some(c) => c == self.class,
            None => !self.class_only,
        }
    }
}

/// What the cloud provider has to do for one Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Not a LoadBalancer, ignored, or of another class: nothing.
    NotOurs,
    /// It names its address(es) already (pinned or assigned earlier): nothing.
    HasAddress,
    /// It names an address that does not parse: report, do not assign.
    Invalid(String),
    /// It needs an address.
    Address,
}

/// What the cloud provider has to do for `svc`.
pub fn classify(svc: &ServiceView, filter: &ClassFilter) -> Need {
    let ignored = svc
        .annotation(ANNOTATION_IGNORE)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !svc.is_load_balancer || ignored || !filter.matches(svc.load_balancer_class.as_deref()) {
        return Need::NotOurs;
    }
    let annotation = svc
        .annotation(ANNOTATION_LOADBALANCER_IPS)
        .filter(|v| !v.trim().is_empty());
    if let Some(list) = annotation {
        for entry in list.split(',') {
            if entry.trim().parse::<IpAddr>().is_err() {
                return Need::Invalid(format!(
                    "annotation {ANNOTATION_LOADBALANCER_IPS} = {list:?}: {:?} is not an IP address \
                     (expected a comma list of addresses, 0.0.0.0 or :: for DHCP)",
                    entry.trim()
                ));
            }
        }
        return Need::HasAddress;
    }
    match svc.load_balancer_ip.as_deref().map(str::trim) {
        Some(ip) if !ip.is_empty() => match ip.parse::<IpAddr>() {
            Ok(_) => Need::HasAddress,
            Err(_) => Need::Invalid(format!("spec.loadBalancerIP = {ip:?} is not an IP address")),
        },
        _ => Need::Address,
    }
}

/// Every address `svc` occupies (annotation, `spec.loadBalancerIP`, status), DHCP's
/// unspecified addresses and unparsable entries left out, without repeats.
pub fn addresses_of(svc: &ServiceView) -> BTreeSet<IpAddr> {
    let annotation = svc.annotation(ANNOTATION_LOADBALANCER_IPS).unwrap_or("");
    let spec = svc.load_balancer_ip.as_deref().unwrap_or("");
    annotation
        .split(',')
        .chain(std::iter::once(spec))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .chain(svc.status_ingress.iter().copied())
        .filter(|ip| !ip.is_unspecified())
        .collect()
}

/// The port numbers of a Service (protocols are not told apart, as kube-vip-cloud-provider does).
pub fn port_numbers(svc: &ServiceView) -> BTreeSet<u16> {
    svc.ports.iter().map(|p| p.port).collect()
}

/// One Service holding an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The Service.
    pub key: ServiceKey,
    /// Its port numbers (empty: it claims the whole address).
    pub ports: BTreeSet<u16>,
    /// Whether its namespace allows sharing (`allow-share-<ns>` / `allow-share-global`).
    pub may_share: bool,
}

/// The cluster-wide in-use map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    by_address: BTreeMap<IpAddr, Vec<Holder>>,
}

impl Usage {
    /// Records that `holder` uses `ip` (once per Service; unspecified addresses are skipped).
    pub fn add(&mut self, ip: IpAddr, holder: Holder) {
        if ip.is_unspecified() {
            return;
        }
        let holders = self.by_address.entry(ip).or_default();
        if !holders.iter().any(|h| h.key == holder.key) {
            holders.push(holder);
        }
    }

    /// Whether anyone uses `ip`.
    pub fn is_used(&self, ip: IpAddr) -> bool {
        self.by_address.contains_key(&ip)
    }

    /// Who uses `ip`.
    pub fn holders(&self, ip: IpAddr) -> &[Holder] {
        self.by_address.get(&ip).map_or(&[], Vec::as_slice)
    }

    /// Whether a Service with `ports` may join the users of `ip`: every user allows sharing
    /// and names ports, and no port number is taken twice. An unused address is not "shared".
    pub fn shareable(&self, ip: IpAddr, ports: &BTreeSet<u16>) -> bool {
        let holders = self.holders(ip);
        !ports.is_empty()
            && !holders.is_empty()
            && holders
                .iter()
                .all(|h| h.may_share && !h.ports.is_empty() && h.ports.is_disjoint(ports))
    }

    /// The used addresses inside `span`, lowest first.
    pub fn used_in<'a>(
        &'a self,
        span: &Span,
    ) -> impl DoubleEndedIterator<Item = (IpAddr, &'a [Holder])> + 'a {
        self.by_address
            .range(span.first_addr()..=span.last_addr())
            .map(|(ip, holders)| (*ip, holders.as_slice()))
    }

    /// Every used address and its users.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, &[Holder])> {
        self.by_address.iter().map(|(ip, h)| (*ip, h.as_slice()))
    }
}
