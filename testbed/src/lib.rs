//! kvip-testbed: the places where kvip-core is attacked.
//!
//! - [`sim`]: the deterministic simulator. A seed names a run: it builds a world of 3–7 nodes, a
//!   simulated API server, a LAN with a client and drifting clocks, injects faults, and checks the
//!   invariants after every step.
//! - [`loopback_api`]: a real etcd + kube-apiserver on loopback (no namespaces, no root) for tests
//!   of components that only talk to the API, such as `kvip cloud-provider`.
//! - [`story`]: the canonical leader-loss story, printed by the `story` binary.
//! - [`vopr`]: the sweep over many seeds and the failover tables that the `vopr` binary prints.
//! - [`kvip_bin`]: the `kvip` binary the namespace and loopback tests run.

pub mod kvip_bin;
pub mod loopback_api;
pub mod netns;
pub mod sim;
pub mod story;
pub mod turmoil_harness;
pub mod vopr;
