//! `kvip manifest`: snapshots of the articles' manifests (S1's DaemonSet, S4's static Pod, the
//! RBAC, the cloud provider), the round trip generator → `kvip_core::config` (and → `kvip
//! cloud-provider`'s flags), and the shape rules (taint, in-cluster, no field a v1.20 API server
//! does not know).

use std::collections::BTreeSet;

use clap::Parser;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use kvip_core::config::{Config, Mode, VipTarget};
use kvip_runtime::cli::{Cli, Command, ManifestCommand};
use kvip_runtime::manifest::{self, Kind, ManifestError, Options};

/// S1 (seed 000): K3s, DaemonSet, ARP on ens3.
const S1: &[&str] = &[
    "--interface",
    "ens3",
    "--address",
    "192.168.205.200",
    "--inCluster",
    "--taint",
    "--controlplane",
    "--services",
    "--arp",
    "--leaderElection",
];

/// S4 (seed 003): kubeadm, static Pod on every master.
const S4: &[&str] = &[
    "--interface",
    "eth0",
    "--address",
    "192.168.66.101",
    "--controlplane",
    "--services",
    "--arp",
    "--leaderElection",
];

/// The options `kvip manifest <kind> <flags>` parses to.
fn options(kind: &str, flags: &[&str]) -> Options {
    let args = ["kvip", "manifest", kind]
        .into_iter()
        .chain(flags.iter().copied());
    match Cli::try_parse_from(args).expect("flags parse").command {
        Command::Manifest(ManifestCommand::Pod(o) | ManifestCommand::Daemonset(o)) => o,
        other => panic!("not a workload: {other:?}"),
    }
}

fn render(kind: Kind, flags: &[&str]) -> String {
    manifest::render(kind, &options(kind.name(), flags)).expect("manifest")
}

