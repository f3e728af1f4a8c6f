//! The changing address set of the Services node: addresses come and go with the Services that
//! want them, each with its own wanted flag. An address the manager has not seen before starts in
//! an unknown state, so one not wanted is removed once (a stale address left by a crash); one that
//! is retired stays tracked until it is known absent, then is forgotten.

use std::net::IpAddr;

use super::{Entry, Presence, VipManager};
use crate::io::{OpId, VipAddress};

impl VipManager {
    /// Tracks `vip` (if new) and sets whether it is wanted. A retired address tracked again is
    /// kept. Follow with [`VipManager::handle_timeout`] to act on it.
    pub fn set_address_wanted(&mut self, vip: VipAddress, wanted: bool) {
        let index = match self.index.get(&vip.address) {
            Some(&i) => i,
            None => {
                self.entries.push(Entry::new(vip));
                self.index.insert(vip.address, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        entry.retired = false;
        entry.set_wanted(wanted);
    }

    /// Stops wanting `address` and forgets it once it is known absent (after its removal, or at
    /// once if it is already absent). Unknown addresses are ignored.
    pub fn retire(&mut self, address: IpAddr) {
        if let Some(e) = self.entry_mut(address) {
            e.set_wanted(false);
            e.retired = true;
        }
    }

    /// The entry of `address`, if tracked.
    pub(super) fn entry_mut(&mut self, address: IpAddr) -> Option<&mut Entry> {
        let &i = self.index.get(&address)?;
        self.entries.get_mut(i)
    }

    fn entry(&self, address: IpAddr) -> Option<&Entry> {
        let &i = self.index.get(&address)?;
        self.entries.get(i)
    }

    /// Every address tracked (wanted, being removed, or waiting to be cleaned).
    pub fn tracked(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.entries.iter().map(|e| e.vip.address)
    }

    /// Whether `address` is wanted and its add has completed (it is configured here).
    pub fn is_configured(&self, address: IpAddr) -> bool {
        self.entry(address)
            .is_some_and(|e| e.wanted && e.presence == Presence::Present)
    }

    /// Every address that is wanted and whose add has completed.
    pub fn configured(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.entries
            .iter()
            .filter(|e| e.wanted && e.presence == Presence::Present)
            .map(|e| e.vip.address)
    }

    /// Every address being announced.
    pub fn announcing(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.entries
            .iter()
            .filter(|e| e.announce.is_some())
            .map(|e| e.vip.address)
    }

    /// Whether `address` is being announced.
    pub fn is_announcing_address(&self, address: IpAddr) -> bool {
        self.entry(address).is_some_and(|e| e.announce.is_some())
    }

    /// Whether `address` is tracked and wanted.
    pub fn is_wanted(&self, address: IpAddr) -> bool {
        self.entry(address).is_some_and(|e| e.wanted)
    }

    /// Whether the add or remove `op` is one of ours, still in flight.
    pub fn has_op(&self, op: OpId) -> bool {
        self.entries
            .iter()
            .any(|e| e.in_flight.is_some_and(|(o, _)| o == op))
    }

    /// Whether `address` is known absent with nothing in flight (or not tracked at all).
    pub fn is_absent(&self, address: IpAddr) -> bool {
        self.entry(address)
            .is_none_or(|e| e.presence == Presence::Absent && e.in_flight.is_none())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::io::{OpId, Output};
    use crate::outbox::Outbox;
    use crate::time::Instant;
    use crate::wire::MacAddr;
    use crate::Defects;

    fn vip(last: u8) -> VipAddress {
        VipAddress {
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            prefix_len: 32,
        }
    }

    fn drain(out: &mut Outbox) -> Vec<Output> {
        std::iter::from_fn(|| out.pop()).collect()
    }

    #[test]
    fn retired_address_is_removed_then_forgotten() {
        let mut m = VipManager::new(
            &[],
            MacAddr([2, 0, 0, 0, 0, 1]),
            Duration::from_secs(3),
            Defects::default(),
        );
        let mut out = Outbox::default();
        m.set_address_wanted(vip(1), true);
        m.handle_timeout(Instant::ZERO, &mut out);
        assert_eq!(
            drain(&mut out),
            vec![Output::AddAddress {
                op: OpId(1),
                vip: vip(1)
            }]
        );
        m.handle_done(Instant::ZERO, OpId(1), Ok(()), &mut out);
        m.handle_timeout(Instant::ZERO, &mut out);
        assert!(m.is_configured(vip(1).address));
        assert!(m.is_announcing_address(vip(1).address));
        drain(&mut out);
        m.retire(vip(1).address);
        assert!(!m.is_announcing_address(vip(1).address));
        m.handle_timeout(Instant::ZERO, &mut out);
        assert_eq!(
            drain(&mut out),
            vec![Output::RemoveAddress {
                op: OpId(2),
                vip: vip(1)
            }]
        );
        assert_eq!(m.tracked().count(), 1);
        m.handle_done(Instant::ZERO, OpId(2), Ok(()), &mut out);
        m.handle_timeout(Instant::ZERO, &mut out);
        assert_eq!(m.tracked().count(), 0);
        assert!(m.is_absent(vip(1).address));
    }
}
