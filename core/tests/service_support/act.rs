//! How the world carries out one node's output: Lease calls (unless the node is cut off),
//! address operations that succeed, status writes stored and echoed by the Service watch, and
//! the records the tests read (problems, events, DHCP starts).

use kvip_core::service::{ServicesInput, ServicesOutput};
use kvip_core::WatchEvent;

use super::cluster::{watches, Cluster};

impl Cluster {
    pub(crate) fn act(&mut self, name: &str, output: ServicesOutput) {
        let reply = match output {
            ServicesOutput::Lease { op, lease, request } => {
                *self.lease_requests.entry(name.to_owned()).or_default() += 1;
                if self.hosts.get(name).is_some_and(|h| h.cut) {
                    let result = Err(kvip_core::LeaseError::Transport("no API server".into()));
                    let reply = ServicesInput::LeaseResponse { op, result };
                    if let Some(h) = self.hosts.get_mut(name) {
                        h.pending.push_back(reply);
                    }
                    return;
                }
                let (result, changed) = self.leases.call(&lease.name, request);
                if let Some(changed) = changed {
                    for h in self.hosts.values_mut().filter(|h| h.alive && !h.deaf) {
                        if watches(&h.node, &changed.name) {
                            let event = WatchEvent::Apply(changed.clone());
                            h.pending.push_back(ServicesInput::LeaseWatch(event));
                        }
                    }
                }
                Some(ServicesInput::LeaseResponse { op, result })
            }
            ServicesOutput::AddAddress { op, .. } | ServicesOutput::RemoveAddress { op, .. } => {
                Some(ServicesInput::AddressDone { op, result: Ok(()) })
            }
            ServicesOutput::WriteStatus { op, write } => {
                self.status_writes += 1;
                if let Some(view) = self.services.get_mut(&write.key) {
                    view.status_ingress = write.ingress.iter().map(|i| i.ip).collect();
                    for (k, v) in &write.annotations {
                        match v {
                            Some(v) => view.annotations.insert(k.clone(), v.clone()),
                            None => view.annotations.remove(k),
                        };
                    }
                    let view = view.clone();
                    self.broadcast(|_| {
                        Some(ServicesInput::ServiceWatch(WatchEvent::Apply(view.clone())))
                    });
                }
                Some(ServicesInput::StatusWritten { op, result: Ok(()) })
            }
            ServicesOutput::DhcpStart { .. } => {
                self.dhcp_starts.push(name.to_owned());
                None
            }
            ServicesOutput::Problem(p) => {
                self.problems.push((name.to_owned(), p));
                None
            }
            ServicesOutput::ServiceEvent(e) => {
                self.events.push((self.now, name.to_owned(), e));
                None
            }
            _ => None,
        };
        if let (Some(i), Some(h)) = (reply, self.hosts.get_mut(name)) {
            h.pending.push_back(i);
        }
    }
}
