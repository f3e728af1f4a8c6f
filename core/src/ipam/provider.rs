//! [`CloudProvider`]: the state machine of `kvip cloud-provider`, one [`Elector`] on Lease
//! `kube-system/kube-vip-cloud-controller` plus one [`IpamController`] that may write only while
//! the elector leads. On shutdown it stops writing and releases the Lease, so a standby takes
//! over at once.

use std::collections::VecDeque;

use super::config::ConfigMapView;
use super::controller::{IpamController, IpamSettings};
use super::io::{Assignment, IpamOutput, Report, WriteError};
use crate::defects::Defects;
use crate::election::record::{LeaseError, LeaseObject, LeaseRequest};
use crate::election::timing::{ElectionTiming, TimingError};
use crate::election::{Elector, ElectorConfig};
use crate::io::{Event, OpId, Output, WatchEvent};
use crate::outbox::Outbox;
use crate::service::ServiceView;
use crate::time::{Instant, WallClock};

/// Everything a [`CloudProvider`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudProviderConfig {
    /// Lease holder identity.
    pub identity: String,
    /// Election timing (15 / 10 / 2 s by default, as kube-vip-cloud-provider); validated by
    /// [`CloudProvider::new`].
    pub timing: ElectionTiming,
    /// Seed for the elector's retry jitter.
    pub seed: u64,
    /// Wall time at start, for Lease timestamps.
    pub wall: WallClock,
    /// The IPAM controller's settings.
    pub ipam: IpamSettings,
}

/// A fact handed to the cloud provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderInput {
    /// The answer to a [`ProviderOutput::Lease`].
    LeaseResponse {
        /// The request's id.
        op: OpId,
        /// The Lease after the request, or why it failed.
        result: Result<LeaseObject, LeaseError>,
    },
    /// An event of the watch on the Lease.
    LeaseWatch(WatchEvent<LeaseObject>),
    /// An event of the watch on all Services.
    Services(WatchEvent<ServiceView>),
    /// An event of the watch on the ConfigMap.
    ConfigMap(WatchEvent<ConfigMapView>),
    /// The answer to a [`ProviderOutput::Assign`].
    WriteDone {
        /// The write's id.
        op: OpId,
        /// The Service as stored with the address, or why not.
        result: Result<ServiceView, WriteError>,
    },
}

/// Work handed out by the cloud provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderOutput {
    /// A Lease request. Emitted once; answer with [`ProviderInput::LeaseResponse`].
    Lease {
        /// Id to answer with.
        op: OpId,
        /// The request.
        request: LeaseRequest,
    },
    /// Write addresses on a Service. Emitted once; answer with [`ProviderInput::WriteDone`].
    Assign {
        /// Id to answer with.
        op: OpId,
        /// What to write.
        assignment: Assignment,
    },
    /// Publish a Kubernetes Event. Emitted once, fire-and-forget.
    Report(Report),
    /// An election transition, for the logs. Emitted once.
    Election(Event),
    /// Shutdown finished: the Lease is released (or the release given up). Emitted once.
    Stopped,
}

/// The `kvip cloud-provider` state machine. Methods come in the core's four kinds: `handle_*`,
/// `poll_*`, getters, and the verb [`CloudProvider::shutdown`]. After any `handle_*` or verb,
/// drain [`CloudProvider::poll_output`], then sleep until [`CloudProvider::poll_timeout`].
#[derive(Debug, Clone)]
pub struct CloudProvider {
    elector: Elector,
    ipam: IpamController,
    outbox: Outbox,
    out: VecDeque<ProviderOutput>,
    stopping: bool,
    stopped: bool,
}

impl CloudProvider {
    /// A provider that makes its first election attempt at `now`.
    pub fn new(cfg: CloudProviderConfig, now: Instant) -> Result<CloudProvider, TimingError> {
        let timing = cfg.timing.validate()?;
        let elector = Elector::new(
            ElectorConfig {
                identity: cfg.identity,
                timing,
                seed: cfg.seed,
                wall: cfg.wall,
                defects: Defects::default(),
            },
            now,
        );
        let mut provider = CloudProvider {
            elector,
            ipam: IpamController::new(cfg.ipam),
            outbox: Outbox::default(),
            out: VecDeque::new(),
            stopping: false,
            stopped: false,
        };
        provider.handle_timeout(now);
        Ok(provider)
    }

