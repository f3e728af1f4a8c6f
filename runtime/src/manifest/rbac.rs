//! The RBAC objects: ServiceAccount `kube-vip`, ClusterRole `system:kube-vip-role` with
//! kube-vip's rules plus creating Events (kvip reports bad Service annotations as Events), and
//! ClusterRoleBinding `system:kube-vip-binding`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::workload::NAMESPACE;

const ACCOUNT: &str = "kube-vip";
const ROLE: &str = "system:kube-vip-role";

/// The ServiceAccount the DaemonSet runs as with `--inCluster`.
pub fn service_account() -> ServiceAccount {
    service_account_named(ACCOUNT)
}

/// A ServiceAccount `name` in kube-system.
pub(super) fn service_account_named(name: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    }
}

/// One rule: `verbs` on `resources` of API group `group`.
pub(super) fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|r| (*r).to_string()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_string()).collect(),
        ..PolicyRule::default()
    }
}

/// A ClusterRole `name` with `rules`, auto-updated as kube-vip's are.
pub(super) fn cluster_role_named(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: Some(BTreeMap::from([(
                "rbac.authorization.kubernetes.io/autoupdate".into(),
                "true".into(),
            )])),
            ..ObjectMeta::default()
        },
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// A ClusterRoleBinding `name` of ClusterRole `role` to ServiceAccount `account` in kube-system.
pub(super) fn binding_named(name: &str, role: &str, account: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            api_group: None,
            kind: "ServiceAccount".into(),
            name: account.into(),
            namespace: Some(NAMESPACE.into()),
        }]),
    }
}

/// What kvip may do: write Service status; read and update Services, Endpoints, Nodes and
/// EndpointSlices; read, create and update Leases; create and patch Events.
pub fn cluster_role() -> ClusterRole {
    let read_update = ["list", "get", "watch", "update"];
    cluster_role_named(
        ROLE,
        vec![
            rule("", &["services/status"], &["update"]),
            rule("", &["services", "endpoints"], &read_update),
            rule("", &["nodes"], &["list", "get", "watch", "update", "patch"]),
            rule(
                "coordination.k8s.io",
                &["leases"],
                &["list", "get", "watch", "update", "create"],
            ),
            rule("discovery.k8s.io", &["endpointslices"], &read_update),
            rule("", &["events"], &["create", "patch"]),
            rule("events.k8s.io", &["events"], &["create", "patch"]),
        ],
    )
}

/// Binds [`cluster_role`] to [`service_account`].
pub fn cluster_role_binding() -> ClusterRoleBinding {
    binding_named("system:kube-vip-binding", ROLE, ACCOUNT)
}
