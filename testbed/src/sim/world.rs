//! The simulated world and its event loop: hosts running the real core, the API server, the LAN
//! with its client, the fault schedule, and the invariant checks after every step. Virtual time
//! jumps from one event to the next; the whole run is a function of its seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use kvip_core::wire::{decode, Frame, MacAddr};
use kvip_core::{Defects, Input, LeaseError, LeaseObject, LeaseRequest, OpId, Output, WatchEvent};

use super::api::ApiServer;
use super::faults::{schedule, PlannedFault};
use super::host::{host_name, Host};
use super::invariants::{self as inv, Violation};
use super::options::SimOptions;
use super::rng::{stream, Draw, SeededRng};
use super::stats::{PendingTakeover, RunStats};
use super::trace::Trace;

/// How long the world keeps running after the heal, beyond the liveness bound.
const AFTER_HEAL_EXTRA: Duration = Duration::from_secs(5);
/// Hard cap on steps, turning a livelock into a failure instead of a hang.
const MAX_STEPS_PER_SIM_SECOND: u64 = 20_000;
/// A run stops after this many violations.
const MAX_VIOLATIONS: usize = 16;

#[derive(Debug, Clone)]
pub(super) enum Ev {
    Wake {
        node: usize,
        gen: u64,
    },
    ApiArrive {
        node: usize,
        inc: u64,
        op: OpId,
        request: LeaseRequest,
    },
    ApiReply {
        node: usize,
        inc: u64,
        op: OpId,
        result: Result<LeaseObject, LeaseError>,
    },
    Watch {
        node: usize,
        gen: u64,
        event: WatchEvent<LeaseObject>,
    },
    Relist {
        node: usize,
        gen: u64,
    },
    AddressDone {
        node: usize,
        inc: u64,
        op: OpId,
        add: bool,
    },
    Frame {
        mac: MacAddr,
    },
    FaultStart(usize),
    FaultEnd(usize),
    Boot(usize),
    Heal,
    CheckLiveness,
    CheckHandover {
        releaser: usize,
        released_at: u64,
    },
}

#[derive(Debug, Clone)]
struct Scheduled {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The options it ran with.
    pub options: SimOptions,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// Every violation seen (the run goes on after the first, up to a cap).
    pub violations: Vec<Violation>,
    /// Measurements.
    pub stats: RunStats,
    /// Hash of the whole trace.
    pub trace_hash: u64,
    /// Text of the trace, when kept.
    pub trace: Vec<String>,
}

/// One simulated cluster.
pub struct World {
    pub(super) opts: SimOptions,
    pub(super) now: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    pub(super) hosts: Vec<Host>,
    pub(super) api: ApiServer,
    pub(super) rng: SeededRng,
    pub(super) faults: Vec<PlannedFault>,
    pub(super) active: Vec<Option<usize>>,
    pub(super) disturbances: Vec<(u64, u64)>,
    pub(super) api_outage: bool,
    pub(super) latency_spike: bool,
    pub(super) lossy_lan: bool,
    pub(super) lossy_lan_last_end: u64,
    pub(super) client_entry: Option<MacAddr>,
    pub(super) defects: Defects,
    pub(super) trace: Trace,
    pub(super) stats: RunStats,
    pub(super) pending: Option<PendingTakeover>,
    last_holder: Option<usize>,
    /// Releases not yet followed by another node holding the VIP: (releaser, when).
    pending_handovers: Vec<(usize, u64)>,
    healed: bool,
    violations: Vec<Violation>,
}

