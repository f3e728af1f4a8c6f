//! Every error class, each asserting that the message names the variable (or flag) at fault
//! and the accepted form.

use super::tests::{load, with, BASE};
use super::*;

/// The message of the error `extra` (added to a working base) produces.
fn refused(extra: &[(&str, &str)]) -> String {
    with(extra).expect_err("should be refused").to_string()
}

fn refused_flags(flags: &[&str]) -> String {
    load(BASE, flags)
        .expect_err("should be refused")
        .to_string()
}

#[test]
fn bad_duration_names_variable_and_form() {
    assert_eq!(
        refused(&[("vip_retryperiod", "abc")]),
        "vip_retryperiod=\"abc\": expected seconds (e.g. 2, 0.2) or milliseconds (e.g. 200ms)"
    );
    let msg = refused(&[("vip_renewdeadline", "-1")]);
    assert!(
        msg.starts_with("vip_renewdeadline=\"-1\": expected seconds"),
        "{msg}"
    );
    let msg = refused(&[("vip_renewdeadline", "7200")]);
    assert!(msg.contains("at most 3600 seconds"), "{msg}");
}

#[test]
fn lease_duration_must_be_whole_seconds() {
    for bad in ["1.5", "1500ms", "abc"] {
        let msg = refused(&[("vip_leaseduration", bad)]);
        assert!(
            msg.starts_with(&format!(
                "vip_leaseduration={bad:?}: expected a whole number of seconds"
            )),
            "{msg}"
        );
    }
    let ok = with(&[
        ("vip_leaseduration", "2000ms"),
        ("vip_renewdeadline", "1.5"),
        ("vip_retryperiod", "1"),
    ]);
    assert_eq!(
        ok.unwrap().config.election,
        ElectionTiming::from_millis(2_000, 1_500, 1_000)
    );
}

#[test]
fn timing_rule_names_the_variables() {
    let msg = refused(&[("vip_leaseduration", "3"), ("vip_renewdeadline", "3")]);
    assert!(
        msg.contains("vip_leaseduration") && msg.contains("vip_renewdeadline"),
        "{msg}"
    );
    assert!(msg.contains("(env vip_leaseduration)"), "{msg}");
    let msg = refused(&[("vip_renewdeadline", "1.2"), ("vip_retryperiod", "1")]);
    assert!(msg.contains("1.2 × vip_retryperiod"), "{msg}");
    assert!(
        refused(&[("vip_retryperiod", "0")]).contains("vip_retryperiod must be greater than zero")
    );
    let err = with(&[("vip_leaseduration", "0")]).unwrap_err();
    assert!(matches!(err, ConfigError::Timing { .. }), "{err}");
}

#[test]
fn bad_boolean() {
    for bad in ["maybe", "t", "", " "] {
        let Err(err) = load(
            &[
                ("cp_enable", "true"),
                ("address", "10.0.0.1"),
                ("vip_arp", bad),
            ],
            &["--arp"],
        ) else {
            // An empty variable is unset, so the flag decides.
            assert!(bad.trim().is_empty());
            continue;
        };
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("vip_arp={bad:?}: expected true or false")),
            "{msg}"
        );
    }
    for good in ["TRUE", "Yes", "1", "no", "0", "False"] {
        assert!(with(&[("svc_enable", good)]).is_ok(), "{good}");
    }
    let msg = refused_flags(&["--services=sometimes"]);
    assert!(
        msg.starts_with("--services=\"sometimes\": expected true or false"),
        "{msg}"
    );
}

#[test]
fn bad_port() {
    for bad in ["0", "65536", "abc", "-1", "6443.0"] {
        let msg = refused(&[("port", bad)]);
        assert!(
            msg.starts_with(&format!("port={bad:?}: expected a port number 1-65535")),
            "{msg}"
        );
    }
    assert!(refused(&[("lb_port", "0")]).starts_with("lb_port=\"0\""));
    assert!(
        refused_flags(&["--lbPort", "99999"]).starts_with("--lbPort=\"99999\": expected a port")
    );
}

#[test]
fn mode_errors() {
    let err = load(&[("cp_enable", "true"), ("address", "10.0.0.1")], &[]).unwrap_err();
    assert_eq!(err, ConfigError::NoMode);
    assert!(err
        .to_string()
        .contains("vip_arp, bgp_enable, vip_routingtable or vip_wireguard"));
    let msg = refused(&[("bgp_enable", "true")]);
    assert!(
        msg.starts_with("more than one mode chosen (vip_arp and bgp_enable): set exactly one"),
        "{msg}"
    );
    let msg = load(BASE, &["--wireguard"]).unwrap_err().to_string();
    assert!(msg.contains("(vip_arp and --wireguard)"), "{msg}");
}

#[test]
fn nothing_enabled_and_missing_address() {
    let err = load(&[("vip_arp", "true")], &[]).unwrap_err();
    assert_eq!(err, ConfigError::NothingEnabled);
    assert!(err.to_string().contains("cp_enable=true"));
    let err = load(&[("vip_arp", "true"), ("cp_enable", "true")], &[]).unwrap_err();
    assert_eq!(err, ConfigError::MissingAddress);
    assert!(err.to_string().contains("address"));
    // Services alone need no address.
    assert!(load(&[("vip_arp", "true"), ("svc_enable", "true")], &[]).is_ok());
}

