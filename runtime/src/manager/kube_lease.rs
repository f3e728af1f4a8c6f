//! The Lease port over kube-rs: GET / CREATE / REPLACE (with the resourceVersion precondition) on
//! `coordination.k8s.io/v1` Leases, and a field-selected watch mapped onto the core's resync
//! batches.

use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime as KubeMicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use kvip_core::{
    LeaseError, LeaseObject, LeaseRecord, LeaseRequest, MicroTime, ResourceVersion, WatchEvent,
};
use tracing::warn;

use super::ports::LeasePort;

/// One named Lease through kube-rs.
#[derive(Clone)]
pub struct KubeLease {
    api: Api<Lease>,
    name: String,
}

impl KubeLease {
    /// The Lease `namespace/name` through `client`.
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        KubeLease {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
        }
    }

    fn object(&self, resource_version: Option<ResourceVersion>, record: LeaseRecord) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: resource_version.map(|rv| rv.0),
                ..ObjectMeta::default()
            },
            spec: Some(to_spec(record)),
        }
    }
}

impl LeasePort for KubeLease {
    fn call(
        &self,
        request: LeaseRequest,
    ) -> impl std::future::Future<Output = Result<LeaseObject, LeaseError>> + Send + 'static {
        let this = self.clone();
        async move {
            let params = PostParams::default();
            let result = match request {
                LeaseRequest::Get => this.api.get(&this.name).await,
                LeaseRequest::Create(record) => {
                    this.api.create(&params, &this.object(None, record)).await
                }
                LeaseRequest::Replace { expected, record } => {
                    this.api
                        .replace(&this.name, &params, &this.object(Some(expected), record))
                        .await
                }
            };
            result.map_err(to_error).and_then(|l| {
                from_lease(&l).ok_or(LeaseError::Transport(
                    "lease without resourceVersion".into(),
                ))
            })
        }
    }

    fn watch(&self) -> BoxStream<'static, WatchEvent<LeaseObject>> {
        let config = watcher::Config::default().fields(&format!("metadata.name={}", self.name));
        watcher(self.api.clone(), config)
            .default_backoff()
            .filter_map(|event| async move {
                match event {
                    Ok(watcher::Event::Init) => Some(WatchEvent::Init),
                    Ok(watcher::Event::InitApply(l)) => from_lease(&l).map(WatchEvent::InitApply),
                    Ok(watcher::Event::InitDone) => Some(WatchEvent::InitDone),
                    Ok(watcher::Event::Apply(l)) => from_lease(&l).map(WatchEvent::Apply),
                    Ok(watcher::Event::Delete(l)) => from_lease(&l).map(WatchEvent::Delete),
                    Err(e) => {
                        warn!(error = %e, "lease watch error; it reconnects");
                        None
                    }
                }
            })
            .boxed()
    }
}

fn to_error(e: kube::Error) -> LeaseError {
    match &e {
        kube::Error::Api(status) if status.code == 404 => LeaseError::NotFound,
        kube::Error::Api(status) if status.code == 409 => LeaseError::Conflict,
        kube::Error::Api(status) => LeaseError::Server(status.code),
        _ => LeaseError::Transport(e.to_string()),
    }
}

fn to_micro(t: MicroTime) -> Option<KubeMicroTime> {
    jiff::Timestamp::from_microsecond(t.0)
        .ok()
        .map(KubeMicroTime)
}

fn from_micro(t: &KubeMicroTime) -> MicroTime {
    MicroTime(t.0.as_microsecond())
}

/// The core's record as a Lease spec.
pub fn to_spec(r: LeaseRecord) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(r.holder_identity.unwrap_or_default()),
        lease_duration_seconds: Some(i32::try_from(r.lease_duration_seconds).unwrap_or(i32::MAX)),
        acquire_time: r.acquire_time.and_then(to_micro),
        renew_time: r.renew_time.and_then(to_micro),
        lease_transitions: Some(i32::try_from(r.lease_transitions).unwrap_or(i32::MAX)),
        ..LeaseSpec::default()
    }
}

/// A Lease as the core sees it (`None` without a resourceVersion).
pub fn from_lease(l: &Lease) -> Option<LeaseObject> {
    let rv = l.metadata.resource_version.clone()?;
    let spec = l.spec.clone().unwrap_or_default();
    let record = LeaseRecord {
        holder_identity: spec.holder_identity.filter(|h| !h.is_empty()),
        lease_duration_seconds: spec
            .lease_duration_seconds
            .map_or(0, |s| u32::try_from(s).unwrap_or(0)),
        acquire_time: spec.acquire_time.as_ref().map(from_micro),
        renew_time: spec.renew_time.as_ref().map(from_micro),
        lease_transitions: spec
            .lease_transitions
            .map_or(0, |t| u32::try_from(t).unwrap_or(0)),
    };
    Some(LeaseObject {
        resource_version: ResourceVersion(rv),
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_the_round_trip_through_a_lease() {
        let record = LeaseRecord {
            holder_identity: Some("master01".into()),
            lease_duration_seconds: 5,
            acquire_time: Some(MicroTime(1_795_305_600_123_456)),
            renew_time: Some(MicroTime(1_795_305_601_000_001)),
            lease_transitions: 7,
        };
        let lease = Lease {
            metadata: ObjectMeta {
                resource_version: Some("42".into()),
                ..ObjectMeta::default()
            },
            spec: Some(to_spec(record.clone())),
        };
        let back = from_lease(&lease).expect("has a resourceVersion");
        assert_eq!(back.record, record);
        assert_eq!(back.resource_version, ResourceVersion("42".into()));
    }

    #[test]
    fn a_released_lease_has_no_holder() {
        let spec = to_spec(LeaseRecord {
            holder_identity: None,
            ..LeaseRecord::default()
        });
        assert_eq!(spec.holder_identity.as_deref(), Some(""));
        let lease = Lease {
            metadata: ObjectMeta {
                resource_version: Some("1".into()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        };
        assert_eq!(from_lease(&lease).unwrap().record.holder(), None);
    }
}