/// The output with this crate's version replaced, so a release does not rewrite the snapshots.
fn redact(yaml: &str) -> String {
    yaml.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

#[test]
fn daemonset_s1() {
    insta::assert_snapshot!(redact(&render(Kind::Daemonset, S1)));
}

#[test]
fn pod_s4() {
    insta::assert_snapshot!(redact(&render(Kind::Pod, S4)));
}

#[test]
fn rbac() {
    let yaml = manifest::render(Kind::Rbac, &Options::default()).expect("rbac");
    insta::assert_snapshot!(redact(&yaml));
}

#[test]
fn cloud_provider() {
    let yaml = manifest::render(Kind::CloudProvider, &Options::default()).expect("cloud-provider");
    insta::assert_snapshot!(redact(&yaml));
}

/// The container of a generated workload.
fn container(spec: &PodSpec) -> &Container {
    assert_eq!(spec.containers.len(), 1);
    &spec.containers[0]
}

fn daemonset(flags: &[&str]) -> DaemonSet {
    serde_yaml::from_str(&render(Kind::Daemonset, flags)).expect("DaemonSet YAML")
}

fn pod(flags: &[&str]) -> Pod {
    serde_yaml::from_str(&render(Kind::Pod, flags)).expect("Pod YAML")
}

fn ds_spec(ds: &DaemonSet) -> &PodSpec {
    let spec = ds.spec.as_ref().expect("spec");
    spec.template.spec.as_ref().expect("pod spec")
}

/// The container's environment as the kubelet would hand it to kvip on node `node`.
fn pod_env(container: &Container, node: &str) -> Vec<(String, String)> {
    let env = container.env.as_ref().expect("env");
    env.iter()
        .map(|var| {
            let value = match (&var.value, &var.value_from) {
                (Some(v), None) => v.clone(),
                (None, Some(from)) => {
                    let field = from.field_ref.as_ref().expect("fieldRef");
                    assert_eq!(field.field_path, "spec.nodeName");
                    node.to_string()
                }
                other => panic!("{}: unexpected value {other:?}", var.name),
            };
            (var.name.clone(), value)
        })
        .collect()
}

#[test]
fn s1_daemonset_environment_round_trips_through_the_config() {
    let ds = daemonset(S1);
    let env = pod_env(container(ds_spec(&ds)), "k3s1");
    let loaded = Config::from_sources(env, &[], "hostname-unused").expect("kvip accepts it");
    assert_eq!(
        loaded.warnings,
        vec![],
        "a generated manifest draws no warning"
    );
    let c = &loaded.config;
    assert_eq!(c.mode, Mode::Arp);
    assert_eq!(c.interface.as_deref(), Some("ens3"));
    let vip = VipTarget::Ip("192.168.205.200".parse().unwrap());
    assert_eq!(c.addresses, vec![vip]);
    assert_eq!((c.prefix_v4, c.port), (32, 6443));
    assert!(c.cp_enable && c.svc_enable && c.leader_election);
    assert_eq!(c.node_name, "k3s1", "node name from the downward API");
    assert_eq!(c.cp_lease.to_string(), "kube-system/plndr-cp-lock");
    assert_eq!(c.svc_lease.to_string(), "kube-system/plndr-svcs-lock");
    let e = c.election;
    let secs = |d: std::time::Duration| d.as_secs_f64();
    let timing = (
        secs(e.lease_duration),
        secs(e.renew_deadline),
        secs(e.retry_period),
    );
    assert_eq!(timing, (5.0, 3.0, 1.0), "kube-vip's generator defaults");
}

#[test]
fn s4_pod_environment_round_trips_through_the_config() {
    let pod = pod(S4);
    let env = pod_env(container(pod.spec.as_ref().unwrap()), "master01");
    let loaded = Config::from_sources(env, &[], "unused").expect("kvip accepts it");
    assert_eq!(loaded.warnings, vec![]);
    assert_eq!(loaded.config.interface.as_deref(), Some("eth0"));
    let vip = VipTarget::Ip("192.168.66.101".parse().unwrap());
    assert_eq!(loaded.config.addresses, vec![vip]);
}

#[test]
fn sub_second_timing_round_trips() {
    let flags = [S1, &["--leaseDuration", "1", "--leaseRenewDuration", "0.6"]].concat();
    let flags = [&flags[..], &["--leaseRetry", "200ms"]].concat();
    let ds = daemonset(&flags);
    let env = pod_env(container(ds_spec(&ds)), "k3s1");
    let e = Config::from_sources(env, &[], "x").unwrap().config.election;
    assert_eq!(e.renew_deadline.as_millis(), 600);
    assert_eq!(e.retry_period.as_millis(), 200);
}

#[test]
fn taint_adds_kube_vip_tolerations_and_control_plane_affinity() {
    let ds = daemonset(S1);
    let spec = ds_spec(&ds);
    let tolerations = spec.tolerations.as_ref().expect("tolerations");
    let effects: Vec<_> = tolerations.iter().map(|t| t.effect.as_deref()).collect();
    assert_eq!(effects, [Some("NoSchedule"), Some("NoExecute")]);
    assert!(tolerations
        .iter()
        .all(|t| t.operator.as_deref() == Some("Exists")));
    let affinity = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref());
    let required = affinity.and_then(|a| {
        a.required_during_scheduling_ignored_during_execution
            .as_ref()
    });
    let keys: Vec<_> = required
        .expect("required node affinity")
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_expressions.iter().flatten())
        .map(|e| (e.key.as_str(), e.operator.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("node-role.kubernetes.io/master", "Exists"),
            ("node-role.kubernetes.io/control-plane", "Exists")
        ]
    );

    let untainted: Vec<&str> = S1.iter().copied().filter(|f| *f != "--taint").collect();
    let ds = daemonset(&untainted);
    assert!(ds_spec(&ds).tolerations.is_none() && ds_spec(&ds).affinity.is_none());
}

