//! How the [`ServicesNode`] settles after every fact: plan → who owns which group → which
//! addresses are wanted → address operations and announcements → DHCP clients → status writes →
//! problem reports → shutdown progress. The expensive part runs only when something changed
//! (`dirty`); timer wake-ups for frames and retries only drive the VIP manager.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::announcer::Standing;
use super::assign::{assign, speaker};
use super::handover::AssignedView;
use super::io::{ServiceEvent, ServicesOutput};
use super::node::{Assigned, ServicesNode};
use super::plan::{Interfaces, Plan};
use crate::defects::Defect;
use crate::time::Instant;

impl ServicesNode {
    /// Withdraws everything at once if the elector fenced itself, before any other work.
    pub(super) fn fence(&mut self, now: Instant) {
        let held = self.announcer.holds();
        self.announcer.elector().fence(now, &mut self.queue.core);
        if held && !self.announcer.holds() {
            let mut events = vec![];
            self.handover.release_all(true, &mut events);
            self.active.clear();
            self.serving.clear();
            self.links.unwant_all();
            self.links.handle_timeout(now, &mut self.queue);
            self.push_events(events);
            self.dirty = true;
        }
    }

    /// Marks the Services using `address` for a status pass.
    pub(super) fn address_changed(&mut self, address: IpAddr) {
        if let Some(users) = self.plan.users.get(&address) {
            self.status_keys.extend(users.iter().cloned());
        }
    }

    /// Marks everything dirty when what the announcer allows changed.
    pub(super) fn notice_standing(&mut self, now: Instant) {
        if self.stopping || self.standing_now(now) != self.last_standing {
            self.dirty = true;
        }
        let unconfirmed = self.announcer.unconfirmed_until(now).is_some();
        if unconfirmed != self.unconfirmed {
            if let Some(revived) = self.announcer.revived().filter(|_| !unconfirmed) {
                // The hold ended with a member the others may have expired renewing again:
                // they see it only on that renewal, so what was held waits a full handover
                // delay from it (as a gain made then would).
                let delay = self.handover_delay();
                self.handover.postpone_waiting(revived + delay);
            }
            self.unconfirmed = unconfirmed;
            self.dirty = true;
        }
    }

    pub(super) fn settle(&mut self, now: Instant) {
        // A deadline that passed counts whether or not its timer was served first: an input
        // handled after it (a busy runtime) must do the timer's work, since the wake-up computed
        // below only looks forward and would forget it (a gain due then, a status retry).
        let forward_only = self.cfg.defects.has(Defect::ServicesForwardOnlyWake);
        if !forward_only && self.wake_at.is_some_and(|t| t <= now) {
            self.dirty = true;
        }
        if self.plan_stale {
            self.plan_stale = false;
            let interfaces = Interfaces {
                services: &self.cfg.interface,
                others: &self.cfg.links,
            };
            let plan = Plan::build(
                &self.services,
                &self.endpoints,
                &self.cfg.classes,
                &interfaces,
            );
            if plan != self.plan {
                if plan.groups != self.plan.groups {
                    self.plan_version += 1;
                }
                self.plan = plan;
                self.dirty = true;
            }
        }
        let full = std::mem::take(&mut self.dirty);
        if full {
            let mut events = vec![];
            self.update_ownership(now, &mut events);
            let hold_new = self.announcer.unconfirmed_until(now).is_some();
            self.active = self.handover.activate(now, hold_new, &mut events);
            self.push_events(events);
            self.apply_addresses();
        }
        self.links.handle_timeout(now, &mut self.queue);
        let keys = std::mem::take(&mut self.status_keys);
        if full || !keys.is_empty() {
            if full || !self.dhcp.is_empty() {
                self.sync_dhcp();
            }
            if self.cfg.write_status {
                self.write_statuses(now, (!full).then_some(&keys));
            }
        }
        if full {
            self.report_problems();
        }
        if self.stopping {
            self.finish_shutdown(now);
        }
        self.wake_at = [
            self.handover.next_due(now),
            self.announcer.view_change(now),
            self.status.poll_timeout().filter(|&t| t > now),
        ]
        .into_iter()
        .flatten()
        .min();
    }

    fn push_events(&mut self, events: Vec<ServiceEvent>) {
        for e in events {
            self.queue.push(ServicesOutput::ServiceEvent(e));
        }
    }

    /// What may be announced at `now`: nothing while stopping, and in per-service mode nothing
    /// before both the Service and the endpoint lists arrived (every Service would look new,
    /// and be taken without the handover delay).
    pub(super) fn standing_now(&self, now: Instant) -> Standing {
        let listed = self.services.is_synced() && self.endpoints.is_synced();
        match self.announcer.standing(now) {
            _ if self.stopping => Standing::Nothing,
            Standing::Share(_) if !listed => Standing::Nothing,
            standing => standing,
        }
    }

