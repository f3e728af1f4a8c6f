//! Rules of the ConfigMap, the lookup, the allocation and the classification, one test each.

use std::collections::{BTreeMap, BTreeSet};

use super::test_support::{ip, lb, pinned};
use super::*;
use crate::service::model::{ANNOTATION_IGNORE, ANNOTATION_LOADBALANCER_IPS};
use crate::service::ServiceKey;

fn parse(data: &[(&str, &str)]) -> IpamConfig {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    IpamConfig::parse(&data)
}

fn pool<'a>(config: &'a IpamConfig, ns: &str) -> &'a Pool {
    match config.pool_for(ns) {
        PoolLookup::Found(p) => p,
        other => panic!("no pool for {ns}: {other:?}"),
    }
}

fn holder(ns: &str, name: &str, ports: &[u16], may_share: bool) -> Holder {
    Holder {
        key: ServiceKey::new(ns, name),
        ports: ports.iter().copied().collect(),
        may_share,
    }
}

fn first(pool: &Pool, usage: &Usage, order: SearchOrder) -> Option<Allocation> {
    let ports = BTreeSet::from([80]);
    let request = Request {
        ports: &ports,
        may_share: false,
        order,
    };
    allocate(pool, usage, &request)
}

#[test]
fn s2_range_global_hands_out_210_then_211() {
    let config = parse(&[("range-global", "192.168.66.210-192.168.66.219")]);
    assert!(config.errors().is_empty());
    let p = pool(&config, "default");
    assert_eq!(p.key, "range-global");
    let mut usage = Usage::default();
    let a = first(p, &usage, SearchOrder::Ascending).unwrap();
    assert_eq!(a, Allocation::Fresh(ip("192.168.66.210")));
    usage.add(a.address(), holder("default", "nginx-lb", &[80], false));
    let b = first(p, &usage, SearchOrder::Ascending).unwrap();
    assert_eq!(b, Allocation::Fresh(ip("192.168.66.211")));
}

#[test]
fn s3_cidr_keeps_its_ends_unless_told_to_skip_them() {
    let plain = parse(&[("cidr-global", "192.168.205.216/29")]);
    let got = first(
        pool(&plain, "default"),
        &Usage::default(),
        SearchOrder::Ascending,
    );
    assert_eq!(got, Some(Allocation::Fresh(ip("192.168.205.216"))));
    let desc = first(
        pool(&plain, "x"),
        &Usage::default(),
        SearchOrder::Descending,
    );
    assert_eq!(desc, Some(Allocation::Fresh(ip("192.168.205.223"))));

    let skip = parse(&[
        ("cidr-global", "192.168.205.216/29"),
        ("skip-end-ips-in-cidr", "true"),
        ("search-order", "desc"),
    ]);
    assert_eq!(skip.search_order, SearchOrder::Descending);
    let p = pool(&skip, "default");
    let asc = first(p, &Usage::default(), SearchOrder::Ascending);
    assert_eq!(asc, Some(Allocation::Fresh(ip("192.168.205.217"))));
    let desc = first(p, &Usage::default(), SearchOrder::Descending);
    assert_eq!(desc, Some(Allocation::Fresh(ip("192.168.205.222"))));
}

#[test]
fn dot_zero_and_dot_255_are_never_handed_out() {
    let config = parse(&[("range-global", "10.0.0.254-10.0.1.1")]);
    let p = pool(&config, "a");
    let mut usage = Usage::default();
    let mut got = Vec::new();
    while let Some(a) = first(p, &usage, SearchOrder::Ascending) {
        got.push(a.address());
        usage.add(
            a.address(),
            holder("a", &got.len().to_string(), &[80], false),
        );
    }
    assert_eq!(got, [ip("10.0.0.254"), ip("10.0.1.1")]);
}

#[test]
fn lookup_is_namespace_first_then_cidr_before_range() {
    let config = parse(&[
        ("cidr-global", "10.1.0.0/24"),
        ("range-global", "10.2.0.1-10.2.0.9"),
        ("range-team", "10.3.0.1-10.3.0.9"),
        ("cidr-both", "10.4.0.0/24"),
        ("range-both", "10.5.0.1-10.5.0.9"),
    ]);
    assert_eq!(pool(&config, "team").key, "range-team");
    assert_eq!(pool(&config, "both").key, "cidr-both");
    assert_eq!(pool(&config, "other").key, "cidr-global");
    let only_range = parse(&[("range-global", "10.2.0.1-10.2.0.9")]);
    assert_eq!(pool(&only_range, "other").key, "range-global");
    assert_eq!(parse(&[]).pool_for("x"), PoolLookup::Missing);
}

