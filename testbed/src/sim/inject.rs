//! Carrying out the fault schedule: what each fault does to the world when it starts and ends.

use kvip_core::Input;

use super::faults::{FaultKind, PlannedFault};
use super::host::host_name;
use super::rng::Draw;
use super::stats::{PendingTakeover, TakeoverKind};
use super::world::{Ev, World};

impl World {
    /// Plans one crash (or graceful stop) of whoever holds the VIP between 2 and 3 lease
    /// durations in, lasting until the heal: a single takeover to time.
    pub fn measure_takeover(&mut self, graceful: bool) {
        let lease = self.opts.profile.timing.lease_duration.as_nanos() as u64;
        let at = self.rng.range(2 * lease, 3 * lease);
        let heal = self.opts.fault_phase.as_nanos() as u64;
        let kind = if graceful {
            FaultKind::Graceful
        } else {
            FaultKind::Crash
        };
        self.faults.push(PlannedFault {
            at,
            duration: heal - at,
            kind,
            at_holder: true,
            pick: 0,
        });
        self.active.push(None);
        self.push(at, Ev::FaultStart(self.faults.len() - 1));
    }

    /// Starts fault `i`, aimed at the holder or its chosen node.
    pub(super) fn fault_start(&mut self, i: usize) {
        let f = self.faults[i].clone();
        let holder = self.holders().first().copied();
        let node = if f.at_holder {
            holder.unwrap_or(f.pick % self.hosts.len())
        } else {
            f.pick % self.hosts.len()
        };
        let end = self.now + f.duration;
        if f.kind.disturbs_handover() {
            self.disturbances.push((self.now, end));
        }
        self.trace.mix(&[20, self.now, i as u64, node as u64]);
        self.trace.line(self.now, || {
            format!(
                "fault {:?} on {} for {}ms",
                f.kind,
                host_name(node),
                f.duration / 1_000_000
            )
        });
        let applied = match f.kind {
            FaultKind::Crash => {
                let was_holder = self.hosts[node].is_holder();
                if self.hosts[node].powered_off {
                    false
                } else {
                    self.hosts[node].kill(true);
                    self.hosts[node].api_up = false;
                    self.hosts[node].lan_up = false;
                    if was_holder {
                        self.pending = Some(PendingTakeover {
                            kind: TakeoverKind::Crash,
                            old_holder: node,
                            since: self.now,
                        });
                    }
                    true
                }
            }
            FaultKind::Graceful => {
                let h = &self.hosts[node];
                if h.core.is_none() || h.stopping_since.is_some() {
                    false
                } else {
                    if h.is_holder() {
                        self.pending = Some(PendingTakeover {
                            kind: TakeoverKind::Graceful,
                            old_holder: node,
                            since: self.now,
                        });
                    }
                    self.hosts[node].stopping_since = Some(self.now);
                    self.drive(node, |n, now| n.shutdown(now));
                    true
                }
            }
            FaultKind::ApiPartition => {
                self.hosts[node].api_up = false;
                self.break_watch(node, None);
                true
            }
            FaultKind::LanPartition => {
                self.hosts[node].lan_up = false;
                true
            }
            FaultKind::LinkFlap => {
                self.hosts[node].lan_up = false;
                self.drive(node, |n, now| {
                    n.handle_input(now, Input::LinkChanged { up: false })
                });
                true
            }
            FaultKind::ApiOutage => {
                self.api_outage = true;
                for n in 0..self.hosts.len() {
                    self.break_watch(n, None);
                }
                true
            }
            FaultKind::LatencySpike => {
                self.latency_spike = true;
                true
            }
            FaultKind::WatchDrop => {
                self.break_watch(node, Some(f.duration));
                false
            }
            FaultKind::FlakyApi => {
                self.api.flaky_per_mille = 200;
                true
            }
            FaultKind::LossyLan => {
                self.lossy_lan = true;
                true
            }
            FaultKind::AddressTheft => {
                if self.hosts[node].kernel_vip && !self.hosts[node].powered_off {
                    self.hosts[node].set_kernel_vip(false, self.now);
                    let address = super::host::vip(&self.opts).address;
                    self.drive(node, |n, now| {
                        n.handle_input(
                            now,
                            Input::AddressObserved {
                                address,
                                present: false,
                            },
                        )
                    });
                }
                false
            }
        };
        if applied {
            self.active[i] = Some(node);
            self.push(end, Ev::FaultEnd(i));
        }
    }

    /// Ends fault `i` if it is still active.
    pub(super) fn fault_end(&mut self, i: usize) {
        let Some(node) = self.active[i].take() else {
            return;
        };
        let kind = self.faults[i].kind;
        self.trace.mix(&[21, self.now, i as u64]);
        self.trace.line(self.now, || {
            format!("fault {kind:?} on {} ends", host_name(node))
        });
        let relist = self.api_latency();
        match kind {
            FaultKind::Crash => {
                let h = &mut self.hosts[node];
                h.api_up = true;
                h.lan_up = true;
                h.lan_up_since = self.now;
                self.boot(node);
            }
            FaultKind::Graceful => {
                if self.hosts[node].stopping_since.is_some() {
                    self.hosts[node].restart_when_stopped = true;
                } else {
                    self.boot(node);
                }
            }
            FaultKind::ApiPartition => {
                self.hosts[node].api_up = true;
                self.break_watch(node, Some(relist));
            }
            FaultKind::LanPartition => {
                self.hosts[node].lan_up = true;
                self.hosts[node].lan_up_since = self.now;
            }
            FaultKind::LinkFlap => {
                self.hosts[node].lan_up = true;
                self.hosts[node].lan_up_since = self.now;
                self.drive(node, |n, now| {
                    n.handle_input(now, Input::LinkChanged { up: true })
                });
            }
            FaultKind::ApiOutage => {
                self.api_outage = false;
                for n in 0..self.hosts.len() {
                    let delay = self.api_latency();
                    self.break_watch(n, Some(delay));
                }
            }
            FaultKind::LatencySpike => self.latency_spike = false,
            FaultKind::FlakyApi => self.api.flaky_per_mille = 0,
            FaultKind::LossyLan => {
                self.lossy_lan = false;
                self.lossy_lan_last_end = self.now;
            }
            FaultKind::WatchDrop | FaultKind::AddressTheft => {}
        }
    }
}
