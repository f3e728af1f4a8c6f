//! Carrying out the fault schedule with turmoil's levers: what each fault does to the world when
//! it starts and when it ends, the heal at the end of the fault phase, and the daemon's
//! lifecycle (SIGTERM through the driver's shutdown future, restart by bouncing the host).

use kvip_runtime::manager::ports::KernelEvent;

use super::faults::{FaultKind, PlannedFault};
use super::state::lock;
use super::world::{liveness_slack, ns, Harness, TICK};
use crate::sim::host::host_name;
use crate::sim::invariants as inv;

/// Faults in one lane do not overlap on the same node (on the API server, not at all), so a
/// fault's end undoes exactly what its start did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Life,
    Api,
    Lan,
    Server,
}

fn lane(kind: FaultKind) -> Lane {
    match kind {
        FaultKind::Crash | FaultKind::Graceful | FaultKind::Restart => Lane::Life,
        FaultKind::ApiPartition
        | FaultKind::ApiHold
        | FaultKind::ApiSlow
        | FaultKind::ApiOneWay => Lane::Api,
        FaultKind::LanPartition | FaultKind::LinkFlap => Lane::Lan,
        FaultKind::ApiCrash | FaultKind::FlakyApi | FaultKind::AddressTheft => Lane::Server,
    }
}

/// A fault in progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Active {
    kind: FaultKind,
    node: usize,
    pub(super) end: u64,
    /// For a one-way fault: whether the answers (API → node) are the ones dropped (else the
    /// requests).
    answers: bool,
}

impl Harness {
    fn pick_node(&self, f: &PlannedFault) -> usize {
        match self.holders().first() {
            Some(&h) if f.at_holder => h,
            _ => f.pick % self.opts.nodes,
        }
    }

    fn busy(&self, kind: FaultKind, node: usize) -> bool {
        let l = lane(kind);
        self.active
            .iter()
            .any(|a| lane(a.kind) == l && (l == Lane::Server || a.node == node))
    }

    fn log(&self, text: impl FnOnce() -> String) {
        lock(&self.shared).log(text);
    }

    fn send_link(&self, node: usize, up: bool) {
        let s = lock(&self.shared);
        let at = s.now();
        if let Some(tx) = &s.nodes[node].monitor {
            let _ = tx.send((KernelEvent::Link { up }, at));
        }
    }

    /// Starts fault `f` now, if it applies.
    pub(super) fn fault_start(&mut self, f: &PlannedFault) {
        let node = self.pick_node(f);
        if self.busy(f.kind, node) {
            return;
        }
        let answers = f.duration.is_multiple_of(2);
        let now = self.now();
        let host = host_name(node);
        let (running, stopping, powered_off, kernel_vip) = {
            let s = lock(&self.shared);
            let n = &s.nodes[node];
            (
                n.running,
                n.stopping_since.is_some(),
                n.powered_off,
                n.kernel_vip,
            )
        };
        let applied = match f.kind {
            FaultKind::Crash => {
                self.restart_when_stopped[node] = false;
                self.sim.crash(host.as_str());
                let mut s = lock(&self.shared);
                s.power_off(node);
                s.nodes[node].lan_up = false;
                s.nodes[node].api_up = false;
                true
            }
            FaultKind::Graceful => {
                if !running || stopping || powered_off {
                    false
                } else {
                    self.stop_daemon(node);
                    true
                }
            }
            FaultKind::Restart => {
                if powered_off {
                    false
                } else {
                    self.start_daemon(node);
                    true
                }
            }
            FaultKind::ApiPartition => {
                self.sim.partition(host.as_str(), "api");
                lock(&self.shared).nodes[node].api_up = false;
                true
            }
            FaultKind::ApiHold => {
                self.sim.hold(host.as_str(), "api");
                lock(&self.shared).nodes[node].api_up = false;
                true
            }
            FaultKind::ApiSlow => {
                let spike = self.opts.profile.timing.renew_deadline * 9 / 10;
                self.sim
                    .set_link_max_message_latency(host.as_str(), "api", spike);
                true
            }
            FaultKind::ApiOneWay => {
                if answers {
                    self.sim.partition_oneway("api", host.as_str());
                } else {
                    self.sim.partition_oneway(host.as_str(), "api");
                }
                lock(&self.shared).nodes[node].api_up = false;
                true
            }
            FaultKind::FlakyApi => {
                lock(&self.shared).api.flaky_per_mille = 200;
                true
            }
            FaultKind::ApiCrash => {
                self.sim.crash("api");
                true
            }
            FaultKind::LanPartition => {
                self.sim.partition(host.as_str(), "lan");
                lock(&self.shared).nodes[node].lan_up = false;
                true
            }
            FaultKind::LinkFlap => {
                self.sim.partition(host.as_str(), "lan");
                lock(&self.shared).nodes[node].lan_up = false;
                self.send_link(node, false);
                true
            }
            FaultKind::AddressTheft => {
                if kernel_vip && !powered_off {
                    lock(&self.shared).steal(node, 2 * TICK);
                }
                false
            }
        };
        let kind = f.kind;
        let duration = f.duration;
        self.log(|| {
            format!(
                "fault {kind:?} on {host} for {}ms{}",
                duration / 1_000_000,
                if applied { "" } else { " (not applicable)" }
            )
        });
        if applied {
            self.faults_applied += 1;
            if kind.disturbs_handover() {
                self.disturbances.push((now, now + duration));
            }
            self.active.push(Active {
                kind,
                node,
                end: now + duration,
                answers,
            });
        }
    }

