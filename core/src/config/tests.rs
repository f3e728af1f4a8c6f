//! Manifests users hand us (S1, S2), precedence, flag forms and warnings.
//! Error classes are in `tests_errors.rs`, the rest in `tests_values.rs`.

use std::net::IpAddr;
use std::time::Duration;

use super::*;

pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

pub(super) fn args(flags: &[&str]) -> Vec<String> {
    flags.iter().map(|f| (*f).to_string()).collect()
}

pub(super) fn load(pairs: &[(&str, &str)], flags: &[&str]) -> Result<Loaded, ConfigError> {
    Config::from_sources(env(pairs), &args(flags), "node1")
}

/// The smallest working configuration, to add one variable to.
pub(super) const BASE: &[(&str, &str)] = &[
    ("vip_arp", "true"),
    ("cp_enable", "true"),
    ("address", "192.168.0.40"),
];

pub(super) fn with(extra: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let mut pairs = BASE.to_vec();
    pairs.extend_from_slice(extra);
    load(&pairs, &[])
}

fn ip(text: &str) -> VipTarget {
    VipTarget::Ip(text.parse::<IpAddr>().unwrap())
}

fn source(loaded: &Loaded, name: &str) -> Source {
    loaded
        .setting(name)
        .unwrap_or_else(|| panic!("no setting {name}"))
        .source
        .clone()
}

/// S2 (seed 001): the RKE static pod's environment, verbatim.
const S2: &[(&str, &str)] = &[
    ("vip_arp", "true"),
    ("vip_interface", "eth0"),
    ("port", "6443"),
    ("vip_cidr", "32"),
    ("cp_enable", "true"),
    ("cp_namespace", "kube-system"),
    ("vip_ddns", "false"),
    ("svc_enable", "true"),
    ("vip_leaderelection", "true"),
    ("vip_leaseduration", "5"),
    ("vip_renewdeadline", "3"),
    ("vip_retryperiod", "1"),
    ("vip_address", "192.168.66.101"),
];

#[test]
fn s2_static_pod_env_parses_with_two_deprecations() {
    let loaded = load(S2, &[]).unwrap();
    let c = &loaded.config;
    assert_eq!(c.mode, Mode::Arp);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(c.effective_services_interface(), Some("eth0"));
    assert_eq!(c.addresses, vec![ip("192.168.66.101")]);
    assert_eq!((c.port, c.prefix_v4, c.prefix_v6), (6443, 32, 128));
    assert!(c.cp_enable && c.svc_enable && c.leader_election && !c.ddns && !c.svc_election);
    assert_eq!(c.cp_lease.to_string(), "kube-system/plndr-cp-lock");
    assert_eq!(c.svc_lease.to_string(), "kube-system/plndr-svcs-lock");
    assert_eq!(c.election, ElectionTiming::from_millis(5_000, 3_000, 1_000));
    assert_eq!(c.arp_rate, Duration::from_millis(3000));
    assert_eq!(c.node_name, "node1");
    assert_eq!(c.prometheus_server.as_deref(), Some(":2112"));
    let deprecated = |used: &str, replacement| Warning::DeprecatedAlias {
        used: used.to_string(),
        replacement,
        shadowed: false,
    };
    assert_eq!(
        loaded.warnings,
        vec![
            deprecated("vip_address", "address"),
            deprecated("vip_cidr", "vip_subnet")
        ]
    );
    assert_eq!(
        source(&loaded, "address"),
        Source::Env("vip_address".into())
    );
    assert_eq!(
        source(&loaded, "vip_subnet"),
        Source::Env("vip_cidr".into())
    );
    assert_eq!(source(&loaded, "vip_nodename"), Source::Default);
    assert!(loaded.warnings[0].to_string().contains("use address"));
}

/// The environment `manifest daemonset --interface ens3 --address 192.168.205.200 --inCluster
/// --taint --controlplane --services --arp --leaderElection` writes (S1, seed 000).
fn s1(subnet_name: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("vip_arp", "true"),
        ("port", "6443"),
        ("vip_interface", "ens3"),
        (subnet_name, "32"),
        ("dns_mode", "first"),
        ("cp_enable", "true"),
        ("cp_namespace", "kube-system"),
        ("svc_enable", "true"),
        ("svc_leasename", "plndr-svcs-lock"),
        ("vip_leaderelection", "true"),
        ("vip_leasename", "plndr-cp-lock"),
        ("vip_leaseduration", "5"),
        ("vip_renewdeadline", "3"),
        ("vip_retryperiod", "1"),
        ("address", "192.168.205.200"),
        ("prometheus_server", ":2112"),
    ]
}

