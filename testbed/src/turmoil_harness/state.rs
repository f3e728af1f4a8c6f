//! The state every turmoil host shares with the checker: each node's simulated kernel (does it
//! have the VIP, has it announced it since), its pending address operations, the API server's
//! store (which survives an API host crash, as etcd would), the LAN client's neighbour entry, and
//! the violations found. The ordering invariants are checked right here, at the moment the
//! event happens: a frame leaving a node, a release applied by the API server, a kernel change.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kvip_core::wire::{decode, Frame, MacAddr};
use kvip_core::{AddressError, LeaseRequest, VipAddress};
use kvip_runtime::manager::driver::Exit;
use kvip_runtime::manager::ports::KernelEvent;
use tokio::sync::{mpsc, watch};

use super::options::TurmoilOptions;
use crate::sim::api::{ApiServer, Applied};
use crate::sim::invariants::{self as inv, Violation};
use crate::sim::rng::{stream, Draw, SeededRng};

/// The state shared by the hosts and the checker (one thread runs the whole simulation; the
/// mutex only satisfies the ports' `Send + Sync` bounds).
pub type Shared = Arc<Mutex<State>>;

/// Locks the shared state (a poisoned lock means a host panicked: keep going to report it).
pub fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A kernel event on its way to the daemon's monitor stream, with when it is delivered (ns).
pub type KernelNote = (KernelEvent, u64);

/// One address operation the kernel is carrying out.
#[derive(Debug, Clone, Copy)]
struct KernelOp {
    id: u64,
    node: usize,
    add: bool,
    due: u64,
}

/// One node host as the checker sees it.
#[derive(Debug)]
pub struct NodeState {
    /// Holder identity.
    pub name: String,
    /// MAC of its LAN interface.
    pub mac: MacAddr,
    /// Whether the kernel has the VIP configured.
    pub kernel_vip: bool,
    /// Whether the VIP was announced since it was last added.
    pub announced: bool,
    /// Since when (ns) the node has been a holder (kernel + announced).
    pub holder_since: Option<u64>,
    /// The current daemon's kernel monitor.
    pub monitor: Option<mpsc::UnboundedSender<KernelNote>>,
    /// Daemon starts so far.
    pub incarnation: u64,
    /// Whether a daemon (driver) is running.
    pub running: bool,
    /// How the last daemon run ended.
    pub exits: Vec<Exit>,
    /// The shutdown signal of the daemon (SIGTERM).
    pub stop: watch::Sender<bool>,
    /// Since when a graceful stop is in progress.
    pub stopping_since: Option<u64>,
    /// Whether the host is powered off (crashed, not yet bounced).
    pub powered_off: bool,
    /// Whether frames reach the LAN.
    pub lan_up: bool,
    /// Since when the LAN path has been up.
    pub lan_up_since: u64,
    /// Whether the node reaches the API server.
    pub api_up: bool,
    /// Since when the client side of its watch has been synced (InitDone seen, no error since).
    pub watch_synced_since: Option<u64>,
    /// When its watch last delivered an event.
    pub watch_last_event: u64,
    /// Randomness for this node's kernel and watch client.
    pub rng: SeededRng,
    /// Until when (ns) the daemon may not yet know that its address was removed behind its
    /// back: the kernel event is on its way, and a frame sent meanwhile is no ordering bug.
    pub theft_unseen_until: u64,
}

impl NodeState {
    /// Whether the node holds the VIP: configured in its kernel and announced since.
    pub fn is_holder(&self) -> bool {
        self.kernel_vip && self.announced
    }
}

/// Everything shared.
#[derive(Debug)]
pub struct State {
    /// The run's options.
    pub opts: TurmoilOptions,
    /// The VIP every node manages.
    pub vip: VipAddress,
    /// The node hosts.
    pub nodes: Vec<NodeState>,
    /// The API server's store (etcd).
    pub api: ApiServer,
    /// Randomness of the API server (watch timeouts, injected failures).
    pub api_rng: SeededRng,
    /// Broadcast of writes to the API host's watch connections.
    pub writes: tokio::sync::broadcast::Sender<kvip_core::LeaseObject>,
    /// The LAN client's neighbour entry for the VIP.
    pub client_entry: Option<MacAddr>,
    /// Violations found, in order.
    pub violations: Vec<Violation>,
    /// Releases applied by the API server: (releaser, when), for the handover check.
    pub releases: Vec<(usize, u64)>,
    /// Simulated time outside a host (set by the harness each step), ns.
    pub now: u64,
    /// Timeline of notable events (kept short).
    pub trace: Vec<String>,
    kernel_ops: Vec<KernelOp>,
    kernel_results: Vec<(u64, Result<(), AddressError>)>,
    next_op: u64,
}

