//! The Services world's API server: Lease requests against the [`LeaseStore`], status writes
//! stored on the Service and echoed by its watch, watch events fanned out to every running node
//! (in order, after a seeded delay; lost while its watches are broken) and re-lists.

use kvip_core::service::{NamedLease, ServiceView, ServicesInput, StatusWrite};
use kvip_core::{LeaseRequest, OpId, WatchEvent};

use super::world::{Ev, ServicesWorld};

impl ServicesWorld {
    pub(super) fn lease_arrive(
        &mut self,
        node: usize,
        inc: u64,
        op: OpId,
        name: &str,
        request: LeaseRequest,
    ) {
        if self.hosts[node].cut {
            return;
        }
        let (result, written) = self.leases.apply(name, request);
        if let Some(w) = written {
            self.trace.mix(&[2, self.now, node as u64]);
            let holder = w.lease.lease.record.holder().unwrap_or("-").to_owned();
            let text = format!("api stores {name} holder={holder}");
            self.trace.line(self.now, || text);
            let lease = w.lease;
            // Every write counts as a change: a plain renew revives a member that a lagging
            // view had already expired.
            self.emit(true, |core| {
                let spec = core.lease_watch();
                let watched = spec.name.as_deref() == Some(lease.name.as_str())
                    || spec
                        .prefix
                        .as_deref()
                        .is_some_and(|p| lease.name.starts_with(p));
                watched.then(|| ServicesInput::LeaseWatch(WatchEvent::Apply(lease.clone())))
            });
        }
        let at = self.now + self.latency(self.opts.api_latency);
        self.push(
            at,
            Ev::LeaseReply {
                node,
                inc,
                op,
                result,
            },
        );
    }

    /// Applies a status write to the stored Service (if it is still the same one).
    pub(super) fn write_status(&mut self, write: &StatusWrite) -> Result<(), String> {
        let Some(view) = self.objects.services.get_mut(&write.key) else {
            return Err("not found".into());
        };
        if view.uid != write.uid {
            return Err("precondition failed: uid".into());
        }
        view.status_ingress = write.ingress.iter().map(|i| i.ip).collect();
        for (k, v) in &write.annotations {
            match v {
                Some(v) => view.annotations.insert(k.clone(), v.clone()),
                None => view.annotations.remove(k),
            };
        }
        let view = view.clone();
        self.emit(false, |_| {
            Some(ServicesInput::ServiceWatch(WatchEvent::Apply(view.clone())))
        });
        Ok(())
    }

    /// Sends the event `make` gives for each running node; a `change` counts towards the nodes'
    /// lag (see `one_announcer`) until received or re-listed.
    pub(super) fn emit(
        &mut self,
        change: bool,
        make: impl Fn(&kvip_core::service::ServicesNode) -> Option<ServicesInput>,
    ) {
        for node in 0..self.hosts.len() {
            let Some(input) = self.hosts[node].core.as_ref().and_then(&make) else {
                continue;
            };
            let change = change.then(|| {
                self.changes += 1;
                self.hosts[node].behind.insert(self.changes, self.now);
                self.changes
            });
            if !self.hosts[node].watch_connected {
                continue;
            }
            let delay = self.latency(self.opts.watch_delay);
            let extra = match self.hosts[node].slow_extra {
                0 => 0,
                e => self.latency_ns(0, e),
            };
            let h = &mut self.hosts[node];
            let at = (self.now + delay + extra).max(h.watch_last + 1);
            h.watch_last = at;
            let gen = h.watch_gen;
            self.push(
                at,
                Ev::Watch {
                    node,
                    gen,
                    input,
                    change,
                },
            );
        }
    }

    pub(super) fn emit_service(&mut self, event: WatchEvent<ServiceView>) {
        self.emit(true, |_| Some(ServicesInput::ServiceWatch(event.clone())));
    }

    pub(super) fn emit_endpoints(&mut self, event: WatchEvent<kvip_core::service::EndpointsView>) {
        self.emit(true, |_| Some(ServicesInput::EndpointsWatch(event.clone())));
    }

    /// Reconnects the node's watches with a full list of everything it watches.
    pub(super) fn relist(&mut self, node: usize, gen: u64) {
        let h = &mut self.hosts[node];
        if h.watch_gen != gen || h.core.is_none() || h.cut {
            return;
        }
        h.watch_connected = true;
        h.watch_last = self.now;
        let now = self.now;
        h.behind.retain(|_, &mut e| e > now);
        self.trace.mix(&[7, self.now, node as u64]);
        let core = self.hosts[node].core.as_ref().expect("running");
        let spec = core.lease_watch();
        let leases: Vec<NamedLease> = self
            .leases
            .list()
            .into_iter()
            .filter(|l| {
                spec.name.as_deref() == Some(l.name.as_str())
                    || spec
                        .prefix
                        .as_deref()
                        .is_some_and(|p| l.name.starts_with(p))
            })
            .collect();
        let services: Vec<ServiceView> = self.objects.services.values().cloned().collect();
        let endpoints: Vec<_> = self.objects.endpoints.values().cloned().collect();
        let mut inputs = vec![];
        inputs.extend(relist(leases).into_iter().map(ServicesInput::LeaseWatch));
        inputs.extend(
            relist(services)
                .into_iter()
                .map(ServicesInput::ServiceWatch),
        );
        inputs.extend(
            relist(endpoints)
                .into_iter()
                .map(ServicesInput::EndpointsWatch),
        );
        for input in inputs {
            self.deliver(node, input);
        }
    }
}

fn relist<T>(items: Vec<T>) -> Vec<WatchEvent<T>> {
    let mut events = vec![WatchEvent::Init];
    events.extend(items.into_iter().map(WatchEvent::InitApply));
    events.push(WatchEvent::InitDone);
    events
}
