//! The Lease as the elector reads and writes it: the record fields client-go keeps in a
//! `coordination.k8s.io/v1` Lease, its resourceVersion, and the requests and errors around it.

use crate::time::MicroTime;

/// The Lease's `metadata.resourceVersion`: opaque to Kubernetes clients, used for compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceVersion(pub String);

impl ResourceVersion {
    /// Whether `self` is known to be newer than `other`.
    ///
    /// resourceVersions are opaque, but every etcd-backed API server hands out increasing decimal
    /// numbers; when both parse we compare them so a late watch event cannot overwrite a newer
    /// record we already hold. When they do not parse, the latest arrival is taken as newest.
    pub fn is_newer_than(&self, other: &ResourceVersion) -> bool {
        match (self.0.parse::<u64>(), other.0.parse::<u64>()) {
            (Ok(a), Ok(b)) => a > b,
            _ => self != other,
        }
    }
}

/// The leader-election fields of a Lease's spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LeaseRecord {
    /// Who holds the lease; `None` or empty means released.
    pub holder_identity: Option<String>,
    /// `leaseDurationSeconds` as the holder wrote it.
    pub lease_duration_seconds: u32,
    /// When the current holder acquired it.
    pub acquire_time: Option<MicroTime>,
    /// When the current holder last renewed it.
    pub renew_time: Option<MicroTime>,
    /// How many times the holder changed.
    pub lease_transitions: u32,
}

impl LeaseRecord {
    /// The holder, if the lease is held by anyone.
    pub fn holder(&self) -> Option<&str> {
        self.holder_identity.as_deref().filter(|h| !h.is_empty())
    }
}

/// A Lease as the API server returned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseObject {
    /// Its resourceVersion.
    pub resource_version: ResourceVersion,
    /// Its leader-election fields.
    pub record: LeaseRecord,
}

/// A request on the Lease, emitted once; the answer comes back as `Input::LeaseResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseRequest {
    /// GET the Lease.
    Get,
    /// CREATE the Lease with this record.
    Create(LeaseRecord),
    /// REPLACE (PUT) the Lease with this record, only if its resourceVersion is still `expected`.
    Replace {
        /// The resourceVersion the write is conditioned on (409 otherwise).
        expected: ResourceVersion,
        /// The new record.
        record: LeaseRecord,
    },
}

/// Why a Lease request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseError {
    /// 404: the Lease does not exist.
    NotFound,
    /// 409: the resourceVersion precondition failed, or the Lease already exists on create.
    Conflict,
    /// Any other status from the API server (5xx, 403, 429…).
    Server(u16),
    /// The request never got an answer (connection reset, client-side timeout).
    Transport(String),
}
