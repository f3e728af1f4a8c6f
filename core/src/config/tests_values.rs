//! Defaults, provenance, leases, prefixes, BGP peers and warnings.

use std::net::IpAddr;
use std::time::Duration;

use super::names::SPECS;
use super::tests::{load, with};
use super::*;

#[test]
fn defaults_follow_compat_table() {
    let c = with(&[]).unwrap().config;
    assert_eq!(c.election, ElectionTiming::KUBE_VIP_DEFAULT);
    assert_eq!(
        (c.lb_port, c.lb_fwdmethod, c.dhcp_backoff_attempts),
        (6443, ForwardMethod::Local, 3)
    );
    assert_eq!(
        (
            c.bgp.asn,
            c.bgp.hold_time_secs,
            c.bgp.keepalive_interval_secs
        ),
        (65000, 30, 10)
    );
    assert_eq!(c.lb_class_name, "kube-vip.io/kube-vip-class");
    assert!(c.lb_class_legacy_handling && !c.lb_class_only && !c.enable_upnp);
    assert_eq!(c.lose_leadership_timeout, Duration::from_secs(30));
    assert_eq!(c.k8s_config_file, "/etc/kubernetes/admin.conf");
    assert_eq!(
        (c.dhcp_mode, c.log_level, c.services_interface),
        (DhcpMode::Ipv4, 0, None)
    );
}

#[test]
fn every_setting_reported_once_in_order() {
    let loaded = with(&[]).unwrap();
    let names: Vec<_> = loaded.settings.iter().map(|s| s.name).collect();
    let specs: Vec<_> = SPECS.iter().map(|s| s.name).collect();
    assert_eq!(names, specs);
    assert_eq!(
        loaded.setting("vip_arp").unwrap().to_string(),
        "vip_arp=\"true\" (env vip_arp)"
    );
}

#[test]
fn lease_namespace_and_name() {
    let c = with(&[("vip_leasename", "infra/vip-lock"), ("cp_namespace", "kv")])
        .unwrap()
        .config;
    assert_eq!(c.cp_lease.to_string(), "infra/vip-lock");
    assert_eq!(c.svc_lease.to_string(), "kv/plndr-svcs-lock");
}

#[test]
fn dual_stack_prefixes() {
    let c = with(&[
        ("address", "192.168.0.40,fd00::40"),
        ("vip_subnet", "24,64"),
    ])
    .unwrap()
    .config;
    assert_eq!((c.prefix_v4, c.prefix_v6), (24, 64));
    // kube-vip's positional form: one length per address, in address order.
    let c = with(&[
        ("address", "fd00::40,192.168.0.40"),
        ("vip_subnet", "64,24"),
    ])
    .unwrap()
    .config;
    assert_eq!((c.prefix_v4, c.prefix_v6), (24, 64));
    let c = with(&[("address", "fd00::40"), ("vip_subnet", "/64")])
        .unwrap()
        .config;
    assert_eq!((c.prefix_v4, c.prefix_v6), (32, 64));
    let c = with(&[("address", "vip.example.com")]).unwrap().config;
    assert_eq!(c.addresses, vec![VipTarget::Dns("vip.example.com".into())]);
}

#[test]
fn bgp_peers_parse() {
    let c = load(
        &[
            ("bgp_enable", "true"),
            ("svc_enable", "true"),
            (
                "bgp_peers",
                "192.168.0.1:65000::false,[fd00::1]:65001:s3cret:true:1790",
            ),
            ("bgp_peeraddress", "10.0.0.1"),
            ("bgp_peerpass", "pw"),
        ],
        &[],
    )
    .unwrap();
    let peers = &c.config.bgp.peers;
    assert_eq!(peers.len(), 3);
    assert_eq!(
        (peers[0].asn, peers[0].password.as_deref(), peers[0].port),
        (65000, None, 179)
    );
    assert_eq!(peers[1].address, "fd00::1".parse::<IpAddr>().unwrap());
    assert_eq!(
        (
            peers[1].password.as_deref(),
            peers[1].multihop,
            peers[1].port
        ),
        (Some("s3cret"), true, 1790)
    );
    assert_eq!(
        (peers[2].asn, peers[2].password.as_deref()),
        (65000, Some("pw"))
    );
    let shown = &c.setting("bgp_peers").unwrap().value;
    assert!(!shown.contains("s3cret") && shown.contains("[fd00::1]:65001:<redacted>:true:1790"));
    assert_eq!(c.setting("bgp_peerpass").unwrap().value, "<redacted>");
}

#[test]
fn warnings_for_typos_aliases_and_ignored() {
    let loaded = with(&[
        ("vip_leaderelection", "true"),
        ("vip_foo", "1"),
        ("vip_interfce", "eth0"),
        ("VIP_ARP", "true"),
        ("svc_namespace", "default"),
        ("enableUPNP", "true"),
        ("PATH", "/usr/bin"),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
    ])
    .unwrap();
    let unknown = |name: &str, suggestion| Warning::UnknownVariable {
        name: name.into(),
        suggestion,
    };
    let w = &loaded.warnings;
    assert!(w.contains(&unknown("vip_foo", None)), "{w:?}");
    assert!(
        w.contains(&unknown("vip_interfce", Some("vip_interface"))),
        "{w:?}"
    );
    assert!(w.contains(&unknown("VIP_ARP", Some("vip_arp"))), "{w:?}");
    assert!(
        w.contains(&Warning::Ignored {
            name: "svc_namespace".into()
        }),
        "{w:?}"
    );
    assert!(loaded.config.enable_upnp);
    assert_eq!(w.len(), 5, "{w:?}");
    assert!(w
        .iter()
        .any(|w| w.to_string().contains("did you mean vip_interface?")));
}

#[test]
fn canonical_name_shadows_alias_and_empty_means_unset() {
    let loaded = with(&[
        ("vip_subnet", "32"),
        ("vip_cidr", "24"),
        ("vip_interface", ""),
    ])
    .unwrap();
    assert_eq!(loaded.config.prefix_v4, 32);
    assert!(matches!(
        loaded.warnings[0],
        Warning::DeprecatedAlias { shadowed: true, .. }
    ));
    assert_eq!(loaded.config.interface, None);
    let c = with(&[("prometheus_server", "")]).unwrap().config;
    assert_eq!(c.prometheus_server, None);
}

#[test]
fn arp_without_leader_election_warns() {
    let loaded = with(&[]).unwrap();
    assert_eq!(loaded.warnings, vec![Warning::NoLeaderElection]);
    assert!(with(&[("vip_leaderelection", "TRUE")])
        .unwrap()
        .warnings
        .is_empty());
}
