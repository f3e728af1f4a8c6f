//! Lease election with client-go semantics, sans-IO.
//!
//! The [`Elector`] owns one Lease: it acquires, renews and releases it by compare-and-swap on the
//! resourceVersion, keeps the latest record it has seen (from responses and the watch) and when it
//! *first* observed it, and decides from that alone:
//! - a holder's lease is expired once `leaseDurationSeconds` has passed on the **local monotonic
//!   clock** since the record was first observed (never by comparing `renewTime` to wall time);
//!   a follower wakes at that exact instant instead of waiting for its next retry tick;
//! - a release seen on the watch is taken over at once (graceful handover in milliseconds);
//! - the leader fences itself once `renewDeadline` has passed since it **sent** its last
//!   successful renew: a record the others observe cannot be older than that send;
//! - at most one request is in flight; it times out after `renewDeadline` and a late answer is
//!   ignored, so an ambiguous write is resolved by the next compare-and-swap;
//! - a follower decides from the watch's cache while the watch is synced and lively (it delivers
//!   every renew); a watch silent for longer than 1.5 × retryPeriod may have died unnoticed, so
//!   the follower reads the Lease itself every retry, as client-go always does.

pub mod record;
pub mod timing;

use std::time::Duration;

use crate::defects::{Defect, Defects};
use crate::io::{Event, LossReason, OpId, Output, WatchEvent};
use crate::outbox::Outbox;
use crate::rng::SeededRng;
use crate::time::{Instant, WallClock};
use record::{LeaseError, LeaseObject, LeaseRecord, LeaseRequest};
use timing::ElectionTiming;

/// How many follow-up requests one scheduled attempt may chain (Get → Replace → Get …).
const MAX_CHAINED_REQUESTS: u8 = 3;

/// What the elector needs to know about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectorConfig {
    /// Our holder identity (`vip_nodename`).
    pub identity: String,
    /// Validated election timing.
    pub timing: ElectionTiming,
    /// Seed for retry jitter.
    pub seed: u64,
    /// Maps `now` to the wall time written into the record.
    pub wall: WallClock,
    /// Planted defects (tests only).
    pub defects: Defects,
}

/// What the in-flight request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A GET to learn the current record.
    Probe,
    /// A create or replace that makes us holder (or renews).
    Claim,
    /// The release on shutdown.
    Release,
}

#[derive(Debug, Clone)]
struct InFlight {
    op: OpId,
    purpose: Purpose,
    sent_at: Instant,
}

/// The Lease as last seen: `None` inside means it is known not to exist.
#[derive(Debug, Clone)]
struct Observed {
    lease: Option<LeaseObject>,
    first_observed: Instant,
}

/// The client-go style elector for one Lease.
#[derive(Debug, Clone)]
pub struct Elector {
    cfg: ElectorConfig,
    rng: SeededRng,
    observed: Option<Observed>,
    watch_synced: bool,
    /// When the watch last delivered anything: a healthy watch delivers every renew, so one
    /// silent for longer than 1.5 × retryPeriod is not trusted (it may have died unnoticed).
    last_watch_event: Option<Instant>,
    /// When a request last returned the Lease (a fresh read as good as a lively watch).
    last_read: Option<Instant>,
    init_saw_lease: bool,
    /// `Some(sent_at)` of the last successful renew while leader.
    leading_since_send: Option<Instant>,
    in_flight: Option<InFlight>,
    next_attempt: Option<Instant>,
    chained: u8,
    stopping: bool,
    release_wanted: bool,
    release_done: bool,
    wedged: bool,
}

impl Elector {
    /// An elector that makes its first attempt at `now`.
    pub fn new(cfg: ElectorConfig, now: Instant) -> Self {
        let rng = SeededRng::new(cfg.seed);
        Elector {
            cfg,
            rng,
            observed: None,
            watch_synced: false,
            last_watch_event: None,
            last_read: None,
            init_saw_lease: false,
            leading_since_send: None,
            in_flight: None,
            next_attempt: Some(now),
            chained: 0,
            stopping: false,
            release_wanted: false,
            release_done: false,
            wedged: false,
        }
    }

    /// Whether we hold the lease and have not fenced ourselves.
    pub fn is_leader(&self) -> bool {
        self.leading_since_send.is_some()
    }

