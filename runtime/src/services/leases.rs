//! The Leases of the Services node: requests on whichever Lease the core names (the global
//! `plndr-svcs-lock`, or this node's membership Lease), and the watch the core asks for — one
//! Lease by name, or every Lease of a namespace whose name has a prefix (the membership Leases
//! of per-service mode), always with `Init`/`InitDone` around a relist.

use std::collections::BTreeMap;

use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use kvip_core::config::LeaseRef;
use kvip_core::service::{LeaseWatchSpec, NamedLease};
use kvip_core::WatchEvent;

use super::watch::map_event;
use crate::manager::kube_lease::{from_lease, KubeLease};

/// Lease ports by name, made on first use.
pub struct ServiceLeases {
    client: Client,
    ports: BTreeMap<(String, String), KubeLease>,
}

impl ServiceLeases {
    /// Leases through `client`.
    pub fn new(client: Client) -> Self {
        ServiceLeases {
            client,
            ports: BTreeMap::new(),
        }
    }

    /// The port of `lease`.
    pub fn port(&mut self, lease: &LeaseRef) -> KubeLease {
        self.ports
            .entry((lease.namespace.clone(), lease.name.clone()))
            .or_insert_with(|| KubeLease::new(self.client.clone(), &lease.namespace, &lease.name))
            .clone()
    }
}

/// Whether a Lease named `name` is one `spec` covers.
pub fn covers(spec: &LeaseWatchSpec, name: &str) -> bool {
    spec.name.as_deref().is_none_or(|n| n == name)
        && spec.prefix.as_deref().is_none_or(|p| name.starts_with(p))
}

/// The Leases `spec` names, as the core's resync batches of [`NamedLease`]s.
pub fn named_lease_events(
    client: Client,
    spec: LeaseWatchSpec,
) -> BoxStream<'static, WatchEvent<NamedLease>> {
    let api: Api<Lease> = Api::namespaced(client, &spec.namespace);
    let config = match &spec.name {
        Some(name) => watcher::Config::default().fields(&format!("metadata.name={name}")),
        None => watcher::Config::default(),
    };
    watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let mapped = map_event(event, named, "lease").and_then(|e| keep(&spec, e));
            futures::future::ready(mapped)
        })
        .boxed()
}

/// A Lease with its name (`None` without a name or resourceVersion).
fn named(lease: &Lease) -> Option<NamedLease> {
    Some(NamedLease {
        name: lease.metadata.name.clone()?,
        lease: from_lease(lease)?,
    })
}

/// Drops events about Leases outside `spec` (and unreadable ones); batch markers always pass.
fn keep(
    spec: &LeaseWatchSpec,
    event: WatchEvent<Option<NamedLease>>,
) -> Option<WatchEvent<NamedLease>> {
    let ours = |l: Option<NamedLease>| l.filter(|l| covers(spec, &l.name));
    match event {
        WatchEvent::Init => Some(WatchEvent::Init),
        WatchEvent::InitDone => Some(WatchEvent::InitDone),
        WatchEvent::InitApply(l) => ours(l).map(WatchEvent::InitApply),
        WatchEvent::Apply(l) => ours(l).map(WatchEvent::Apply),
        WatchEvent::Delete(l) => ours(l).map(WatchEvent::Delete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_spec_covers_only_names_with_the_prefix() {
        let spec = LeaseWatchSpec {
            namespace: "kube-system".into(),
            name: None,
            prefix: Some("kvip-svc-member-".into()),
        };
        assert!(covers(&spec, "kvip-svc-member-master01"));
        assert!(!covers(&spec, "plndr-cp-lock"));
        let exact = LeaseWatchSpec {
            namespace: "kube-system".into(),
            name: Some("plndr-svcs-lock".into()),
            prefix: None,
        };
        assert!(covers(&exact, "plndr-svcs-lock"));
        assert!(!covers(&exact, "plndr-svcs-lock2"));
    }
}
