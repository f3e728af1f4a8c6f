//! The harness: builds the turmoil simulation (an "api" host, a "lan" host, one host per node
//! running the real driver), steps it one tick (1 ms of simulated time) at a time, carries out
//! the seeded fault schedule between ticks, heals everything at the end of the fault phase, and
//! checks the invariants after every tick (the ordering ones are checked in [`super::state`] at
//! the instant they could break).

use std::time::{Duration, UNIX_EPOCH};

use kvip_core::Defects;
use kvip_runtime::manager::driver::Exit;

use super::faults::{schedule, PlannedFault};
use super::inject::Active;
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
/// How long before a release no disturbing fault may have been active for its handover to be
/// timed.
const HANDOVER_QUIET: u64 = 1_000_000_000;
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
    /// Releases in a quiet world with a ready follower, whose handover speed was checked.
    pub handover_checks: u64,
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

    /// The command that replays this run. `--cfg tokio_unstable` lets turmoil seed every host's
    /// tokio runtime, so the driver's `select!` picks ready branches in a seeded order and the
    /// replay is exact; without it the world (faults, latencies) is the same but ties between
    /// ready branches may break differently.
    pub fn reproduce(&self) -> String {
        format!(
            "RUSTFLAGS='--cfg tokio_unstable' CARGO_TARGET_DIR=target/tokio-unstable \
             KVIP_TURMOIL_SEED={} KVIP_TURMOIL_PROFILE={} KVIP_TURMOIL_SECS={} cargo test --release \
             -p kvip-testbed --test turmoil_driver replay_one_seed -- --nocapture",
            self.options.seed,
            self.options.profile.name,
            self.options.fault_phase.as_secs()
        )
    }
}

/// One turmoil world and its checker.
pub struct Harness {
    pub(super) sim: turmoil::Sim<'static>,
    pub(super) shared: Shared,
    pub(super) opts: TurmoilOptions,
    pub(super) faults: Vec<PlannedFault>,
    pub(super) next_fault: usize,
    pub(super) active: Vec<Active>,
    pub(super) disturbances: Vec<(u64, u64)>,
    pub(super) restart_when_stopped: Vec<bool>,
    pub(super) healed: bool,
    pub(super) liveness_at: Option<u64>,
    pub(super) pending_handovers: Vec<(usize, u64)>,
    pub(super) last_holder: Option<usize>,
    pub(super) failovers: u64,
    pub(super) faults_applied: u64,
    pub(super) handover_checks: u64,
    pub(super) host_error: Option<String>,
}

pub(super) fn ns(d: Duration) -> u64 {
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
            handover_checks: 0,
            host_error: None,
        }
    }

    /// The turmoil simulation, for tests that pull its levers themselves.
    pub fn sim(&mut self) -> &mut turmoil::Sim<'static> {
        &mut self.sim
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
            handover_checks: self.handover_checks,
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
            let (running, powered_off) = {
                let s = lock(&self.shared);
                (s.nodes[node].running, s.nodes[node].powered_off)
            };
            if self.restart_when_stopped[node] && !running && !powered_off {
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
            let retry = ns(self.opts.profile.timing.retry_period);
            let quiet = !self.disturbances.iter().any(|&(st, e)| {
                st <= released_at + bound && e >= released_at.saturating_sub(HANDOVER_QUIET)
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
                self.handover_checks += 1;
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
}

/// Runs the seeded world `opts` with `defects` planted.
pub fn run(opts: &TurmoilOptions, defects: &Defects) -> TurmoilReport {
    Harness::new(opts, defects, true).run()
}
