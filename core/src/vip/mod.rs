//! VIP ownership: which addresses we want on the interface (all of them while leader, none
//! otherwise), what the kernel is observed to hold, and the operations that reconcile the two in
//! both directions. Order is law here:
//! - an address is added only while wanted, and announced only after its add completed;
//! - announcing stops the moment the address stops being wanted, before it is removed;
//! - an address removed behind our back while wanted is put back; one that appears while not
//!   wanted (a stale address after a crash, another tool) is removed.

pub mod announce;

use std::net::IpAddr;
use std::time::Duration;

use crate::defects::{Defect, Defects};
use crate::io::{AddressError, Event, OpId, Output, VipAddress};
use crate::outbox::Outbox;
use crate::time::Instant;
use crate::wire::{announcement, MacAddr};
use announce::AnnounceSchedule;

/// Back-off before a failed address operation is tried again.
pub const ADDRESS_RETRY: Duration = Duration::from_millis(250);

/// What the kernel is known to hold for one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Unknown,
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Add,
    Remove,
}

#[derive(Debug, Clone)]
struct Entry {
    vip: VipAddress,
    presence: Presence,
    in_flight: Option<(OpId, OpKind)>,
    retry_at: Option<Instant>,
    announce: Option<AnnounceSchedule>,
}

/// Reconciles the VIPs on one interface and schedules their announcements.
#[derive(Debug, Clone)]
pub struct VipManager {
    mac: MacAddr,
    arp_rate: Duration,
    entries: Vec<Entry>,
    wanted: bool,
    defects: Defects,
}

impl VipManager {
    /// A manager for `vips` on an interface with `mac`, refreshing every `arp_rate`.
    pub fn new(vips: &[VipAddress], mac: MacAddr, arp_rate: Duration, defects: Defects) -> Self {
        let entries = vips
            .iter()
            .map(|&vip| Entry {
                vip,
                presence: Presence::Unknown,
                in_flight: None,
                retry_at: None,
                announce: None,
            })
            .collect();
        VipManager {
            mac,
            arp_rate,
            entries,
            wanted: false,
            defects,
        }
    }

    /// Whether every address is known absent and nothing is in flight.
    pub fn all_absent(&self) -> bool {
        self.entries
            .iter()
            .all(|e| e.presence == Presence::Absent && e.in_flight.is_none())
    }

    /// Whether any address is being announced.
    pub fn is_announcing(&self) -> bool {
        self.entries.iter().any(|e| e.announce.is_some())
    }

    /// The earliest retry or announcement that is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retries = self.entries.iter().filter_map(|e| e.retry_at);
        let frames = self
            .entries
            .iter()
            .filter_map(|e| e.announce.as_ref()?.due());
        retries.chain(frames).min()
    }

    /// Sets whether the addresses are wanted; stops announcing at once when they are not.
    /// Follow with [`VipManager::handle_timeout`] to act on it.
    pub fn set_wanted(&mut self, wanted: bool) {
        if self.wanted != wanted {
            self.wanted = wanted;
            for e in &mut self.entries {
                e.retry_at = None;
                if !wanted {
                    e.announce = None;
                }
            }
        }
    }

    /// Issues the operations that reconcile wanted and observed state, then sends due frames.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        for e in &mut self.entries {
            if e.retry_at.is_some_and(|t| now >= t) {
                e.retry_at = None;
            }
        }
        self.reconcile(now, out);
        for e in &mut self.entries {
            if let Some(schedule) = &mut e.announce {
                if schedule.due().is_some_and(|t| now >= t) {
                    let frame = announcement(self.mac, e.vip.address);
                    out.push(Output::SendFrame {
                        address: e.vip.address,
                        frame,
                    });
                    schedule.sent(now);
                }
            }
        }
    }

    /// Handles the result of an add or remove; `false` if the op is not ours. Follow with
    /// [`VipManager::handle_timeout`] to act on it.
    pub fn handle_done(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<(), AddressError>,
        out: &mut Outbox,
    ) -> bool {
        let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.in_flight.is_some_and(|(o, _)| o == op))
        else {
            return false;
        };
        let (_, kind) = e.in_flight.take().expect("matched");
        let address = e.vip.address;
        match (kind, result) {
            (OpKind::Add, Ok(()) | Err(AddressError::AlreadyPresent)) => {
                e.presence = Presence::Present;
                out.event(Event::AddressAdded(address));
            }
            (OpKind::Remove, Ok(()) | Err(AddressError::NotPresent)) => {
                e.presence = Presence::Absent;
                out.event(Event::AddressRemoved(address));
            }
            (_, Err(err)) => {
                e.retry_at = Some(now + ADDRESS_RETRY);
                out.event(Event::AddressFailed {
                    address,
                    error: format!("{err:?}"),
                });
            }
        }
        true
    }

    /// Handles address monitoring: an address appeared or vanished. Follow with
    /// [`VipManager::handle_timeout`] to act on it.
    pub fn handle_observed(&mut self, address: IpAddr, present: bool, out: &mut Outbox) {
        let wanted = self.wanted;
        let Some(e) = self.entries.iter_mut().find(|e| e.vip.address == address) else {
            return;
        };
        let presence = if present {
            Presence::Present
        } else {
            Presence::Absent
        };
        if e.presence == presence {
            return;
        }
        e.presence = presence;
        if !present {
            e.announce = None;
        }
        if e.in_flight.is_none() && present != wanted {
            out.event(Event::AddressDrift { address, present });
        }
    }

    /// Restarts the burst on every announced address (after the link came back).
    pub fn reannounce(&mut self, now: Instant) {
        let once = self.defects.has(Defect::AnnounceOnce);
        for e in &mut self.entries {
            if e.announce.is_some() {
                e.announce = Some(AnnounceSchedule::start(now, self.arp_rate, once));
            }
        }
    }

    fn reconcile(&mut self, now: Instant, out: &mut Outbox) {
        let once = self.defects.has(Defect::AnnounceOnce);
        let early = self.defects.has(Defect::AnnounceBeforeAdd);
        for e in &mut self.entries {
            if e.in_flight.is_some() || e.retry_at.is_some() {
                continue;
            }
            if self.wanted && e.presence != Presence::Present {
                let op = out.next_op();
                e.in_flight = Some((op, OpKind::Add));
                out.push(Output::AddAddress { op, vip: e.vip });
                if early && e.announce.is_none() {
                    e.announce = Some(AnnounceSchedule::start(now, self.arp_rate, once));
                }
            } else if !self.wanted && e.presence != Presence::Absent {
                e.announce = None;
                let op = out.next_op();
                e.in_flight = Some((op, OpKind::Remove));
                out.push(Output::RemoveAddress { op, vip: e.vip });
            } else if self.wanted && e.announce.is_none() {
                e.announce = Some(AnnounceSchedule::start(now, self.arp_rate, once));
            }
        }
    }
}
