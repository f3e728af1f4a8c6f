//! Conversion of Kubernetes `Service`, `Endpoints` and `EndpointSlice` objects into the core's
//! plain views ([`ServiceView`], [`EndpointsView`]). Shared by `kvip manager` (announcing) and
//! `kvip cloud-provider` (IPAM); nothing here talks to the API server.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kvip_core::service::{
    EndpointsView, Protocol, ServiceKey, ServicePort, ServiceView, TrafficPolicy,
};

/// Label on an EndpointSlice naming the Service it belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The namespace/name key of any namespaced object's metadata.
fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ServiceKey {
    ServiceKey::new(
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// The core's view of a Service.
pub fn service_view(svc: &Service) -> ServiceView {
    let spec = svc.spec.clone().unwrap_or_default();
    let ports = spec
        .ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let port = u16::try_from(p.port).ok()?;
            let protocol = match p.protocol.as_deref() {
                Some("UDP") => Protocol::Udp,
                Some("SCTP") => Protocol::Sctp,
                _ => Protocol::Tcp,
            };
            Some(ServicePort { port, protocol })
        })
        .collect();
    let status_ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|ingress| {
            ingress
                .iter()
                .filter_map(|i| i.ip.as_deref()?.parse::<IpAddr>().ok())
                .collect()
        })
        .unwrap_or_default();
    ServiceView {
        key: key_of(&svc.metadata),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        is_load_balancer: spec.type_.as_deref() == Some("LoadBalancer"),
        load_balancer_class: spec.load_balancer_class,
        annotations: svc.metadata.annotations.clone().unwrap_or_default(),
        labels: svc.metadata.labels.clone().unwrap_or_default(),
        load_balancer_ip: spec.load_balancer_ip.filter(|ip| !ip.is_empty()),
        ports,
        traffic_policy: match spec.external_traffic_policy.as_deref() {
            Some("Local") => TrafficPolicy::Local,
            _ => TrafficPolicy::Cluster,
        },
        status_ingress,
    }
}

/// Where a Service's ready endpoints run, from core/v1 `Endpoints` (`subsets[*].addresses`
/// are the ready ones; `notReadyAddresses` are left out).
pub fn endpoints_view(endpoints: &Endpoints) -> EndpointsView {
    let ready_nodes: BTreeSet<String> = endpoints
        .subsets
        .iter()
        .flatten()
        .flat_map(|subset| subset.addresses.iter().flatten())
        .filter_map(|address| address.node_name.clone())
        .collect();
    EndpointsView {
        key: key_of(&endpoints.metadata),
        ready_nodes,
    }
}

/// The Service an EndpointSlice belongs to and the nodes of its ready endpoints. A Service may
/// own several slices: the caller merges them per Service (see [`merge_slices`]).
pub fn slice_view(slice: &EndpointSlice) -> Option<EndpointsView> {
    let service = slice
        .metadata
        .labels
        .as_ref()?
        .get(LABEL_SERVICE_NAME)?
        .clone();
    let ready_nodes = slice
        .endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
        .filter_map(|e| e.node_name.clone())
        .collect();
    Some(EndpointsView {
        key: ServiceKey::new(
            slice.metadata.namespace.clone().unwrap_or_default(),
            service,
        ),
        ready_nodes,
    })
}

/// One Service's endpoints from all of its slices.
pub fn merge_slices<'a>(
    key: &ServiceKey,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> EndpointsView {
    let mut merged = EndpointsView {
        key: key.clone(),
        ready_nodes: BTreeSet::new(),
    };
    for view in slices.into_iter().filter_map(slice_view) {
        if &view.key == key {
            merged.ready_nodes.extend(view.ready_nodes);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(json: serde_json::Value) -> Service {
        serde_json::from_value(json).expect("valid Service")
    }

    #[test]
    fn a_load_balancer_service_is_read_field_by_field() {
        let svc = service(serde_json::json!({
            "metadata": {"namespace": "default", "name": "nginx-lb", "uid": "u1",
                "annotations": {"kube-vip.io/loadbalancerIPs": "192.168.66.210"}},
            "spec": {"type": "LoadBalancer", "loadBalancerIP": "",
                "externalTrafficPolicy": "Local",
                "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"hostname": "x"}]}}
        }));
        let view = service_view(&svc);
        assert_eq!(view.key, ServiceKey::new("default", "nginx-lb"));
        assert!(view.is_load_balancer);
        assert_eq!(
            view.load_balancer_ip, None,
            "an empty loadBalancerIP is no address"
        );
        assert_eq!(view.traffic_policy, TrafficPolicy::Local);
        assert_eq!(
            view.ports,
            vec![
                ServicePort {
                    port: 80,
                    protocol: Protocol::Tcp
                },
                ServicePort {
                    port: 53,
                    protocol: Protocol::Udp
                }
            ]
        );
        assert_eq!(
            view.status_ingress,
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            view.annotation("kube-vip.io/loadbalancerIPs"),
            Some("192.168.66.210")
        );
    }

    #[test]
    fn only_ready_endpoint_addresses_count() {
        let endpoints: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "default", "name": "nginx"},
            "subsets": [{
                "addresses": [{"ip": "10.42.0.5", "nodeName": "master01"}],
                "notReadyAddresses": [{"ip": "10.42.1.5", "nodeName": "master02"}]
            }]
        }))
        .unwrap();
        let view = endpoints_view(&endpoints);
        assert_eq!(view.ready_nodes, BTreeSet::from(["master01".to_string()]));
    }

    #[test]
    fn slices_of_one_service_merge_and_unready_endpoints_are_dropped() {
        let slice = |name: &str, node: &str, ready: bool| -> EndpointSlice {
            serde_json::from_value(serde_json::json!({
                "metadata": {"namespace": "default", "name": name,
                    "labels": {"kubernetes.io/service-name": "nginx"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.42.0.5"], "nodeName": node,
                    "conditions": {"ready": ready}}]
            }))
            .unwrap()
        };
        let slices = [
            slice("a", "n1", true),
            slice("b", "n2", true),
            slice("c", "n3", false),
        ];
        let view = merge_slices(&ServiceKey::new("default", "nginx"), &slices);
        assert_eq!(
            view.ready_nodes,
            BTreeSet::from(["n1".to_string(), "n2".to_string()])
        );
    }
}
