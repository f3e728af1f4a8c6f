//! Who may announce, in either `svc_election` mode, over one Lease elector:
//! - **global** (default): the elector runs on `svc_leasename` (`plndr-svcs-lock`); its leader
//!   announces every group it may serve.
//! - **per-service**: the elector runs on this node's own membership Lease (it is the only
//!   contender, so "leading" means "my membership is renewed and not fenced"), and
//!   [`Membership`] tracks the others; groups are spread over the live members by
//!   [`super::assign`].
//!
//! Either way there is exactly one Lease write per retryPeriod per node, however many Services.

use std::collections::BTreeSet;
use std::time::Duration;

use super::io::NamedLease;
use super::membership::{member_lease_name, Membership, MEMBER_LEASE_PREFIX};
use crate::config::LeaseRef;
use crate::election::record::{LeaseError, LeaseObject};
use crate::election::{Elector, ElectorConfig};
use crate::io::{OpId, WatchEvent};
use crate::outbox::Outbox;
use crate::time::Instant;

/// How announcing is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionMode {
    /// One Lease for all Services (`svc_election=false`).
    Global {
        /// `svc_leasename` (namespace `cp_namespace` unless given as `ns/name`).
        lease: LeaseRef,
    },
    /// Spread over membership Leases (`svc_election=true`).
    PerService {
        /// Namespace of the membership Leases (`cp_namespace`).
        namespace: String,
    },
}

/// Which Leases the runtime must watch and hand in as [`super::ServicesInput::LeaseWatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseWatchSpec {
    /// The namespace.
    pub namespace: String,
    /// Only this Lease (a field selector on `metadata.name`) …
    pub name: Option<String>,
    /// … or every Lease whose name starts with this (filter after listing the namespace).
    pub prefix: Option<String>,
}

/// What this node may do at a given moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Nothing may be announced from here (not leader, fenced, view stale, not started).
    Nothing,
    /// Global leader: every group it may serve.
    Everything,
    /// Per-service: groups assigned to this node among these live members (self included).
    Share(BTreeSet<String>),
}

/// The elector plus, in per-service mode, the membership view.
#[derive(Debug, Clone)]
pub struct Announcer {
    node: String,
    lease: LeaseRef,
    elector: Elector,
    membership: Option<Membership>,
}

impl Announcer {
    /// An announcer whose elector makes its first attempt at `now`.
    pub fn new(mode: &ElectionMode, elector: ElectorConfig, now: Instant) -> Self {
        let node = elector.identity.clone();
        let timing = elector.timing;
        let (lease, membership) = match mode {
            ElectionMode::Global { lease } => (lease.clone(), None),
            ElectionMode::PerService { namespace } => {
                let lease = LeaseRef {
                    namespace: namespace.clone(),
                    name: member_lease_name(&node),
                };
                let stale_after = timing.retry_period * 3 / 2;
                let view = Membership::new(&node, timing.lease_duration, stale_after);
                (lease, Some(view))
            }
        };
        Announcer {
            node,
            lease,
            elector: Elector::new(elector, now),
            membership,
        }
    }

    /// The Lease the elector writes.
    pub fn lease(&self) -> &LeaseRef {
        &self.lease
    }

    /// The Leases to watch.
    pub fn watch_spec(&self) -> LeaseWatchSpec {
        let namespace = self.lease.namespace.clone();
        match self.membership {
            None => LeaseWatchSpec {
                namespace,
                name: Some(self.lease.name.clone()),
                prefix: None,
            },
            Some(_) => LeaseWatchSpec {
                namespace,
                name: None,
                prefix: Some(MEMBER_LEASE_PREFIX.to_owned()),
            },
        }
    }

    /// The underlying elector (fencing, retries, release).
    pub fn elector(&mut self) -> &mut Elector {
        &mut self.elector
    }

    /// Whether the release on shutdown has finished (or was not needed).
    pub fn release_finished(&self) -> bool {
        self.elector.release_finished()
    }

    /// Whether the elector holds its Lease (not fenced).
    pub fn holds(&self) -> bool {
        self.elector.is_leader()
    }

    /// Whether this is per-service mode.
    pub fn is_per_service(&self) -> bool {
        self.membership.is_some()
    }

    /// Takes one Lease watch event: the elector gets its own Lease (and the list boundaries),
    /// the membership view gets everything.
    pub fn handle_watch(&mut self, now: Instant, event: WatchEvent<NamedLease>, out: &mut Outbox) {
        if let Some(m) = &mut self.membership {
            m.handle_watch(now, &event);
        }
        let ours = |l: &NamedLease| l.name == self.lease.name;
        let routed = match event {
            WatchEvent::Init => Some(WatchEvent::Init),
            WatchEvent::InitDone => Some(WatchEvent::InitDone),
            WatchEvent::InitApply(l) if ours(&l) => Some(WatchEvent::InitApply(l.lease)),
            WatchEvent::Apply(l) if ours(&l) => Some(WatchEvent::Apply(l.lease)),
            WatchEvent::Delete(l) if ours(&l) => Some(WatchEvent::Delete(l.lease)),
            _ => None,
        };
        if let Some(event) = routed {
            self.elector.handle_watch(now, event, out);
        }
    }

    /// Takes the answer to a Lease request.
    pub fn handle_response(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<LeaseObject, LeaseError>,
        out: &mut Outbox,
    ) {
        self.elector.handle_response(now, op, result, out);
    }

    /// What this node may announce at `now`.
    pub fn standing(&self, now: Instant) -> Standing {
        if !self.elector.is_leader() {
            return Standing::Nothing;
        }
        match &self.membership {
            None => Standing::Everything,
            Some(m) if m.is_fresh(now) => {
                let mut live = m.live(now);
                live.insert(self.node.clone());
                Standing::Share(live)
            }
            Some(_) => Standing::Nothing,
        }
    }

    /// Whether the membership view can be acted on (always, in global mode).
    pub fn view_fresh(&self, now: Instant) -> bool {
        self.membership.as_ref().is_none_or(|m| m.is_fresh(now))
    }

    /// Per-service mode: until when the view holds a member not yet confirmed by a renewal
    /// (nothing new is announced before; see [`Membership::unconfirmed_until`]).
    pub fn unconfirmed_until(&self, now: Instant) -> Option<Instant> {
        self.membership
            .as_ref()
            .and_then(|m| m.unconfirmed_until(now))
    }

    /// When a member the others may have expired was last seen renewing again (per-service mode,
    /// see [`Membership::revived`]).
    pub fn revived(&self) -> Option<Instant> {
        self.membership.as_ref().and_then(Membership::revived)
    }

    /// When the membership view next changes by itself (an expiry, or going stale).
    pub fn view_change(&self, now: Instant) -> Option<Instant> {
        self.membership.as_ref().and_then(|m| m.next_change(now))
    }

    /// When the elector next needs attention.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.elector.poll_timeout()
    }

    /// The default handover delay: twice the retry period, longer than a silent watch takes to
    /// make the previous owner's view stale (1.5 × retryPeriod).
    pub fn default_handover(retry_period: Duration) -> Duration {
        retry_period * 2
    }
}
