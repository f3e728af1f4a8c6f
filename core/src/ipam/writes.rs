//! The controller's writes: the reservation each holds, the driver's answers, and the retry
//! delays after failures.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use super::controller::IpamController;
use super::io::{Reason, ReportTarget, WriteError};
use super::usage::{classify, Need};
use crate::io::OpId;
use crate::service::{ServiceKey, ServiceView};
use crate::time::Instant;

/// A write handed out, and the reservation it holds.
#[derive(Debug, Clone)]
pub(super) struct Write {
    /// `Some` while the driver has not answered.
    pub(super) op: Option<OpId>,
    pub(super) uid: String,
    pub(super) addresses: Vec<IpAddr>,
    pub(super) ports: BTreeSet<u16>,
    /// When the answer came (the echo deadline counts from here).
    pub(super) answered_at: Option<Instant>,
}

/// The retry state of one Service after failed or stale writes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    /// Not before this instant (`None` once passed).
    pub(super) until: Option<Instant>,
    /// The last delay (doubles on each failure).
    pub(super) delay: Duration,
}

impl IpamController {
    /// Takes the driver's answer to an [`IpamOutput::Assign`]; unknown ids are ignored.
    pub fn handle_write_done(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<ServiceView, WriteError>,
    ) {
        let found = self.writes.iter().find(|(_, w)| w.op == Some(op));
        let Some(key) = found.map(|(k, _)| k.clone()) else {
            return;
        };
        match result {
            Ok(view) => {
                if let Some(w) = self.writes.get_mut(&key) {
                    w.op = None;
                    w.answered_at = Some(now);
                    let list: Vec<String> = w.addresses.iter().map(ToString::to_string).collect();
                    let message = format!("assigned {} by kvip cloud-provider", list.join(","));
                    self.report(
                        ReportTarget::service(&view),
                        Reason::AddressAssigned,
                        message,
                    );
                }
                self.backoff.remove(&key);
                self.service_problems.remove(&key);
                // Not applied: the reservation stands for it until the watch shows the address
                // (applying it would let an older event still on its way undo it).
                self.settle_write(&key);
            }
            Err(WriteError::Stale(fresh)) => {
                self.writes.remove(&key);
                let until = Some(now + self.settings.retry_base);
                let delay = self.backoff.get(&key).map_or(Duration::ZERO, |b| b.delay);
                self.backoff.insert(key.clone(), Backoff { until, delay });
                if let Some(view) = fresh {
                    self.apply_answer(*view);
                }
            }
            Err(WriteError::Failed {
                message,
                maybe_applied,
            }) => {
                if maybe_applied {
                    if let Some(w) = self.writes.get_mut(&key) {
                        w.op = None;
                        w.answered_at = Some(now);
                    }
                } else {
                    self.writes.remove(&key);
                }
                let last = self.backoff.get(&key).map_or(Duration::ZERO, |b| b.delay);
                let delay = (last * 2).clamp(self.settings.retry_base, self.settings.retry_max);
                let until = Some(now + delay);
                self.backoff.insert(key.clone(), Backoff { until, delay });
                if let Some(svc) = self.services.get(&key) {
                    let target = ReportTarget::service(svc);
                    let message = format!("writing the address failed (retried): {message}");
                    self.problem(&key, target, Reason::AssignFailed, message);
                }
            }
        }
        self.reconcile(now);
    }

    /// A Service as a stale write's re-read found it: newer than the watch's copy when the
    /// watch lags, so it replaces that copy, but only if the watch still knows the same Service
    /// (the watch may have seen it deleted since, and a deleted Service must not come back).
    pub(super) fn apply_answer(&mut self, svc: ServiceView) {
        let key = svc.key.clone();
        if self.services.get(&key).is_some_and(|s| s.uid == svc.uid) {
            self.apply_service(svc);
        } else {
            self.settle_write(&key);
        }
    }

    /// Drops an answered write's reservation once the Service shows an address, is gone or
    /// was replaced.
    pub(super) fn settle_write(&mut self, key: &ServiceKey) {
        let Some(w) = self.writes.get(key) else {
            return;
        };
        if w.op.is_some() {
            return;
        }
        let done = match self.services.get(key) {
            None => true,
            Some(svc) => svc.uid != w.uid || classify(svc, &self.settings.classes) != Need::Address,
        };
        if done {
            self.writes.remove(key);
        }
    }
}
