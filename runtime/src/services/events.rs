//! Kubernetes Events about Services (`events.k8s.io/v1`, through kube-runtime's recorder, which
//! folds repeats into a series): how a bad annotation or an address conflict reaches the user
//! next to `kubectl describe service`, besides the log line.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kvip_core::service::ServiceKey;
use tracing::warn;

/// Publishes Warning Events on Services.
#[derive(Clone)]
pub struct ServiceEvents {
    recorder: Recorder,
}

impl ServiceEvents {
    /// A recorder reporting as `controller` from instance `node`.
    pub fn new(client: kube::Client, controller: &str, node: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_string(),
            instance: Some(node.to_string()),
        };
        ServiceEvents {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// A Warning Event `reason` with `message` on the Service `key`; failures are logged only.
    pub async fn warn(&self, key: &ServiceKey, reason: &str, message: &str) {
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            namespace: Some(key.namespace.clone()),
            name: Some(key.name.clone()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: reason.to_string(),
            note: Some(message.chars().take(1000).collect()),
            action: "Announce".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            warn!(service = %key, reason, error = %e, "could not publish the Event");
        }
    }
}