#[test]
fn a_malformed_key_names_itself_and_the_form_and_breaks_nothing_else() {
    let config = parse(&[
        ("cidr-global", "192.168.1.0/33"),
        ("range-team", "10.0.0.9-10.0.0.1"),
        ("range-good", "10.0.0.1-10.0.0.9"),
        ("allow-share-global", "maybe"),
        ("cidr_global", "10.0.0.0/24"),
    ]);
    let messages: Vec<String> = config.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    let cidr = messages
        .iter()
        .find(|m| m.contains("\"cidr-global\""))
        .unwrap();
    assert!(cidr.contains("\"192.168.1.0/33\" is not a CIDR"), "{cidr}");
    assert!(cidr.contains("expected a comma list of CIDRs"), "{cidr}");
    let range = messages
        .iter()
        .find(|m| m.contains("\"range-team\""))
        .unwrap();
    assert!(range.contains("starts after it ends") && range.contains("start-end"));
    assert!(messages
        .iter()
        .any(|m| m.contains("allow-share-global") && m.contains("true or false")));
    assert!(messages
        .iter()
        .any(|m| m.contains("cidr_global") && m.contains("not a key")));
    assert_eq!(pool(&config, "good").key, "range-good");
    match config.pool_for("team") {
        PoolLookup::Broken(e) => assert_eq!(e.key, "range-team"),
        other => panic!("a broken namespace pool must not fall back to global: {other:?}"),
    }
    assert!(matches!(config.pool_for("x"), PoolLookup::Broken(e) if e.key == "cidr-global"));
}

#[test]
fn empty_entries_and_bad_options_are_errors() {
    let config = parse(&[
        ("cidr-a", "10.0.0.0/24,"),
        ("range-b", ""),
        ("search-order", "random"),
        ("skip-end-ips-in-cidr", "yes"),
        ("interface-c", "eth 0"),
    ]);
    let keys: Vec<&str> = config.errors().iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "cidr-a",
            "interface-c",
            "range-b",
            "search-order",
            "skip-end-ips-in-cidr"
        ]
    );
    assert_eq!(config.search_order, SearchOrder::Ascending);
    assert!(!config.skip_end_ips_in_cidr);
}

#[test]
fn dhcp_pool_and_v4_before_v6_and_v6_only() {
    let dhcp = parse(&[("cidr-global", "0.0.0.0/32")]);
    assert_eq!(
        first(pool(&dhcp, "a"), &Usage::default(), SearchOrder::Ascending),
        Some(Allocation::Dhcp)
    );
    let mixed = parse(&[("cidr-global", "fd00::/120,10.0.0.8/30")]);
    let got = first(pool(&mixed, "a"), &Usage::default(), SearchOrder::Ascending);
    assert_eq!(got, Some(Allocation::Fresh(ip("10.0.0.8"))));
    let v6 = parse(&[("range-global", "fd00::10-fd00::20")]);
    let got = first(pool(&v6, "a"), &Usage::default(), SearchOrder::Descending);
    assert_eq!(got, Some(Allocation::Fresh(ip("fd00::20"))));
}

#[test]
fn a_huge_v6_pool_is_searched_over_used_addresses_only() {
    let config = parse(&[("cidr-global", "fd00::/64")]);
    let p = pool(&config, "a");
    let mut usage = Usage::default();
    for i in 0..5000u128 {
        let used = super::addr::from_number(super::addr::Family::V6, (0xfd00u128 << 112) + i);
        usage.add(used, holder("a", &i.to_string(), &[80], false));
    }
    let got = first(p, &usage, SearchOrder::Ascending).unwrap();
    assert_eq!(got, Allocation::Fresh(ip("fd00::1388")));
    let last = first(p, &usage, SearchOrder::Descending).unwrap();
    assert_eq!(last, Allocation::Fresh(ip("fd00::ffff:ffff:ffff:ffff")));
}

#[test]
fn exhausted_pool_gives_nothing() {
    let config = parse(&[("range-global", "10.0.0.1-10.0.0.2")]);
    let mut usage = Usage::default();
    usage.add(ip("10.0.0.1"), holder("x", "a", &[80], false));
    usage.add(ip("10.0.0.2"), holder("y", "b", &[80], false));
    assert_eq!(
        first(pool(&config, "z"), &usage, SearchOrder::Ascending),
        None
    );
}

