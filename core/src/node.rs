//! The control-plane VIP [`Node`]: one elector and one VIP manager, driven by a single loop.
//!
//! The node ties leadership to the addresses: they are wanted exactly while the elector leads and
//! the node is not stopping. On shutdown it stops announcing, removes every address, and only then
//! releases the lease, so a follower that takes over on the release can never find the address
//! still configured here.

use std::time::Duration;

use thiserror::Error;

use crate::defects::{Defect, Defects};
use crate::election::timing::{ElectionTiming, TimingError};
use crate::election::{Elector, ElectorConfig};
use crate::io::{Input, Output, VipAddress};
use crate::outbox::Outbox;
use crate::time::{Instant, WallClock};
use crate::vip::VipManager;
use crate::wire::MacAddr;

/// Everything a [`Node`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Lease holder identity (`vip_nodename`).
    pub identity: String,
    /// Election timing; validated by [`Node::new`].
    pub timing: ElectionTiming,
    /// The control-plane VIPs.
    pub vips: Vec<VipAddress>,
    /// MAC of the VIP interface, the sender of announcements.
    pub mac: MacAddr,
    /// Refresh period of announcements (`vip_arpRate`).
    pub arp_rate: Duration,
    /// Seed for the elector's retry jitter.
    pub seed: u64,
    /// Wall time at node start, for Lease timestamps.
    pub wall: WallClock,
    /// Planted defects (tests only).
    pub defects: Defects,
}

/// Why a [`NodeConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NodeConfigError {
    /// The election timing breaks client-go's rule.
    #[error(transparent)]
    Timing(#[from] TimingError),
    /// No VIP to manage.
    #[error("no control-plane address configured (set `address`)")]
    NoAddress,
    /// The holder identity is empty.
    #[error("empty node name (set `vip_nodename`)")]
    NoIdentity,
}

/// The control-plane VIP state machine.
///
/// Methods come in four kinds, in this order:
/// 1. `handle_*` take a fact ([`Node::handle_input`], [`Node::handle_timeout`]);
/// 2. `poll_*` hand out work ([`Node::poll_output`], [`Node::poll_timeout`]);
/// 3. getters only read ([`Node::is_leader`], [`Node::is_announcing`], …);
/// 4. verbs are commands ([`Node::shutdown`]).
///
/// After any `handle_*` or verb, drain `poll_output` until `None`, then sleep until
/// `poll_timeout()` and call `handle_timeout` with the time then.
#[derive(Debug, Clone)]
pub struct Node {
    elector: Elector,
    vip: VipManager,
    out: Outbox,
    defects: Defects,
    stopping: bool,
    stopped: bool,
}

impl Node {
    /// A node that makes its first election attempt (and cleans stale addresses) at `now`.
    pub fn new(cfg: NodeConfig, now: Instant) -> Result<Node, NodeConfigError> {
        let timing = cfg.timing.validate()?;
        if cfg.vips.is_empty() {
            return Err(NodeConfigError::NoAddress);
        }
        if cfg.identity.is_empty() {
            return Err(NodeConfigError::NoIdentity);
        }
        let elector = Elector::new(
            ElectorConfig {
                identity: cfg.identity,
                timing,
                seed: cfg.seed,
                wall: cfg.wall,
                defects: cfg.defects.clone(),
            },
            now,
        );
        let vip = VipManager::new(&cfg.vips, cfg.mac, cfg.arp_rate, cfg.defects.clone());
        let mut node = Node {
            elector,
            vip,
            out: Outbox::default(),
            defects: cfg.defects,
            stopping: false,
            stopped: false,
        };
        node.handle_timeout(now);
        Ok(node)
    }

    /// Takes one fact.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.fence(now);
        let out = &mut self.out;
        self.elector.expire(now, out);
        match input {
            Input::LeaseResponse { op, result } => {
                self.elector.handle_response(now, op, result, out)
            }
            Input::LeaseWatch(event) => self.elector.handle_watch(now, event, out),
            Input::AddressDone { op, result } => {
                if !self.vip.handle_done(now, op, result, out) {
                    out.event(crate::io::Event::Ignored("unknown address operation"));
                }
            }
            Input::AddressObserved { address, present } => {
                self.vip.handle_observed(address, present, out)
            }
            Input::LinkChanged { up } => {
                if up {
                    self.vip.reannounce(now);
                }
            }
        }
        self.elector.drive(now, &mut self.out);
        self.settle(now);
    }

    /// Runs whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fence(now);
        self.elector.handle_timeout(now, &mut self.out);
        self.settle(now);
    }

    /// The next piece of work, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// When [`Node::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.elector.poll_timeout(), self.vip.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether this node holds the lease and has not fenced itself.
    pub fn is_leader(&self) -> bool {
        self.elector.is_leader()
    }

    /// Whether any VIP is being announced from here.
    pub fn is_announcing(&self) -> bool {
        self.vip.is_announcing()
    }

    /// The holder named by the newest Lease record seen.
    pub fn observed_holder(&self) -> Option<&str> {
        self.elector.observed_holder()
    }

    /// Whether shutdown has finished ([`Output::Stopped`] was emitted).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Starts a graceful shutdown: stop announcing, remove the addresses, then release the lease.
    /// [`Output::Stopped`] follows.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        self.elector.stop();
        self.settle(now);
    }

    /// Fences a leader whose renew deadline passed and, if it did, queues the address removal
    /// before any other work.
    fn fence(&mut self, now: Instant) {
        let was_leader = self.elector.is_leader();
        self.elector.fence(now, &mut self.out);
        if was_leader && !self.elector.is_leader() {
            self.vip.set_wanted(false);
            self.vip.handle_timeout(now, &mut self.out);
        }
    }

    /// Ties the addresses to leadership and advances shutdown.
    fn settle(&mut self, now: Instant) {
        let out = &mut self.out;
        self.vip
            .set_wanted(self.elector.is_leader() && !self.stopping);
        self.vip.handle_timeout(now, out);
        if self.stopping {
            let early = self.defects.has(Defect::ReleaseBeforeRemove);
            self.elector
                .allow_release(now, early || self.vip.all_absent(), out);
            if self.elector.release_finished() && self.vip.all_absent() && !self.stopped {
                self.stopped = true;
                out.push(Output::Stopped);
            }
        }
    }
}
