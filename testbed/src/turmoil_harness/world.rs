//! The harness: builds the turmoil simulation (an "api" host, a "lan" host, one host per node
//! running the real driver), steps it one tick (1 ms of simulated time) at a time, carries out
//! the seeded fault schedule between ticks, heals everything at the end of the fault phase, and
//! checks the invariants after every tick (the ordering ones are checked in [`super::state`] at
//! the instant they could break).

use std::time::{Duration, UNIX_EPOCH};

use kvip_core::Defects;
use kvip_runtime::manager::driver::Exit;
use kvip_runtime::manager::ports::KernelEvent;

use super::faults::{schedule, FaultKind, PlannedFault};
use super::options::TurmoilOptions;
use super::state::{lock, Shared, State};
use super::{api, kernel, node};
use crate::sim::clock::WORLD_WALL_EPOCH;
use crate::sim::host::host_name;
use crate::sim::invariants::{self as inv, Violation};

/// turmoil's tick: the granularity of the simulated network and of the checker.
pub const TICK: Duration = Duration::from_millis(1);
/// How long the world runs after the liveness check.
const AFTER_LIVENESS: Duration = Duration::from_secs(2);
/// A run stops after this many violations.
const MAX_VIOLATIONS: usize = 8;

/// Slack on top of `leaseDuration + 2 × retryPeriod` for the liveness check: daemons booting
/// after the heal (up to 50 ms of boot jitter), a few round trips over turmoil's links (a fresh
/// connection costs one more), the kernel add, and the tick granularity.
pub fn liveness_slack(opts: &TurmoilOptions) -> Duration {
    Duration::from_millis(150) + opts.net_latency.1 * 12 + opts.address_latency.1
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct TurmoilReport {
    /// The options it ran with.
    pub options: TurmoilOptions,
    /// Every violation seen (the run goes on after the first, up to a cap).
    pub violations: Vec<Violation>,
    /// A host's software failed (an error or panic inside the simulation).
    pub host_error: Option<String>,
    /// Times the VIP got a different holder.
    pub failovers: u64,
    /// Faults actually applied.
    pub faults_applied: u64,
    /// Daemon runs that ended with [`Exit::Stopped`] / [`Exit::BudgetExceeded`].
    pub exits: (u64, u64),
    /// Simulated time, ns.
    pub sim_ns: u64,
    /// The timeline.
    pub trace: Vec<String>,
}

impl TurmoilReport {
    /// Whether the run is clean.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty() && self.host_error.is_none()
    }

    /// The command that replays this run.
    pub fn reproduce(&self) -> String {
        format!(
            "KVIP_TURMOIL_SEED={} KVIP_TURMOIL_PROFILE={} KVIP_TURMOIL_SECS={} cargo test --release \
             -p kvip-testbed --test turmoil_driver replay_one_seed -- --nocapture",
            self.options.seed,
            self.options.profile.name,
            self.options.fault_phase.as_secs()
        )
    }
}

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
        FaultKind::ApiPartition | FaultKind::ApiHold | FaultKind::ApiSlow => Lane::Api,
        FaultKind::LanPartition | FaultKind::LinkFlap => Lane::Lan,
        FaultKind::ApiCrash | FaultKind::AddressTheft => Lane::Server,
    }
}

#[derive(Debug, Clone, Copy)]
struct Active {
    kind: FaultKind,
    node: usize,
    end: u64,
}

