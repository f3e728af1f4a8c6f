//! The cloud provider's Kubernetes IO: the API client, the watches on all Services and on the
//! ConfigMap (as the core's resync batches), the address write on a Service (GET, check, PUT
//! with the resourceVersion precondition, re-read and retry on 409), and core/v1 Events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event, EventSource, ObjectReference, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::PostParams;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use kvip_core::ipam::{
    classify, port_numbers, Assignment, ClassFilter, ConfigMapView, Need, Report, ReportTarget,
    WriteError,
};
use kvip_core::service::model::{
    ANNOTATION_LOADBALANCER_IPS, ANNOTATION_SERVICE_INTERFACE, LABEL_IMPLEMENTATION,
};
use kvip_core::service::ServiceView;
use kvip_core::WatchEvent;
use tracing::warn;

use crate::kube_service::service_view;

/// The `component` of the Events published.
pub const COMPONENT: &str = "kvip-cloud-provider";
/// How often one write re-reads and retries after a 409 before giving up (until the next retry).
const CONFLICT_RETRIES: usize = 5;

/// The API client: `--kubeconfig`, else `$KUBECONFIG` (its first file), else `~/.kube/config`,
/// else the Pod's ServiceAccount (in-cluster).
pub async fn client(kubeconfig: Option<&Path>) -> anyhow::Result<Client> {
    if let Some(path) = kubeconfig {
        anyhow::ensure!(path.is_file(), "kubeconfig {} not found", path.display());
    }
    let from_env = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).next())
        .filter(|p| !p.as_os_str().is_empty());
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config"));
    let file = [kubeconfig.map(Path::to_path_buf), from_env, home]
        .into_iter()
        .flatten()
        .find(|p| p.is_file());
    let config = match file {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(&path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            let options = kube::config::KubeConfigOptions::default();
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        None => kube::Config::incluster().context(
            "no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a cluster",
        )?,
    };
    Ok(Client::try_from(config)?)
}

/// Watch on every Service of the cluster.
pub fn watch_services(client: Client) -> BoxStream<'static, WatchEvent<ServiceView>> {
    let api: Api<Service> = Api::all(client);
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(|event| async move {
            match event {
                Ok(e) => Some(map_event(e, |s| service_view(&s))),
                Err(e) => {
                    warn!(error = %e, "Service watch error; it reconnects");
                    None
                }
            }
        })
        .boxed()
}

/// Watch on the one ConfigMap `namespace/name`.
pub fn watch_config_map(
    client: Client,
    namespace: &str,
    name: &str,
) -> BoxStream<'static, WatchEvent<ConfigMapView>> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watcher(api, config)
        .default_backoff()
        .filter_map(|event| async move {
            match event {
                Ok(e) => Some(map_event(e, config_map_view)),
                Err(e) => {
                    warn!(error = %e, "ConfigMap watch error; it reconnects");
                    None
                }
            }
        })
        .boxed()
}

fn map_event<K, T>(event: watcher::Event<K>, view: impl Fn(K) -> T) -> WatchEvent<T> {
    match event {
        watcher::Event::Init => WatchEvent::Init,
        watcher::Event::InitApply(o) => WatchEvent::InitApply(view(o)),
        watcher::Event::InitDone => WatchEvent::InitDone,
        watcher::Event::Apply(o) => WatchEvent::Apply(view(o)),
        watcher::Event::Delete(o) => WatchEvent::Delete(view(o)),
    }
}

/// The core's view of the ConfigMap.
pub fn config_map_view(cm: ConfigMap) -> ConfigMapView {
    ConfigMapView {
        namespace: cm.metadata.namespace.unwrap_or_default(),
        name: cm.metadata.name.unwrap_or_default(),
        uid: cm.metadata.uid.unwrap_or_default(),
        data: cm.data.unwrap_or_default(),
    }
}

