//! The harness's API protocol: JSON lines over turmoil TCP. A connection opens with one
//! [`ClientLine`]; a request connection then carries request / reply pairs (kept alive and pooled
//! by the client), a watch connection carries [`WireWatch`] lines from the server until either
//! side closes it.

use kvip_core::{
    LeaseError, LeaseObject, LeaseRecord, LeaseRequest, MicroTime, ResourceVersion, WatchEvent,
};
use serde::{Deserialize, Serialize};

/// The port the simulated API server listens on.
pub const API_PORT: u16 = 6443;

/// A Lease record on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    /// `holderIdentity` ("" when released).
    pub holder: String,
    /// `leaseDurationSeconds`.
    pub duration_s: u32,
    /// `acquireTime`, µs since the epoch.
    pub acquire_us: Option<i64>,
    /// `renewTime`, µs since the epoch.
    pub renew_us: Option<i64>,
    /// `leaseTransitions`.
    pub transitions: u32,
}

/// A stored Lease on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLease {
    /// `metadata.resourceVersion`.
    pub rv: String,
    /// The spec.
    pub record: WireRecord,
}

/// One line a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientLine {
    /// GET the Lease.
    Get {
        /// Sending node (for the checker only; a real server knows it from the credentials).
        from: usize,
    },
    /// CREATE the Lease.
    Create {
        /// Sending node.
        from: usize,
        /// The record.
        record: WireRecord,
    },
    /// REPLACE the Lease if its resourceVersion is still `expected`.
    Replace {
        /// Sending node.
        from: usize,
        /// The precondition.
        expected: String,
        /// The record.
        record: WireRecord,
    },
    /// Turn this connection into a watch: list, then stream changes.
    Watch {
        /// Watching node.
        from: usize,
    },
}

/// The answer to a request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireReply {
    /// 200/201 with the stored Lease.
    Ok(WireLease),
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// Any other status.
    Status(u16),
}

/// One line of a watch connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireWatch {
    /// The list starts.
    Init,
    /// One object of the list.
    InitApply(WireLease),
    /// The list is complete.
    InitDone,
    /// A write.
    Apply(WireLease),
}

impl From<&LeaseRecord> for WireRecord {
    fn from(r: &LeaseRecord) -> Self {
        WireRecord {
            holder: r.holder_identity.clone().unwrap_or_default(),
            duration_s: r.lease_duration_seconds,
            acquire_us: r.acquire_time.map(|t| t.0),
            renew_us: r.renew_time.map(|t| t.0),
            transitions: r.lease_transitions,
        }
    }
}

impl From<&WireRecord> for LeaseRecord {
    fn from(r: &WireRecord) -> Self {
        LeaseRecord {
            holder_identity: Some(r.holder.clone()).filter(|h| !h.is_empty()),
            lease_duration_seconds: r.duration_s,
            acquire_time: r.acquire_us.map(MicroTime),
            renew_time: r.renew_us.map(MicroTime),
            lease_transitions: r.transitions,
        }
    }
}

impl From<&LeaseObject> for WireLease {
    fn from(l: &LeaseObject) -> Self {
        WireLease {
            rv: l.resource_version.0.clone(),
            record: WireRecord::from(&l.record),
        }
    }
}

impl From<&WireLease> for LeaseObject {
    fn from(l: &WireLease) -> Self {
        LeaseObject {
            resource_version: ResourceVersion(l.rv.clone()),
            record: LeaseRecord::from(&l.record),
        }
    }
}

impl ClientLine {
    /// The line for a core request from node `from`.
    pub fn request(from: usize, request: &LeaseRequest) -> Self {
        match request {
            LeaseRequest::Get => ClientLine::Get { from },
            LeaseRequest::Create(r) => ClientLine::Create {
                from,
                record: r.into(),
            },
            LeaseRequest::Replace { expected, record } => ClientLine::Replace {
                from,
                expected: expected.0.clone(),
                record: record.into(),
            },
        }
    }
}

impl WireReply {
    /// The reply as the core's result.
    pub fn into_result(self) -> Result<LeaseObject, LeaseError> {
        match self {
            WireReply::Ok(l) => Ok((&l).into()),
            WireReply::NotFound => Err(LeaseError::NotFound),
            WireReply::Conflict => Err(LeaseError::Conflict),
            WireReply::Status(code) => Err(LeaseError::Server(code)),
        }
    }
}

impl WireWatch {
    /// The line as the core's watch event.
    pub fn into_event(self) -> WatchEvent<LeaseObject> {
        match self {
            WireWatch::Init => WatchEvent::Init,
            WireWatch::InitApply(l) => WatchEvent::InitApply((&l).into()),
            WireWatch::InitDone => WatchEvent::InitDone,
            WireWatch::Apply(l) => WatchEvent::Apply((&l).into()),
        }
    }
}

/// One value as a JSON line.
pub fn line<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).expect("wire types serialize");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_wire() {
        let lease = LeaseObject {
            resource_version: ResourceVersion("7".into()),
            record: LeaseRecord {
                holder_identity: Some("master01".into()),
                lease_duration_seconds: 5,
                acquire_time: Some(MicroTime(1)),
                renew_time: Some(MicroTime(2)),
                lease_transitions: 3,
            },
        };
        let wire = WireLease::from(&lease);
        let text = String::from_utf8(line(&wire)).unwrap();
        let back: WireLease = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(LeaseObject::from(&back), lease);
        let released = LeaseRecord::default();
        assert_eq!(LeaseRecord::from(&WireRecord::from(&released)), released);
    }
}
