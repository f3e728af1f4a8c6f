//! When the Services world checks its invariants: `one_announcer` and `local_policy` after
//! every step, `eventually_announced` and `on_named_interface` once after the heal (see
//! [`super::invariants`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kvip_core::service::TrafficPolicy;

use super::faults::ns;
use super::invariants::{self as inv, Announcer, SeenUser};
use super::objects::{address_of, wanted_interfaces};
use super::options::Mode;
use super::setup::GLOBAL_LEASE;
use super::world::ServicesWorld;

impl ServicesWorld {
    pub(super) fn check_after_step(&mut self) {
        let now = self.now;
        let mut by_address: BTreeMap<IpAddr, Vec<Announcer>> = BTreeMap::new();
        let mut found = vec![];
        let timer_lateness = ns(self.opts.timer_lateness);
        for h in &mut self.hosts {
            let current = h.announcing_now();
            let behind = h.behind_at(now, timer_lateness);
            h.announced.retain(|a, _| current.contains(a));
            let waited = &mut h.after_wait;
            for &a in &current {
                let (since, waited) = *h
                    .announced
                    .entry(a)
                    .or_insert_with(|| (now, waited.contains_key(&a)));
                by_address.entry(a).or_default().push(Announcer {
                    node: h.name.clone(),
                    since,
                    waited,
                    behind: behind.clone(),
                });
                let users: Vec<SeenUser> = h
                    .seen_services
                    .values()
                    .filter(|v| address_of(v) == Some(a))
                    .map(|v| SeenUser {
                        local: v.traffic_policy == TrafficPolicy::Local,
                        ready_here: h
                            .seen_endpoints
                            .get(&v.key)
                            .is_some_and(|e| e.ready_nodes.contains(&h.name)),
                    })
                    .collect();
                if let Err(v) = inv::local_policy(now, &h.name, a, &users) {
                    found.push(v);
                }
            }
        }
        for h in &mut self.hosts {
            let announced = &h.announced;
            h.after_wait
                .retain(|a, _| !announced.contains_key(a) || announced[a].1);
        }
        let handover = ns(self.opts.handover_delay());
        for (address, announcers) in by_address {
            if let Err(v) = inv::one_announcer(now, self.opts.mode, handover, address, &announcers)
            {
                found.push(v);
            }
        }
        for v in found {
            self.fail(v);
        }
    }

    pub(super) fn check_liveness(&mut self) {
        let mut announcers: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
        let mut live = BTreeSet::new();
        for h in self.hosts.iter().filter(|h| h.core.is_some()) {
            live.insert(h.name.clone());
            for a in h.announcing_now() {
                announcers.entry(a).or_default().push(h.name.clone());
            }
        }
        let wanted = self.objects.wanted();
        let holder = (self.opts.mode == Mode::Global).then(|| self.leases.holder(GLOBAL_LEASE));
        let mut found = inv::eventually_announced(self.now, &wanted, &announcers, &live, holder);
        let links = wanted_interfaces(&self.objects.services);
        for h in self.hosts.iter().filter(|h| h.core.is_some()) {
            for address in h.announcing_now() {
                let Some(want) = links.get(&address) else {
                    continue;
                };
                let on = h.interfaces_with(address);
                if let Err(v) = inv::on_named_interface(self.now, &h.name, address, &on, want) {
                    found.push(v);
                }
            }
        }
        for v in found {
            self.fail(v);
        }
    }
}
