//! The canonical leader-loss story (SCENARIOS.md S2 in miniature): three masters elect a leader,
//! the leader powers off, another takes over. Run in the simulator; its timeline is what the
//! `story` binary prints and what the snapshot test pins.

use std::time::Duration;

use kvip_core::Defects;

use crate::sim::{Profile, RunReport, SimOptions, World};

/// The options of the story: 3 nodes, the given profile, 5 ms API latency, no random faults.
pub fn options(profile: Profile) -> SimOptions {
    SimOptions::quiet(1, 3, profile, Duration::from_millis(5))
}

/// Runs the story: the holder powers off between 2 and 3 lease durations in.
pub fn leader_loss(profile: Profile) -> RunReport {
    let mut world = World::new(options(profile), Defects::default(), true);
    world.measure_takeover(false);
    world.run()
}