impl World {
    /// A world for `opts`; `defects` are planted in every node; `keep_text` keeps the trace text.
    pub fn new(opts: SimOptions, defects: Defects, keep_text: bool) -> Self {
        let hosts = (0..opts.nodes).map(|i| Host::new(&opts, i)).collect();
        let faults = schedule(&opts);
        let mut w = World {
            rng: stream(opts.seed, 3),
            active: vec![None; faults.len()],
            faults,
            opts,
            now: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            hosts,
            api: ApiServer::default(),
            disturbances: Vec::new(),
            api_outage: false,
            latency_spike: false,
            lossy_lan: false,
            lossy_lan_last_end: 0,
            client_entry: None,
            defects,
            trace: Trace::new(keep_text),
            stats: RunStats::default(),
            pending: None,
            last_holder: None,
            pending_handovers: Vec::new(),
            healed: false,
            violations: Vec::new(),
        };
        for i in 0..w.faults.len() {
            let at = w.faults[i].at;
            w.push(at, Ev::FaultStart(i));
        }
        let heal = Host::ns(w.opts.fault_phase);
        w.push(heal, Ev::Heal);
        for i in 0..w.hosts.len() {
            let start = w.rng.range(0, 50_000_000);
            w.push(start, Ev::Boot(i));
        }
        w
    }