    fn update_ownership(&mut self, now: Instant, events: &mut Vec<ServiceEvent>) {
        let fresh = self.announcer.view_fresh(now);
        if fresh != self.view_fresh {
            self.view_fresh = fresh;
            events.push(ServiceEvent::ViewStale(!fresh));
        }
        let standing = self.standing_now(now);
        let me = self.cfg.node_name.clone();
        self.last_standing = standing.clone();
        match standing {
            Standing::Nothing => {
                self.handover.release_all(!self.announcer.holds(), events);
                self.assigned = None;
            }
            Standing::Everything => {
                let mine = self.plan.groups.iter().filter(|g| g.eligible.allows(&me));
                let mine = mine.map(|g| g.id.clone()).collect();
                self.handover.own_all(now, mine, events);
            }
            Standing::Share(mut live) => {
                if self.cfg.defects.has(Defect::ServicesStickyMembers) {
                    live.extend(self.assigned.iter().flat_map(|a| a.live.iter().cloned()));
                }
                let current = self
                    .assigned
                    .as_ref()
                    .is_some_and(|a| a.plan_version == self.plan_version && a.live == live);
                if current {
                    return;
                }
                if self.assigned.as_ref().map(|a| &a.live) != Some(&live) {
                    events.push(ServiceEvent::Members(live.iter().cloned().collect()));
                }
                let map = assign(&self.plan.groups, &live);
                let view = AssignedView {
                    me: &me,
                    groups: &self.plan.groups,
                    assignment: &map,
                    live: &live,
                };
                let delay = self.handover_delay();
                self.handover.own_assigned(now, &view, delay, events);
                self.assigned = Some(Assigned {
                    plan_version: self.plan_version,
                    live,
                    map,
                });
            }
        }
    }

    /// The handover delay (none with the planted defect).
    fn handover_delay(&self) -> std::time::Duration {
        if self.cfg.defects.has(Defect::ServicesNoHandoverDelay) {
            std::time::Duration::ZERO
        } else {
            self.cfg.handover_delay
        }
    }

    /// Sets every known address wanted or not, retires the ones no Service wants any more.
    fn apply_addresses(&mut self) {
        let me = self.cfg.node_name.as_str();
        let foreign = &self.cfg.foreign_addresses;
        // Each address with whether it is wanted here and its interface: that of its first
        // Service (in key order) among those keeping it.
        let mut wanted: BTreeMap<IpAddr, (bool, Option<&str>)> = BTreeMap::new();
        let mut serving = BTreeSet::new();
        for s in self.plan.services.values() {
            for &ip in &s.statics {
                wanted.entry(ip).or_insert((false, s.link.as_deref()));
            }
        }
        for g in self
            .plan
            .groups
            .iter()
            .filter(|g| self.active.contains(&g.id))
        {
            for s in g.services.iter().filter_map(|k| self.plan.services.get(k)) {
                if s.servable_from(me) {
                    serving.insert(s.view.key.clone());
                    for &ip in &s.statics {
                        if let Some(w) = wanted.get_mut(&ip) {
                            w.0 = true;
                        }
                    }
                }
            }
        }
        wanted.retain(|ip, _| !foreign.contains(ip));
        let gone: Vec<IpAddr> = self
            .links
            .tracked()
            .into_iter()
            .filter(|a| !wanted.contains_key(a))
            .collect();
        for address in gone {
            self.links.retire(address);
        }
        for (ip, (w, link)) in wanted {
            let stale = match self.cfg.defects.has(Defect::ServicesStaleInterface) {
                true => self
                    .links
                    .wanted_on(ip)
                    .map(|first| first.map(str::to_owned)),
                false => None,
            };
            let link = match &stale {
                Some(first) => first.as_deref(),
                None => link,
            };
            self.links
                .set_address_wanted(link, self.cfg.prefixes.vip(ip), w);
        }
        self.serving = serving;
    }

    /// Reports each problem once while it lasts, from the node that speaks for the Service:
    /// the global leader, or the Service's first live member in per-service mode.
    fn report_problems(&mut self) {
        let me = &self.cfg.node_name;
        let all: BTreeSet<_> = self.plan.problems.values().flatten().cloned().collect();
        self.reported.retain(|p| all.contains(p));
        let leader = self.announcer.holds() && !self.announcer.is_per_service();
        for p in all {
            let speaks = match &self.assigned {
                Some(a) => speaker(&p.key, &a.live) == Some(me),
                None => leader,
            };
            if speaks && self.reported.insert(p.clone()) {
                self.queue.push(ServicesOutput::Problem(p));
            }
        }
    }

    fn finish_shutdown(&mut self, now: Instant) {
        let early = self.cfg.defects.has(Defect::ReleaseBeforeRemove);
        let done = self.links.all_absent() && self.dhcp.is_empty();
        self.announcer
            .elector()
            .allow_release(now, early || done, &mut self.queue.core);
        if self.announcer.release_finished() && done && !self.stopped {
            self.stopped = true;
            self.queue.push(ServicesOutput::Stopped);
        }
    }
}
