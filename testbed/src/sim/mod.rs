//! The deterministic simulator: a seeded world of nodes running the real `kvip-core`, a simulated
//! API server and LAN, faults, and invariants checked after every step.

pub mod api;
pub mod clock;
pub mod faults;
pub mod host;
mod inject;
pub mod invariants;
pub mod options;
pub mod rng;
pub mod services;
pub mod stats;
pub mod trace;
pub mod world;

pub use invariants::Violation;
pub use options::{profile, Profile, SimOptions, PROFILES};
pub use world::{RunReport, World};

use kvip_core::Defects;

/// Runs the world seed `opts` names with `defects` planted.
pub fn run(opts: SimOptions, defects: Defects) -> RunReport {
    World::new(opts, defects, false).run()
}

/// Runs and keeps the text of the trace.
pub fn run_traced(opts: SimOptions, defects: Defects) -> RunReport {
    World::new(opts, defects, true).run()
}
