//! Who is alive, for per-service mode: every node holds a membership Lease named
//! `kvip-svc-member-<node>` in `cp_namespace`, and watches all of them. This module reads the
//! others' Leases (the node's own is renewed by its [`crate::election::Elector`]).
//!
//! - A member is live while its Lease names it as holder and `leaseDurationSeconds` has not passed
//!   on the **local monotonic clock** since the current record was first observed (client-go's
//!   rule; a renew changes the resourceVersion, which restarts the count).
//! - A released Lease (no holder: graceful stop) ends membership at once; a deleted one too.
//! - A member whose current record was first seen in a list (not written while this node
//!   watched: at start, or in the re-list after a cut) is *unconfirmed* until a renewal of it is
//!   seen: its Lease may be a dead node's leftover that the others have long expired. When the
//!   renewal that confirms it comes more than its leaseDuration (by its own `renewTime`) after
//!   the listed record, the others may have expired it meanwhile and see it again only now
//!   ([`Membership::revived`]): what this node held back waits a handover delay from then. While an unconfirmed member still counts as live, this node's view may disagree with
//!   theirs, so it starts announcing nothing new ([`Membership::unconfirmed_until`]); in a healthy
//!   cluster the first renewals confirm everybody within a retryPeriod.
//! - The view is *fresh* while the watch has completed a list and delivered something within
//!   1.5 × retryPeriod: every live member renews every retryPeriod (this node included), so a
//!   healthy watch is never silent that long. A node announces nothing from a stale view: it might
//!   have missed a member that took its Services.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::io::NamedLease;
use crate::election::record::ResourceVersion;
use crate::io::WatchEvent;
use crate::time::{Instant, MicroTime};

/// Prefix of membership Lease names.
pub const MEMBER_LEASE_PREFIX: &str = "kvip-svc-member-";

/// The membership Lease name of `node`.
pub fn member_lease_name(node: &str) -> String {
    format!("{MEMBER_LEASE_PREFIX}{node}")
}

#[derive(Debug, Clone)]
struct Seen {
    holder_is_member: bool,
    duration: Duration,
    version: ResourceVersion,
    first_observed: Instant,
    /// A write of this Lease was seen while watching (not only a list).
    confirmed: bool,
    /// The record's `renewTime` (the member's own clock).
    renewed: Option<MicroTime>,
}

/// The other members, as seen on the membership watch.
#[derive(Debug, Clone)]
pub struct Membership {
    own: String,
    default_duration: Duration,
    stale_after: Duration,
    members: BTreeMap<String, Seen>,
    relist: Option<BTreeSet<String>>,
    synced: bool,
    last_event: Option<Instant>,
    revived: Option<Instant>,
}

impl Membership {
    /// A view for `own_node`, judging Leases without a duration by `lease_duration`, stale after
    /// `stale_after` of watch silence.
    pub fn new(own_node: &str, lease_duration: Duration, stale_after: Duration) -> Self {
        Membership {
            own: own_node.to_owned(),
            default_duration: lease_duration,
            stale_after,
            members: BTreeMap::new(),
            relist: None,
            synced: false,
            last_event: None,
            revived: None,
        }
    }

    /// Takes one event of the Lease watch (the own Lease only counts as a sign of life).
    pub fn handle_watch(&mut self, now: Instant, event: &WatchEvent<NamedLease>) {
        self.last_event = Some(now);
        match event {
            WatchEvent::Init => self.relist = Some(BTreeSet::new()),
            WatchEvent::InitApply(lease) => {
                if let Some(node) = self.observe(now, lease, false) {
                    self.relist.get_or_insert_with(BTreeSet::new).insert(node);
                }
            }
            WatchEvent::InitDone => {
                let seen = self.relist.take().unwrap_or_default();
                self.members.retain(|node, _| seen.contains(node));
                self.synced = true;
            }
            WatchEvent::Apply(lease) => {
                self.observe(now, lease, true);
            }
            WatchEvent::Delete(lease) => {
                if let Some(node) = self.member_of(&lease.name) {
                    self.members.remove(&node);
                }
            }
        }
    }

    /// The node a membership Lease belongs to (not our own, not another kind of Lease).
    fn member_of(&self, lease_name: &str) -> Option<String> {
        let node = lease_name.strip_prefix(MEMBER_LEASE_PREFIX)?;
        (!node.is_empty() && node != self.own).then(|| node.to_owned())
    }

    /// Records a member's Lease; `written` when the watch delivered it as a change (not a list).
    fn observe(&mut self, now: Instant, named: &NamedLease, written: bool) -> Option<String> {
        let node = self.member_of(&named.name)?;
        let record = &named.lease.record;
        let version = named.lease.resource_version.clone();
        let known = self.members.get(&node);
        let newer = known.is_none_or(|s| version.is_newer_than(&s.version));
        if newer {
            // Written while we watched: the member is alive. A newer record that only a list
            // shows may have been written any time while this node did not watch (cut off, or
            // just started): it proves nothing about now, and the others may have expired it.
            let confirmed = written;
            let renewed = record.renew_time;
            if written
                && known
                    .is_some_and(|k| !k.confirmed && gap_exceeds(k.renewed, renewed, k.duration))
            {
                // It stopped renewing for longer than its Lease lasts, so the others may have
                // expired it, and see it come back only with this write.
                self.revived = Some(now);
            }
            let duration = match record.lease_duration_seconds {
                0 => self.default_duration,
                s => Duration::from_secs(u64::from(s)),
            };
            let seen = Seen {
                holder_is_member: record.holder() == Some(node.as_str()),
                duration,
                version,
                first_observed: now,
                confirmed,
                renewed,
            };
            self.members.insert(node.clone(), seen);
        }
        Some(node)
    }

    /// Whether the view can be acted on: listed once, and the watch not silent.
    pub fn is_fresh(&self, now: Instant) -> bool {
        self.synced && self.last_event.is_some_and(|t| now < t + self.stale_after)
    }

    /// The other live members at `now`.
    pub fn live(&self, now: Instant) -> BTreeSet<String> {
        self.members
            .iter()
            .filter(|(_, s)| s.holder_is_member && now < s.first_observed + s.duration)
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// Until when a live member is still unconfirmed (seen only in a list, never renewed since):
    /// the latest expiry of such members, `None` when there is none.
    pub fn unconfirmed_until(&self, now: Instant) -> Option<Instant> {
        self.members
            .values()
            .filter(|s| s.holder_is_member && !s.confirmed)
            .map(|s| s.first_observed + s.duration)
            .filter(|&t| t > now)
            .max()
    }

    /// When an unconfirmed member was last confirmed by a renewal that came more than its
    /// leaseDuration after the record listed (by its own `renewTime`): a member the others may
    /// have expired and only now see again.
    pub fn revived(&self) -> Option<Instant> {
        self.revived
    }

    /// When the view next changes by itself: a live member expires, or the view goes stale.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let expiries = self
            .members
            .values()
            .filter(|s| s.holder_is_member)
            .map(|s| s.first_observed + s.duration)
            .filter(|&t| t > now);
        let stale = self
            .last_event
            .filter(|_| self.synced)
            .map(|t| t + self.stale_after)
            .filter(|&t| t > now);
        expiries.chain(stale).min()
    }
}

/// Whether `later` was renewed more than `duration` after `earlier` (unknown times count as yes).
fn gap_exceeds(earlier: Option<MicroTime>, later: Option<MicroTime>, duration: Duration) -> bool {
    match (earlier, later) {
        (Some(a), Some(b)) => {
            let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
            b.0.saturating_sub(a.0) > micros
        }
        _ => true,
    }
}