#[test]
fn in_cluster_uses_the_service_account_else_admin_conf() {
    let ds = daemonset(S1);
    let spec = ds_spec(&ds);
    assert_eq!(spec.service_account_name.as_deref(), Some("kube-vip"));
    assert!(spec.volumes.is_none() && spec.host_aliases.is_none());
    assert!(container(spec).volume_mounts.is_none());

    let pod = pod(S4);
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.service_account_name, None);
    let volume = &spec.volumes.as_ref().expect("volumes")[0];
    let host_path = volume.host_path.as_ref().expect("hostPath");
    assert_eq!(host_path.path, "/etc/kubernetes/admin.conf");
    let mount = &container(spec).volume_mounts.as_ref().expect("mounts")[0];
    assert_eq!(
        (mount.name.as_str(), mount.mount_path.as_str()),
        (volume.name.as_str(), "/etc/kubernetes/admin.conf")
    );
    let alias = &spec.host_aliases.as_ref().expect("hostAliases")[0];
    assert_eq!(alias.ip, "127.0.0.1");
    assert_eq!(
        alias.hostnames.as_deref(),
        Some(&["kubernetes".to_string()][..])
    );
}

#[test]
fn workloads_keep_kube_vips_names_and_run_kvip() {
    let ds = daemonset(S1);
    assert_eq!(ds.metadata.name.as_deref(), Some("kube-vip-ds"));
    assert_eq!(ds.metadata.namespace.as_deref(), Some("kube-system"));
    let pod = pod(S4);
    assert_eq!(pod.metadata.name.as_deref(), Some("kube-vip"));
    for spec in [ds_spec(&ds), pod.spec.as_ref().unwrap()] {
        assert_eq!(spec.host_network, Some(true));
        let c = container(spec);
        assert_eq!(c.args.as_deref(), Some(&["manager".to_string()][..]));
        assert_eq!(c.image.as_deref(), Some(manifest::default_image().as_str()));
        let caps = c
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref());
        let add = caps.and_then(|c| c.add.clone()).unwrap_or_default();
        assert!(add.contains(&"NET_ADMIN".into()) && add.contains(&"NET_RAW".into()));
    }
    let yaml = render(Kind::Daemonset, S1);
    assert!(yaml.starts_with("# Generated by kvip"), "{yaml}");
    assert!(yaml.lines().take(3).any(|l| l.contains("This runs kvip")));
}

#[test]
fn vip_alias_and_image_flag() {
    let flags = [
        "--vip",
        "10.0.0.40",
        "--controlplane",
        "--arp",
        "--image",
        "registry.local/kvip:dev",
    ];
    let pod = pod(&flags);
    let c = container(pod.spec.as_ref().unwrap());
    assert_eq!(c.image.as_deref(), Some("registry.local/kvip:dev"));
    let env = pod_env(c, "n");
    assert!(
        env.contains(&("address".into(), "10.0.0.40".into())),
        "{env:?}"
    );
    assert!(!env.iter().any(|(name, _)| name == "vip_address"));
}

#[test]
fn a_manifest_kvip_would_refuse_is_not_printed() {
    let bad = [S1, &["--leaseRetry", "abc"]].concat();
    let err = manifest::render(Kind::Daemonset, &options("daemonset", &bad)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ManifestError::Refused { .. }));
    assert!(
        text.contains("vip_retryperiod") && text.contains("--leaseRetry"),
        "{text}"
    );

    let no_mode = ["--address", "10.0.0.40", "--controlplane"];
    let err = manifest::render(Kind::Pod, &options("pod", &no_mode)).unwrap_err();
    assert!(err.to_string().contains("--arp"), "{err}");

    let bgp_without_peers = ["--services", "--bgp"];
    let err = manifest::render(Kind::Pod, &options("pod", &bgp_without_peers)).unwrap_err();
    assert!(err.to_string().contains("bgp_peers"), "{err}");
}

#[test]
fn bgp_flags_become_kube_vips_variables() {
    let flags = [
        "--services",
        "--bgp",
        "--localAS",
        "65001",
        "--bgppeers",
        "10.0.0.1:65000::false",
    ];
    let pod = pod(&flags);
    let env = pod_env(container(pod.spec.as_ref().unwrap()), "n");
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    let bgp: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("bgp_"))
        .collect();
    assert_eq!(bgp, ["bgp_enable", "bgp_as", "bgp_peeras", "bgp_peers"]);
    let loaded = Config::from_sources(env, &[], "n").expect("accepted");
    assert_eq!(loaded.config.mode, Mode::Bgp);
    assert_eq!(loaded.config.bgp.peers.len(), 1);
}

