//! What the core knows about a Kubernetes `Service` and its endpoints: plain data the runtime
//! builds from the API objects (`runtime/src/kube_service.rs`) and the simulator builds by hand.
//! Nothing here decides anything; [`super`] holds the rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// Annotation: comma list of addresses to announce (`0.0.0.0` / `::` = lease one by DHCP).
pub const ANNOTATION_LOADBALANCER_IPS: &str = "kube-vip.io/loadbalancerIPs";
/// Annotation: `"true"` makes every kube-vip-compatible daemon leave the Service alone.
pub const ANNOTATION_IGNORE: &str = "kube-vip.io/ignore";
/// Annotation written by the announcing node: its node name.
pub const ANNOTATION_VIP_HOST: &str = "kube-vip.io/vipHost";
/// Annotation: DHCP host name to send for this Service's address.
pub const ANNOTATION_LOADBALANCER_HOSTNAME: &str = "kube-vip.io/loadbalancerHostname";
/// Annotation: interface to put this Service's address on instead of `vip_servicesinterface`.
pub const ANNOTATION_SERVICE_INTERFACE: &str = "kube-vip.io/serviceInterface";
/// Annotation: per-service lease name (`name` or `ns/name`).
pub const ANNOTATION_LEASE_NAME: &str = "kube-vip.io/leaseName";
/// Annotation written for DHCP Services: the MAC the lease was taken with.
pub const ANNOTATION_HWADDR: &str = "kube-vip.io/hwaddr";
/// Annotation written for DHCP Services: the address to ask for again after a restart/failover.
pub const ANNOTATION_REQUESTED_IP: &str = "kube-vip.io/requestedIP";
/// Label the cloud provider puts on Services it gave an address.
pub const LABEL_IMPLEMENTATION: &str = "implementation";
/// The default `lb_class_name`, also the class legacy handling compares against.
pub const DEFAULT_LB_CLASS: &str = "kube-vip.io/kube-vip-class";

/// A Service's namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ServiceKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ServiceKey {
    /// A key from its two parts.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Transport protocol of a Service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Kubernetes' spelling (`TCP`, `UDP`, `SCTP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// One port a Service exposes on its load-balancer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePort {
    /// The port number.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
}

/// `spec.externalTrafficPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TrafficPolicy {
    /// Any node may attract the traffic (the default).
    #[default]
    Cluster,
    /// Only nodes with a ready local endpoint may attract the traffic.
    Local,
}

/// The parts of a `Service` kvip reads, as last seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceView {
    /// Namespace and name.
    pub key: ServiceKey,
    /// `metadata.uid`: a deleted and re-created Service is a different one.
    pub uid: String,
    /// `spec.type == LoadBalancer`.
    pub is_load_balancer: bool,
    /// `spec.loadBalancerClass`.
    pub load_balancer_class: Option<String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.loadBalancerIP`, verbatim (may be empty or malformed).
    pub load_balancer_ip: Option<String>,
    /// `spec.ports`.
    pub ports: Vec<ServicePort>,
    /// `spec.externalTrafficPolicy`.
    pub traffic_policy: TrafficPolicy,
    /// `status.loadBalancer.ingress[*].ip` as currently stored. Read to avoid needless writes;
    /// never a source of addresses to announce (COMPAT.md: that is kube-vip's known bug).
    pub status_ingress: Vec<IpAddr>,
}

impl ServiceView {
    /// An annotation's value.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations.get(name).map(String::as_str)
    }
}

/// Where a Service's ready endpoints run, from `Endpoints` or `EndpointSlice`s (merged).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointsView {
    /// The Service these endpoints belong to.
    pub key: ServiceKey,
    /// Names of the nodes with at least one ready endpoint (`nodeName` of ready addresses).
    pub ready_nodes: BTreeSet<String>,
}
