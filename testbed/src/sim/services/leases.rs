//! The simulated Lease store of the Services world: any number of named Leases with
//! resourceVersion compare-and-swap (one revision counter), as kube-apiserver applies GET /
//! CREATE / REPLACE.

use std::collections::BTreeMap;

use kvip_core::service::NamedLease;
use kvip_core::{LeaseError, LeaseObject, LeaseRequest, ResourceVersion};

/// The Leases of the namespace.
#[derive(Debug, Clone, Default)]
pub struct LeaseStore {
    leases: BTreeMap<String, LeaseObject>,
    revision: u64,
}

/// What a write did, for the watchers.
#[derive(Debug, Clone)]
pub struct Written {
    /// The Lease as stored.
    pub lease: NamedLease,
    /// Whether the holder changed (join, takeover, release), not a plain renew.
    pub holder_changed: bool,
}

impl LeaseStore {
    /// Applies one request: the answer, and the write if one happened.
    pub fn apply(
        &mut self,
        name: &str,
        request: LeaseRequest,
    ) -> (Result<LeaseObject, LeaseError>, Option<Written>) {
        let stored = self.leases.get(name);
        let record = match (request, stored) {
            (LeaseRequest::Get, Some(l)) => return (Ok(l.clone()), None),
            (LeaseRequest::Get, None) => return (Err(LeaseError::NotFound), None),
            (LeaseRequest::Create(_), Some(_)) => return (Err(LeaseError::Conflict), None),
            (LeaseRequest::Create(record), None) => record,
            (LeaseRequest::Replace { .. }, None) => return (Err(LeaseError::NotFound), None),
            (LeaseRequest::Replace { expected, record }, Some(l)) => {
                if l.resource_version != expected {
                    return (Err(LeaseError::Conflict), None);
                }
                record
            }
        };
        let holder_changed = stored.map(|l| l.record.holder()) != Some(record.holder());
        self.revision += 1;
        let lease = LeaseObject {
            resource_version: ResourceVersion(self.revision.to_string()),
            record,
        };
        self.leases.insert(name.to_owned(), lease.clone());
        let named = NamedLease {
            name: name.to_owned(),
            lease: lease.clone(),
        };
        let written = Written {
            lease: named,
            holder_changed,
        };
        (Ok(lease), Some(written))
    }

    /// Every Lease, as a list reports them.
    pub fn list(&self) -> Vec<NamedLease> {
        self.leases
            .iter()
            .map(|(name, lease)| NamedLease {
                name: name.clone(),
                lease: lease.clone(),
            })
            .collect()
    }

    /// The holder named by the Lease `name`, if any.
    pub fn holder(&self, name: &str) -> Option<&str> {
        self.leases.get(name).and_then(|l| l.record.holder())
    }
}