#[test]
fn s1_generated_daemonset_env_parses() {
    for (subnet, warnings) in [("vip_cidr", 1), ("vip_subnet", 0)] {
        let loaded = load(&s1(subnet), &[]).unwrap();
        let c = &loaded.config;
        assert_eq!(c.mode, Mode::Arp);
        assert_eq!(c.interface.as_deref(), Some("ens3"));
        assert_eq!(c.addresses, vec![ip("192.168.205.200")]);
        assert_eq!((c.prefix_v4, c.dns_mode), (32, DnsMode::First));
        assert_eq!(
            c.cp_lease,
            LeaseRef {
                namespace: "kube-system".into(),
                name: "plndr-cp-lock".into()
            }
        );
        assert_eq!(c.svc_lease.name, "plndr-svcs-lock");
        assert_eq!(c.election, ElectionTiming::from_millis(5_000, 3_000, 1_000));
        assert_eq!(
            loaded.warnings.len(),
            warnings,
            "{subnet}: {:?}",
            loaded.warnings
        );
    }
}

#[test]
fn s1_generator_flags_work_as_manager_flags() {
    let flags = [
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
    let loaded = load(&[], &flags).unwrap();
    let c = &loaded.config;
    assert!(c.in_cluster && c.cp_enable && c.svc_enable && c.leader_election);
    assert_eq!((c.mode, c.interface.as_deref()), (Mode::Arp, Some("ens3")));
    assert_eq!(source(&loaded, "address"), Source::Flag("--address".into()));
    assert_eq!(
        loaded.warnings,
        vec![Warning::Ignored {
            name: "--taint".into()
        }]
    );
}

#[test]
fn env_overrides_flag_overrides_default() {
    let loaded = with(&[("vip_interface", "eth0")]).unwrap();
    assert_eq!(
        source(&loaded, "vip_interface"),
        Source::Env("vip_interface".into())
    );
    let flags = [
        "--interface",
        "eth1",
        "--port=7443",
        "--leaseDuration",
        "20",
    ];
    let pairs = [BASE, &[("vip_interface", "eth0")]].concat();
    let loaded = load(&pairs, &flags).unwrap();
    assert_eq!(loaded.config.interface.as_deref(), Some("eth0"));
    assert_eq!(
        source(&loaded, "vip_interface"),
        Source::Env("vip_interface".into())
    );
    assert_eq!(loaded.config.port, 7443);
    assert_eq!(source(&loaded, "port"), Source::Flag("--port".into()));
    assert_eq!(
        loaded.config.election.lease_duration,
        Duration::from_secs(20)
    );
    assert_eq!(source(&loaded, "lb_port"), Source::Default);
}

#[test]
fn flag_forms() {
    let loaded = load(
        &[],
        &[
            "--arp=yes",
            "--controlplane",
            "--vip=10.0.0.1",
            "-n",
            "infra",
        ],
    )
    .unwrap();
    assert_eq!(loaded.config.cp_namespace, "infra");
    assert_eq!(loaded.config.addresses, vec![ip("10.0.0.1")]);
    assert!(
        matches!(&loaded.warnings[0], Warning::DeprecatedAlias { used, .. } if used == "--vip")
    );
    // Docs spell --multiHop and --sourceif; kube-vip's code --multihop and --sourceIF.
    // vip_arp=false in the environment overrides --arp.
    let pairs = [
        ("cp_enable", "true"),
        ("address", "192.168.0.40"),
        ("vip_arp", "false"),
    ];
    let flags = [
        "--multiHop",
        "--sourceif",
        "eth9",
        "--arp",
        "--bgp",
        "--peerAddress",
        "10.0.0.1",
    ];
    let loaded = load(&pairs, &flags).unwrap();
    assert_eq!(loaded.config.mode, Mode::Bgp);
    assert!(loaded.config.bgp.peers[0].multihop);
    assert_eq!(loaded.config.bgp.source_if.as_deref(), Some("eth9"));
    assert_eq!(source(&loaded, "vip_arp"), Source::Env("vip_arp".into()));
}

#[test]
fn sub_second_election_timing() {
    let loaded = with(&[
        ("vip_leaseduration", "1"),
        ("vip_renewdeadline", "0.6"),
        ("vip_retryperiod", "200ms"),
    ])
    .unwrap();
    assert_eq!(
        loaded.config.election,
        ElectionTiming::from_millis(1_000, 600, 200)
    );
    assert_eq!(loaded.setting("vip_renewdeadline").unwrap().value, "0.6");
    assert_eq!(loaded.setting("vip_retryperiod").unwrap().value, "0.2");
    let loaded = with(&[
        ("vip_renewdeadline", "600ms"),
        ("vip_leaseduration", "1"),
        ("vip_retryperiod", "0.2s"),
    ])
    .unwrap();
    assert_eq!(
        loaded.config.election.renew_deadline,
        Duration::from_millis(600)
    );
}
