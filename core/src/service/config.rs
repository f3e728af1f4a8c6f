//! What a [`super::ServicesNode`] needs, and how it follows from kvip's [`Config`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

use super::addresses::Prefixes;
use super::announcer::{Announcer, ElectionMode};
use super::matching::ClassRules;
use crate::config::Config;
use crate::defects::Defects;
use crate::election::timing::{ElectionTiming, TimingError};
use crate::time::WallClock;
use crate::wire::MacAddr;

/// Everything a [`super::ServicesNode`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicesConfig {
    /// This node's name (`vip_nodename`): Lease holder identity, `vipHost`, endpoint node name.
    pub node_name: String,
    /// Global or per-service election (`svc_election`).
    pub mode: ElectionMode,
    /// Lease timing; validated by [`super::ServicesNode::new`].
    pub timing: ElectionTiming,
    /// Which Services are ours.
    pub classes: ClassRules,
    /// Prefix lengths of Service addresses (`vip_subnet`).
    pub prefixes: Prefixes,
    /// MAC of the Services interface, the sender of announcements.
    pub mac: MacAddr,
    /// Name of the Services interface (`vip_servicesinterface`, else `vip_interface`; the
    /// runtime fills in the default route's when both are empty). Services are announced there
    /// unless their `kube-vip.io/serviceInterface` names one of [`ServicesConfig::links`].
    pub interface: String,
    /// This node's other Ethernet interfaces a Service may name, with their MACs (the runtime
    /// lists them at start). A Service naming an interface not here is reported and announced
    /// on the Services interface.
    pub links: BTreeMap<String, MacAddr>,
    /// Refresh period of announcements (`vip_arpRate`).
    pub arp_rate: Duration,
    /// Write Service status (`!disable_service_updates`).
    pub write_status: bool,
    /// Addresses another machine owns (the control-plane VIPs): a Service may use one (S2 pins
    /// the control-plane VIP), but this node never adds, removes or announces it.
    pub foreign_addresses: BTreeSet<IpAddr>,
    /// How long a node waits before announcing a group gained from a live member.
    pub handover_delay: Duration,
    /// Seed for the elector's retry jitter.
    pub seed: u64,
    /// Wall time at start, for Lease timestamps.
    pub wall: WallClock,
    /// Planted defects (tests only).
    pub defects: Defects,
}

/// Why a [`ServicesConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServicesConfigError {
    /// The election timing breaks client-go's rule.
    #[error(transparent)]
    Timing(#[from] TimingError),
    /// The node name is empty.
    #[error("empty node name (set `vip_nodename`)")]
    NoIdentity,
}

impl ServicesConfig {
    /// The Services settings of `cfg` for an interface with `mac`.
    pub fn from_config(cfg: &Config, mac: MacAddr, seed: u64, wall: WallClock) -> Self {
        let mode = if cfg.svc_election {
            ElectionMode::PerService {
                namespace: cfg.cp_namespace.clone(),
            }
        } else {
            ElectionMode::Global {
                lease: cfg.svc_lease.clone(),
            }
        };
        let foreign_addresses = if cfg.cp_enable {
            cfg.addresses.iter().filter_map(|a| a.ip()).collect()
        } else {
            BTreeSet::new()
        };
        ServicesConfig {
            node_name: cfg.node_name.clone(),
            mode,
            timing: cfg.election,
            classes: ClassRules::from_config(cfg),
            prefixes: Prefixes {
                v4: cfg.prefix_v4,
                v6: cfg.prefix_v6,
            },
            mac,
            interface: cfg
                .effective_services_interface()
                .unwrap_or_default()
                .to_owned(),
            links: BTreeMap::new(),
            arp_rate: cfg.arp_rate,
            write_status: !cfg.disable_service_updates,
            foreign_addresses,
            handover_delay: Announcer::default_handover(cfg.election.retry_period),
            seed,
            wall,
            defects: Defects::default(),
        }
    }
}
