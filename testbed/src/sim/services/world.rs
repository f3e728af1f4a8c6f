//! The Services world and its event loop: hosts running the real `ServicesNode`, the Lease store
//! and the Service/endpoint store behind a simulated API (seeded latencies, watches delivered in
//! order with seeded delays, status writes stored and echoed), addresses acked after a seeded
//! delay, the fault and churn schedule, and the invariant checks after every step. Virtual time
//! jumps from one event to the next; the run is a function of its seed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::IpAddr;

use kvip_core::service::membership::MEMBER_LEASE_PREFIX;
use kvip_core::service::{ServicesInput, ServicesNode, ServicesOutput};
use kvip_core::{Defects, LeaseError, LeaseObject, LeaseRequest, OpId, WatchEvent};

use super::faults::{ns, schedule, Planned};
use super::host::SimHost;
use super::invariants::ServicesViolation;
use super::leases::LeaseStore;
use super::objects::{Objects, OTHER_INTERFACE, SERVICES_INTERFACE};
use super::options::ServicesSimOptions;
use super::setup::INITIAL_SERVICES;
use crate::sim::clock::NodeClock;
use crate::sim::rng::{stream, Draw, SeededRng};
use crate::sim::trace::Trace;

const MAX_STEPS_PER_SIM_SECOND: u64 = 20_000;
const MAX_VIOLATIONS: usize = 8;

#[derive(Debug, Clone)]
pub(super) enum Ev {
    Boot(usize),
    Wake {
        node: usize,
        gen: u64,
    },
    LeaseArrive {
        node: usize,
        inc: u64,
        op: OpId,
        name: String,
        request: LeaseRequest,
    },
    LeaseReply {
        node: usize,
        inc: u64,
        op: OpId,
        result: Result<LeaseObject, LeaseError>,
    },
    Watch {
        node: usize,
        gen: u64,
        input: ServicesInput,
        change: Option<u64>,
    },
    Relist {
        node: usize,
        gen: u64,
    },
    AddressDone {
        node: usize,
        inc: u64,
        op: OpId,
        address: IpAddr,
        link: String,
        add: bool,
    },
    StatusReply {
        node: usize,
        inc: u64,
        op: OpId,
        result: Result<(), String>,
    },
    Happen(usize),
    End(usize),
    Heal,
    CheckLiveness,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct ServicesReport {
    /// The options it ran with.
    pub options: ServicesSimOptions,
    /// Every violation seen (up to a cap).
    pub violations: Vec<ServicesViolation>,
    /// Steps taken.
    pub steps: u64,
    /// Hash of the whole trace.
    pub trace_hash: u64,
    /// Text of the trace, when kept.
    pub trace: Vec<String>,
}

/// One simulated cluster of Services nodes.
pub struct ServicesWorld {
    pub(super) opts: ServicesSimOptions,
    pub(super) now: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: BTreeMap<usize, Ev>,
    seq: u64,
    pub(super) hosts: Vec<SimHost>,
    pub(super) leases: LeaseStore,
    pub(super) objects: Objects,
    pub(super) rng: SeededRng,
    pub(super) plan: Vec<Planned>,
    pub(super) faulted: Vec<Option<usize>>,
    pub(super) defects: Defects,
    pub(super) trace: Trace,
    pub(super) violations: Vec<ServicesViolation>,
    steps: u64,
    pub(super) changes: u64,
}

impl ServicesWorld {
    /// A world for `opts` with `defects` planted in every node.
    pub fn new(opts: ServicesSimOptions, defects: Defects, keep_text: bool) -> Self {
        let mut clocks = stream(opts.seed, 13);
        let hosts = (0..opts.nodes)
            .map(|i| {
                let drift = opts.max_drift_ppm;
                let clock = NodeClock {
                    offset_ns: clocks.range(1, 1_000) * 1_000_000_000,
                    drift_ppm: clocks.range(0, 2 * drift as u64) as i64 - drift,
                    wall_skew_us: 0,
                };
                SimHost::new(format!("node-{i}"), clock)
            })
            .collect();
        let plan = schedule(&opts);
        let mut w = ServicesWorld {
            rng: stream(opts.seed, 14),
            faulted: vec![None; plan.len()],
            plan,
            opts,
            now: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            seq: 0,
            hosts,
            leases: LeaseStore::default(),
            objects: Objects::default(),
            defects,
            trace: Trace::new(keep_text),
            violations: vec![],
            steps: 0,
            changes: 0,
        };
        let names = w.names();
        for i in 0..INITIAL_SERVICES {
            let roll = w.rng.next_u64().wrapping_add(i);
            let (view, endpoints) = w.objects.create(roll, &names);
            w.note_object(&view, &endpoints);
        }
        for i in 0..w.plan.len() {
            w.push(w.plan[i].at, Ev::Happen(i));
        }
        w.push(ns(w.opts.fault_phase), Ev::Heal);
        for i in 0..w.hosts.len() {
            let at = w.rng.range(0, 50_000_000);
            w.push(at, Ev::Boot(i));
        }
        w
    }