/// How many trace lines a run keeps.
const TRACE_CAP: usize = 4000;

/// The VIP of a run.
pub fn vip(opts: &TurmoilOptions) -> VipAddress {
    if opts.ipv6 {
        VipAddress {
            address: "fd00:250::c8".parse().expect("valid"),
            prefix_len: 128,
        }
    } else {
        VipAddress {
            address: "10.250.0.200".parse().expect("valid"),
            prefix_len: 32,
        }
    }
}

impl State {
    /// The shared state of a fresh world for `opts`.
    pub fn new(opts: &TurmoilOptions) -> Self {
        let nodes = (0..opts.nodes)
            .map(|i| NodeState {
                name: crate::sim::host::host_name(i),
                mac: MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b + i as u8]),
                kernel_vip: false,
                announced: false,
                holder_since: None,
                monitor: None,
                incarnation: 0,
                running: false,
                exits: Vec::new(),
                stop: watch::channel(false).0,
                stopping_since: None,
                powered_off: false,
                lan_up: true,
                lan_up_since: 0,
                api_up: true,
                watch_synced_since: None,
                watch_last_event: 0,
                rng: stream(opts.seed, 200 + i as u64),
                theft_unseen_until: 0,
            })
            .collect();
        State {
            vip: vip(opts),
            opts: opts.clone(),
            nodes,
            api: ApiServer::default(),
            api_rng: stream(opts.seed, 13),
            writes: tokio::sync::broadcast::channel(1024).0,
            client_entry: None,
            violations: Vec::new(),
            releases: Vec::new(),
            now: 0,
            trace: Vec::new(),
            kernel_ops: Vec::new(),
            kernel_results: Vec::new(),
            next_op: 0,
        }
    }

    /// Simulated time now, ns: the running host's clock inside a host, else the harness's.
    pub fn now(&self) -> u64 {
        turmoil::sim_elapsed().map_or(self.now, |d| d.as_nanos() as u64)
    }

    /// Adds a line to the timeline.
    pub fn log(&mut self, text: impl FnOnce() -> String) {
        if self.trace.len() < TRACE_CAP {
            let now = self.now();
            self.trace
                .push(format!("{:>10.3}ms {}", now as f64 / 1e6, text()));
        }
    }

    /// Records a violation.
    pub fn fail(&mut self, v: Violation) {
        let text = v.to_string();
        self.log(|| format!("VIOLATION {text}"));
        self.violations.push(v);
    }

    /// Nodes that hold the VIP now.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_holder())
            .collect()
    }

    fn check_single_holder(&mut self) {
        let holders = self.holders();
        let now = self.now();
        if let Err(v) = inv::single_holder::check(now, &holders) {
            if !self.violations.iter().any(|old| old.name() == v.name()) {
                self.fail(v);
            }
        }
    }

    /// A draw in `range` from node `node`'s randomness.
    pub fn node_draw(&mut self, node: usize, range: (Duration, Duration)) -> Duration {
        let ns = self.nodes[node]
            .rng
            .range(range.0.as_nanos() as u64, range.1.as_nanos() as u64);
        Duration::from_nanos(ns)
    }

    /// Hands node `node`'s kernel an add (or remove) of the VIP; returns the operation's id and
    /// how long until it completes.
    pub fn submit_kernel_op(&mut self, node: usize, add: bool) -> (u64, Duration) {
        let delay = self.node_draw(node, self.opts.address_latency);
        self.next_op += 1;
        let id = self.next_op;
        let due = self.now() + delay.as_nanos() as u64;
        self.kernel_ops.push(KernelOp { id, node, add, due });
        (id, delay)
    }

    /// Completes every kernel operation due by now, in order.
    pub fn apply_due_kernel_ops(&mut self) {
        let now = self.now();
        let mut due: Vec<KernelOp> = Vec::new();
        self.kernel_ops.retain_mut(|op| {
            if op.due <= now {
                due.push(*op);
                false
            } else {
                true
            }
        });
        due.sort_by_key(|op| (op.due, op.id));
        for op in due {
            let was = self.nodes[op.node].kernel_vip;
            let result = match (op.add, was) {
                (true, true) => Err(AddressError::AlreadyPresent),
                (false, false) => Err(AddressError::NotPresent),
                _ => Ok(()),
            };
            self.set_kernel_vip(op.node, op.add);
            self.kernel_results.push((op.id, result));
        }
    }

    /// The result of kernel operation `id`, once it completed.
    pub fn take_kernel_result(&mut self, id: u64) -> Option<Result<(), AddressError>> {
        self.apply_due_kernel_ops();
        let i = self.kernel_results.iter().position(|(op, _)| *op == id)?;
        Some(self.kernel_results.swap_remove(i).1)
    }

    /// Sets node `node`'s kernel VIP state (an operation completing, a theft, a reboot) and tells
    /// its daemon's monitor when it changed.
    pub fn set_kernel_vip(&mut self, node: usize, present: bool) {
        let changed = self.nodes[node].kernel_vip != present;
        self.nodes[node].kernel_vip = present;
        if !present {
            self.nodes[node].announced = false;
            self.nodes[node].holder_since = None;
        }
        if changed {
            let name = self.nodes[node].name.clone();
            self.log(|| {
                format!(
                    "{name} kernel {}",
                    if present { "adds VIP" } else { "drops VIP" }
                )
            });
            let delay = self.node_draw(node, self.opts.kernel_event_delay);
            let at = self.now() + delay.as_nanos() as u64;
            let address = self.vip.address;
            if let Some(tx) = &self.nodes[node].monitor {
                let _ = tx.send((KernelEvent::Address { address, present }, at));
            }
        }
    }

    /// Something removes the VIP from node `node` behind its daemon's back.
    pub fn steal(&mut self, node: usize, grace: Duration) {
        if self.nodes[node].kernel_vip {
            self.set_kernel_vip(node, false);
            let until = self.now() + (self.opts.kernel_event_delay.1 + grace).as_nanos() as u64;
            self.nodes[node].theft_unseen_until = until;
        }
    }

    /// Powers node `node` off: pending kernel operations vanish and so does the VIP.
    pub fn power_off(&mut self, node: usize) {
        self.kernel_ops.retain(|op| op.node != node);
        self.set_kernel_vip(node, false);
        let n = &mut self.nodes[node];
        n.monitor = None;
        n.running = false;
        n.powered_off = true;
        n.stopping_since = None;
        n.watch_synced_since = None;
    }

    /// Node `node` put a frame on its interface.
    pub fn frame_sent(&mut self, node: usize, frame: &[u8]) {
        self.apply_due_kernel_ops();
        let now = self.now();
        let has_vip = self.nodes[node].kernel_vip;
        if !has_vip && now <= self.nodes[node].theft_unseen_until {
            let name = self.nodes[node].name.clone();
            self.log(|| format!("{name} announces a stolen address it has not heard of yet"));
        } else if let Err(v) = inv::announce_after_add::on_frame(now, node, has_vip) {
            self.fail(v);
        }
        match decode(frame) {
            Ok(Frame::Arp(_) | Frame::NeighborAdvert(_)) => {}
            Err(e) => {
                let name = self.nodes[node].name.clone();
                self.log(|| format!("{name} sent an undecodable frame: {e}"));
            }
        }
        let n = &mut self.nodes[node];
        if n.kernel_vip && !n.announced {
            n.announced = true;
            n.holder_since = Some(now);
            let name = n.name.clone();
            self.log(|| format!("{name} announces: holder"));
        }
        self.check_single_holder();
    }

    /// The API server applies one request from node `from`.
    pub fn api_apply(&mut self, from: usize, request: LeaseRequest) -> Applied {
        self.apply_due_kernel_ops();
        let releasing =
            matches!(&request, LeaseRequest::Replace { record, .. } if record.holder().is_none());
        let applied = self.api.apply(request, &mut self.api_rng);
        if let Some(written) = &applied.written {
            let holder = written.record.holder().unwrap_or("-").to_string();
            let rv = written.resource_version.0.clone();
            self.log(|| format!("api stores rv={rv} holder={holder}"));
            if releasing {
                let now = self.now();
                let has_vip = self.nodes[from].kernel_vip;
                if let Err(v) = inv::withdraw_before_release::on_release_applied(now, from, has_vip)
                {
                    self.fail(v);
                }
                self.releases.push((from, now));
            }
            let _ = self.writes.send(written.clone());
        }
        applied
    }
}
