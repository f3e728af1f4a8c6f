//! How the Services world configures its nodes and its starting objects.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kvip_core::config::LeaseRef;
use kvip_core::service::{ClassRules, ElectionMode, Prefixes, ServicesConfig};
use kvip_core::wire::MacAddr;
use kvip_core::Defects;

use super::objects::{OTHER_INTERFACE, SERVICES_INTERFACE};
use super::options::{Mode, ServicesSimOptions};
use crate::sim::clock::NodeClock;

/// The global Lease's name (kube-vip's `svc_leasename` default).
pub const GLOBAL_LEASE: &str = "plndr-svcs-lock";
/// The namespace of every Lease.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// Services created before the nodes boot.
pub const INITIAL_SERVICES: u64 = 4;
/// Churn creates no more Services than this (it deletes one instead).
pub const MAX_SERVICES: usize = 8;

/// The config of node `index`, started at true time `now_ns`.
pub fn node_config(
    opts: &ServicesSimOptions,
    index: usize,
    name: &str,
    clock: &NodeClock,
    now_ns: u64,
    defects: &Defects,
) -> ServicesConfig {
    let mode = match opts.mode {
        Mode::Global => ElectionMode::Global {
            lease: LeaseRef {
                namespace: LEASE_NAMESPACE.into(),
                name: GLOBAL_LEASE.into(),
            },
        },
        Mode::PerService => ElectionMode::PerService {
            namespace: LEASE_NAMESPACE.into(),
        },
    };
    ServicesConfig {
        node_name: name.to_owned(),
        mode,
        timing: opts.timing,
        classes: ClassRules::default(),
        prefixes: Prefixes::default(),
        mac: MacAddr([2, 0, 0, 0, 1, index as u8]),
        interface: SERVICES_INTERFACE.into(),
        links: other_links(index),
        arp_rate: Duration::from_secs(3),
        write_status: true,
        foreign_addresses: BTreeSet::new(),
        handover_delay: opts.handover_delay(),
        seed: opts.seed ^ (index as u64) << 32 ^ now_ns,
        wall: clock.wall_clock(now_ns),
        defects: defects.clone(),
    }
}

/// Node `index`'s interfaces besides the Services interface, with their MACs: while it has them.
pub fn other_links(index: usize) -> BTreeMap<String, MacAddr> {
    BTreeMap::from([(
        OTHER_INTERFACE.to_owned(),
        MacAddr([2, 0, 0, 0, 2, index as u8]),
    )])
}
