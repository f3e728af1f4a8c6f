//! Writes a Service's load-balancer status (`status.loadBalancer.ingress`) and the
//! `kube-vip.io/vipHost` annotation, with the verbs kube-vip's ClusterRole grants: `update` on
//! `services` and on `services/status` (PUT with the resourceVersion precondition, re-read and
//! retried on a conflict).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, PortStatus, Service};
use kube::api::PostParams;
use kube::Api;
use kvip_core::service::model::ANNOTATION_VIP_HOST;
use kvip_core::service::{ServiceKey, ServicePort};

/// How often a write is retried after a 409 before giving up (the next change retries).
const CONFLICT_ATTEMPTS: usize = 4;

/// What the announcing node wants a Service to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedStatus {
    /// One ingress entry per configured address, with the Service's ports.
    pub ingress: Vec<(IpAddr, Vec<ServicePort>)>,
    /// `kube-vip.io/vipHost`; `None` leaves the annotation as it is.
    pub vip_host: Option<String>,
}

fn ingress(wanted: &WantedStatus) -> Vec<LoadBalancerIngress> {
    wanted
        .ingress
        .iter()
        .map(|(ip, ports)| LoadBalancerIngress {
            ip: Some(ip.to_string()),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .iter()
                    .map(|p| PortStatus {
                        port: i32::from(p.port),
                        protocol: p.protocol.as_str().to_string(),
                        error: None,
                    })
                    .collect()
            }),
            ..LoadBalancerIngress::default()
        })
        .collect()
}

/// Writes `wanted` onto the Service `key`; only the parts that differ are written. Returns
/// whether anything was written.
pub async fn write_status(
    client: kube::Client,
    key: &ServiceKey,
    wanted: &WantedStatus,
) -> Result<bool, kube::Error> {
    let api: Api<Service> = Api::namespaced(client, &key.namespace);
    let mut wrote = false;
    for attempt in 1..=CONFLICT_ATTEMPTS {
        let mut svc = api.get(&key.name).await?;
        let result = async {
            if let Some(host) = &wanted.vip_host {
                let annotations = svc
                    .metadata
                    .annotations
                    .get_or_insert_with(Default::default);
                if annotations.get(ANNOTATION_VIP_HOST) != Some(host) {
                    annotations.insert(ANNOTATION_VIP_HOST.to_string(), host.clone());
                    svc = api.replace(&key.name, &PostParams::default(), &svc).await?;
                    wrote = true;
                }
            }
            let want = ingress(wanted);
            let have = svc
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.clone())
                .unwrap_or_default();
            if same_ips(&have, &want) {
                return Ok(());
            }
            let status = svc.status.get_or_insert_with(Default::default);
            status.load_balancer = Some(LoadBalancerStatus {
                ingress: Some(want),
            });
            api.replace_status(&key.name, &PostParams::default(), &svc)
                .await?;
            wrote = true;
            Ok(())
        }
        .await;
        match result {
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < CONFLICT_ATTEMPTS => continue,
            other => return other.map(|()| wrote),
        }
    }
    Ok(wrote)
}

/// The ingress lists name the same addresses in the same order (ports are informational and a
/// 1.20 API server drops them).
fn same_ips(have: &[LoadBalancerIngress], want: &[LoadBalancerIngress]) -> bool {
    have.len() == want.len() && have.iter().zip(want).all(|(h, w)| h.ip == w.ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvip_core::service::Protocol;

    #[test]
    fn ingress_lists_each_address_with_the_service_ports() {
        let wanted = WantedStatus {
            ingress: vec![(
                "192.168.66.210".parse().unwrap(),
                vec![ServicePort {
                    port: 80,
                    protocol: Protocol::Tcp,
                }],
            )],
            vip_host: Some("master01".into()),
        };
        let list = ingress(&wanted);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].ip.as_deref(), Some("192.168.66.210"));
        let ports = list[0].ports.as_ref().expect("ports");
        assert_eq!((ports[0].port, ports[0].protocol.as_str()), (80, "TCP"));
        assert!(same_ips(&list, &ingress(&wanted)));
        assert!(!same_ips(&[], &list));
    }
}