    /// The holder in the latest record we have seen.
    pub fn observed_holder(&self) -> Option<&str> {
        self.observed.as_ref()?.lease.as_ref()?.record.holder()
    }

    /// Whether the release on shutdown has finished (or was not needed).
    pub fn release_finished(&self) -> bool {
        self.release_done
    }

    /// The earliest instant at which [`Elector::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let request_deadline = self
            .in_flight
            .as_ref()
            .map(|f| f.sent_at + self.cfg.timing.renew_deadline);
        let idle = self.in_flight.is_none() && !self.stopping && !self.wedged;
        let attempt = if idle { self.next_attempt } else { None };
        [request_deadline, attempt, self.fence_at()]
            .into_iter()
            .flatten()
            .min()
    }

    fn fence_at(&self) -> Option<Instant> {
        self.leading_since_send
            .map(|sent| sent + self.cfg.timing.renew_deadline)
    }

    /// Fences the leader if `renewDeadline` has passed since its last successful renew was sent.
    /// The node calls it before anything else, so the address removal is the first work queued.
    pub fn fence(&mut self, now: Instant, out: &mut Outbox) {
        if self.fence_at().is_some_and(|t| now >= t) {
            self.lose(LossReason::RenewDeadline, out);
        }
    }

    /// Fences and times out the request in flight if their deadlines passed; sends nothing new.
    /// The node calls it before handing in a fact, so the fact is judged against a current state
    /// and a released Lease seen on the watch is taken over before any due retry goes out.
    pub fn expire(&mut self, now: Instant, out: &mut Outbox) {
        self.fence(now, out);
        if let Some(f) = &self.in_flight {
            if now >= f.sent_at + self.cfg.timing.renew_deadline {
                let f = self.in_flight.take().expect("checked");
                out.event(Event::LeaseRequestFailed(format!(
                    "request {} timed out",
                    f.op.0
                )));
                self.after_failure(now, f.purpose, out);
            }
        }
    }

    /// Runs whatever is due at `now`: fencing, request timeout, the next attempt or the release.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        self.expire(now, out);
        self.drive(now, out);
    }

    /// Stops acquiring and renewing; [`Elector::release`] follows once the addresses are gone.
    pub fn stop(&mut self) {
        self.stopping = true;
        self.next_attempt = None;
    }

    /// Sets whether the release on shutdown may be sent: the node allows it only while every
    /// address is known absent and re-evaluates that after every input, so the release is never
    /// sent while an address is (again) configured. It goes out when no other request is in flight.
    pub fn allow_release(&mut self, now: Instant, allowed: bool, out: &mut Outbox) {
        self.stopping = true;
        self.release_wanted = allowed;
        if allowed {
            self.drive(now, out);
        }
    }

    /// Handles the answer to a Lease request.
    pub fn handle_response(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<LeaseObject, LeaseError>,
        out: &mut Outbox,
    ) {
        let Some(f) = self.in_flight.take_if(|f| f.op == op) else {
            out.event(Event::Ignored("late or unknown lease response"));
            return;
        };
        match (f.purpose, result) {
            (Purpose::Release, result) => {
                self.lose(LossReason::Released, out);
                match result {
                    Ok(lease) => {
                        self.observe(now, Some(lease), out);
                        out.event(Event::Released);
                    }
                    Err(e) => out.event(Event::LeaseRequestFailed(format!("release: {e:?}"))),
                }
                self.release_done = true;
            }
            (purpose, Ok(lease)) => {
                self.last_read = Some(now);
                self.observe(now, Some(lease), out);
                if purpose == Purpose::Claim {
                    self.claimed(now, f.sent_at, out);
                } else {
                    self.next_attempt = Some(now);
                }
            }
            (_, Err(LeaseError::NotFound)) => {
                self.observe(now, None, out);
                self.next_attempt = Some(now);
            }
            (_, Err(LeaseError::Conflict)) => {
                self.observed = None;
                if self.cfg.defects.has(Defect::StopAfterConflict) {
                    self.wedged = true;
                }
                self.next_attempt = Some(now);
            }
            (purpose, Err(e)) => {
                out.event(Event::LeaseRequestFailed(format!("{e:?}")));
                self.after_failure(now, purpose, out);
            }
        }
        self.drive(now, out);
    }

    /// Handles one event of the Lease watch.
    pub fn handle_watch(&mut self, now: Instant, event: WatchEvent<LeaseObject>, out: &mut Outbox) {
        self.last_watch_event = Some(now);
        match event {
            WatchEvent::Init => {
                self.watch_synced = false;
                self.init_saw_lease = false;
            }
            WatchEvent::InitApply(lease) => {
                self.init_saw_lease = true;
                self.take_over_if_released(now, lease, out);
            }
            WatchEvent::InitDone => {
                self.watch_synced = true;
                if !self.init_saw_lease {
                    self.observe(now, None, out);
                }
            }
            WatchEvent::Apply(lease) => self.take_over_if_released(now, lease, out),

            WatchEvent::Delete(_) => self.observe(now, None, out),
        }
        self.drive(now, out);
    }

    /// Records a Lease from the watch; a released one is taken over at once (watch-driven
    /// takeover), whether it arrives as a change or in a re-list.
    fn take_over_if_released(&mut self, now: Instant, lease: LeaseObject, out: &mut Outbox) {
        let released = lease.record.holder().is_none();
        self.observe(now, Some(lease), out);
        if released && !self.is_leader() && !self.cfg.defects.has(Defect::NoWatchTakeover) {
            self.next_attempt = Some(now);
            self.chained = 0;
        }
    }

    fn after_failure(&mut self, now: Instant, purpose: Purpose, out: &mut Outbox) {
        if purpose == Purpose::Release {
            self.lose(LossReason::Released, out);
            self.release_done = true;
        } else {
            self.chained = 0;
            self.next_attempt = Some(now + self.cfg.timing.retry_period);
        }
    }

    /// Records a Lease (or its absence) seen at `now`, keeping the newest and when it was first seen.
    fn observe(&mut self, now: Instant, lease: Option<LeaseObject>, out: &mut Outbox) {
        let previous = self.observed.as_ref().and_then(|o| o.lease.as_ref());
        let changed = match (previous, &lease) {
            (Some(old), Some(new)) => new.resource_version.is_newer_than(&old.resource_version),
            (None, None) => self.observed.is_none(),
            _ => true,
        };
        if !changed {
            return;
        }
        let old_holder = previous.and_then(|l| l.record.holder()).map(str::to_owned);
        let new_holder = lease
            .as_ref()
            .and_then(|l| l.record.holder())
            .map(str::to_owned);
        if old_holder != new_holder {
            out.event(Event::HolderChanged(new_holder.clone()));
        }
        self.observed = Some(Observed {
            lease,
            first_observed: now,
        });
        if self.is_leader() && new_holder.as_deref() != Some(self.cfg.identity.as_str()) {
            self.lose(LossReason::OtherHolder, out);
        }
    }

    fn lose(&mut self, reason: LossReason, out: &mut Outbox) {
        if self.leading_since_send.take().is_some() {
            out.event(Event::LostLeadership(reason));
        }
    }

    fn claimed(&mut self, now: Instant, sent_at: Instant, out: &mut Outbox) {
        let timing = self.cfg.timing;
        let fence_base = if self.cfg.defects.has(Defect::FenceFromResponse) {
            now
        } else {
            sent_at
        };
        if self.stopping {
            // The release follows; keep the fence of what we held, take no new lead.
            if self.leading_since_send.is_some() && now < fence_base + timing.renew_deadline {
                self.leading_since_send = Some(fence_base);
            }
            return;
        }
        if now >= fence_base + timing.renew_deadline {
            // Too late to lead on this write; the record still names us, so renew at once.
            self.lose(LossReason::RenewDeadline, out);
            self.next_attempt = Some(now);
            return;
        }
        if self.leading_since_send.is_none() {
            let transitions = self.observed.as_ref().and_then(|o| o.lease.as_ref());
            let transitions = transitions.map_or(0, |l| l.record.lease_transitions);
            out.event(Event::Acquired { transitions });
        }
        self.leading_since_send = Some(fence_base);
        self.chained = 0;
        self.next_attempt = Some(now + timing.retry_period);
    }

    /// Sends the release or the next attempt if one is due and nothing is in flight.
    pub fn drive(&mut self, now: Instant, out: &mut Outbox) {
        if self.in_flight.is_some() || self.release_done {
            return;
        }
        if self.release_wanted {
            self.send_release(now, out);
            return;
        }
        if self.stopping || self.wedged || self.next_attempt.is_none_or(|t| now < t) {
            return;
        }
        if self.chained >= MAX_CHAINED_REQUESTS {
            self.chained = 0;
            self.next_attempt = Some(now + self.jittered_retry());
            return;
        }
        self.chained += 1;
        self.next_attempt = None;
        self.attempt(now, out);
    }

    fn attempt(&mut self, now: Instant, out: &mut Outbox) {
        let Some(observed) = &self.observed else {
            self.send(now, Purpose::Probe, LeaseRequest::Get, out);
            return;
        };
        let Some(lease) = &observed.lease else {
            let record = self.claim_record(None, now);
            self.send(now, Purpose::Claim, LeaseRequest::Create(record), out);
            return;
        };
        let expires = observed.first_observed + self.lease_duration_of(&lease.record);
        let ours = lease.record.holder() == Some(self.cfg.identity.as_str());
        if ours || lease.record.holder().is_none() || now >= expires {
            let record = self.claim_record(Some(&lease.record), now);
            let expected = lease.resource_version.clone();
            self.send(
                now,
                Purpose::Claim,
                LeaseRequest::Replace { expected, record },
                out,
            );
        } else if !self.cache_trusted(now) {
            self.send(now, Purpose::Probe, LeaseRequest::Get, out);
        } else {
            self.chained = 0;
            self.next_attempt = Some(expires.min(now + self.jittered_retry()));
        }
    }

    /// Whether the cached record can stand in for a GET: it was just read (within half a retry
    /// period), or the watch is synced and has delivered something within 1.5 × retryPeriod (the
    /// leader renews every retryPeriod, so a lively watch is never silent that long).
    fn cache_trusted(&self, now: Instant) -> bool {
        let retry = self.cfg.timing.retry_period;
        let fresh = self.last_read.is_some_and(|t| now < t + retry / 2);
        let lively = self.watch_synced
            && self
                .last_watch_event
                .is_some_and(|t| now < t + retry * 3 / 2);
        fresh || lively
    }

    fn lease_duration_of(&self, record: &LeaseRecord) -> Duration {
        match record.lease_duration_seconds {
            0 => self.cfg.timing.lease_duration,
            s => Duration::from_secs(u64::from(s)),
        }
    }

    /// client-go's record: keep acquireTime and transitions when renewing; on any takeover (of a
    /// held or a released lease) take a new acquireTime and count one more transition.
    fn claim_record(&self, old: Option<&LeaseRecord>, now: Instant) -> LeaseRecord {
        let wall = self.cfg.wall.at(now);
        let ours = old.is_some_and(|r| r.holder() == Some(self.cfg.identity.as_str()));
        let (acquire_time, lease_transitions) = match old {
            Some(r) if ours => (r.acquire_time.or(Some(wall)), r.lease_transitions),
            Some(r) => (Some(wall), r.lease_transitions + 1),
            None => (Some(wall), 0),
        };
        LeaseRecord {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: self.cfg.timing.lease_duration_seconds(),
            acquire_time,
            renew_time: Some(wall),
            lease_transitions,
        }
    }

    fn send_release(&mut self, now: Instant, out: &mut Outbox) {
        let ours = self
            .observed
            .as_ref()
            .and_then(|o| o.lease.as_ref())
            .filter(|l| l.record.holder() == Some(self.cfg.identity.as_str()));
        let Some(lease) = ours else {
            self.leading_since_send = None;
            self.release_done = true;
            return;
        };
        let wall = self.cfg.wall.at(now);
        let record = LeaseRecord {
            holder_identity: None,
            lease_duration_seconds: 1,
            acquire_time: Some(wall),
            renew_time: Some(wall),
            lease_transitions: lease.record.lease_transitions,
        };
        let expected = lease.resource_version.clone();
        self.send(
            now,
            Purpose::Release,
            LeaseRequest::Replace { expected, record },
            out,
        );
    }

    fn send(&mut self, now: Instant, purpose: Purpose, request: LeaseRequest, out: &mut Outbox) {
        let op = out.next_op();
        self.in_flight = Some(InFlight {
            op,
            purpose,
            sent_at: now,
        });
        out.push(Output::Lease { op, request });
    }

    fn jittered_retry(&mut self) -> Duration {
        let retry = self.cfg.timing.retry_period;
        let max_extra = u64::try_from(retry.as_nanos() / 5).unwrap_or(u64::MAX);
        retry + Duration::from_nanos(self.rng.below(max_extra))
    }
}
