//! The addresses a Service wants: annotation before `spec.loadBalancerIP`, never status; DHCP
//! markers; refused entries reported while the others still count; prefixes from `vip_subnet`.

mod service_support;

use kvip_core::service::addresses::{
    parse_addresses, AddressProblem, AddressSource, DhcpFamily, InvalidAddress, Prefixes,
    WantedAddress,
};
use kvip_core::VipAddress;
use service_support::{ip, lb, with_ips};

fn statics(list: &[&str]) -> Vec<WantedAddress> {
    list.iter().map(|s| WantedAddress::Static(ip(s))).collect()
}

#[test]
fn annotation_wins_over_load_balancer_ip_and_status_is_never_used() {
    let mut v = with_ips(lb("default", "a"), "10.0.0.1, fd00::1 ,10.0.0.2,");
    v.load_balancer_ip = Some("10.0.0.9".into());
    v.status_ingress = vec![ip("192.168.1.5")];
    let p = parse_addresses(&v);
    assert_eq!(p.source, AddressSource::Annotation);
    assert_eq!(p.wanted, statics(&["10.0.0.1", "fd00::1", "10.0.0.2"]));
    assert!(p.problems.is_empty());

    let mut v = lb("default", "b");
    v.load_balancer_ip = Some("10.0.0.9".into());
    v.status_ingress = vec![ip("192.168.1.5")];
    let p = parse_addresses(&v);
    assert_eq!(
        (p.source, p.wanted),
        (AddressSource::LoadBalancerIp, statics(&["10.0.0.9"]))
    );

    // Only status (another controller wrote it, e.g. K3s ServiceLB): nothing wanted.
    let mut v = lb("default", "c");
    v.status_ingress = vec![ip("192.168.1.5")];
    let p = parse_addresses(&v);
    assert_eq!((p.source, p.wanted.len()), (AddressSource::Unset, 0));

    // A blank annotation counts as unset.
    let mut v = with_ips(lb("default", "d"), "  ");
    v.load_balancer_ip = Some("10.0.0.7".into());
    assert_eq!(parse_addresses(&v).wanted, statics(&["10.0.0.7"]));
}

#[test]
fn unspecified_addresses_ask_for_dhcp_and_repeats_count_once() {
    let v = with_ips(lb("default", "a"), "0.0.0.0,::,10.0.0.1,10.0.0.1,0.0.0.0");
    assert_eq!(
        parse_addresses(&v).wanted,
        vec![
            WantedAddress::Dhcp(DhcpFamily::V4),
            WantedAddress::Dhcp(DhcpFamily::V6),
            WantedAddress::Static(ip("10.0.0.1")),
        ]
    );
}

#[test]
fn bad_entries_are_reported_and_the_rest_still_count() {
    let v = with_ips(
        lb("default", "a"),
        "10.0.0.1,banana,127.0.0.1,224.0.0.5,255.255.255.255,::1,10.0.0.300,fd00::2",
    );
    let p = parse_addresses(&v);
    assert_eq!(p.wanted, statics(&["10.0.0.1", "fd00::2"]));
    let reasons: Vec<(String, InvalidAddress)> = p
        .problems
        .iter()
        .map(|x| (x.value.clone(), x.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("banana".into(), InvalidAddress::Unparsable),
            ("127.0.0.1".into(), InvalidAddress::Loopback),
            ("224.0.0.5".into(), InvalidAddress::Multicast),
            ("255.255.255.255".into(), InvalidAddress::Broadcast),
            ("::1".into(), InvalidAddress::Loopback),
            ("10.0.0.300".into(), InvalidAddress::Unparsable),
        ]
    );
    assert_eq!(
        p.problems[0].to_string(),
        "kube-vip.io/loadbalancerIPs: \"banana\" is not an IPv4 or IPv6 address; ignoring it"
    );
    let mut v = lb("default", "b");
    v.load_balancer_ip = Some("nope".into());
    assert_eq!(
        parse_addresses(&v).problems,
        vec![AddressProblem {
            source: AddressSource::LoadBalancerIp,
            value: "nope".into(),
            reason: InvalidAddress::Unparsable,
        }]
    );
}

#[test]
fn prefixes_follow_the_family() {
    let p = Prefixes { v4: 24, v6: 64 };
    assert_eq!(
        p.vip(ip("10.0.0.1")),
        VipAddress {
            address: ip("10.0.0.1"),
            prefix_len: 24
        }
    );
    assert_eq!(
        p.vip(ip("fd00::1")),
        VipAddress {
            address: ip("fd00::1"),
            prefix_len: 64
        }
    );
    assert_eq!(Prefixes::default(), Prefixes { v4: 32, v6: 128 });
}
