//! LoadBalancer Services: which ones are ours, which addresses they want, who announces them, and
//! the sans-IO [`ServicesNode`] the runtime drives (the same four kinds of method as
//! [`crate::Node`]).
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | the plain-data view of a Service and its endpoints |
//! | [`matching`] | which Services are ours (type, `kube-vip.io/ignore`, `loadBalancerClass`) |
//! | [`addresses`] | the addresses a Service wants (annotation, else `spec.loadBalancerIP`; DHCP) |
//! | [`sharing`] | several Services on one address; port clashes |
//! | [`plan`] | our Services, their kept addresses, problems, and groups announced together |
//! | [`assign`] | bounded-load rendezvous spreading of groups over members (per-service mode) |
//! | [`membership`] | the membership Leases of per-service mode: who is live |
//! | [`announcer`] | global vs per-service election over one elector |
//! | [`handover`] | groups owned here; the delay before announcing one gained from a live member |
//! | [`dhcp`] | which DHCP clients run, their leases, stop-after-remove |
//! | [`status`] | Service status writes, only on change |
//! | [`catalog`] | watch stores with relist semantics |
//! | [`io`] | [`ServicesInput`] / [`ServicesOutput`] |
//! | [`node`], `reconcile`, `effects` | the [`ServicesNode`] and how it settles after every fact |
//!
//! # Per-service mode (`svc_election=true`)
//!
//! kube-vip makes one Lease per Service and renews each every retryPeriod: API writes grow with
//! the number of Services (it floods the API server), and Services pile onto whichever node wins
//! the races. kvip instead:
//! 1. gives every node one **membership Lease** `kvip-svc-member-<node>` in `cp_namespace`,
//!    renewed every retryPeriod by the ordinary elector (one write per node per retryPeriod,
//!    whatever the number of Services), and watches all of them;
//! 2. takes as live the members whose Lease was renewed within its `leaseDurationSeconds` on the
//!    local monotonic clock (itself: while its own Lease is held and not fenced);
//! 3. groups Services that share an address, and assigns each group by bounded-load rendezvous
//!    hashing ([`assign`]) over the live members eligible for it (for `externalTrafficPolicy:
//!    Local`, those with a ready local endpoint): every node computes the same assignment from the
//!    same view, loads differ by at most one, and a member joining or leaving moves few groups
//!    (its own share, plus the few — about 1–3 % of the others' — that keeping loads exactly even
//!    moves between members that stay; those wait out the handover delay like any gain from a
//!    live member, so they are unreachable for about that long);
//! 4. announces the groups assigned to it. A group lost is withdrawn at once; a group gained from
//!    a member that is still live is announced only after the handover delay (default
//!    2 × retryPeriod), leaving the previous owner time to see the change and withdraw.
//!
//! Failure behaviour:
//! - **crash / power-off / partition from the API**: the node's renewals stop; it fences itself
//!   (withdraws everything) `renewDeadline` after its last successful renew was sent, and the
//!   others see its Lease expire `leaseDuration` after they last observed a renewal, then take its
//!   groups at once (no handover delay: an expired member has already withdrawn). Takeover ≤
//!   leaseDuration + watch latency.
//! - **graceful stop**: the node withdraws and removes its addresses, then releases its Lease
//!   (holder cleared); the others take over on the watch event, without delay.
//! - **join** (or return after a restart): the newcomer announces nothing until its first full
//!   view, and then only after the handover delay; the members losing groups to it withdraw as
//!   soon as they see its Lease. The moved groups are unreachable for about the handover delay.
//!   A member its first list shows but whose renewal it has not yet seen may be a dead node's
//!   leftover Lease the others expired long ago (their views then differ); the newcomer starts
//!   announcing nothing new until every such member is confirmed by a renewal (within a
//!   retryPeriod when alive) or has expired (leaseDuration after the list).
//! - **stale view**: a node whose Lease watch has been silent for 1.5 × retryPeriod (a healthy
//!   watch delivers every member's renewals, its own included) might have missed a newcomer, so
//!   it withdraws everything until the watch delivers again. Since that is shorter than the
//!   handover delay, a node with a dead watch stops before a newcomer starts.
//! - **disagreeing views** (watch latency, endpoint churn): two nodes can both think they own a
//!   group only between one node's view changing and the other's; a gain from a live member
//!   waits out the handover delay, so overlap needs a view lag longer than that delay.
//! - Mixed fleets: the hash is part of the protocol; kube-vip nodes (per-Service Leases) and kvip
//!   nodes do not coordinate in this mode, and `kube-vip.io/leaseName` is not used.

pub mod addresses;
pub mod announcer;
pub mod assign;
pub mod catalog;
pub mod config;
pub mod dhcp;
mod effects;
pub mod handover;
pub mod io;
pub mod links;
pub mod matching;
pub mod membership;
pub mod model;
pub mod node;
pub mod plan;
mod queue;
mod reconcile;
pub mod sharing;
pub mod status;

pub use addresses::{DhcpFamily, Prefixes, WantedAddress};
pub use announcer::{ElectionMode, LeaseWatchSpec};
pub use config::{ServicesConfig, ServicesConfigError};
pub use io::{
    DhcpBinding, Ingress, NamedLease, ProblemKind, ServiceEvent, ServiceProblem, ServicesInput,
    ServicesOutput, StatusWrite,
};
pub use matching::ClassRules;
pub use model::{EndpointsView, Protocol, ServiceKey, ServicePort, ServiceView, TrafficPolicy};
pub use node::ServicesNode;
