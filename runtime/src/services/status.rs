//! Carries out the core's [`StatusWrite`]s: a Service's annotations (`kube-vip.io/vipHost`,
//! `kube-vip.io/hwaddr`, `kube-vip.io/requestedIP`, …) and `status.loadBalancer.ingress`, with
//! the verbs kube-vip's ClusterRole grants: `update` on `services` and on `services/status` (PUT
//! with the resourceVersion precondition, re-read and retried on a conflict). The uid is checked
//! after every read, so a Service deleted and re-created under the same name never gets the old
//! one's status.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, PortStatus, Service};
use kube::api::PostParams;
use kube::Api;
use kvip_core::service::{Ingress, StatusWrite};

/// How often a write is retried after a 409 before giving up (the core retries later).
const CONFLICT_ATTEMPTS: usize = 4;

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The API server refused or could not be reached.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// The Service now stored is another one (deleted and re-created).
    #[error("the Service was re-created (uid {found}, expected {expected})")]
    Recreated {
        /// The uid written for.
        expected: String,
        /// The uid found.
        found: String,
    },
}

fn ingress(list: &[Ingress]) -> Vec<LoadBalancerIngress> {
    list.iter()
        .map(|entry| LoadBalancerIngress {
            ip: Some(entry.ip.to_string()),
            ports: (!entry.ports.is_empty()).then(|| {
                entry
                    .ports
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

/// Applies `changes` (set or remove) to `annotations`; whether anything changed.
fn apply_annotations(
    annotations: &mut BTreeMap<String, String>,
    changes: &BTreeMap<String, Option<String>>,
) -> bool {
    let mut changed = false;
    for (name, value) in changes {
        match value {
            Some(v) if annotations.get(name) != Some(v) => {
                annotations.insert(name.clone(), v.clone());
                changed = true;
            }
            None if annotations.remove(name).is_some() => changed = true,
            _ => {}
        }
    }
    changed
}

/// Writes `write` onto its Service; only the parts that differ are written. Returns whether
/// anything was written.
pub async fn write_status(client: kube::Client, write: &StatusWrite) -> Result<bool, StatusError> {
    let api: Api<Service> = Api::namespaced(client, &write.key.namespace);
    let name = &write.key.name;
    let mut wrote = false;
    for attempt in 1..=CONFLICT_ATTEMPTS {
        let result: Result<(), StatusError> = async {
            let mut svc = api.get(name).await?;
            let found = svc.metadata.uid.clone().unwrap_or_default();
            if found != write.uid {
                return Err(StatusError::Recreated {
                    expected: write.uid.clone(),
                    found,
                });
            }
            let annotations = svc
                .metadata
                .annotations
                .get_or_insert_with(Default::default);
            if apply_annotations(annotations, &write.annotations) {
                svc = api.replace(name, &PostParams::default(), &svc).await?;
                wrote = true;
            }
            let want = ingress(&write.ingress);
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
            api.replace_status(name, &PostParams::default(), &svc)
                .await?;
            wrote = true;
            Ok(())
        }
        .await;
        match result {
            Err(StatusError::Api(kube::Error::Api(s)))
                if s.code == 409 && attempt < CONFLICT_ATTEMPTS =>
            {
                continue
            }
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
    use kvip_core::service::{Protocol, ServicePort};

    #[test]
    fn ingress_lists_each_address_with_the_service_ports() {
        let wanted = vec![Ingress {
            ip: "192.168.66.210".parse().unwrap(),
            ports: vec![ServicePort {
                port: 80,
                protocol: Protocol::Tcp,
            }],
        }];
        let list = ingress(&wanted);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].ip.as_deref(), Some("192.168.66.210"));
        let ports = list[0].ports.as_ref().expect("ports");
        assert_eq!((ports[0].port, ports[0].protocol.as_str()), (80, "TCP"));
        assert!(same_ips(&list, &ingress(&wanted)));
        assert!(!same_ips(&[], &list));
    }

    #[test]
    fn annotations_are_set_and_removed_and_others_kept() {
        let mut have = BTreeMap::from([
            ("kube-vip.io/vipHost".to_string(), "master02".to_string()),
            (
                "kube-vip.io/hwaddr".to_string(),
                "00:00:6c:01:02:03".to_string(),
            ),
            ("team".to_string(), "web".to_string()),
        ]);
        let changes = BTreeMap::from([
            (
                "kube-vip.io/vipHost".to_string(),
                Some("master01".to_string()),
            ),
            ("kube-vip.io/hwaddr".to_string(), None),
        ]);
        assert!(apply_annotations(&mut have, &changes));
        assert_eq!(have["kube-vip.io/vipHost"], "master01");
        assert!(!have.contains_key("kube-vip.io/hwaddr"));
        assert_eq!(have["team"], "web");
        assert!(
            !apply_annotations(&mut have, &changes),
            "a second pass changes nothing"
        );
    }
}
