//! The Services simulator: a seeded, deterministic world of nodes each running the real
//! [`kvip_core::service::ServicesNode`] (global or per-service election), a simulated API
//! (Leases with resourceVersion compare-and-swap, Services and endpoints with watches delivered
//! after seeded delays, status writes acked), simulated kernel addresses on two interfaces
//! (Services name either in `kube-vip.io/serviceInterface`), a virtual clock, and
//! seeded faults and churn; [`invariants`] are checked after every step.
//!
//! | module | owns |
//! |---|---|
//! | [`options`] | what a seed names |
//! | [`faults`] | the schedule of node faults and object churn |
//! | [`objects`] | the stored Services and endpoints, and what they want announced |
//! | [`leases`] | the Lease store |
//! | [`host`] | one node and what the checks know about it |
//! | [`invariants`] | the five properties checked (`one_announcer`, `on_named_interface`, …) |
//! | `world`, `api`, `happenings`, `checks`, `setup` | the event loop and how it runs |

mod api;
mod checks;
pub mod faults;
mod happenings;
pub mod host;
pub mod invariants;
pub mod leases;
pub mod objects;
pub mod options;
mod setup;
pub mod world;

pub use invariants::ServicesViolation;
pub use options::{Mode, ServicesSimOptions};
pub use world::{ServicesReport, ServicesWorld};

use kvip_core::Defects;

/// Runs the world `opts` names with `defects` planted.
pub fn run(opts: ServicesSimOptions, defects: Defects) -> ServicesReport {
    ServicesWorld::new(opts, defects, false).run()
}

/// Runs and keeps the text of the trace.
pub fn run_traced(opts: ServicesSimOptions, defects: Defects) -> ServicesReport {
    ServicesWorld::new(opts, defects, true).run()
}