/// Writes `a` on its Service: re-reads it, writes only if it is the same Service (uid), still
/// needs an address and has the same port numbers, and PUTs it with the resourceVersion it
/// read; a 409 starts over. Sets annotation `kube-vip.io/loadbalancerIPs`, `spec.loadBalancerIP`,
/// label `implementation: kube-vip` and, with an interface, `kube-vip.io/serviceInterface`.
pub async fn write_assignment(
    client: Client,
    a: Assignment,
    classes: ClassFilter,
) -> Result<ServiceView, WriteError> {
    let api: Api<Service> = Api::namespaced(client, &a.key.namespace);
    let wanted_ports: BTreeSet<u16> = a.ports.iter().map(|p| p.port).collect();
    let annotation = a.annotation_value();
    for _ in 0..CONFLICT_RETRIES {
        let fresh = match api.get_opt(&a.key.name).await {
            Ok(Some(svc)) => svc,
            Ok(None) => return Err(WriteError::Stale(None)),
            Err(e) => return Err(failed(&e)),
        };
        let view = service_view(&fresh);
        if view.uid == a.uid && view.annotation(ANNOTATION_LOADBALANCER_IPS) == Some(&annotation) {
            return Ok(view); // an earlier write whose answer was lost
        }
        let due = classify(&view, &classes) == Need::Address;
        if view.uid != a.uid || !due || port_numbers(&view) != wanted_ports {
            return Err(WriteError::Stale(Some(Box::new(view))));
        }
        let mut svc = fresh;
        let meta = &mut svc.metadata;
        let annotations = meta.annotations.get_or_insert_with(Default::default);
        annotations.insert(ANNOTATION_LOADBALANCER_IPS.into(), annotation.clone());
        if let Some(interface) = &a.interface {
            annotations.insert(ANNOTATION_SERVICE_INTERFACE.into(), interface.clone());
        }
        let labels = meta.labels.get_or_insert_with(Default::default);
        labels.insert(LABEL_IMPLEMENTATION.into(), "kube-vip".into());
        let spec = svc.spec.get_or_insert_with(Default::default);
        spec.load_balancer_ip = a.addresses.first().map(ToString::to_string);
        match api.replace(&a.key.name, &PostParams::default(), &svc).await {
            Ok(stored) => return Ok(service_view(&stored)),
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(failed(&e)),
        }
    }
    Err(WriteError::Failed {
        message: format!("resourceVersion conflict {CONFLICT_RETRIES} times in a row"),
        maybe_applied: false,
    })
}

/// A failed request: an answer from the server (4xx, most 5xx) means nothing was stored; no
/// answer, or a timeout answer, leaves it open.
fn failed(e: &kube::Error) -> WriteError {
    let maybe_applied = match e {
        kube::Error::Api(status) => matches!(status.code, 500 | 504),
        _ => true,
    };
    WriteError::Failed {
        message: e.to_string(),
        maybe_applied,
    }
}

/// Publishes `report` as a core/v1 Event (involvedObject = the Service or the ConfigMap).
pub async fn publish(client: Client, report: Report, instance: String) -> kube::Result<()> {
    let (kind, namespace, name, uid) = match &report.target {
        ReportTarget::Service { key, uid } => ("Service", &key.namespace, &key.name, uid),
        ReportTarget::ConfigMap {
            namespace,
            name,
            uid,
        } => ("ConfigMap", namespace, name, uid),
    };
    let now = Time(jiff::Timestamp::now());
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.0.as_nanosecond())),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some(kind.into()),
            namespace: Some(namespace.clone()),
            name: Some(name.clone()),
            uid: Some(uid.clone()).filter(|u| !u.is_empty()),
            ..ObjectReference::default()
        },
        reason: Some(report.reason.as_str().into()),
        message: Some(report.message.clone()),
        type_: Some(
            if report.reason.is_warning() {
                "Warning"
            } else {
                "Normal"
            }
            .into(),
        ),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            host: None,
        }),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(instance),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client, namespace);
    api.create(&PostParams::default(), &event).await.map(|_| ())
}
