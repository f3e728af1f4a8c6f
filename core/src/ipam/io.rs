//! The IPAM controller's outputs and the answers it takes back: address writes on Services and
//! Kubernetes Events, as plain data.

use std::fmt;
use std::net::IpAddr;

use crate::io::OpId;
use crate::service::{ServiceKey, ServicePort, ServiceView};

/// What to write on one Service. The driver re-reads the Service and writes only if it still
/// has the same uid, still needs an address ([`super::classify`] says
/// [`super::Need::Address`]) and has the same port numbers; otherwise it answers
/// [`WriteError::Stale`] with what it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The Service.
    pub key: ServiceKey,
    /// Its uid when decided.
    pub uid: String,
    /// Its ports when decided (sharing depends on them).
    pub ports: Vec<ServicePort>,
    /// Annotation `kube-vip.io/loadbalancerIPs` (comma-joined); the first also goes to
    /// `spec.loadBalancerIP`; label `implementation: kube-vip` is set. Never status.
    pub addresses: Vec<IpAddr>,
    /// Annotation `kube-vip.io/serviceInterface`, from `interface-<ns>` / `interface-global`.
    pub interface: Option<String>,
    /// The ConfigMap key of the pool.
    pub pool_key: String,
    /// Whether the address is shared with other Services (disjoint ports).
    pub shared: bool,
}

impl Assignment {
    /// The annotation value: the addresses, comma-separated.
    pub fn annotation_value(&self) -> String {
        let list: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        list.join(",")
    }
}

/// Why a write did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The Service as re-read no longer wants this write (gone: `None`; replaced, pinned,
    /// ports changed, no longer ours: the fresh view). Applied as a fact.
    Stale(Option<Box<ServiceView>>),
    /// The write failed; `maybe_applied` when the server may have stored it anyway (timeout,
    /// connection lost), in which case the address stays reserved.
    Failed {
        /// What went wrong.
        message: String,
        /// Whether the outcome is unknown.
        maybe_applied: bool,
    },
}

/// Why an Event is published (its `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Normal: an address was written on the Service.
    AddressAssigned,
    /// No `cidr-`/`range-` key applies to the Service's namespace, or no ConfigMap.
    NoPool,
    /// The key that applies is malformed.
    InvalidPool,
    /// The pool has no free (or shareable) address.
    Exhausted,
    /// The Service names an address that does not parse.
    InvalidAddress,
    /// Writing the address failed (it is retried).
    AssignFailed,
    /// A ConfigMap key is malformed.
    InvalidConfig,
}

impl Reason {
    /// The Event's `reason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AddressAssigned => "AddressAssigned",
            Reason::NoPool => "NoAddressPool",
            Reason::InvalidPool => "InvalidAddressPool",
            Reason::Exhausted => "AddressPoolExhausted",
            Reason::InvalidAddress => "InvalidLoadBalancerIPs",
            Reason::AssignFailed => "AddressAssignFailed",
            Reason::InvalidConfig => "InvalidIPAMConfig",
        }
    }

    /// Whether the Event's type is `Warning` (else `Normal`).
    pub fn is_warning(self) -> bool {
        self != Reason::AddressAssigned
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object an Event is about (its `involvedObject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// A Service.
    Service {
        /// Namespace and name.
        key: ServiceKey,
        /// uid.
        uid: String,
    },
    /// The IPAM ConfigMap.
    ConfigMap {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// uid.
        uid: String,
    },
}

impl ReportTarget {
    /// The Service `svc`.
    pub fn service(svc: &ServiceView) -> ReportTarget {
        ReportTarget::Service {
            key: svc.key.clone(),
            uid: svc.uid.clone(),
        }
    }
}

/// One Kubernetes Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What it is about.
    pub target: ReportTarget,
    /// Why (also decides Normal or Warning).
    pub reason: Reason,
    /// The message, naming the pool or key at fault.
    pub message: String,
}

/// Work handed out by the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpamOutput {
    /// Write these addresses on the Service. Emitted once; answer with
    /// [`super::IpamController::handle_write_done`].
    Assign {
        /// Id to answer with.
        op: OpId,
        /// What to write.
        assignment: Assignment,
    },
    /// Publish this Kubernetes Event. Emitted once, fire-and-forget.
    Report(Report),
}
