//! The world's Lease API: compare-and-swap on a resourceVersion counter, as the API server does.

use std::collections::BTreeMap;

use kvip_core::service::NamedLease;
use kvip_core::{LeaseError, LeaseObject, LeaseRecord, LeaseRequest, ResourceVersion};

/// The Leases of one namespace.
#[derive(Default)]
pub struct LeaseApi {
    leases: BTreeMap<String, (u64, LeaseRecord)>,
    rv: u64,
}

impl LeaseApi {
    /// Runs one request; on a write, also the Lease as the watch reports it.
    pub fn call(
        &mut self,
        name: &str,
        request: LeaseRequest,
    ) -> (Result<LeaseObject, LeaseError>, Option<NamedLease>) {
        let stored = self.leases.get(name).cloned();
        let record = match (request, stored) {
            (LeaseRequest::Get, Some((rv, record))) => return (Ok(object(rv, &record)), None),
            (LeaseRequest::Get, None) => return (Err(LeaseError::NotFound), None),
            (LeaseRequest::Create(_), Some(_)) => return (Err(LeaseError::Conflict), None),
            (LeaseRequest::Create(record), None) => record,
            (LeaseRequest::Replace { .. }, None) => return (Err(LeaseError::NotFound), None),
            (LeaseRequest::Replace { expected, record }, Some((rv, _))) => {
                if expected != ResourceVersion(rv.to_string()) {
                    return (Err(LeaseError::Conflict), None);
                }
                record
            }
        };
        self.rv += 1;
        self.leases
            .insert(name.to_owned(), (self.rv, record.clone()));
        (
            Ok(object(self.rv, &record)),
            Some(named(name, self.rv, &record)),
        )
    }

    /// Every Lease, as a list reports them.
    pub fn list(&self) -> Vec<NamedLease> {
        self.leases
            .iter()
            .map(|(name, (rv, record))| named(name, *rv, record))
            .collect()
    }
}

fn object(rv: u64, record: &LeaseRecord) -> LeaseObject {
    LeaseObject {
        resource_version: ResourceVersion(rv.to_string()),
        record: record.clone(),
    }
}

fn named(name: &str, rv: u64, record: &LeaseRecord) -> NamedLease {
    NamedLease {
        name: name.to_owned(),
        lease: object(rv, record),
    }
}
