//! Builders shared by the IPAM tests: Services, ConfigMaps, and a controller fed to sync.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::config::ConfigMapView;
use super::controller::{IpamController, IpamSettings};
use super::io::{Assignment, IpamOutput, Report};
use crate::io::{OpId, WatchEvent};
use crate::service::model::{ANNOTATION_LOADBALANCER_IPS, LABEL_IMPLEMENTATION};
use crate::service::{Protocol, ServiceKey, ServicePort, ServiceView};
use crate::time::Instant;

/// `s` as an address.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A LoadBalancer Service `ns/name` with TCP `ports`, uid `ns-name-1`, no address.
pub fn lb(ns: &str, name: &str, ports: &[u16]) -> ServiceView {
    ServiceView {
        key: ServiceKey::new(ns, name),
        uid: format!("{ns}-{name}-1"),
        is_load_balancer: true,
        ports: ports
            .iter()
            .map(|&port| ServicePort {
                port,
                protocol: Protocol::Tcp,
            })
            .collect(),
        ..ServiceView::default()
    }
}

/// `svc` with `spec.loadBalancerIP` set.
pub fn pinned(mut svc: ServiceView, address: &str) -> ServiceView {
    svc.load_balancer_ip = Some(address.to_string());
    svc
}

/// `svc` as the driver writes it for `assignment`.
pub fn written(mut svc: ServiceView, assignment: &Assignment) -> ServiceView {
    svc.annotations.insert(
        ANNOTATION_LOADBALANCER_IPS.into(),
        assignment.annotation_value(),
    );
    svc.load_balancer_ip = assignment.addresses.first().map(ToString::to_string);
    svc.labels
        .insert(LABEL_IMPLEMENTATION.into(), "kube-vip".into());
    svc
}

/// ConfigMap kube-system/kubevip with `data`.
pub fn config_map(data: &[(&str, &str)]) -> ConfigMapView {
    ConfigMapView {
        namespace: "kube-system".into(),
        name: "kubevip".into(),
        uid: "cm-uid".into(),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Time `secs` seconds after the epoch.
pub fn at(secs: u64) -> Instant {
    Instant::from_nanos(secs * 1_000_000_000)
}

/// A leading controller that has listed `services` and the ConfigMap `data` (`None`: absent).
pub fn synced(services: Vec<ServiceView>, data: Option<&[(&str, &str)]>) -> IpamController {
    let mut c = IpamController::new(IpamSettings::default());
    let now = at(0);
    c.set_leading(now, true);
    c.handle_config_map(now, WatchEvent::Init);
    if let Some(data) = data {
        c.handle_config_map(now, WatchEvent::InitApply(config_map(data)));
    }
    c.handle_config_map(now, WatchEvent::InitDone);
    c.handle_services(now, WatchEvent::Init);
    for svc in services {
        c.handle_services(now, WatchEvent::InitApply(svc));
    }
    c.handle_services(now, WatchEvent::InitDone);
    c
}

/// Everything the controller queued.
pub fn drain(c: &mut IpamController) -> (Vec<(OpId, Assignment)>, Vec<Report>) {
    let (mut assigns, mut reports) = (Vec::new(), Vec::new());
    while let Some(out) = c.poll_output() {
        match out {
            IpamOutput::Assign { op, assignment } => assigns.push((op, assignment)),
            IpamOutput::Report(r) => reports.push(r),
        }
    }
    (assigns, reports)
}

/// The first address of each assignment, by Service name.
pub fn addresses(assigns: &[(OpId, Assignment)]) -> Vec<(String, IpAddr)> {
    assigns
        .iter()
        .map(|(_, a)| (a.key.name.clone(), a.addresses[0]))
        .collect()
}
