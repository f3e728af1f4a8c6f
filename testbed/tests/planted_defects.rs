//! The checker must be able to fail: for every invariant, plant the defect it guards against in
//! the core and show that the simulator reports that very invariant within 200 seeds.

use std::time::Duration;

use kvip_core::{Defect, Defects};
use kvip_testbed::sim::{run, SimOptions};

const SEEDS: u64 = 200;
const FAULT_PHASE: Duration = Duration::from_secs(300);

/// Runs up to `SEEDS` seeds with `defect` planted; returns the first seed whose violations
/// include `invariant`.
fn first_seed_caught(defect: Defect, invariant: &str) -> Option<u64> {
    (0..SEEDS).find(|&seed| {
        let report = run(
            SimOptions::from_seed(seed, FAULT_PHASE),
            Defects::planted(defect),
        );
        report.violations.iter().any(|v| v.name() == invariant)
    })
}

fn assert_caught(defect: Defect, invariant: &str) {
    let seed = first_seed_caught(defect, invariant);
    assert!(
        seed.is_some(),
        "{} planted, but no seed in 0..{SEEDS} broke {invariant}",
        defect.name()
    );
    println!(
        "{} caught by {invariant} at seed {}",
        defect.name(),
        seed.unwrap()
    );
}

#[test]
fn single_holder_catches_fence_timed_from_the_renew_response() {
    assert_caught(Defect::FenceFromResponse, "single-holder");
}

#[test]
fn withdraw_before_release_catches_release_before_remove() {
    assert_caught(Defect::ReleaseBeforeRemove, "withdraw-before-release");
}

#[test]
fn announce_after_add_catches_announce_before_add() {
    assert_caught(Defect::AnnounceBeforeAdd, "announce-after-add");
}

#[test]
fn neighbour_convergence_catches_a_single_announcement() {
    assert_caught(Defect::AnnounceOnce, "neighbour-convergence");
}

#[test]
fn handover_catches_missing_watch_driven_takeover() {
    assert_caught(Defect::NoWatchTakeover, "handover");
}

#[test]
fn liveness_catches_an_election_wedged_after_a_conflict() {
    assert_caught(Defect::StopAfterConflict, "liveness");
}

#[test]
fn the_same_seeds_are_clean_without_the_defects() {
    for seed in 0..20 {
        let report = run(SimOptions::from_seed(seed, FAULT_PHASE), Defects::default());
        assert_eq!(report.violations, vec![], "seed {seed}");
    }
}
