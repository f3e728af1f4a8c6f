//! `ServicesConfig::from_config`: kube-vip's variables map onto the Services node's settings.

use kvip_core::config::{Config, LeaseRef};
use kvip_core::service::{ClassRules, ElectionMode, Prefixes, ServicesConfig};
use kvip_core::wire::MacAddr;
use kvip_core::{Instant, MicroTime, WallClock};

fn services_config(env: &[(&str, &str)]) -> ServicesConfig {
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let loaded = Config::from_sources(env, &[], "master01").expect("valid config");
    let wall = WallClock {
        start: Instant::ZERO,
        wall_at_start: MicroTime(0),
    };
    ServicesConfig::from_config(&loaded.config, MacAddr([2, 0, 0, 0, 0, 1]), 7, wall)
}

#[test]
fn s2_variables_map_onto_the_services_node() {
    let c = services_config(&[
        ("vip_arp", "true"),
        ("vip_interface", "eth0"),
        ("vip_cidr", "32"),
        ("cp_enable", "true"),
        ("cp_namespace", "kube-system"),
        ("svc_enable", "true"),
        ("vip_leaderelection", "true"),
        ("vip_leaseduration", "5"),
        ("vip_renewdeadline", "3"),
        ("vip_retryperiod", "1"),
        ("vip_address", "192.168.66.101"),
    ]);
    assert_eq!(c.node_name, "master01");
    assert_eq!(
        c.mode,
        ElectionMode::Global {
            lease: LeaseRef {
                namespace: "kube-system".into(),
                name: "plndr-svcs-lock".into()
            }
        }
    );
    assert_eq!(
        c.foreign_addresses,
        ["192.168.66.101".parse().expect("ip")].into()
    );
    assert_eq!(c.handover_delay, std::time::Duration::from_secs(2));
    assert_eq!(c.classes, ClassRules::default());
    assert_eq!(c.prefixes, Prefixes { v4: 32, v6: 128 });
    assert!(c.write_status);
}

#[test]
fn per_service_election_class_rules_and_status_switch() {
    let c = services_config(&[
        ("vip_arp", "true"),
        ("svc_enable", "true"),
        ("svc_election", "true"),
        ("cp_namespace", "kvip"),
        ("lb_class_only", "true"),
        ("lb_class_name", "example.com/lb"),
        ("disable_service_updates", "true"),
    ]);
    assert_eq!(
        c.mode,
        ElectionMode::PerService {
            namespace: "kvip".into()
        }
    );
    assert_eq!(
        c.classes,
        ClassRules {
            class_name: "example.com/lb".into(),
            class_only: true,
            legacy: true
        }
    );
    assert!(!c.write_status);
    assert!(c.foreign_addresses.is_empty());
}