/// Every field a v1.20 API server knows for what the generator writes. A field outside this
/// list may be newer than 1.20 (`kubectl apply --dry-run=server` on the testbed would say).
const V1_20_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "name",
    "namespace",
    "labels",
    "annotations",
    "selector",
    "matchLabels",
    "template",
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
    "matchExpressions",
    "key",
    "operator",
    "containers",
    "args",
    "env",
    "value",
    "valueFrom",
    "fieldRef",
    "fieldPath",
    "image",
    "imagePullPolicy",
    "securityContext",
    "capabilities",
    "add",
    "volumeMounts",
    "mountPath",
    "hostAliases",
    "hostnames",
    "ip",
    "hostNetwork",
    "volumes",
    "hostPath",
    "path",
    "serviceAccountName",
    "tolerations",
    "effect",
    "replicas",
    "preferredDuringSchedulingIgnoredDuringExecution",
    "preference",
    "weight",
    "rules",
    "apiGroups",
    "resources",
    "verbs",
    "roleRef",
    "apiGroup",
    "subjects",
];

/// Mapping keys of `value`, not descending into label and annotation maps (their keys are data).
fn keys(value: &serde_yaml::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                let k = k.as_str().expect("string key").to_string();
                if !matches!(k.as_str(), "labels" | "annotations" | "matchLabels") {
                    keys(v, out);
                }
                out.insert(k);
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn only_fields_a_v1_20_server_knows() {
    let mut found = BTreeSet::new();
    let s1_pod = render(Kind::Pod, S1);
    let s4_ds = render(Kind::Daemonset, S4);
    let rbac = manifest::render(Kind::Rbac, &Options::default()).unwrap();
    let cloud = manifest::render(Kind::CloudProvider, &Options::default()).unwrap();
    for yaml in [
        render(Kind::Daemonset, S1),
        render(Kind::Pod, S4),
        s1_pod,
        s4_ds,
        rbac,
        cloud,
    ] {
        for doc in serde_yaml::Deserializer::from_str(&yaml) {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
            keys(&value, &mut found);
        }
    }
    let unknown: Vec<_> = found
        .iter()
        .filter(|k| !V1_20_FIELDS.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "fields not known to be in v1.20: {unknown:?}"
    );
}

#[test]
fn rbac_has_kube_vips_rules_plus_events() {
    let yaml = manifest::render(Kind::Rbac, &Options::default()).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    );
    let role: k8s_openapi::api::rbac::v1::ClusterRole =
        serde_yaml::from_value(docs[1].clone()).unwrap();
    assert_eq!(role.metadata.name.as_deref(), Some("system:kube-vip-role"));
    let mut rules: Vec<String> = Vec::new();
    for rule in role.rules.unwrap() {
        for group in rule.api_groups.unwrap() {
            for resource in rule.resources.clone().unwrap() {
                let mut verbs = rule.verbs.clone();
                verbs.sort();
                rules.push(format!("{group}/{resource}: {}", verbs.join(",")));
            }
        }
    }
    assert_eq!(
        rules,
        [
            "/services/status: update",
            "/services: get,list,update,watch",
            "/endpoints: get,list,update,watch",
            "/nodes: get,list,patch,update,watch",
            "coordination.k8s.io/leases: create,get,list,update,watch",
            "discovery.k8s.io/endpointslices: get,list,update,watch",
            "/events: create,patch",
            "events.k8s.io/events: create,patch",
        ]
    );
    let binding: k8s_openapi::api::rbac::v1::ClusterRoleBinding =
        serde_yaml::from_value(docs[2].clone()).unwrap();
    assert_eq!(
        binding.metadata.name.as_deref(),
        Some("system:kube-vip-binding")
    );
    assert_eq!(binding.role_ref.name, "system:kube-vip-role");
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (subject.kind.as_str(), subject.name.as_str()),
        ("ServiceAccount", "kube-vip")
    );
    assert_eq!(subject.namespace.as_deref(), Some("kube-system"));
}

