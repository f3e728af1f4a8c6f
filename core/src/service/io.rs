//! The Services node's boundary: [`ServicesInput`] (facts) and [`ServicesOutput`] (work), plain
//! data like the control-plane node's [`crate::Input`] / [`crate::Output`], which they reuse for
//! addresses, frames and events. Effects with a result carry an [`OpId`] from one counter.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::addresses::DhcpFamily;
use super::model::{EndpointsView, ServiceKey, ServicePort, ServiceView};
use crate::config::LeaseRef;
use crate::election::record::{LeaseError, LeaseObject, LeaseRequest};
use crate::io::{AddressError, Event, OpId, VipAddress, WatchEvent};
use crate::wire::MacAddr;

/// A Lease seen on the Lease watch, with its name (the watch covers several Leases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedLease {
    /// `metadata.name`.
    pub name: String,
    /// The Lease.
    pub lease: LeaseObject,
}

/// A DHCP lease the DHCP client holds for a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpBinding {
    /// The leased address.
    pub address: IpAddr,
    /// The MAC the lease was taken with (written to `kube-vip.io/hwaddr`).
    pub hwaddr: String,
}

/// A fact handed to the [`super::ServicesNode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServicesInput {
    /// An event of the watch on Services (all namespaces).
    ServiceWatch(WatchEvent<ServiceView>),
    /// An event of the watch on endpoints (Endpoints or merged EndpointSlices).
    EndpointsWatch(WatchEvent<EndpointsView>),
    /// An event of the watch on Leases described by [`super::ServicesNode::lease_watch`].
    LeaseWatch(WatchEvent<NamedLease>),
    /// The answer to a [`ServicesOutput::Lease`].
    LeaseResponse {
        /// The request's id.
        op: OpId,
        /// The Lease as stored after the request, or why it failed.
        result: Result<LeaseObject, LeaseError>,
    },
    /// The answer to [`ServicesOutput::AddAddress`] / [`ServicesOutput::RemoveAddress`].
    AddressDone {
        /// The operation's id.
        op: OpId,
        /// Success, or why it failed.
        result: Result<(), AddressError>,
    },
    /// Address monitoring saw an address appear on or vanish from `link`.
    AddressObserved {
        /// The address.
        address: IpAddr,
        /// Whether it is now configured.
        present: bool,
        /// The interface (`None`: the Services interface).
        link: Option<String>,
    },
    /// This node's other Ethernet interfaces, with their MACs, now: the ones a Service may name
    /// (the runtime sends them whenever an interface comes or goes).
    LinksChanged {
        /// By name.
        links: BTreeMap<String, MacAddr>,
    },
    /// `link`'s carrier changed.
    LinkChanged {
        /// Whether the link is up.
        up: bool,
        /// The interface (`None`: the Services interface).
        link: Option<String>,
    },
    /// The answer to a [`ServicesOutput::WriteStatus`].
    StatusWritten {
        /// The write's id.
        op: OpId,
        /// Success, or why it failed (retried after [`super::status::STATUS_RETRY`]).
        result: Result<(), String>,
    },
    /// The DHCP client's current lease for a Service (after a [`ServicesOutput::DhcpStart`]):
    /// `Some` when bound or renewed to a (possibly new) address, `None` when lost.
    DhcpLease {
        /// The Service.
        key: ServiceKey,
        /// The family.
        family: DhcpFamily,
        /// The lease, if any.
        binding: Option<DhcpBinding>,
    },
}

/// One `status.loadBalancer.ingress` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ingress {
    /// The address.
    pub ip: IpAddr,
    /// The Service's ports (`ports: [{port, protocol}]`).
    pub ports: Vec<ServicePort>,
}

/// A write of a Service's status and annotations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusWrite {
    /// The Service.
    pub key: ServiceKey,
    /// Its uid (a precondition: a re-created Service must not get the old one's status).
    pub uid: String,
    /// `status.loadBalancer.ingress`, replacing what is stored.
    pub ingress: Vec<Ingress>,
    /// Annotations to set (`Some`) or remove (`None`); others are left alone.
    pub annotations: BTreeMap<String, Option<String>>,
}

/// What kind of problem a Service has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemKind {
    /// An address entry is not usable.
    InvalidAddress,
    /// A shared address clashes on a port with another Service.
    PortClash,
    /// `kube-vip.io/serviceInterface` names an interface this node does not have: the Service is
    /// announced on the Services interface.
    UnknownInterface,
}