    pub(super) fn fault_end(&mut self, a: Active) {
        let host = host_name(a.node);
        let now = self.now();
        let kind = a.kind;
        self.log(|| format!("fault {kind:?} on {host} ends"));
        match a.kind {
            FaultKind::Crash => {
                {
                    let mut s = lock(&self.shared);
                    let n = &mut s.nodes[a.node];
                    n.lan_up = true;
                    n.lan_up_since = now;
                    n.api_up = true;
                }
                self.start_daemon(a.node);
            }
            FaultKind::Graceful => {
                if lock(&self.shared).nodes[a.node].running {
                    self.restart_when_stopped[a.node] = true;
                } else {
                    self.start_daemon(a.node);
                }
            }
            FaultKind::Restart | FaultKind::AddressTheft => {}
            FaultKind::ApiPartition => {
                self.sim.repair(host.as_str(), "api");
                lock(&self.shared).nodes[a.node].api_up = true;
            }
            FaultKind::ApiHold => {
                self.sim.release(host.as_str(), "api");
                lock(&self.shared).nodes[a.node].api_up = true;
            }
            FaultKind::ApiSlow => {
                let normal = self.opts.net_latency.1;
                self.sim
                    .set_link_max_message_latency(host.as_str(), "api", normal);
            }
            FaultKind::ApiOneWay => {
                if a.answers {
                    self.sim.repair_oneway("api", host.as_str());
                } else {
                    self.sim.repair_oneway(host.as_str(), "api");
                }
                lock(&self.shared).nodes[a.node].api_up = true;
            }
            FaultKind::FlakyApi => lock(&self.shared).api.flaky_per_mille = 0,
            FaultKind::ApiCrash => self.sim.bounce("api"),
            FaultKind::LanPartition | FaultKind::LinkFlap => {
                self.sim.repair(host.as_str(), "lan");
                {
                    let mut s = lock(&self.shared);
                    s.nodes[a.node].lan_up = true;
                    s.nodes[a.node].lan_up_since = now;
                }
                if a.kind == FaultKind::LinkFlap {
                    self.send_link(a.node, true);
                }
            }
        }
    }

    /// Ends every fault, restarts every daemon that is down, and arms the liveness check.
    pub fn heal(&mut self) {
        self.healed = true;
        self.log(|| "faults heal".to_string());
        for a in std::mem::take(&mut self.active) {
            self.fault_end(a);
        }
        for node in 0..self.opts.nodes {
            let (running, stopping) = {
                let s = lock(&self.shared);
                (
                    s.nodes[node].running,
                    s.nodes[node].stopping_since.is_some(),
                )
            };
            if stopping && running {
                self.restart_when_stopped[node] = true;
            } else if !running && !self.restart_when_stopped[node] {
                self.start_daemon(node);
            }
        }
        let bound = inv::liveness::bound(self.opts.profile.timing) + liveness_slack(&self.opts);
        self.liveness_at = Some(self.now() + ns(bound));
    }

    /// SIGTERM to node `node`'s daemon: its driver's shutdown future fires.
    pub fn stop_daemon(&mut self, node: usize) {
        let now = self.now();
        let mut s = lock(&self.shared);
        let n = &mut s.nodes[node];
        n.stopping_since = Some(now);
        n.stop.send_replace(true);
        let name = n.name.clone();
        s.log(|| format!("{name} SIGTERM"));
    }

    /// (Re)starts node `node`'s host software: a fresh daemon; the kernel keeps its addresses
    /// unless the host was powered off (then they are already gone).
    pub fn start_daemon(&mut self, node: usize) {
        {
            let mut s = lock(&self.shared);
            let n = &mut s.nodes[node];
            n.stop.send_replace(false);
            n.stopping_since = None;
            n.running = false;
            n.monitor = None;
        }
        self.sim.bounce(host_name(node).as_str());
    }
}