    pub(super) fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    pub(super) fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        let id = self.seq as usize;
        self.events.insert(id, ev);
        self.queue.push(Reverse((at.max(self.now), self.seq, id)));
    }

    /// How long after the heal the world must have settled.
    pub fn liveness_bound(&self) -> u64 {
        let t = self.opts.timing;
        ns(t.lease_duration * 2 + self.opts.handover_delay() + t.retry_period * 2)
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> ServicesReport {
        let end = ns(self.opts.fault_phase) + self.liveness_bound() + 1_000_000_000;
        let max_steps = (end / 1_000_000_000 + 1) * MAX_STEPS_PER_SIM_SECOND;
        while let Some(Reverse((at, _, id))) = self.queue.pop() {
            if at > end || self.violations.len() >= MAX_VIOLATIONS {
                break;
            }
            let ev = self.events.remove(&id).expect("scheduled event");
            self.now = at;
            self.steps += 1;
            if self.steps > max_steps {
                let v = ServicesViolation::Livelock {
                    at,
                    steps: self.steps,
                };
                self.fail(v);
                break;
            }
            self.step(ev);
            self.check_after_step();
        }
        ServicesReport {
            options: self.opts,
            violations: self.violations,
            steps: self.steps,
            trace_hash: self.trace.hash(),
            trace: self.trace.lines().to_vec(),
        }
    }

    pub(super) fn fail(&mut self, v: ServicesViolation) {
        let text = v.to_string();
        self.trace.line(self.now, || format!("VIOLATION {text}"));
        self.violations.push(v);
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Boot(node) => self.boot(node),
            Ev::Wake { node, gen } => {
                if self.hosts[node].wake_gen == gen {
                    self.hosts[node].wake_at = None;
                    self.trace.mix(&[1, self.now, node as u64]);
                    self.drive(node, |n, now| n.handle_timeout(now));
                }
            }
            Ev::LeaseArrive {
                node,
                inc,
                op,
                name,
                request,
            } => self.lease_arrive(node, inc, op, &name, request),
            Ev::LeaseReply {
                node,
                inc,
                op,
                result,
            } => {
                let h = &self.hosts[node];
                if h.incarnation == inc && !h.cut {
                    self.trace
                        .mix(&[3, self.now, node as u64, op.0, result.is_ok() as u64]);
                    self.deliver(node, ServicesInput::LeaseResponse { op, result });
                }
            }
            Ev::Watch {
                node,
                gen,
                input,
                change,
            } => {
                let h = &mut self.hosts[node];
                if h.watch_gen == gen && h.core.is_some() {
                    let emitted = change.and_then(|id| h.behind.remove(&id));
                    if let (Some(e), ServicesInput::LeaseWatch(WatchEvent::Apply(l))) =
                        (emitted, &input)
                    {
                        if let Some(member) = l.name.strip_prefix(MEMBER_LEASE_PREFIX) {
                            let d =
                                u64::from(l.lease.record.lease_duration_seconds) * 1_000_000_000;
                            h.expiry_lag
                                .insert(member.to_owned(), (e + d, self.now + d));
                        }
                    }
                    self.trace.mix(&[4, self.now, node as u64]);
                    self.deliver(node, input);
                }
            }
            Ev::Relist { node, gen } => self.relist(node, gen),
            Ev::AddressDone {
                node,
                inc,
                op,
                address,
                link,
                add,
            } => {
                let h = &mut self.hosts[node];
                if h.incarnation != inc {
                    return;
                }
                let gone = link == OTHER_INTERFACE && !h.other_link_up;
                let changed = match (gone, add) {
                    (true, _) => false,
                    (false, true) => h.kernel.insert((link, address)),
                    (false, false) => h.kernel.remove(&(link, address)),
                };
                let result = match (changed, add) {
                    _ if gone => Err(kvip_core::AddressError::Failed("no such device".into())),
                    (true, _) => Ok(()),
                    (false, true) => Err(kvip_core::AddressError::AlreadyPresent),
                    (false, false) => Err(kvip_core::AddressError::NotPresent),
                };
                self.trace
                    .mix(&[5, self.now, node as u64, op.0, add as u64]);
                self.deliver(node, ServicesInput::AddressDone { op, result });
            }
            Ev::StatusReply {
                node,
                inc,
                op,
                result,
            } => {
                if self.hosts[node].incarnation == inc {
                    self.deliver(node, ServicesInput::StatusWritten { op, result });
                }
            }
            Ev::Happen(i) => self.happen(i),
            Ev::End(i) => self.end(i),
            Ev::Heal => self.heal(),
            Ev::CheckLiveness => self.check_liveness(),
        }
    }

