//! The workloads: kube-vip's static Pod `kube-vip` and DaemonSet `kube-vip-ds`, both in
//! `kube-system`, host network, container `kube-vip` running `manager` with the generated env.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EnvVar as K8sEnvVar, EnvVarSource, HostAlias,
    HostPathVolumeSource, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectFieldSelector, Pod, PodSpec, PodTemplateSpec, SecurityContext, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::env::{EnvValue, EnvVar};
use super::Options;

/// Namespace of every generated object (kube-vip's generator hard-codes it too).
pub const NAMESPACE: &str = "kube-system";
/// kubeconfig mounted when not `--inCluster`, at the same path inside the container.
const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
/// The label key and value that select the DaemonSet's Pods.
const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The static Pod `kube-vip`. Capabilities NET_ADMIN, NET_RAW and SYS_TIME, as the static-pod
/// manifests in circulation carry (kvip itself never sets the clock).
pub fn pod(o: &Options, env: &[EnvVar]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("kube-vip".into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec(o, env, &["NET_ADMIN", "NET_RAW", "SYS_TIME"])),
        status: None,
    }
}

/// The DaemonSet `kube-vip-ds`; `--taint` adds kube-vip's tolerations (every NoSchedule and
/// NoExecute taint) and the affinity to nodes labelled master or control-plane.
pub fn daemonset(o: &Options, env: &[EnvVar]) -> DaemonSet {
    let name = "kube-vip-ds";
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let labels = BTreeMap::from([
        (NAME_LABEL.to_string(), name.to_string()),
        ("app.kubernetes.io/version".to_string(), version),
    ]);
    let mut spec = pod_spec(o, env, &["NET_ADMIN", "NET_RAW"]);
    if o.taint {
        spec.tolerations = Some(vec![tolerate("NoSchedule"), tolerate("NoExecute")]);
        spec.affinity = Some(control_plane_affinity());
    }
    DaemonSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(NAME_LABEL.into(), name.into())])),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(spec),
            },
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

/// The Pod spec both workloads share: host network; the `kube-vip` ServiceAccount with
/// `--inCluster`, else admin.conf mounted from the host and `kubernetes` resolving to 127.0.0.1.
fn pod_spec(o: &Options, env: &[EnvVar], caps: &[&str]) -> PodSpec {
    let mut container = Container {
        name: "kube-vip".into(),
        image: Some(o.image()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec!["manager".into()]),
        env: Some(env.iter().map(env_var).collect()),
        security_context: Some(SecurityContext {
            capabilities: Some(Capabilities {
                add: Some(caps.iter().map(|c| (*c).to_string()).collect()),
                drop: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let mut spec = PodSpec {
        host_network: Some(true),
        ..PodSpec::default()
    };
    if o.in_cluster {
        spec.service_account_name = Some("kube-vip".into());
    } else {
        container.volume_mounts = Some(vec![VolumeMount {
            name: "kubeconfig".into(),
            mount_path: ADMIN_CONF.into(),
            ..VolumeMount::default()
        }]);
        spec.volumes = Some(vec![Volume {
            name: "kubeconfig".into(),
            host_path: Some(HostPathVolumeSource {
                path: ADMIN_CONF.into(),
                type_: None,
            }),
            ..Volume::default()
        }]);
        spec.host_aliases = Some(vec![HostAlias {
            hostnames: Some(vec!["kubernetes".into()]),
            ip: "127.0.0.1".into(),
        }]);
    }
    spec.containers = vec![container];
    spec
}

fn env_var((name, value): &EnvVar) -> K8sEnvVar {
    match value {
        EnvValue::Literal(v) => K8sEnvVar {
            name: (*name).to_string(),
            value: Some(v.clone()),
            value_from: None,
        },
        EnvValue::NodeName => K8sEnvVar {
            name: (*name).to_string(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: "spec.nodeName".into(),
                }),
                ..EnvVarSource::default()
            }),
        },
    }
}

fn tolerate(effect: &str) -> Toleration {
    Toleration {
        effect: Some(effect.into()),
        operator: Some("Exists".into()),
        ..Toleration::default()
    }
}

/// Nodes labelled `node-role.kubernetes.io/master` or `node-role.kubernetes.io/control-plane`.
fn control_plane_affinity() -> Affinity {
    let term = |key: &str| NodeSelectorTerm {
        match_expressions: Some(vec![NodeSelectorRequirement {
            key: key.into(),
            operator: "Exists".into(),
            values: None,
        }]),
        match_fields: None,
    };
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![
                    term("node-role.kubernetes.io/master"),
                    term("node-role.kubernetes.io/control-plane"),
                ],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    }
}