    /// Takes one fact.
    pub fn handle_input(&mut self, now: Instant, input: ProviderInput) {
        self.elector.expire(now, &mut self.outbox);
        self.sync_leadership(now);
        match input {
            ProviderInput::LeaseResponse { op, result } => {
                self.elector
                    .handle_response(now, op, result, &mut self.outbox)
            }
            ProviderInput::LeaseWatch(event) => {
                self.elector.handle_watch(now, event, &mut self.outbox)
            }
            ProviderInput::Services(event) => self.ipam.handle_services(now, event),
            ProviderInput::ConfigMap(event) => self.ipam.handle_config_map(now, event),
            ProviderInput::WriteDone { op, result } => self.ipam.handle_write_done(now, op, result),
        }
        self.settle(now);
    }

    /// Runs whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.elector.handle_timeout(now, &mut self.outbox);
        self.sync_leadership(now);
        self.ipam.handle_timeout(now);
        self.settle(now);
    }

    /// The next piece of work.
    pub fn poll_output(&mut self) -> Option<ProviderOutput> {
        self.out.pop_front()
    }

    /// When [`CloudProvider::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.elector.poll_timeout(), self.ipam.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether this instance holds the Lease (and so writes).
    pub fn is_leader(&self) -> bool {
        self.elector.is_leader()
    }

    /// The holder named by the newest Lease record seen.
    pub fn observed_holder(&self) -> Option<&str> {
        self.elector.observed_holder()
    }

    /// The IPAM controller (read-only).
    pub fn ipam(&self) -> &IpamController {
        &self.ipam
    }

    /// Whether shutdown finished ([`ProviderOutput::Stopped`] was emitted).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Stops writing and releases the Lease; [`ProviderOutput::Stopped`] follows.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        self.elector.stop();
        self.settle(now);
    }

    /// Tells the controller whether it may write: while leading and not stopping.
    fn sync_leadership(&mut self, now: Instant) {
        let leading = self.elector.is_leader() && !self.stopping;
        self.ipam.set_leading(now, leading);
    }

    /// Advances the release and moves every queued output to `out`, election work first.
    fn settle(&mut self, now: Instant) {
        self.sync_leadership(now);
        if self.stopping {
            self.elector.allow_release(now, true, &mut self.outbox);
        }
        self.sync_leadership(now);
        while let Some(output) = self.outbox.pop() {
            match output {
                Output::Lease { op, request } => {
                    self.out.push_back(ProviderOutput::Lease { op, request })
                }
                Output::Event(event) => self.out.push_back(ProviderOutput::Election(event)),
                // The elector emits nothing else.
                other => self
                    .out
                    .push_back(ProviderOutput::Election(Event::Ignored(output_name(
                        &other,
                    )))),
            }
        }
        while let Some(output) = self.ipam.poll_output() {
            self.out.push_back(match output {
                IpamOutput::Assign { op, assignment } => ProviderOutput::Assign { op, assignment },
                IpamOutput::Report(report) => ProviderOutput::Report(report),
            });
        }
        if self.stopping && self.elector.release_finished() && !self.stopped {
            self.stopped = true;
            self.out.push_back(ProviderOutput::Stopped);
        }
    }
}

fn output_name(output: &Output) -> &'static str {
    match output {
        Output::AddAddress { .. } => "unexpected AddAddress from the elector",
        Output::RemoveAddress { .. } => "unexpected RemoveAddress from the elector",
        Output::SendFrame { .. } => "unexpected SendFrame from the elector",
        Output::Stopped => "unexpected Stopped from the elector",
        Output::Lease { .. } | Output::Event(_) => "elector output",
    }
}
