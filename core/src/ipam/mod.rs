//! IPAM for `kvip cloud-provider`: pools from ConfigMap `kube-system/kubevip` and allocation.
//!
//! kvip's copy of kube-vip-cloud-provider, sans-IO. It reads the same ConfigMap keys and writes
//! the same things on a Service (annotation `kube-vip.io/loadbalancerIPs`, legacy
//! `spec.loadBalancerIP`, label `implementation: kube-vip`; never status), with these
//! differences, each a fix:
//! - an address in use **anywhere** in the cluster (any namespace, any class, pinned or assigned,
//!   annotation, `spec.loadBalancerIP` or status) is never handed out again; upstream computes
//!   the in-use set of a namespace pool within that namespace only and hands out duplicates;
//! - lookup is namespace before global, then CIDR before range (`cidr-<ns>`, `range-<ns>`,
//!   `cidr-global`, `range-global`); upstream lets `cidr-global` win over `range-<ns>`;
//! - a shared address is one of the pool's, used only by Services whose namespaces all allow
//!   sharing and whose port numbers are disjoint; upstream shares any address it listed;
//! - malformed keys are reported as Events on the ConfigMap, malformed pools and exhausted
//!   pools as Events on the Service, and never stop the other pools.
//!
//! Single-stack: a Service gets one address, IPv4 when its pool has IPv4, else IPv6.
//!
//! | module | owns |
//! |---|---|
//! | [`addr`] | address numbers, spans, CIDR and range syntax |
//! | [`config`] | the ConfigMap's keys, pools and their lookup |
//! | [`usage`] | which Services are ours, and the cluster-wide in-use map |
//! | [`alloc`] | choosing an address from a pool (bounded search) |
//! | [`io`](mod@io) | assignments, write answers, Events |
//! | [`controller`] | the [`IpamController`] state machine |
//! | `decide` | its decisions |
//! | `writes` | its writes: reservations, answers, retry delays |
//! | [`provider`] | [`CloudProvider`]: the controller under Lease election |

pub mod addr;
pub mod alloc;
pub mod config;
pub mod controller;
mod decide;
pub mod io;
pub mod provider;
pub mod usage;
mod writes;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_controller;

pub use alloc::{allocate, Allocation, Request};
pub use config::{ConfigError, ConfigMapView, IpamConfig, Pool, PoolLookup, Scope, SearchOrder};
pub use controller::{IpamController, IpamSettings};
pub use io::{Assignment, IpamOutput, Reason, Report, ReportTarget, WriteError};
pub use provider::{CloudProvider, CloudProviderConfig, ProviderInput, ProviderOutput};
pub use usage::{addresses_of, classify, port_numbers, ClassFilter, Holder, Need, Usage};
