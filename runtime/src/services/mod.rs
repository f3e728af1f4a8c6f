//! `kvip manager` with `svc_enable`: LoadBalancer Services announced from this node.
//!
//! | module | owns |
//! |---|---|
//! | [`watch`] | Service and endpoint watches as the core's views (Endpoints or merged slices) |
//! | [`status`] | `status.loadBalancer.ingress` and `kube-vip.io/vipHost` writes |
//! | [`events`] | Warning Events on Services |

pub mod events;
pub mod status;
pub mod watch;
