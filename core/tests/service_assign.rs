//! Bounded-load rendezvous assignment (per-service mode): balance at 999 Services on 3 nodes,
//! few moves when a member joins or leaves, Local-policy eligibility, and (proptest) the same
//! answer whatever order the groups come in, with loads never more than one apart.

use std::collections::{BTreeMap, BTreeSet};

use kvip_core::service::assign::{assign_items, speaker};
use kvip_core::service::plan::Eligibility;
use kvip_core::service::ServiceKey;
use proptest::prelude::*;

fn keys(n: usize) -> Vec<ServiceKey> {
    (0..n)
        .map(|i| ServiceKey::new(format!("ns{}", i % 7), format!("svc-{i}")))
        .collect()
}

fn members(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn run(keys: &[ServiceKey], m: &BTreeSet<String>) -> BTreeMap<ServiceKey, String> {
    let any = Eligibility::Any;
    let items: Vec<_> = keys.iter().map(|k| (k, &any)).collect();
    assign_items(&items, m)
}

fn loads(a: &BTreeMap<ServiceKey, String>) -> BTreeMap<String, usize> {
    let mut l = BTreeMap::new();
    for n in a.values() {
        *l.entry(n.clone()).or_default() += 1;
    }
    l
}

fn moved(a: &BTreeMap<ServiceKey, String>, b: &BTreeMap<ServiceKey, String>) -> usize {
    a.iter().filter(|(k, n)| b.get(*k) != Some(*n)).count()
}

#[test]
fn nine_hundred_ninety_nine_services_on_three_nodes_balance_exactly() {
    let k = keys(999);
    let a = run(&k, &members(&["master01", "master02", "master03"]));
    assert_eq!(a.len(), 999);
    let l: Vec<usize> = loads(&a).into_values().collect();
    assert_eq!(l, vec![333, 333, 333]);
    let (max, min) = (
        l.iter().max().copied().unwrap_or(0),
        l.iter().min().copied().unwrap_or(0),
    );
    assert!(max * 10 <= min * 11 && max - min <= 1);
    let l: Vec<usize> = loads(&run(&keys(1000), &members(&["a", "b", "c"])))
        .into_values()
        .collect();
    assert_eq!(l.iter().sum::<usize>(), 1000);
    assert!(
        l.iter().max().unwrap_or(&0) - l.iter().min().unwrap_or(&0) <= 1,
        "{l:?}"
    );
}

#[test]
fn a_join_or_a_leave_moves_little_more_than_it_must() {
    let k = keys(999);
    let three = run(&k, &members(&["n1", "n2", "n3"]));
    let four = run(&k, &members(&["n1", "n2", "n3", "n4"]));
    let to_n4 = four.values().filter(|n| *n == "n4").count();
    assert_eq!(to_n4, 250);
    // The newcomer's share must move; the load bound moves at most 10% more.
    assert!(
        moved(&three, &four) * 10 <= to_n4 * 11,
        "join moved {}",
        moved(&three, &four)
    );
    let two = run(&k, &members(&["n1", "n2"]));
    let from_n3 = three.values().filter(|n| *n == "n3").count();
    assert!(three
        .iter()
        .filter(|(_, n)| *n == "n3")
        .all(|(k, _)| two[k] != "n3"));
    assert!(
        moved(&three, &two) * 10 <= from_n3 * 11,
        "leave moved {}",
        moved(&three, &two)
    );
}

#[test]
fn local_policy_groups_only_go_to_eligible_live_members() {
    let k = keys(30);
    let only_n2 = Eligibility::Nodes(members(&["n2"]));
    let gone = Eligibility::Nodes(members(&["n9"]));
    let none = Eligibility::Nodes(BTreeSet::new());
    let any = Eligibility::Any;
    let items: Vec<(&ServiceKey, &Eligibility)> = k
        .iter()
        .enumerate()
        .map(|(i, key)| (key, [&only_n2, &gone, &none, &any][i % 4]))
        .collect();
    let a = assign_items(&items, &members(&["n1", "n2", "n3"]));
    for (i, key) in k.iter().enumerate() {
        match i % 4 {
            0 => assert_eq!(a.get(key).map(String::as_str), Some("n2")),
            1 | 2 => assert_eq!(a.get(key), None),
            _ => assert!(a.contains_key(key)),
        }
    }
}

#[test]
fn the_speaker_is_a_live_member_and_stable() {
    let m = members(&["n1", "n2", "n3"]);
    let key = ServiceKey::new("default", "nginx");
    let s = speaker(&key, &m).cloned();
    assert!(s.as_ref().is_some_and(|s| m.contains(s)));
    assert_eq!(speaker(&key, &m).cloned(), s);
    assert_eq!(speaker(&key, &BTreeSet::new()), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn assignment_is_deterministic_complete_and_balanced(
        names in prop::collection::btree_set("[a-z]{1,6}", 0..200),
        nodes in prop::collection::btree_set("node-[a-z0-9]{1,4}", 1..8),
        rotate in 0usize..200,
    ) {
        let k: Vec<ServiceKey> = names.iter().map(|n| ServiceKey::new("default", n.clone())).collect();
        let m: BTreeSet<String> = nodes;
        let a = run(&k, &m);
        let mut shuffled = k.clone();
        if !shuffled.is_empty() {
            let r = rotate % shuffled.len();
            shuffled.rotate_left(r);
            shuffled.reverse();
        }
        prop_assert_eq!(&run(&shuffled, &m), &a);
        prop_assert_eq!(a.len(), k.len());
        prop_assert!(a.values().all(|n| m.contains(n)));
        let mut l: Vec<usize> = m.iter().map(|n| a.values().filter(|x| *x == n).count()).collect();
        l.sort_unstable();
        prop_assert!(l[l.len() - 1] - l[0] <= 1, "loads {:?}", l);
    }
}

/// Groups that were on a member still live and moved to another one: the ones a leave or a join
/// makes unreachable for the handover delay though their node never went away.
fn collateral(
    before: &BTreeMap<ServiceKey, String>,
    after: &BTreeMap<ServiceKey, String>,
    both: &BTreeSet<String>,
) -> usize {
    before
        .iter()
        .filter(|(k, n)| {
            both.contains(*n) && after.get(*k).is_some_and(|m| m != *n && both.contains(m))
        })
        .count()
}

/// A power-off of one member moves its groups; the exact load bound moves a few more between the
/// members that stay (each of those is unreachable for the handover delay). Few: at most 3 % + 2.
#[test]
fn a_leave_or_a_join_moves_few_groups_between_the_members_that_stay() {
    for (n, names) in [
        (999, vec!["master01", "master02", "master03"]),
        (1000, vec!["n1", "n2", "n3", "n4", "n5"]),
        (30, vec!["a", "b", "c"]),
    ] {
        let k = keys(n);
        let all = members(&names);
        let full = run(&k, &all);
        for gone in &names {
            let mut rest = all.clone();
            rest.remove(*gone);
            let after = run(&k, &rest);
            let leave = collateral(&full, &after, &rest);
            let join = collateral(&after, &full, &rest);
            assert!(
                leave * 100 <= n * 3 + 200 && join * 100 <= n * 3 + 200,
                "{n} groups, {gone} leaves: {leave} moved between the others, joins: {join}"
            );
        }
    }
}