    pub(super) fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        }));
    }

    /// Runs to the end (or the first violation) and reports.
    pub fn run(mut self) -> RunReport {
        let end = Host::ns(
            self.opts.fault_phase
                + inv::liveness::bound(self.opts.profile.timing)
                + AFTER_HEAL_EXTRA,
        );
        let max_steps = (end / 1_000_000_000 + 1) * MAX_STEPS_PER_SIM_SECOND;
        while let Some(Reverse(s)) = self.queue.pop() {
            if s.at > end || self.violations.len() >= MAX_VIOLATIONS {
                break;
            }
            self.now = s.at;
            self.stats.steps += 1;
            if self.stats.steps > max_steps {
                self.fail(Violation::Livelock {
                    at: self.now,
                    steps: self.stats.steps,
                });
                break;
            }
            self.step(s.ev);
            self.check_after_step();
        }
        self.stats.sim_ns = self.now;
        RunReport {
            options: self.opts,
            violation: self.violations.first().cloned(),
            violations: self.violations,
            stats: self.stats,
            trace_hash: self.trace.hash(),
            trace: self.trace.lines().to_vec(),
        }
    }

    pub(super) fn fail(&mut self, v: Violation) {
        let text = v.to_string();
        self.trace.line(self.now, || format!("VIOLATION {text}"));
        self.violations.push(v);
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Wake { node, gen } => {
                if self.hosts[node].wake_gen == gen {
                    self.hosts[node].wake_at = None;
                    self.trace.mix(&[1, self.now, node as u64]);
                    self.drive(node, |n, now| n.handle_timeout(now));
                }
            }
            Ev::ApiArrive {
                node,
                inc,
                op,
                request,
            } => self.api_arrive(node, inc, op, request),
            Ev::ApiReply {
                node,
                inc,
                op,
                result,
            } => {
                let h = &self.hosts[node];
                if h.incarnation == inc && h.api_up && !self.api_outage {
                    self.trace
                        .mix(&[3, self.now, node as u64, op.0, result.is_ok() as u64]);
                    self.deliver(node, Input::LeaseResponse { op, result });
                }
            }
            Ev::Watch { node, gen, event } => {
                if self.hosts[node].watch_gen == gen && self.hosts[node].core.is_some() {
                    self.trace.mix(&[4, self.now, node as u64]);
                    self.deliver(node, Input::LeaseWatch(event));
                }
            }
            Ev::Relist { node, gen } => self.relist(node, gen),
            Ev::AddressDone { node, inc, op, add } => self.address_done(node, inc, op, add),
            Ev::Frame { mac } => {
                self.trace.mix(&[6, self.now, u64::from(mac.0[5])]);
                self.client_entry = Some(mac);
            }
            Ev::FaultStart(i) => self.fault_start(i),
            Ev::Boot(node) => self.boot(node),
            Ev::FaultEnd(i) => self.fault_end(i),
            Ev::Heal => self.heal(),
            Ev::CheckLiveness => {
                let holders = self.holders();
                let lease_holder = self
                    .api
                    .lease()
                    .and_then(|l| l.record.holder().map(str::to_owned));
                let idx = lease_holder.and_then(|n| self.hosts.iter().position(|h| h.name == n));
                if let Err(v) = inv::liveness::check_after_heal(self.now, &holders, idx) {
                    self.fail(v);
                }
            }
            Ev::CheckHandover {
                releaser,
                released_at,
            } => {
                let handover = (releaser, released_at);
                let Some(i) = self.pending_handovers.iter().position(|&p| p == handover) else {
                    return;
                };
                self.pending_handovers.swap_remove(i);
                let bound = Host::ns(inv::handover::BOUND);
                let quiet = self.quiet(
                    released_at.saturating_sub(Host::ns(self.opts.profile.timing.lease_duration)),
                    released_at + bound,
                );
                let ready_follower = self.hosts.iter().enumerate().any(|(i, h)| {
                    i != releaser
                        && h.core.is_some()
                        && h.stopping_since.is_none()
                        && h.api_up
                        && h.watch_connected
                        && h.watch_since + 1_000_000_000 <= released_at
                });
                if quiet && ready_follower {
                    if let Err(v) =
                        inv::handover::check(self.now, released_at, releaser, &self.holders())
                    {
                        self.fail(v);
                    }
                }
            }
        }
    }

    /// Whether no disturbing fault overlapped `[from, to]`.
    fn quiet(&self, from: u64, to: u64) -> bool {
        !self.disturbances.iter().any(|&(s, e)| s <= to && e >= from)
    }

    /// Hosts that hold the VIP now.
    pub(super) fn holders(&self) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&i| self.hosts[i].is_holder())
            .collect()
    }

    fn check_after_step(&mut self) {
        let holders = self.holders();
        if let Err(v) = inv::single_holder::check(self.now, &holders) {
            self.fail(v);
            return;
        }
        let Some(&h) = holders.first() else { return };
        self.pending_handovers
            .retain(|&(releaser, _)| releaser == h);
        if self.last_holder != Some(h) {
            self.last_holder = Some(h);
            self.stats.failovers += 1;
            self.trace
                .line(self.now, || format!("holder is now {}", host_name(h)));
        }
        if let Some(p) = self.pending.filter(|p| p.old_holder != h) {
            self.stats.record(p.kind, self.now - p.since);
            self.pending = None;
        }
        let host = &self.hosts[h];
        let stable_since = [
            host.holder_since.unwrap_or(self.now),
            host.lan_up_since,
            self.lossy_lan_last_end,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let window = inv::neighbour_convergence::window(self.opts.arp_rate);
        if host.lan_up && !self.lossy_lan {
            if let Err(v) = inv::neighbour_convergence::check(
                self.now,
                h,
                host.mac,
                stable_since,
                window,
                self.client_entry,
            ) {
                self.fail(v);
            }
        }
    }

    /// Runs `f` on the node's core at its local time, then carries out its outputs.
    pub(super) fn drive(
        &mut self,
        node: usize,
        f: impl FnOnce(&mut kvip_core::Node, kvip_core::Instant),
    ) {
        let local = self.hosts[node].clock.local(self.now);
        let Some(core) = self.hosts[node].core.as_mut() else {
            return;
        };
        f(core, local);
        while let Some(out) = self.hosts[node].core.as_mut().and_then(|c| c.poll_output()) {
            self.carry_out(node, out);
        }
        self.reschedule(node);
    }

    fn deliver(&mut self, node: usize, input: Input) {
        self.drive(node, |n, now| n.handle_input(now, input));
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
                self.push(at, Ev::Wake { node, gen });
            }
        }
    }

    fn latency(&mut self, range: (Duration, Duration)) -> u64 {
        self.rng.range(Host::ns(range.0), Host::ns(range.1))
    }

    pub(super) fn api_latency(&mut self) -> u64 {
        if self.latency_spike {
            let renew = Host::ns(self.opts.profile.timing.renew_deadline);
            return self
                .rng
                .range(Host::ns(self.opts.api_latency.0), renew * 9 / 10);
        }
        self.latency(self.opts.api_latency)
    }

    fn carry_out(&mut self, node: usize, out: Output) {
        let inc = self.hosts[node].incarnation;
        match out {
            Output::Lease { op, request } => {
                self.trace.mix(&[10, self.now, node as u64, op.0]);
                let text = self
                    .trace
                    .keeps_text()
                    .then(|| format!("{} -> api {}", host_name(node), describe(&request)));
                self.trace.line(self.now, || text.unwrap_or_default());
                if self.hosts[node].api_up && !self.api_outage {
                    let at = self.now + self.api_latency();
                    self.push(
                        at,
                        Ev::ApiArrive {
                            node,
                            inc,
                            op,
                            request,
                        },
                    );
                }
            }
            Output::AddAddress { op, .. } | Output::RemoveAddress { op, .. } => {
                let add = matches!(out, Output::AddAddress { .. });
                self.trace
                    .mix(&[11, self.now, node as u64, op.0, add as u64]);
                self.trace.line(self.now, || {
                    format!(
                        "{} {} address",
                        host_name(node),
                        if add { "adds" } else { "removes" }
                    )
                });
                let at = self.now + self.latency(self.opts.address_latency);
                self.push(at, Ev::AddressDone { node, inc, op, add });
            }
            Output::SendFrame { frame, .. } => self.frame_sent(node, &frame),
            Output::Event(e) => {
                self.trace.mix(&[13, self.now, node as u64]);
                self.trace
                    .line(self.now, || format!("{} {e:?}", host_name(node)));
            }
            Output::Stopped => {
                self.trace
                    .line(self.now, || format!("{} stopped", host_name(node)));
                let restart = self.hosts[node].restart_when_stopped;
                self.hosts[node].kill(false);
                if restart {
                    self.boot(node);
                }
            }
        }
    }

    fn frame_sent(&mut self, node: usize, frame: &[u8]) {
        self.trace.mix(&[12, self.now, node as u64]);
        self.trace
            .line(self.now, || format!("{} announces", host_name(node)));
        let has_vip = self.hosts[node].kernel_vip;
        if let Err(v) = inv::announce_after_add::on_frame(self.now, node, has_vip) {
            self.fail(v);
        }
        let h = &mut self.hosts[node];
        if h.kernel_vip && !h.announced {
            h.announced = true;
            h.holder_since = Some(self.now);
        }
        let mac = match decode(frame) {
            Ok(Frame::Arp(a)) => a.sender_mac,
            Ok(Frame::NeighborAdvert(na)) => na.target_link_addr.unwrap_or(na.eth_src),
            Err(e) => panic!("node {node} sent an undecodable frame: {e}"),
        };
        let lost = !self.hosts[node].lan_up || (self.lossy_lan && self.rng.chance(300));
        if !lost {
            let at = self.now + self.latency(self.opts.lan_latency);
            self.push(at, Ev::Frame { mac });
        }
    }

    fn address_done(&mut self, node: usize, inc: u64, op: OpId, add: bool) {
        if self.hosts[node].incarnation != inc {
            return;
        }
        let was = self.hosts[node].kernel_vip;
        self.hosts[node].set_kernel_vip(add, self.now);
        self.trace
            .mix(&[5, self.now, node as u64, op.0, add as u64]);
        let result = match (add, was) {
            (true, true) => Err(kvip_core::AddressError::AlreadyPresent),
            (false, false) => Err(kvip_core::AddressError::NotPresent),
            _ => Ok(()),
        };
        self.deliver(node, Input::AddressDone { op, result });
    }

    fn api_arrive(&mut self, node: usize, inc: u64, op: OpId, request: LeaseRequest) {
        if self.api_outage {
            return;
        }
        let releasing =
            matches!(&request, LeaseRequest::Replace { record, .. } if record.holder().is_none());
        let applied = self.api.apply(request, &mut self.rng);
        if let Some(written) = applied.written {
            self.trace.mix(&[
                2,
                self.now,
                node as u64,
                written.resource_version.0.len() as u64,
            ]);
            let text = self.trace.keeps_text().then(|| {
                format!(
                    "api stores rv={} holder={}",
                    written.resource_version.0,
                    written.record.holder().unwrap_or("-")
                )
            });
            self.trace.line(self.now, || text.unwrap_or_default());
            if releasing {
                let has_vip = self.hosts[node].kernel_vip;
                if let Err(v) =
                    inv::withdraw_before_release::on_release_applied(self.now, node, has_vip)
                {
                    self.fail(v);
                }
                let at = self.now + Host::ns(inv::handover::BOUND);
                self.pending_handovers.push((node, self.now));
                self.push(
                    at,
                    Ev::CheckHandover {
                        releaser: node,
                        released_at: self.now,
                    },
                );
            }
            self.broadcast(written);
        }
        if let Some(result) = applied.reply {
            let at = self.now + self.api_latency();
            self.push(
                at,
                Ev::ApiReply {
                    node,
                    inc,
                    op,
                    result,
                },
            );
        }
    }

    fn broadcast(&mut self, lease: LeaseObject) {
        for node in 0..self.hosts.len() {
            let h = &self.hosts[node];
            if !h.watch_connected || h.core.is_none() {
                continue;
            }
            let gen = h.watch_gen;
            let last = h.watch_last;
            let at = (self.now + self.latency(self.opts.watch_delay)).max(last + 1);
            self.hosts[node].watch_last = at;
            self.push(
                at,
                Ev::Watch {
                    node,
                    gen,
                    event: WatchEvent::Apply(lease.clone()),
                },
            );
        }
    }

    /// Breaks the node's watch; it re-lists after a delay if the node reaches the API then.
    pub(super) fn break_watch(&mut self, node: usize, relist_after: Option<u64>) {
        let h = &mut self.hosts[node];
        h.watch_connected = false;
        h.watch_gen += 1;
        let gen = h.watch_gen;
        if let Some(delay) = relist_after {
            self.push(self.now + delay, Ev::Relist { node, gen });
        }
    }

    fn relist(&mut self, node: usize, gen: u64) {
        let h = &self.hosts[node];
        if h.watch_gen != gen || h.core.is_none() || !h.api_up || self.api_outage {
            return;
        }
        let h = &mut self.hosts[node];
        h.watch_connected = true;
        h.watch_since = self.now;
        h.watch_last = self.now;
        self.trace.mix(&[7, self.now, node as u64]);
        self.deliver(node, Input::LeaseWatch(WatchEvent::Init));
        if let Some(lease) = self.api.lease().cloned() {
            self.deliver(node, Input::LeaseWatch(WatchEvent::InitApply(lease)));
        }
        self.deliver(node, Input::LeaseWatch(WatchEvent::InitDone));
    }

    /// Starts the node's daemon (boot or restart) and opens its watch.
    pub(super) fn boot(&mut self, node: usize) {
        if self.hosts[node].core.is_some() {
            return;
        }
        let defects = self.defects.clone();
        self.hosts[node].start_daemon(&self.opts, self.now, &defects);
        self.trace
            .line(self.now, || format!("{} starts", host_name(node)));
        let delay = self.api_latency();
        self.break_watch(node, Some(delay));
        self.drive(node, |_, _| {});
    }

    fn heal(&mut self) {
        self.trace.line(self.now, || "faults heal".to_string());
        self.healed = true;
        for i in 0..self.active.len() {
            if self.active[i].is_some() {
                self.fault_end(i);
            }
        }
        for node in 0..self.hosts.len() {
            if self.hosts[node].stopping_since.is_some() {
                self.hosts[node].restart_when_stopped = true;
            } else {
                self.boot(node);
            }
        }
        let at = self.now + Host::ns(inv::liveness::bound(self.opts.profile.timing));
        self.push(at, Ev::CheckLiveness);
    }
}

/// A one-line description of a Lease request for the trace.
fn describe(request: &LeaseRequest) -> String {
    let record = |r: &kvip_core::LeaseRecord| {
        format!(
            "holder={} transitions={}",
            r.holder().unwrap_or("-"),
            r.lease_transitions
        )
    };
    match request {
        LeaseRequest::Get => "GET".to_string(),
        LeaseRequest::Create(r) => format!("CREATE {}", record(r)),
        LeaseRequest::Replace {
            expected,
            record: r,
        } => format!("REPLACE if rv={} {}", expected.0, record(r)),
    }
}
