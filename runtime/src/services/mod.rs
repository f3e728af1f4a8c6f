//! `kvip manager` with `svc_enable`: LoadBalancer Services announced from this node.
//!
//! | module | owns |
//! |---|---|
//! | [`start`] | building the [`kvip_core::service::ServicesNode`] and its ports from the configuration |
//! | [`driver`] | the loop that owns the node and carries out its outputs |
//! | [`watch`] | Service and endpoint watches as the core's views (Endpoints or merged slices) |
//! | [`leases`] | the global / membership Leases and their watch |
//! | [`links`] | the Services interface and the other interfaces Services name: address, frame and monitor ports |
//! | [`status`] | `status.loadBalancer.ingress` and annotation writes |
//! | [`dhcp_clients`] | the DHCP clients of `0.0.0.0` Services and their macvlan addresses |
//! | [`events`] | Warning Events on Services |

pub mod dhcp_clients;
pub mod driver;
pub mod events;
pub mod leases;
pub mod links;
pub mod start;
pub mod status;
pub mod watch;