/// One turmoil world and its checker.
pub struct Harness {
    sim: turmoil::Sim<'static>,
    shared: Shared,
    opts: TurmoilOptions,
    faults: Vec<PlannedFault>,
    next_fault: usize,
    active: Vec<Active>,
    disturbances: Vec<(u64, u64)>,
    restart_when_stopped: Vec<bool>,
    healed: bool,
    liveness_at: Option<u64>,
    pending_handovers: Vec<(usize, u64)>,
    last_holder: Option<usize>,
    failovers: u64,
    faults_applied: u64,
    host_error: Option<String>,
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

impl Harness {
    /// A world for `opts` with `defects` planted in every node; with `faults` false the seeded
    /// schedule is not applied (tests then inject their own).
    pub fn new(opts: &TurmoilOptions, defects: &Defects, faults: bool) -> Self {
        let shared: Shared = std::sync::Arc::new(std::sync::Mutex::new(State::new(opts)));
        let epoch = UNIX_EPOCH + Duration::from_micros(WORLD_WALL_EPOCH as u64);
        let mut sim = turmoil::Builder::new()
            .rng_seed(opts.seed)
            .simulation_duration(Duration::from_secs(1_000_000))
            .tick_duration(TICK)
            .min_message_latency(opts.net_latency.0)
            .max_message_latency(opts.net_latency.1)
            .tcp_capacity(4096)
            .udp_capacity(1024)
            .epoch(epoch)
            .build();
        let s = shared.clone();
        sim.host("api", move || api::serve(s.clone()));
        let s = shared.clone();
        sim.host("lan", move || kernel::lan(s.clone()));
        for i in 0..opts.nodes {
            let (s, d) = (shared.clone(), defects.clone());
            sim.host(host_name(i), move || node::daemon(s.clone(), i, d.clone()));
        }
        Harness {
            sim,
            shared,
            faults: if faults { schedule(opts) } else { Vec::new() },
            opts: opts.clone(),
            next_fault: 0,
            active: Vec::new(),
            disturbances: Vec::new(),
            restart_when_stopped: vec![false; opts.nodes],
            healed: false,
            liveness_at: None,
            pending_handovers: Vec::new(),
            last_holder: None,
            failovers: 0,
            faults_applied: 0,
            host_error: None,
        }
    }

    /// Simulated time, ns.
    pub fn now(&self) -> u64 {
        ns(self.sim.elapsed())
    }

    /// The shared state (for tests that look inside).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Nodes holding the VIP now.
    pub fn holders(&self) -> Vec<usize> {
        lock(&self.shared).holders()
    }

    /// The node the stored Lease names.
    pub fn lease_holder(&self) -> Option<usize> {
        let s = lock(&self.shared);
        let name = s.api.lease()?.record.holder()?.to_string();
        s.nodes.iter().position(|n| n.name == name)
    }

    /// Violations so far.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.shared).violations.clone()
    }

    /// Whether the run hit its violation cap or a host failed.
    pub fn should_stop(&self) -> bool {
        self.host_error.is_some() || lock(&self.shared).violations.len() >= MAX_VIOLATIONS
    }

    /// Runs the whole scheduled run: fault phase, heal, liveness check, a little more.
    pub fn run(mut self) -> TurmoilReport {
        let heal = ns(self.opts.fault_phase);
        let end = heal
            + ns(inv::liveness::bound(self.opts.profile.timing))
            + ns(liveness_slack(&self.opts))
            + ns(AFTER_LIVENESS);
        while self.now() < end && !self.should_stop() {
            if !self.healed && self.now() >= heal {
                self.heal();
            }
            self.step();
        }
        self.report()
    }

    /// Runs until simulated time `until` (ns) or a stop condition.
    pub fn run_until(&mut self, until: u64) {
        while self.now() < until && !self.should_stop() {
            self.step();
        }
    }

    /// The report so far.
    pub fn report(&self) -> TurmoilReport {
        let s = lock(&self.shared);
        let mut exits = (0, 0);
        for e in s.nodes.iter().flat_map(|n| &n.exits) {
            match e {
                Exit::Stopped => exits.0 += 1,
                Exit::BudgetExceeded => exits.1 += 1,
            }
        }
        TurmoilReport {
            options: self.opts.clone(),
            violations: s.violations.clone(),
            host_error: self.host_error.clone(),
            failovers: self.failovers,
            faults_applied: self.faults_applied,
            exits,
            sim_ns: self.now(),
            trace: s.trace.clone(),
        }
    }

