//! The Service and endpoint watches of `kvip manager`, as the core's resync batches
//! ([`WatchEvent`]) of [`ServiceView`] and [`EndpointsView`].
//!
//! Endpoints come from `discovery.k8s.io/v1` EndpointSlices when the API server serves them and
//! `enable_endpoints` is off; otherwise from core/v1 Endpoints (a 1.20 API server, like the
//! testbed's, has no v1 slices). A Service may own several slices, so slices are merged per
//! Service before the core sees them: the core always gets one view per Service.

use std::collections::BTreeMap;

use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use kvip_core::service::{EndpointsView, ServiceKey, ServiceView};
use kvip_core::WatchEvent;
use tracing::{info, warn};

use crate::kube_service::{endpoints_view, service_view, slice_view};

/// Every Service in the cluster, as views.
pub fn service_events(client: Client) -> BoxStream<'static, WatchEvent<ServiceView>> {
    watcher(Api::<Service>::all(client), watcher::Config::default())
        .default_backoff()
        .filter_map(|event| async move { map_event(event, service_view, "service") })
        .boxed()
}

/// Where to read endpoints from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// `discovery.k8s.io/v1` EndpointSlices.
    Slices,
    /// core/v1 Endpoints.
    Endpoints,
}

/// Slices unless `enable_endpoints` asks for Endpoints or the server lacks `discovery.k8s.io/v1`.
pub async fn endpoint_source(client: &Client, enable_endpoints: bool) -> EndpointSource {
    if enable_endpoints {
        return EndpointSource::Endpoints;
    }
    match client.list_api_group_resources("discovery.k8s.io/v1").await {
        Ok(list) if list.resources.iter().any(|r| r.name == "endpointslices") => {
            EndpointSource::Slices
        }
        _ => {
            info!("discovery.k8s.io/v1 EndpointSlices not served; reading core/v1 Endpoints");
            EndpointSource::Endpoints
        }
    }
}

/// Every Service's ready endpoint nodes, one view per Service.
pub fn endpoint_events(
    client: Client,
    source: EndpointSource,
) -> BoxStream<'static, WatchEvent<EndpointsView>> {
    match source {
        EndpointSource::Endpoints => {
            watcher(Api::<Endpoints>::all(client), watcher::Config::default())
                .default_backoff()
                .filter_map(|event| async move { map_event(event, endpoints_view, "endpoints") })
                .boxed()
        }
        EndpointSource::Slices => {
            let mut merger = SliceMerger::default();
            watcher(
                Api::<EndpointSlice>::all(client),
                watcher::Config::default(),
            )
            .default_backoff()
            .flat_map(move |event| {
                let out = match event {
                    Ok(event) => merger.handle(event),
                    Err(e) => {
                        warn!(error = %e, "endpointslice watch error; it reconnects");
                        Vec::new()
                    }
                };
                futures::stream::iter(out)
            })
            .boxed()
        }
    }
}

pub(crate) fn map_event<K, V>(
    event: Result<watcher::Event<K>, watcher::Error>,
    view: fn(&K) -> V,
    what: &'static str,
) -> Option<WatchEvent<V>> {
    match event {
        Ok(watcher::Event::Init) => Some(WatchEvent::Init),
        Ok(watcher::Event::InitApply(o)) => Some(WatchEvent::InitApply(view(&o))),
        Ok(watcher::Event::InitDone) => Some(WatchEvent::InitDone),
        Ok(watcher::Event::Apply(o)) => Some(WatchEvent::Apply(view(&o))),
        Ok(watcher::Event::Delete(o)) => Some(WatchEvent::Delete(view(&o))),
        Err(e) => {
            warn!(error = %e, what, "watch error; it reconnects");
            None
        }
    }
}

/// Merges EndpointSlice events into one [`EndpointsView`] per Service.
#[derive(Debug, Default)]
pub struct SliceMerger {
    /// (namespace, slice name) → the slice's view.
    slices: BTreeMap<(String, String), EndpointsView>,
    /// Slices of a resync in progress.
    pending: Option<BTreeMap<(String, String), EndpointsView>>,
}

