//! VIP ownership: which addresses we want on the interface, what the kernel is observed to hold,
//! and the operations that reconcile the two in both directions. The control-plane node wants all
//! of a fixed set or none ([`VipManager::set_wanted`]); the Services node keeps a changing set with
//! a wanted flag per address ([`VipManager::set_address_wanted`], [`VipManager::retire`], in
//! [`dynamic`]). Order is law here, per address:
//! - an address is added only while wanted, and announced only after its add completed;
//! - announcing stops the moment the address stops being wanted, before it is removed;
//! - an address removed behind our back while wanted is put back; one that appears while not
//!   wanted (a stale address after a crash, another tool) is removed.

pub mod announce;
mod dynamic;

use std::collections::BTreeMap;
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
    /// Whether the address should be configured (and announced) now.
    wanted: bool,
    /// No longer tracked once known absent (see [`VipManager::retire`]).
    retired: bool,
}

impl Entry {
    fn new(vip: VipAddress) -> Entry {
        Entry {
            vip,
            presence: Presence::Unknown,
            in_flight: None,
            retry_at: None,
            announce: None,
            wanted: false,
            retired: false,
        }
    }

    /// Sets wanted-ness; on a change, a pending retry is dropped, and announcing stops at once
    /// when the address stops being wanted.
    fn set_wanted(&mut self, wanted: bool) {
        if self.wanted != wanted {
            self.wanted = wanted;
            self.retry_at = None;
            if !wanted {
                self.announce = None;
            }
        }
    }
}

/// Reconciles the VIPs on one interface and schedules their announcements.
#[derive(Debug, Clone)]
pub struct VipManager {
    mac: MacAddr,
    arp_rate: Duration,
    entries: Vec<Entry>,
    /// Position of each address in `entries` (rebuilt when entries are forgotten).
    index: BTreeMap<IpAddr, usize>,
    defects: Defects,
}

impl VipManager {
    /// A manager for `vips` on an interface with `mac`, refreshing every `arp_rate`.
    pub fn new(vips: &[VipAddress], mac: MacAddr, arp_rate: Duration, defects: Defects) -> Self {
        let entries: Vec<Entry> = vips.iter().map(|&vip| Entry::new(vip)).collect();
        let index = index_of(&entries);
        VipManager {
            mac,
            arp_rate,
            entries,
            index,
            defects,
        }
    }

    /// The interface was made again with `mac`: announcements from now on carry it.
    pub fn set_mac(&mut self, mac: MacAddr) {
        self.mac = mac;
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

    /// Sets whether every address is wanted; stops announcing at once when they are not.
    /// Follow with [`VipManager::handle_timeout`] to act on it.
    pub fn set_wanted(&mut self, wanted: bool) {
        for e in &mut self.entries {
            e.set_wanted(wanted);
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
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.retired && e.presence == Presence::Absent && e.in_flight.is_none()));
        if self.entries.len() != before {
            self.index = index_of(&self.entries);
        }
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
        self.handle_done_at(now, op, result, out).is_some()
    }

    /// [`VipManager::handle_done`], telling which address the op was for (`None`: not ours).
    pub fn handle_done_at(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<(), AddressError>,
        out: &mut Outbox,
    ) -> Option<IpAddr> {
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.in_flight.is_some_and(|(o, _)| o == op))?;
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
        Some(address)
    }

    /// Handles address monitoring: an address appeared or vanished. Follow with
    /// [`VipManager::handle_timeout`] to act on it.
    pub fn handle_observed(&mut self, address: IpAddr, present: bool, out: &mut Outbox) {
        let Some(e) = self.entry_mut(address) else {
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
        if e.in_flight.is_none() && present != e.wanted {
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
            if e.wanted && e.presence != Presence::Present {
                let op = out.next_op();
                e.in_flight = Some((op, OpKind::Add));
                out.push(Output::AddAddress { op, vip: e.vip });
                if early && e.announce.is_none() {
                    e.announce = Some(AnnounceSchedule::start(now, self.arp_rate, once));
                }
            } else if !e.wanted && e.presence != Presence::Absent {
                e.announce = None;
                let op = out.next_op();
                e.in_flight = Some((op, OpKind::Remove));
                out.push(Output::RemoveAddress { op, vip: e.vip });
            } else if e.wanted && e.announce.is_none() {
                e.announce = Some(AnnounceSchedule::start(now, self.arp_rate, once));
            }
        }
    }
}

fn index_of(entries: &[Entry]) -> BTreeMap<IpAddr, usize> {
    let mut index = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        index.entry(e.vip.address).or_insert(i);
    }
    index
}
