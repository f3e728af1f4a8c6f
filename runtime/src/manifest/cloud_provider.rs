//! `kvip manifest cloud-provider`: what kube-vip-cloud-provider's manifest gives, running kvip.
//! ServiceAccount `kube-vip-cloud-controller` in kube-system, ClusterRole
//! `system:kube-vip-cloud-controller-role` with what `kvip cloud-provider` needs (upstream's
//! wildcards narrowed), ClusterRoleBinding `system:kube-vip-cloud-controller-binding`, and the
//! Deployment `kube-vip-cloud-provider` (one replica, control-plane nodes preferred) running
//! `kvip cloud-provider --leader-elect-resource-name=kube-vip-cloud-controller`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm, PodSpec,
    PodTemplateSpec, PreferredSchedulingTerm, ServiceAccount, Toleration,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::rbac::{binding_named, cluster_role_named, rule, service_account_named};
use super::workload::NAMESPACE;

/// The ServiceAccount (and Lease name) of kube-vip-cloud-provider.
pub const ACCOUNT: &str = "kube-vip-cloud-controller";
/// The ClusterRole.
pub const ROLE: &str = "system:kube-vip-cloud-controller-role";
/// The Deployment and its container.
pub const DEPLOYMENT: &str = "kube-vip-cloud-provider";

/// `kvip manifest cloud-provider`'s flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct CloudProviderOptions {
    /// Container image.
    #[arg(
        long,
        value_name = "IMAGE",
        help = "Container image [default: ghcr.io/kvip/kvip:v<this version>]"
    )]
    pub image: Option<String>,
}

/// The ServiceAccount `kube-vip-cloud-controller`.
pub fn service_account() -> ServiceAccount {
    service_account_named(ACCOUNT)
}

/// What `kvip cloud-provider` does: read the ConfigMap; read, watch and update Services (PUT);
/// create and patch Events; hold its Lease. It never writes Service status, Endpoints or Nodes.
pub fn cluster_role() -> ClusterRole {
    cluster_role_named(
        ROLE,
        vec![
            rule(
                "coordination.k8s.io",
                &["leases"],
                &["get", "list", "watch", "create", "update"],
            ),
            rule("", &["configmaps"], &["get", "list", "watch"]),
            rule("", &["services"], &["get", "list", "watch", "update"]),
            rule("", &["events"], &["create", "patch"]),
        ],
    )
}

/// Binds [`cluster_role`] to [`service_account`].
pub fn cluster_role_binding() -> ClusterRoleBinding {
    binding_named("system:kube-vip-cloud-controller-binding", ROLE, ACCOUNT)
}

/// The Deployment `kube-vip-cloud-provider` running `image`.
pub fn deployment(image: &str) -> Deployment {
    let labels = BTreeMap::from([
        ("app".to_string(), "kube-vip".to_string()),
        ("component".to_string(), DEPLOYMENT.to_string()),
    ]);
    let container = Container {
        name: DEPLOYMENT.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec![
            "cloud-provider".into(),
            format!("--leader-elect-resource-name={ACCOUNT}"),
        ]),
        ..Container::default()
    };
    let spec = PodSpec {
        service_account_name: Some(ACCOUNT.into()),
        containers: vec![container],
        tolerations: Some(vec![
            tolerate("node-role.kubernetes.io/master"),
            tolerate("node-role.kubernetes.io/control-plane"),
        ]),
        affinity: Some(prefer_control_plane()),
        ..PodSpec::default()
    };
    Deployment {
        metadata: ObjectMeta {
            name: Some(DEPLOYMENT.into()),
            namespace: Some(NAMESPACE.into()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(spec),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn tolerate(key: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        effect: Some("NoSchedule".into()),
        ..Toleration::default()
    }
}

/// Control-plane nodes preferred (weight 10 each for `control-plane` and `master`), as upstream.
fn prefer_control_plane() -> Affinity {
    let preferred = |key: &str| PreferredSchedulingTerm {
        weight: 10,
        preference: NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: key.into(),
                operator: "Exists".into(),
                values: None,
            }]),
            match_fields: None,
        },
    };
    Affinity {
        node_affinity: Some(NodeAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                preferred("node-role.kubernetes.io/control-plane"),
                preferred("node-role.kubernetes.io/master"),
            ]),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    }
}