#[test]
fn sharing_needs_disjoint_ports_consent_of_every_user_and_pool_membership() {
    let config = parse(&[
        ("range-global", "10.0.0.1-10.0.0.3"),
        ("allow-share-global", "true"),
    ]);
    let p = pool(&config, "a");
    let mut usage = Usage::default();
    usage.add(ip("10.0.0.1"), holder("a", "web", &[80, 443], true));
    usage.add(ip("10.0.0.2"), holder("a", "dns", &[53], false));
    usage.add(ip("10.0.9.9"), holder("a", "out", &[22], true));
    let ask = |usage: &Usage, ports: &[u16]| {
        let ports: BTreeSet<u16> = ports.iter().copied().collect();
        let request = Request {
            ports: &ports,
            may_share: true,
            order: SearchOrder::Ascending,
        };
        allocate(p, usage, &request)
    };
    assert_eq!(ask(&usage, &[22]), Some(Allocation::Shared(ip("10.0.0.1"))));
    let overlap = ask(&usage, &[443]);
    assert_eq!(
        overlap,
        Some(Allocation::Fresh(ip("10.0.0.3"))),
        "port overlap"
    );
    let portless = ask(&usage, &[]);
    assert_eq!(
        portless,
        Some(Allocation::Fresh(ip("10.0.0.3"))),
        "no ports: no sharing"
    );
    usage.add(ip("10.0.0.3"), holder("b", "ssh", &[22], true));
    assert_eq!(
        ask(&usage, &[80, 443]),
        Some(Allocation::Shared(ip("10.0.0.3")))
    );
    let none = ask(&usage, &[22, 80]);
    assert_eq!(none, None, ".2 refuses sharing, .9.9 is outside the pool");
}

#[test]
fn allow_share_and_interface_look_up_namespace_then_global() {
    let config = parse(&[
        ("allow-share-global", "true"),
        ("allow-share-strict", "false"),
        ("interface-global", "eth0"),
        ("interface-lab", "ens3"),
    ]);
    assert!(config.allow_share("any") && !config.allow_share("strict"));
    assert_eq!(config.interface("lab"), Some("ens3"));
    assert_eq!(config.interface("any"), Some("eth0"));
    assert!(!parse(&[]).allow_share("any"));
}

#[test]
fn only_load_balancers_of_our_class_without_address_need_one() {
    let filter = ClassFilter::default();
    assert_eq!(classify(&lb("a", "s", &[80]), &filter), Need::Address);
    let mut not_lb = lb("a", "s", &[80]);
    not_lb.is_load_balancer = false;
    assert_eq!(classify(&not_lb, &filter), Need::NotOurs);
    let mut ignored = lb("a", "s", &[80]);
    ignored
        .annotations
        .insert(ANNOTATION_IGNORE.into(), "true".into());
    assert_eq!(classify(&ignored, &filter), Need::NotOurs);
    let mut other = lb("a", "s", &[80]);
    other.load_balancer_class = Some("metallb".into());
    assert_eq!(classify(&other, &filter), Need::NotOurs);
    let mut ours = lb("a", "s", &[80]);
    ours.load_balancer_class = Some("kube-vip.io/kube-vip-class".into());
    assert_eq!(classify(&ours, &filter), Need::Address);
    let only = ClassFilter {
        class_only: true,
        ..ClassFilter::default()
    };
    assert_eq!(classify(&lb("a", "s", &[80]), &only), Need::NotOurs);
    assert_eq!(classify(&ours, &only), Need::Address);
}

#[test]
fn a_named_address_is_kept_and_a_malformed_one_reported() {
    let filter = ClassFilter::default();
    let pin = pinned(lb("a", "s", &[80]), "192.168.66.101");
    assert_eq!(classify(&pin, &filter), Need::HasAddress);
    let mut annotated = lb("a", "s", &[80]);
    annotated
        .annotations
        .insert(ANNOTATION_LOADBALANCER_IPS.into(), "0.0.0.0".into());
    assert_eq!(classify(&annotated, &filter), Need::HasAddress);
    annotated
        .annotations
        .insert(ANNOTATION_LOADBALANCER_IPS.into(), "10.0.0.1,bogus".into());
    let Need::Invalid(message) = classify(&annotated, &filter) else {
        panic!("a malformed annotation is reported");
    };
    assert!(
        message.contains("\"bogus\" is not an IP address"),
        "{message}"
    );
    let bad_pin = pinned(lb("a", "s", &[80]), "10.0.0.300");
    assert!(
        matches!(classify(&bad_pin, &filter), Need::Invalid(m) if m.contains("spec.loadBalancerIP"))
    );
}

#[test]
fn addresses_in_use_come_from_annotation_spec_and_status_not_dhcp() {
    let mut svc = pinned(lb("a", "s", &[80]), "10.0.0.1");
    svc.annotations.insert(
        ANNOTATION_LOADBALANCER_IPS.into(),
        "10.0.0.2, 0.0.0.0,junk".into(),
    );
    svc.status_ingress = vec![ip("10.0.0.3"), ip("10.0.0.1")];
    let got: Vec<_> = addresses_of(&svc).into_iter().collect();
    assert_eq!(got, [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")]);
}
