//! Service status writes: what the announcing node writes (`status.loadBalancer.ingress` with
//! the addresses actually configured here, and `kube-vip.io/vipHost=<node>`, plus the DHCP
//! annotations), and when. Steady state makes no writes:
//! - before this process has written a Service, it writes only when the stored status differs
//!   (ingress addresses as a set, or an annotation value) from what it wants;
//! - after a successful write it writes again only when what it wants changes (ports included),
//!   so it neither repeats a write the watch has not shown yet nor fights another writer;
//! - one write per Service in flight; a failed one is retried after [`STATUS_RETRY`].
//!
//! Nothing is written for a Service with no address configured yet. A Service of ours that
//! wants no address any more is cleared (empty ingress, `vipHost` removed) by the node its
//! `vipHost` names, and by no other.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use super::io::{Ingress, StatusWrite};
use super::model::{ServiceKey, ServiceView};
use crate::io::OpId;
use crate::time::Instant;

/// Back-off before a failed status write is tried again.
pub const STATUS_RETRY: Duration = Duration::from_secs(1);

/// Whether the stored status of `view` differs from `want`.
pub fn differs(view: &ServiceView, want: &StatusWrite) -> bool {
    let stored: BTreeSet<IpAddr> = view.status_ingress.iter().copied().collect();
    let wanted: BTreeSet<IpAddr> = want.ingress.iter().map(|i| i.ip).collect();
    stored != wanted
        || want
            .annotations
            .iter()
            .any(|(k, v)| view.annotation(k) != v.as_deref())
}

/// The write that clears a status this node wrote.
pub fn clearing(view: &ServiceView, vip_host_annotation: &str) -> StatusWrite {
    StatusWrite {
        key: view.key.clone(),
        uid: view.uid.clone(),
        ingress: vec![],
        annotations: BTreeMap::from([(vip_host_annotation.to_owned(), None)]),
    }
}

/// A status for `ips` on `view`'s ports with `annotations` set.
pub fn status_for(
    view: &ServiceView,
    ips: impl IntoIterator<Item = IpAddr>,
    annotations: BTreeMap<String, Option<String>>,
) -> StatusWrite {
    StatusWrite {
        key: view.key.clone(),
        uid: view.uid.clone(),
        ingress: ips
            .into_iter()
            .map(|ip| Ingress {
                ip,
                ports: view.ports.clone(),
            })
            .collect(),
        annotations,
    }
}

/// Tracks writes in flight, acknowledged and to retry.
#[derive(Debug, Clone, Default)]
pub struct StatusWriter {
    in_flight: BTreeMap<OpId, StatusWrite>,
    busy: BTreeSet<ServiceKey>,
    acked: BTreeMap<ServiceKey, StatusWrite>,
    retry_at: BTreeMap<ServiceKey, Instant>,
}

impl StatusWriter {
    /// Whether `want` must be written now for `view`; if so it is recorded as in flight under `op`.
    pub fn decide(
        &mut self,
        now: Instant,
        view: &ServiceView,
        want: &StatusWrite,
        op: impl FnOnce() -> OpId,
    ) -> Option<OpId> {
        if self.busy.contains(&want.key) || self.retry_at.get(&want.key).is_some_and(|&t| now < t) {
            return None;
        }
        let needed = match self.acked.get(&want.key).filter(|a| a.uid == want.uid) {
            Some(acked) => acked != want,
            None => differs(view, want),
        };
        if !needed {
            return None;
        }
        let op = op();
        self.retry_at.remove(&want.key);
        self.busy.insert(want.key.clone());
        self.in_flight.insert(op, want.clone());
        Some(op)
    }

    /// Takes a write's result; the Service it was for, `None` if the op is not ours.
    pub fn handle_result(
        &mut self,
        now: Instant,
        op: OpId,
        result: &Result<(), String>,
    ) -> Option<ServiceKey> {
        let write = self.in_flight.remove(&op)?;
        self.busy.remove(&write.key);
        let key = write.key.clone();
        match result {
            Ok(()) => {
                self.acked.insert(write.key.clone(), write);
            }
            Err(_) => {
                self.retry_at.insert(write.key.clone(), now + STATUS_RETRY);
            }
        }
        Some(key)
    }

    /// Forgets acknowledged writes and retries of Services no longer written from here, so a
    /// Service gained again is compared with its stored status.
    pub fn retain(&mut self, wanted: &BTreeSet<ServiceKey>) {
        self.acked.retain(|k, _| wanted.contains(k));
        self.retry_at.retain(|k, _| wanted.contains(k));
    }

    /// When a retry is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retry_at.values().min().copied()
    }
}
