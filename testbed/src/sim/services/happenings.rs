//! Boots, node faults and their ends, churn of the cluster's objects, and the heal: how the
//! Services world carries out its schedule.

use kvip_core::service::{EndpointsView, ServiceView, ServicesInput, ServicesNode};
use kvip_core::WatchEvent;

use super::faults::{ns, Happening};
use super::objects::{address_of, interface_of, OTHER_INTERFACE};
use super::setup::{node_config, other_links, MAX_SERVICES};
use super::world::{Ev, ServicesWorld};

impl ServicesWorld {
    /// Starts the node's daemon (boot or restart); its watches list after an API round trip.
    pub(super) fn boot(&mut self, node: usize) {
        let h = &self.hosts[node];
        if h.core.is_some() || h.permanent {
            return;
        }
        let local = h.clock.local(self.now);
        let mut cfg = node_config(&self.opts, node, &h.name, &h.clock, self.now, &self.defects);
        if !h.other_link_up {
            cfg.links.clear();
        }
        let core = ServicesNode::new(cfg, local).expect("valid config");
        let h = &mut self.hosts[node];
        h.core = Some(core);
        h.incarnation += 1;
        h.watch_gen += 1;
        h.watch_connected = false;
        let gen = h.watch_gen;
        self.trace.line(self.now, || format!("node-{node} starts"));
        let at = self.now + self.latency(self.opts.api_latency) * 2;
        self.push(at, Ev::Relist { node, gen });
        self.drive(node, |_, _| {});
    }

    pub(super) fn happen(&mut self, i: usize) {
        let p = self.plan[i];
        let names = self.names();
        self.trace.mix(&[20, self.now, i as u64]);
        if p.what.is_node_fault() {
            let node = (p.roll % self.hosts.len() as u64) as usize;
            let h = &self.hosts[node];
            let busy = self.faulted.iter().flatten().any(|&n| n == node);
            if busy || h.core.is_none() || h.permanent {
                return;
            }
            let text = format!("{:?} node-{node} for {}ms", p.what, p.duration / 1_000_000);
            self.trace.line(self.now, || text);
            self.faulted[i] = Some(node);
            match p.what {
                Happening::Crash { permanent } => {
                    let first = !self.hosts.iter().any(|h| h.permanent);
                    let h = &mut self.hosts[node];
                    h.down(true);
                    h.permanent = permanent && first;
                }
                Happening::Stop => {
                    self.drive(node, |n, now| n.shutdown(now));
                }
                Happening::Cut => {
                    let h = &mut self.hosts[node];
                    h.cut = true;
                    h.watch_gen += 1;
                    h.watch_connected = false;
                }
                Happening::SlowWatch { extra } => self.hosts[node].slow_extra = ns(extra),
                Happening::LinkGone => {
                    let h = &mut self.hosts[node];
                    h.other_link_up = false;
                    h.kernel.retain(|(link, _)| link != OTHER_INTERFACE);
                    let links = Default::default();
                    self.deliver(node, ServicesInput::LinksChanged { links });
                }
                _ => {}
            }
            self.push(self.now + p.duration, Ev::End(i));
            return;
        }
        let full = self.objects.services.len() >= MAX_SERVICES;
        match p.what {
            Happening::CreateService if !full => {
                let (view, endpoints) = self.objects.create(p.roll, &names);
                self.note_object(&view, &endpoints);
                self.emit_service(WatchEvent::Apply(view));
                self.emit_endpoints(WatchEvent::Apply(endpoints));
            }
            Happening::CreateService | Happening::DeleteService => {
                if let Some((view, endpoints)) = self.objects.delete(p.roll) {
                    let key = view.key.clone();
                    self.trace.line(self.now, || format!("delete {key}"));
                    self.emit_service(WatchEvent::Delete(view));
                    self.emit_endpoints(WatchEvent::Delete(endpoints));
                }
            }
            Happening::Readdress => {
                if let Some(view) = self.objects.readdress(p.roll) {
                    let text = format!("readdress {} {:?}", view.key, address_of(&view));
                    self.trace.line(self.now, || text);
                    self.emit_service(WatchEvent::Apply(view));
                }
            }
            Happening::Reinterface => {
                if let Some(view) = self.objects.reinterface(p.roll) {
                    let text = format!("reinterface {} {:?}", view.key, interface_of(&view));
                    self.trace.line(self.now, || text);
                    self.emit_service(WatchEvent::Apply(view));
                }
            }
            Happening::MoveEndpoints => {
                if let Some(e) = self.objects.move_endpoints(p.roll, &names) {
                    let text = format!("endpoints {} on {:?}", e.key, e.ready_nodes);
                    self.trace.line(self.now, || text);
                    self.emit_endpoints(WatchEvent::Apply(e));
                }
            }
            _ => {}
        }
    }

    pub(super) fn note_object(&mut self, view: &ServiceView, endpoints: &EndpointsView) {
        let text = format!(
            "create {} {:?} {:?} interface {:?} endpoints on {:?}",
            view.key,
            view.traffic_policy,
            address_of(view),
            interface_of(view),
            endpoints.ready_nodes
        );
        self.trace.line(self.now, || text);
    }

    pub(super) fn end(&mut self, i: usize) {
        let Some(node) = self.faulted[i].take() else {
            return;
        };
        self.trace
            .line(self.now, || format!("fault {i} on node-{node} ends"));
        match self.plan[i].what {
            Happening::Crash { .. } => self.boot(node),
            Happening::Stop => {
                if self.hosts[node].core.is_some() {
                    self.hosts[node].down(true);
                }
                self.boot(node);
            }
            Happening::Cut => {
                let h = &mut self.hosts[node];
                h.cut = false;
                h.watch_gen += 1;
                let gen = h.watch_gen;
                let at = self.now + self.latency(self.opts.api_latency) * 2;
                self.push(at, Ev::Relist { node, gen });
            }
            Happening::SlowWatch { .. } => self.hosts[node].slow_extra = 0,
            Happening::LinkGone => {
                self.hosts[node].other_link_up = true;
                if self.hosts[node].core.is_some() {
                    let links = other_links(node);
                    self.deliver(node, ServicesInput::LinksChanged { links });
                }
            }
            _ => {}
        }
    }

    /// Ends every fault, restarts every node that is down (but a permanent one), and checks
    /// liveness a bound later.
    pub(super) fn heal(&mut self) {
        self.trace.line(self.now, || "faults heal".to_owned());
        for i in 0..self.faulted.len() {
            self.end(i);
        }
        for node in 0..self.hosts.len() {
            self.boot(node);
        }
        let at = self.now + self.liveness_bound();
        self.push(at, Ev::CheckLiveness);
    }
}