impl SliceMerger {
    /// The core's events for one slice event.
    pub fn handle(
        &mut self,
        event: watcher::Event<EndpointSlice>,
    ) -> Vec<WatchEvent<EndpointsView>> {
        match event {
            watcher::Event::Init => {
                self.pending = Some(BTreeMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(slice) => {
                if let (Some(pending), Some(id), Some(view)) =
                    (self.pending.as_mut(), slice_id(&slice), slice_view(&slice))
                {
                    pending.insert(id, view);
                }
                Vec::new()
            }
            watcher::Event::InitDone => {
                self.slices = self.pending.take().unwrap_or_default();
                let mut out = vec![WatchEvent::Init];
                out.extend(
                    self.services()
                        .into_iter()
                        .map(|k| WatchEvent::InitApply(self.merged(&k))),
                );
                out.push(WatchEvent::InitDone);
                out
            }
            watcher::Event::Apply(slice) => {
                let (Some(id), Some(view)) = (slice_id(&slice), slice_view(&slice)) else {
                    return Vec::new();
                };
                let key = view.key.clone();
                self.slices.insert(id, view);
                vec![WatchEvent::Apply(self.merged(&key))]
            }
            watcher::Event::Delete(slice) => {
                let Some(id) = slice_id(&slice) else {
                    return Vec::new();
                };
                let Some(view) = self.slices.remove(&id) else {
                    return Vec::new();
                };
                let merged = self.merged(&view.key);
                if self.slices.values().any(|v| v.key == view.key) {
                    vec![WatchEvent::Apply(merged)]
                } else {
                    vec![WatchEvent::Delete(merged)]
                }
            }
        }
    }

    fn services(&self) -> Vec<ServiceKey> {
        let mut keys: Vec<ServiceKey> = self.slices.values().map(|v| v.key.clone()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn merged(&self, key: &ServiceKey) -> EndpointsView {
        let mut merged = EndpointsView {
            key: key.clone(),
            ..EndpointsView::default()
        };
        for view in self.slices.values().filter(|v| &v.key == key) {
            merged.ready_nodes.extend(view.ready_nodes.iter().cloned());
        }
        merged
    }
}

fn slice_id(slice: &EndpointSlice) -> Option<(String, String)> {
    Some((
        slice.metadata.namespace.clone()?,
        slice.metadata.name.clone()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(name: &str, node: &str) -> EndpointSlice {
        serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "default", "name": name,
                "labels": {"kubernetes.io/service-name": "nginx"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"], "nodeName": node}]
        }))
        .expect("valid slice")
    }

    fn nodes(event: &WatchEvent<EndpointsView>) -> Vec<String> {
        match event {
            WatchEvent::InitApply(v) | WatchEvent::Apply(v) | WatchEvent::Delete(v) => {
                v.ready_nodes.iter().cloned().collect()
            }
            _ => Vec::new(),
        }
    }

    #[test]
    fn a_resync_yields_one_merged_view_per_service() {
        let mut m = SliceMerger::default();
        assert!(m.handle(watcher::Event::Init).is_empty());
        assert!(m
            .handle(watcher::Event::InitApply(slice("a", "n1")))
            .is_empty());
        assert!(m
            .handle(watcher::Event::InitApply(slice("b", "n2")))
            .is_empty());
        let out = m.handle(watcher::Event::InitDone);
        assert_eq!(
            out.len(),
            3,
            "Init, one InitApply for the one Service, InitDone: {out:?}"
        );
        assert_eq!(nodes(&out[1]), vec!["n1", "n2"]);
    }

    #[test]
    fn deleting_one_of_two_slices_updates_and_the_last_deletes() {
        let mut m = SliceMerger::default();
        m.handle(watcher::Event::Apply(slice("a", "n1")));
        m.handle(watcher::Event::Apply(slice("b", "n2")));
        let out = m.handle(watcher::Event::Delete(slice("a", "n1")));
        assert!(matches!(out[0], WatchEvent::Apply(_)));
        assert_eq!(nodes(&out[0]), vec!["n2"]);
        let out = m.handle(watcher::Event::Delete(slice("b", "n2")));
        assert!(matches!(out[0], WatchEvent::Delete(_)), "{out:?}");
    }
}
