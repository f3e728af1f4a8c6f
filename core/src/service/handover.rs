//! Which groups this node owns and since when they may be announced. A group lost is dropped at
//! once (its addresses stop being announced and are removed). A group gained is announced:
//! - at once when nobody else can be announcing it: global mode (the elector fenced the previous
//!   leader), or per-service mode when each of its Services was, in this node's previous
//!   assignment, unassigned, new, ours, or assigned to a member that is no longer live (expired
//!   or released: it withdrew before its Lease could lapse or be released);
//! - after the handover delay when it comes from a member that is still live (that member
//!   withdraws as soon as its own view shows the change, normally milliseconds later) — also
//!   when a group already owned here takes in a Service such a member announced (re-addressed
//!   onto one of its addresses: the group's addresses are withdrawn for the delay) — and for
//!   everything in the first assignment after start or after this node's membership lapsed
//!   (it cannot know who announced what meanwhile). A gain let go before its delay ran out (the
//!   view went stale meanwhile) waits again when taken again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::io::ServiceEvent;
use super::model::ServiceKey;
use super::plan::Group;
use crate::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    announce_at: Instant,
    announced: bool,
    /// Its Services when last assigned.
    services: BTreeSet<ServiceKey>,
}

/// One per-service assignment as this node computed it.
#[derive(Debug, Clone, Copy)]
pub struct AssignedView<'a> {
    /// This node.
    pub me: &'a str,
    /// The groups.
    pub groups: &'a [Group],
    /// Group id → member.
    pub assignment: &'a BTreeMap<ServiceKey, String>,
    /// The live members (this node included).
    pub live: &'a BTreeSet<String>,
}

/// The groups owned here.
#[derive(Debug, Clone, Default)]
pub struct Handover {
    owned: BTreeMap<ServiceKey, Owned>,
    /// Per Service, who announces it as far as this node knows (per-service mode): the member
    /// it was last assigned to, except that a gain still waiting out its delay keeps the
    /// previous announcer (`None`: unknown). `None` before the first assignment.
    previous: Option<BTreeMap<ServiceKey, Option<String>>>,
}

impl Handover {
    /// Global mode: owns exactly `mine`, announced at once.
    pub fn own_all(
        &mut self,
        now: Instant,
        mine: BTreeSet<ServiceKey>,
        events: &mut Vec<ServiceEvent>,
    ) {
        self.drop_others(&mine, events);
        for id in mine {
            self.owned.entry(id).or_insert(Owned {
                announce_at: now,
                announced: false,
                services: BTreeSet::new(),
            });
        }
    }

    /// Per-service mode: owns the groups `view` gives this node, delaying gains from live
    /// members by `delay`.
    pub fn own_assigned(
        &mut self,
        now: Instant,
        view: &AssignedView<'_>,
        delay: Duration,
        events: &mut Vec<ServiceEvent>,
    ) {
        let AssignedView {
            me,
            groups,
            assignment,
            live,
        } = *view;
        let mut next_previous = BTreeMap::new();
        let mut mine = BTreeSet::new();
        for g in groups {
            let Some(owner) = assignment.get(&g.id) else {
                continue;
            };
            if owner != me {
                for s in &g.services {
                    next_previous.insert(s.clone(), Some(owner.clone()));
                }
                continue;
            }
            mine.insert(g.id.clone());
            let services: BTreeSet<ServiceKey> = g.services.iter().cloned().collect();
            let previous = &self.previous;
            let waits = |s: &ServiceKey| may_be_announced_elsewhere(previous, s, me, live);
            match self.owned.get_mut(&g.id) {
                Some(o) if o.services == services => {}
                Some(o) => {
                    // A group owned here took in a Service (re-addressed onto one of its
                    // addresses): if a live member may announce that one, it is a gain like
                    // any other, withdrawn until the handover delay has passed.
                    let merged = services.difference(&o.services).any(waits);
                    o.services = services;
                    if merged {
                        if o.announced {
                            events.push(ServiceEvent::Withdrawn(g.id.clone()));
                        }
                        o.announced = false;
                        o.announce_at = now + delay;
                        events.push(ServiceEvent::HandoverWait(g.id.clone()));
                    }
                }
                None => {
                    let from_live_member = g.services.iter().any(waits);
                    let announce_at = if from_live_member {
                        events.push(ServiceEvent::HandoverWait(g.id.clone()));
                        now + delay
                    } else {
                        now
                    };
                    let owned = Owned {
                        announce_at,
                        announced: false,
                        services,
                    };
                    self.owned.insert(g.id.clone(), owned);
                }
            }
            // While a gain waits, its Services keep the announcer they had: if this node lets
            // the group go and takes it again before the delay ran out (a stale view
            // meanwhile), it waits again.
            let waiting = self
                .owned
                .get(&g.id)
                .is_some_and(|o| !o.announced && o.announce_at > now);
            for s in &g.services {
                let record = match &self.previous {
                    _ if !waiting => Some(me.to_owned()),
                    None => None,
                    Some(previous) => match previous.get(s) {
                        Some(Some(o)) if o != me => Some(o.clone()),
                        Some(None) => None,
                        _ => Some(me.to_owned()),
                    },
                };
                next_previous.insert(s.clone(), record);
            }
        }
        self.drop_others(&mine, events);
        self.previous = Some(next_previous);
    }

