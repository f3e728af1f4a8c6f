//! The simulator's sweep: hundreds of seeds with every fault on and no violation, the same seed
//! giving the same trace hash twice, and failovers actually happening (a sweep in which the VIP
//! never moved would prove nothing).

use std::time::Duration;

use kvip_core::Defects;
use kvip_testbed::sim::{run, SimOptions};
use kvip_testbed::vopr::{sweep, Overrides};

#[test]
fn three_hundred_seeds_of_ten_simulated_minutes_break_no_invariant() {
    let summary = sweep(
        1_000,
        300,
        Duration::from_secs(600),
        &Overrides::default(),
        &Defects::default(),
        2,
    );
    let first = summary.violations.first().map(|r| {
        format!(
            "{} ({})",
            r.violation.as_ref().expect("kept only with a violation"),
            r.options
        )
    });
    assert_eq!(first, None);
    assert!(
        summary.failovers >= 300 * 10,
        "only {} failovers in 300 seeds",
        summary.failovers
    );
    assert!(summary.sim_seconds >= 300.0 * 600.0);
}

#[test]
fn a_seed_replays_to_the_same_trace_hash() {
    for seed in [3, 77, 4242] {
        let opts = SimOptions::from_seed(seed, Duration::from_secs(300));
        let a = run(opts.clone(), Defects::default());
        let b = run(opts, Defects::default());
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.stats, b.stats, "seed {seed}");
    }
    let a = run(
        SimOptions::from_seed(1, Duration::from_secs(60)),
        Defects::default(),
    );
    let b = run(
        SimOptions::from_seed(2, Duration::from_secs(60)),
        Defects::default(),
    );
    assert_ne!(a.trace_hash, b.trace_hash, "different seeds should differ");
}

#[test]
fn every_profile_and_family_and_node_count_is_exercised() {
    let mut profiles = std::collections::BTreeSet::new();
    let mut nodes = std::collections::BTreeSet::new();
    let mut v6 = false;
    for seed in 1_000..1_300 {
        let o = SimOptions::from_seed(seed, Duration::from_secs(600));
        profiles.insert(o.profile.name);
        nodes.insert(o.nodes);
        v6 |= o.ipv6;
    }
    assert_eq!(profiles.len(), 3);
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), vec![3, 4, 5, 6, 7]);
    assert!(v6);
}