#[test]
fn bad_addresses_name_address() {
    for bad in [
        "300.1.1.1",
        "192.168.1.300",
        "not an address!",
        "10.0.0.1,,10.0.0.2",
        "0.0.0.0",
        "-vip.example",
    ] {
        let msg = refused(&[("address", bad)]);
        assert!(
            msg.starts_with(&format!(
                "address={bad:?}: expected IP addresses or DNS names"
            )),
            "{msg}"
        );
    }
    let msg = refused(&[("address", "10.0.0.1,10.0.0.1")]);
    assert!(msg.contains("listed twice"), "{msg}");
    let msg = load(
        &[
            ("vip_arp", "1"),
            ("cp_enable", "1"),
            ("vip_address", "10.0.0.256"),
        ],
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(msg.starts_with("vip_address=\"10.0.0.256\""), "{msg}");
    let msg = refused(&[("vip_ddns", "true")]);
    assert!(
        msg.starts_with("address=\"192.168.0.40\": expected a DNS name when vip_ddns"),
        "{msg}"
    );
}

#[test]
fn bad_prefix_lengths() {
    for bad in ["33", "0", "abc", "24,64,96", "auto"] {
        let msg = refused(&[("vip_subnet", bad)]);
        assert!(
            msg.starts_with(&format!("vip_subnet={bad:?}: expected a prefix length")),
            "{msg}"
        );
    }
    let msg = refused(&[("vip_cidr", "129")]);
    assert!(msg.starts_with("vip_cidr=\"129\""), "{msg}");
}

#[test]
fn bad_names_and_enums() {
    let msg = refused(&[("vip_interface", "a-very-long-interface-name")]);
    assert!(
        msg.starts_with("vip_interface=") && msg.contains("1-15 characters"),
        "{msg}"
    );
    assert!(refused(&[("cp_namespace", "Kube_System")])
        .starts_with("cp_namespace=\"Kube_System\": expected a namespace"));
    assert!(refused(&[("vip_leasename", "a/b/c")])
        .starts_with("vip_leasename=\"a/b/c\": expected a lease name"));
    assert!(refused(&[("dns_mode", "second")]).contains("one of first, ipv4, ipv6, dual"));
    assert!(refused(&[("dhcp_mode", "v4")]).starts_with("dhcp_mode=\"v4\""));
    assert!(refused(&[("lb_fwdmethod", "nat")]).starts_with("lb_fwdmethod=\"nat\""));
    assert!(refused(&[("vip_arpRate", "100")])
        .starts_with("vip_arpRate=\"100\": expected milliseconds, at least 500"));
    assert!(refused(&[("vip_loglevel", "loud")])
        .starts_with("vip_loglevel=\"loud\": expected an integer"));
    assert!(refused(&[("prometheus_server", "2112")])
        .starts_with("prometheus_server=\"2112\": expected [host]:port"));
    assert!(refused(&[("dhcp_backoff_attempts", "-3")]).starts_with("dhcp_backoff_attempts=\"-3\""));
    let err = Config::from_sources(super::tests::env(BASE), &[], " ").unwrap_err();
    assert_eq!(err, ConfigError::NoNodeName);
}

#[test]
fn bad_bgp_settings() {
    let msg = refused(&[("bgp_peers", "192.168.0.1:notanas:hunter2")]);
    assert!(
        msg.starts_with("bgp_peers=\"192.168.0.1:notanas:<redacted>\": expected address:AS"),
        "{msg}"
    );
    assert!(
        msg.contains("entry 1: AS \"notanas\"") && !msg.contains("hunter2"),
        "{msg}"
    );
    assert!(refused(&[("bgp_peers", "fd00::1:65000")]).contains("IPv6 goes in [ ]"));
    assert!(refused(&[("bgp_peers", "[fd00::1]:65000:pw:maybe")]).contains("multihop \"maybe\""));
    assert!(
        refused(&[("bgp_peers", "10.0.0.1:65000:::179:mpbgp_nexthop=fixed")]).contains("MP-BGP")
    );
    assert!(refused(&[("bgp_peers", "unnumbered:eth0:65000")]).contains("unnumbered"));
    assert!(refused(&[("bgp_as", "0")]).starts_with("bgp_as=\"0\": expected an AS number"));
    assert!(refused(&[("bgp_hold_time", "2")]).starts_with("bgp_hold_time=\"2\": expected seconds"));
    assert!(refused(&[("bgp_routerid", "fd00::1")]).contains("an IPv4 address"));
    let bgp_only = [("bgp_enable", "true"), ("svc_enable", "true")];
    let err = load(&bgp_only, &[]).unwrap_err();
    assert_eq!(err, ConfigError::NoBgpPeers);
    assert!(err.to_string().contains("bgp_peers"));
}

#[test]
fn bad_flags() {
    assert_eq!(
        refused_flags(&["--leaseRetry=abc"]),
        "--leaseRetry=\"abc\": expected seconds (e.g. 2, 0.2) or milliseconds (e.g. 200ms)"
    );
    let msg = refused_flags(&["--frobnicate"]);
    assert!(msg.starts_with("unknown flag --frobnicate"), "{msg}");
    let msg = refused_flags(&["--interface"]);
    assert_eq!(
        msg,
        "--interface needs a value: --interface VALUE or --interface=VALUE"
    );
    assert!(refused_flags(&["--address", "--arp"]).starts_with("--address needs a value"));
    assert!(refused_flags(&["manager"]).starts_with("unexpected argument \"manager\""));
    assert!(refused_flags(&["--", "extra"]).starts_with("unexpected argument \"extra\""));
    assert!(refused_flags(&["-x"]).starts_with("unknown flag -x"));
}