    /// One tick: due faults, the simulation, then the checks.
    pub fn step(&mut self) {
        let now = self.now();
        while self.next_fault < self.faults.len() && self.faults[self.next_fault].at <= now {
            let f = self.faults[self.next_fault].clone();
            self.next_fault += 1;
            if !self.healed {
                self.fault_start(&f);
            }
        }
        let ended: Vec<Active> = self
            .active
            .iter()
            .copied()
            .filter(|a| a.end <= now)
            .collect();
        self.active.retain(|a| a.end > now);
        for a in ended {
            self.fault_end(a);
        }
        for node in 0..self.opts.nodes {
            let running = lock(&self.shared).nodes[node].running;
            if self.restart_when_stopped[node] && !running {
                self.restart_when_stopped[node] = false;
                self.start_daemon(node);
            }
        }
        if let Err(e) = self.sim.step() {
            let text = e.to_string();
            lock(&self.shared).log(|| format!("HOST ERROR {text}"));
            self.host_error = Some(text);
            return;
        }
        self.check();
    }

    fn check(&mut self) {
        let now = self.now();
        let mut s = lock(&self.shared);
        s.now = now;
        s.apply_due_kernel_ops();
        let holders = s.holders();
        if let Err(v) = inv::single_holder::check(now, &holders) {
            if !s.violations.iter().any(|old| old.name() == v.name()) {
                s.fail(v);
            }
        }
        for (releaser, at) in std::mem::take(&mut s.releases) {
            self.pending_handovers.push((releaser, at));
        }
        if let Some(&h) = holders.first() {
            self.pending_handovers
                .retain(|&(releaser, _)| releaser == h);
            if self.last_holder != Some(h) {
                self.last_holder = Some(h);
                self.failovers += 1;
            }
            let n = &s.nodes[h];
            let stable_since = n.holder_since.unwrap_or(now).max(n.lan_up_since);
            let window = inv::neighbour_convergence::window(self.opts.arp_rate);
            if n.lan_up {
                let (mac, entry) = (n.mac, s.client_entry);
                if let Err(v) =
                    inv::neighbour_convergence::check(now, h, mac, stable_since, window, entry)
                {
                    s.fail(v);
                }
            }
        }
        let bound = ns(inv::handover::BOUND);
        let due: Vec<(usize, u64)> = self
            .pending_handovers
            .iter()
            .copied()
            .filter(|&(_, at)| at + bound <= now)
            .collect();
        self.pending_handovers.retain(|&(_, at)| at + bound > now);
        for (releaser, released_at) in due {
            let lease = ns(self.opts.profile.timing.lease_duration);
            let retry = ns(self.opts.profile.timing.retry_period);
            let quiet = !self.disturbances.iter().any(|&(st, e)| {
                st <= released_at + bound && e >= released_at.saturating_sub(lease)
            });
            let ready_follower = s.nodes.iter().enumerate().any(|(i, n)| {
                i != releaser
                    && n.running
                    && n.stopping_since.is_none()
                    && n.api_up
                    && n.watch_synced_since
                        .is_some_and(|t| t + 1_000_000_000 <= released_at)
                    && n.watch_last_event + 2 * retry >= released_at
            });
            if quiet && ready_follower {
                if let Err(v) = inv::handover::check(now, released_at, releaser, &holders) {
                    s.fail(v);
                }
            }
        }
        if self.liveness_at.is_some_and(|t| now >= t) {
            self.liveness_at = None;
            let lease_holder = s
                .api
                .lease()
                .and_then(|l| l.record.holder().map(str::to_owned))
                .and_then(|name| s.nodes.iter().position(|n| n.name == name));
            if let Err(v) = inv::liveness::check_after_heal(now, &holders, lease_holder) {
                s.fail(v);
            }
        }
    }

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
    fn fault_start(&mut self, f: &PlannedFault) {
        let node = self.pick_node(f);
        if self.busy(f.kind, node) {
            return;
        }
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
                    lock(&self.shared).set_kernel_vip(node, false);
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
            });
        }
    }

    fn fault_end(&mut self, a: Active) {
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

/// Runs the seeded world `opts` with `defects` planted.
pub fn run(opts: &TurmoilOptions, defects: &Defects) -> TurmoilReport {
    Harness::new(opts, defects, true).run()
}