    /// Owns nothing; with `forget`, the next assignment counts as the first (after this node's
    /// membership lapsed, others may have taken anything).
    pub fn release_all(&mut self, forget: bool, events: &mut Vec<ServiceEvent>) {
        self.drop_others(&BTreeSet::new(), events);
        if forget {
            self.previous = None;
        }
    }

    fn drop_others(&mut self, keep: &BTreeSet<ServiceKey>, events: &mut Vec<ServiceEvent>) {
        self.owned.retain(|id, o| {
            let kept = keep.contains(id);
            if !kept && o.announced {
                events.push(ServiceEvent::Withdrawn(id.clone()));
            }
            kept
        });
    }

    /// Marks due groups announced (reporting each once) and returns the ones announced now.
    /// With `hold_new`, groups not announced yet stay waiting (the membership view still holds
    /// an unconfirmed member); those already announced stay announced.
    pub fn activate(
        &mut self,
        now: Instant,
        hold_new: bool,
        events: &mut Vec<ServiceEvent>,
    ) -> BTreeSet<ServiceKey> {
        let mut active = BTreeSet::new();
        for (id, o) in &mut self.owned {
            if now >= o.announce_at && (o.announced || !hold_new) {
                if !o.announced {
                    o.announced = true;
                    events.push(ServiceEvent::Announcing(id.clone()));
                }
                active.insert(id.clone());
            }
        }
        active
    }

    /// Groups not announced yet become announceable no sooner than `at`.
    pub fn postpone_waiting(&mut self, at: Instant) {
        for o in self.owned.values_mut().filter(|o| !o.announced) {
            o.announce_at = o.announce_at.max(at);
        }
    }

    /// When the next delayed group becomes announceable.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.owned
            .values()
            .map(|o| o.announce_at)
            .filter(|&t| t > now)
            .min()
    }

    /// Whether `group` is owned (announced or waiting).
    pub fn owns(&self, group: &ServiceKey) -> bool {
        self.owned.contains_key(group)
    }
}

/// Whether a live member other than `me` may be announcing `service`, as far as `previous` knows:
/// its previous announcer is such a member, or unknown (before the first assignment, or a gain
/// that never completed since). A Service not in `previous` is new: nobody announces it.
fn may_be_announced_elsewhere(
    previous: &Option<BTreeMap<ServiceKey, Option<String>>>,
    service: &ServiceKey,
    me: &str,
    live: &BTreeSet<String>,
) -> bool {
    match previous {
        None => true,
        Some(previous) => match previous.get(service) {
            Some(Some(o)) => o != me && live.contains(o),
            Some(None) => true,
            None => false,
        },
    }
}