    /// Runs `f` on the node's daemon at its local time, then carries out its outputs.
    pub(super) fn drive(
        &mut self,
        node: usize,
        f: impl FnOnce(&mut ServicesNode, kvip_core::Instant),
    ) {
        let local = self.hosts[node].clock.local(self.now);
        let Some(core) = self.hosts[node].core.as_mut() else {
            return;
        };
        f(core, local);
        while let Some(out) = self.hosts[node].core.as_mut().and_then(|c| c.poll_output()) {
            self.carry_out(node, out);
        }
        let h = &mut self.hosts[node];
        if let Some(core) = &h.core {
            h.waiting.retain(|g| core.owns(g));
        }
        self.reschedule(node);
    }

    pub(super) fn deliver(&mut self, node: usize, input: ServicesInput) {
        self.note_seen(node, &input);
        self.drive(node, |n, now| n.handle_input(now, input));
    }

    /// Records the objects a node receives (what `local_policy` judges it by).
    fn note_seen(&mut self, node: usize, input: &ServicesInput) {
        let h = &mut self.hosts[node];
        match input {
            ServicesInput::ServiceWatch(WatchEvent::Apply(v) | WatchEvent::InitApply(v)) => {
                h.seen_services.insert(v.key.clone(), v.clone());
            }
            ServicesInput::ServiceWatch(WatchEvent::Delete(v)) => {
                h.seen_services.remove(&v.key);
            }
            ServicesInput::ServiceWatch(WatchEvent::Init) => h.seen_services.clear(),
            ServicesInput::EndpointsWatch(WatchEvent::Apply(e) | WatchEvent::InitApply(e)) => {
                h.seen_endpoints.insert(e.key.clone(), e.clone());
            }
            ServicesInput::EndpointsWatch(WatchEvent::Delete(e)) => {
                h.seen_endpoints.remove(&e.key);
            }
            ServicesInput::EndpointsWatch(WatchEvent::Init) => h.seen_endpoints.clear(),
            _ => {}
        }
    }

    fn reschedule(&mut self, node: usize) {
        let h = &mut self.hosts[node];
        let Some(core) = &h.core else { return };
        let at = core.poll_timeout().map(|t| h.clock.global(t).max(self.now));
        if at != h.wake_at {
            h.wake_gen += 1;
            h.wake_at = at;
            let gen = h.wake_gen;
            if let Some(at) = at {
                // A busy runtime serves the timer late; what arrives meanwhile comes first.
                let late = match ns(self.opts.timer_lateness) {
                    0 => 0,
                    most => self.rng.range(0, most),
                };
                self.push(at + late, Ev::Wake { node, gen });
            }
        }
    }

    pub(super) fn latency(&mut self, range: (std::time::Duration, std::time::Duration)) -> u64 {
        self.rng.range(ns(range.0), ns(range.1))
    }

    pub(super) fn latency_ns(&mut self, lo: u64, hi: u64) -> u64 {
        self.rng.range(lo, hi)
    }

    fn carry_out(&mut self, node: usize, out: ServicesOutput) {
        let inc = self.hosts[node].incarnation;
        match out {
            ServicesOutput::Lease { op, lease, request } => {
                self.trace.mix(&[10, self.now, node as u64, op.0]);
                if !self.hosts[node].cut {
                    let at = self.now + self.latency(self.opts.api_latency);
                    let name = lease.name;
                    self.push(
                        at,
                        Ev::LeaseArrive {
                            node,
                            inc,
                            op,
                            name,
                            request,
                        },
                    );
                }
            }
            ServicesOutput::AddAddress { op, vip, link } => {
                let at = self.now + self.latency(self.opts.address_latency);
                let address = vip.address;
                let link = link.unwrap_or_else(|| SERVICES_INTERFACE.to_owned());
                self.push(
                    at,
                    Ev::AddressDone {
                        node,
                        inc,
                        op,
                        address,
                        link,
                        add: true,
                    },
                );
            }
            ServicesOutput::RemoveAddress { op, vip, link } => {
                let at = self.now + self.latency(self.opts.address_latency);
                let address = vip.address;
                let link = link.unwrap_or_else(|| SERVICES_INTERFACE.to_owned());
                self.push(
                    at,
                    Ev::AddressDone {
                        node,
                        inc,
                        op,
                        address,
                        link,
                        add: false,
                    },
                );
            }
            ServicesOutput::WriteStatus { op, write } => {
                let latency = self.latency(self.opts.api_latency) * 2;
                let (delay, result) = if self.hosts[node].cut {
                    let timeout = ns(self.opts.timing.renew_deadline);
                    (timeout, Err("timeout".to_owned()))
                } else {
                    (latency, self.write_status(&write))
                };
                self.push(
                    self.now + delay,
                    Ev::StatusReply {
                        node,
                        inc,
                        op,
                        result,
                    },
                );
            }
            ServicesOutput::ServiceEvent(e) => {
                let text = format!("{} {e:?}", self.hosts[node].name);
                self.trace.line(self.now, || text);
                self.hosts[node].note(&e);
            }
            ServicesOutput::Stopped => {
                self.trace.line(self.now, || format!("node-{node} stopped"));
                self.hosts[node].down(false);
            }
            _ => {}
        }
    }
}