/// A problem with one Service, for a log line and a Kubernetes Event (type Warning) on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceProblem {
    /// The Service.
    pub key: ServiceKey,
    /// Its uid (the Event's involved object).
    pub uid: String,
    /// The kind (the Event's reason).
    pub kind: ProblemKind,
    /// A sentence for humans (the Event's message).
    pub message: String,
}

/// A notable transition of the Services node, for logs and timelines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    /// A group of Services (named by its first Service) is now announced from here.
    Announcing(ServiceKey),
    /// It was gained from another live node and is announced after the handover delay.
    HandoverWait(ServiceKey),
    /// It is no longer announced from here.
    Withdrawn(ServiceKey),
    /// The set of live members changed (per-service mode).
    Members(Vec<String>),
    /// The membership view went stale (its watch is silent) or fresh again.
    ViewStale(bool),
}

/// Work handed out by the [`super::ServicesNode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServicesOutput {
    /// Send this request on the named Lease. Emitted once; answer with
    /// [`ServicesInput::LeaseResponse`]; a late answer is ignored.
    Lease {
        /// Id to answer with.
        op: OpId,
        /// Which Lease.
        lease: LeaseRef,
        /// The request.
        request: LeaseRequest,
    },
    /// Configure the address on `link`. Emitted once; answer with
    /// [`ServicesInput::AddressDone`].
    AddAddress {
        /// Id to answer with.
        op: OpId,
        /// The address.
        vip: VipAddress,
        /// The interface (`None`: the Services interface).
        link: Option<String>,
    },
    /// Remove the address from `link`. Emitted once; answer with [`ServicesInput::AddressDone`].
    RemoveAddress {
        /// Id to answer with.
        op: OpId,
        /// The address.
        vip: VipAddress,
        /// The interface (`None`: the Services interface).
        link: Option<String>,
    },
    /// Put this frame on `link`. Emitted once, fire-and-forget.
    SendFrame {
        /// The address announced.
        address: IpAddr,
        /// The encoded frame.
        frame: Vec<u8>,
        /// The interface (`None`: the Services interface).
        link: Option<String>,
    },
    /// Write a Service's status/annotations. Emitted once; answer with
    /// [`ServicesInput::StatusWritten`].
    WriteStatus {
        /// Id to answer with.
        op: OpId,
        /// What to write.
        write: StatusWrite,
    },
    /// Start a DHCP client for this Service and family. Emitted once per start; the client
    /// reports with [`ServicesInput::DhcpLease`] until [`ServicesOutput::DhcpStop`].
    DhcpStart {
        /// The Service.
        key: ServiceKey,
        /// The family.
        family: DhcpFamily,
        /// The Service's uid (a client without `hwaddr` derives its MAC from it, the same on
        /// every node).
        uid: String,
        /// Host name to send (`kube-vip.io/loadbalancerHostname`).
        hostname: Option<String>,
        /// Address to ask for again (`kube-vip.io/requestedIP`).
        requested: Option<IpAddr>,
        /// MAC to lease with (`kube-vip.io/hwaddr`), so a failover keeps the address.
        hwaddr: Option<String>,
        /// Parent of the client's macvlan (`None`: the Services interface).
        link: Option<String>,
    },
    /// Stop that DHCP client. Emitted once, after its address was removed here.
    DhcpStop {
        /// The Service.
        key: ServiceKey,
        /// The family.
        family: DhcpFamily,
        /// Send a DHCPRELEASE: the Service is gone or no longer asks for a DHCP address. Without
        /// it the lease is abandoned (the Service only moved away from this node): the server
        /// keeps it for the MAC in `kube-vip.io/hwaddr`, so the next holder gets the address.
        release: bool,
    },
    /// A Service has a problem: log it and record a Warning Event on it. Emitted once per
    /// problem while it lasts, by the node that speaks for the Service.
    Problem(ServiceProblem),
    /// Election and address events (as the control-plane node emits them). Emitted once.
    Event(Event),
    /// Services events. Emitted once.
    ServiceEvent(ServiceEvent),
    /// Shutdown finished: every address removed and the Lease released. Emitted once.
    Stopped,
}
