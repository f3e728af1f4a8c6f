//! kvip-core: the sans-IO heart of kvip.
//!
//! Pure state machines with no clock, no randomness and no OS: a driver hands in facts
//! ([`Input`]) with the current [`Instant`], drains work ([`Output`]) and sleeps until
//! [`Node::poll_timeout`]. The production runtime drives them with tokio, kube-rs and rtnetlink;
//! the simulator in `kvip-testbed` drives the very same code in virtual time and attacks it.
//!
//! | module | owns |
//! |---|---|
//! | [`election`] | client-go Lease election: acquire / renew / release by CAS, expiry, fencing |
//! | [`vip`] | VIP ownership (wanted vs observed, reconciled both ways) and the announcement schedule |
//! | [`node`] | the control-plane [`Node`] tying leadership to addresses, graceful shutdown |
//! | [`wire`] | byte-exact codecs for gratuitous ARP and unsolicited neighbour advertisements |
//! | [`dhcp`] | DHCPv4 client (RFC 2131) for Service addresses from the LAN's DHCP server |
//! | [`ipam`] | address pools of `kvip cloud-provider` and allocation without double use |
//! | [`service`] | LoadBalancer Services: matching, addresses, who announces them |
//! | [`config`] | typed configuration from kube-vip's environment variables and flags |
//! | [`io`] | the [`Input`] / [`Output`] boundary |

pub mod config;
pub mod defects;
pub mod dhcp;
pub mod dhcp6;
pub mod election;
pub mod io;
pub mod ipam;
pub mod node;
pub mod outbox;
pub mod rng;
pub mod service;
pub mod time;
pub mod vip;
pub mod wire;

pub use defects::{Defect, Defects};
pub use election::record::{LeaseError, LeaseObject, LeaseRecord, LeaseRequest, ResourceVersion};
pub use election::timing::ElectionTiming;
pub use io::{AddressError, Event, Input, LossReason, OpId, Output, VipAddress, WatchEvent};
pub use node::{Node, NodeConfig, NodeConfigError};
pub use time::{Instant, MicroTime, WallClock};