/// The rules of a ClusterRole as `group/resource: verbs` (verbs sorted).
fn rule_lines(role: k8s_openapi::api::rbac::v1::ClusterRole) -> Vec<String> {
    let mut rules = Vec::new();
    for rule in role.rules.unwrap_or_default() {
        for group in rule.api_groups.unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                let mut verbs = rule.verbs.clone();
                verbs.sort();
                rules.push(format!("{group}/{resource}: {}", verbs.join(",")));
            }
        }
    }
    rules
}

#[test]
fn cloud_provider_keeps_upstreams_names_and_asks_only_what_it_uses() {
    let yaml = manifest::render(Kind::CloudProvider, &Options::default()).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment"
        ]
    );
    assert_eq!(docs[0]["metadata"]["name"], "kube-vip-cloud-controller");
    assert_eq!(docs[0]["metadata"]["namespace"], "kube-system");
    let role: k8s_openapi::api::rbac::v1::ClusterRole =
        serde_yaml::from_value(docs[1].clone()).unwrap();
    assert_eq!(
        role.metadata.name.as_deref(),
        Some("system:kube-vip-cloud-controller-role")
    );
    assert_eq!(
        rule_lines(role),
        [
            "coordination.k8s.io/leases: create,get,list,update,watch",
            "/configmaps: get,list,watch",
            "/services: get,list,update,watch",
            "/events: create,patch",
        ],
        "no wildcard, no services/status: the cloud provider never writes status"
    );
    let binding: k8s_openapi::api::rbac::v1::ClusterRoleBinding =
        serde_yaml::from_value(docs[2].clone()).unwrap();
    assert_eq!(
        binding.role_ref.name,
        "system:kube-vip-cloud-controller-role"
    );
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(subject.name, "kube-vip-cloud-controller");
    let deployment: DeploymentObject = serde_yaml::from_value(docs[3].clone()).unwrap();
    assert_eq!(
        deployment.metadata.name.as_deref(),
        Some("kube-vip-cloud-provider")
    );
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("kube-vip-cloud-controller")
    );
    assert_eq!(
        pod.host_network, None,
        "the cloud provider needs no host network"
    );
    let c = container(&pod);
    assert_eq!(c.image.as_deref(), Some(manifest::default_image().as_str()));

    // The container's arguments are a valid `kvip cloud-provider` command line, with
    // kube-vip-cloud-provider's Lease and ConfigMap.
    let args = c.args.clone().unwrap();
    let cli = Cli::try_parse_from(std::iter::once("kvip".to_string()).chain(args)).unwrap();
    let Command::CloudProvider(args) = cli.command else {
        panic!("not cloud-provider: {:?}", cli.command);
    };
    let settings = args
        .resolve(|_| None, "kube-vip-cloud-provider-abc")
        .unwrap();
    assert_eq!(
        settings.lease,
        (
            "kube-system".to_string(),
            "kube-vip-cloud-controller".to_string()
        )
    );
    assert_eq!(settings.ipam.config_map_namespace, "kube-system");
    assert_eq!(settings.ipam.config_map_name, "kubevip");
    assert_eq!(settings.identity, "kube-vip-cloud-provider-abc");
}

type DeploymentObject = k8s_openapi::api::apps::v1::Deployment;

#[test]
fn cloud_provider_image_flag() {
    let args = [
        "kvip",
        "manifest",
        "cloud-provider",
        "--image",
        "registry.local/kvip:dev",
    ];
    let Command::Manifest(ManifestCommand::CloudProvider(o)) =
        Cli::try_parse_from(args).unwrap().command
    else {
        panic!("not manifest cloud-provider");
    };
    let options = Options {
        image: o.image,
        ..Options::default()
    };
    let yaml = manifest::render(Kind::CloudProvider, &options).unwrap();
    assert!(yaml.contains("image: registry.local/kvip:dev"), "{yaml}");
    assert!(yaml.starts_with("# Generated by kvip v"), "{yaml}");
    assert!(yaml
        .lines()
        .next()
        .unwrap()
        .ends_with("kvip manifest cloud-provider --image registry.local/kvip:dev"));
}
