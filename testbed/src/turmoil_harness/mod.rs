//! The real driver under turmoil: kvip-runtime's `drive` loop and the real `kvip_core::Node` run
//! on turmoil hosts, with their ports backed by simulated services reached over turmoil's
//! network, so the glue (request timeouts, abandoned requests, pooled connections, reconnecting
//! watches, shutdown) is attacked, not just the core.
//!
//! | module | owns |
//! |---|---|
//! | [`options`] | the options a seed names |
//! | `inject` | carrying the faults out with turmoil's levers; heal; daemon stop and restart |
//! | [`faults`] | the seeded fault schedule (crash, SIGTERM, restart, API partition / hold / crash, LAN partition, link flap, address theft) |
//! | [`wire`] | the JSON-lines protocol of the simulated API server |
//! | [`api`] | the "api" host: Lease CAS store, keep-alive requests, list+watch |
//! | [`lease`] | [`lease::TurmoilLease`], the driver's Lease port: pooled requests, kube-runtime-style watch |
//! | [`kernel`] | the simulated kernel (address port, monitor), the frame port and the "lan" host |
//! | [`node`] | a node host's software: the real driver with those ports |
//! | [`state`] | what the hosts share with the checker; the ordering invariants, checked as events happen |
//! | [`world`] | the [`world::Harness`]: builds and steps the simulation, faults, heal, the other invariants |

pub mod api;
pub mod faults;
mod inject;
pub mod kernel;
pub mod lease;
pub mod node;
pub mod options;
pub mod state;
pub mod wire;
pub mod world;

pub use options::TurmoilOptions;
pub use world::{run, Harness, TurmoilReport};
