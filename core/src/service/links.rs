//! The Services node's addresses across interfaces: one [`VipManager`] for the Services interface
//! and one for each other interface of this node a Service names (`kube-vip.io/serviceInterface`,
//! which the cloud provider writes from `interface-<namespace>`), made on first use with that
//! interface's MAC. An address lives on one interface at a time: wanting it on another retires it
//! where it was (removed there while it is added on the new one). Outputs of another interface's
//! manager name that interface ([`ServicesOutput::AddAddress`] and the rest carry `link`).
//!
//! [`ServicesOutput::AddAddress`]: super::ServicesOutput::AddAddress

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::queue::Queue;
use crate::defects::Defects;
use crate::io::{AddressError, OpId, VipAddress};
use crate::outbox::Outbox;
use crate::time::Instant;
use crate::vip::VipManager;
use crate::wire::MacAddr;

/// The address managers of every interface in use.
#[derive(Debug, Clone)]
pub struct Links {
    services: VipManager,
    others: BTreeMap<String, VipManager>,
    macs: BTreeMap<String, MacAddr>,
    arp_rate: Duration,
    defects: Defects,
}

impl Links {
    /// The Services interface's manager (`mac`), and `macs`: the other interfaces a Service may
    /// name, with their MACs.
    pub fn new(
        mac: MacAddr,
        macs: BTreeMap<String, MacAddr>,
        arp_rate: Duration,
        defects: Defects,
    ) -> Self {
        Links {
            services: VipManager::new(&[], mac, arp_rate, defects.clone()),
            others: BTreeMap::new(),
            macs,
            arp_rate,
            defects,
        }
    }

    /// Takes the node's other interfaces now; returns the addresses that went with an interface
    /// that is gone (or was made again: another MAC). Those addresses are known absent: the
    /// kernel drops an interface's addresses with it, so none is removed, and one wanted there
    /// again when the interface comes back is added again, announced with its new MAC. A
    /// manager whose interface is gone stays until its addresses are retired.
    pub fn set_macs(&mut self, macs: BTreeMap<String, MacAddr>, out: &mut Outbox) -> Vec<IpAddr> {
        let mut lost = Vec::new();
        for (name, m) in &mut self.others {
            if self.macs.get(name) == macs.get(name) {
                continue;
            }
            for address in m.tracked().collect::<Vec<_>>() {
                m.handle_observed(address, false, out);
                lost.push(address);
            }
            if let Some(&mac) = macs.get(name) {
                m.set_mac(mac);
            }
        }
        self.macs = macs;
        lost
    }

    fn managers(&self) -> impl Iterator<Item = &VipManager> {
        std::iter::once(&self.services).chain(self.others.values())
    }

    fn managers_mut(&mut self) -> impl Iterator<Item = &mut VipManager> {
        std::iter::once(&mut self.services).chain(self.others.values_mut())
    }

    /// The manager of `link` (`None`: the Services interface), made on first use; `None` for an
    /// interface this node does not have.
    fn manager(&mut self, link: Option<&str>) -> Option<&mut VipManager> {
        let Some(name) = link else {
            return Some(&mut self.services);
        };
        if !self.others.contains_key(name) {
            let &mac = self.macs.get(name)?;
            let manager = VipManager::new(&[], mac, self.arp_rate, self.defects.clone());
            self.others.insert(name.to_owned(), manager);
        }
        self.others.get_mut(name)
    }

    /// Wants `vip` on `link` (or not), and not on any other interface. An unknown `link` is
    /// taken as the Services interface (the plan reports such Services).
    pub fn set_address_wanted(&mut self, link: Option<&str>, vip: VipAddress, wanted: bool) {
        let link = link.filter(|name| self.macs.contains_key(*name));
        for (name, m) in &mut self.others {
            if Some(name.as_str()) != link {
                m.retire(vip.address);
            }
        }
        if link.is_some() {
            self.services.retire(vip.address);
        }
        if let Some(m) = self.manager(link) {
            m.set_address_wanted(vip, wanted);
        }
    }

    /// Stops wanting `address` anywhere and forgets it once it is known absent.
    pub fn retire(&mut self, address: IpAddr) {
        for m in self.managers_mut() {
            m.retire(address);
        }
    }

    /// Every address tracked on any interface.
    pub fn tracked(&self) -> Vec<IpAddr> {
        let mut all: Vec<IpAddr> = self.managers().flat_map(VipManager::tracked).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Stops wanting every address (fencing); each stays tracked.
    pub fn unwant_all(&mut self) {
        for m in self.managers_mut() {
            m.set_wanted(false);
        }
    }

    /// Issues each interface's operations and due frames into `queue`, tagged with the interface.
    pub fn handle_timeout(&mut self, now: Instant, queue: &mut Queue) {
        self.services.handle_timeout(now, &mut queue.core);
        for (name, m) in &mut self.others {
            queue.flush_link(None);
            m.handle_timeout(now, &mut queue.core);
            queue.flush_link(Some(name));
        }
    }

    /// Handles the result of an add or remove; which address it was for (`None`: not ours).
    pub fn handle_done_at(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<(), AddressError>,
        out: &mut Outbox,
    ) -> Option<IpAddr> {
        let mut result = Some(result);
        for m in self.managers_mut() {
            if !m.has_op(op) {
                continue;
            }
            return m.handle_done_at(now, op, result.take()?, out);
        }
        None
    }

    /// An address appeared on or vanished from `link` (`None`: the Services interface).
    pub fn handle_observed(
        &mut self,
        link: Option<&str>,
        address: IpAddr,
        present: bool,
        out: &mut Outbox,
    ) {
        let manager = match link {
            None => Some(&mut self.services),
            Some(name) => self.others.get_mut(name),
        };
        if let Some(m) = manager {
            m.handle_observed(address, present, out);
        }
    }

    /// `link`'s carrier came back: its announcements start over.
    pub fn reannounce(&mut self, link: Option<&str>, now: Instant) {
        let manager = match link {
            None => Some(&mut self.services),
            Some(name) => self.others.get_mut(name),
        };
        if let Some(m) = manager {
            m.reannounce(now);
        }
    }

    /// The earliest retry or frame due on any interface.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.managers().filter_map(VipManager::poll_timeout).min()
    }

    /// Addresses announced on any interface.
    pub fn announcing(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.managers().flat_map(VipManager::announcing)
    }

    /// Addresses configured (wanted, add completed) on any interface.
    pub fn configured(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.managers().flat_map(VipManager::configured)
    }

    /// Whether `address` is configured on some interface.
    pub fn is_configured(&self, address: IpAddr) -> bool {
        self.managers().any(|m| m.is_configured(address))
    }

    /// Whether every address everywhere is known absent with nothing in flight.
    pub fn all_absent(&self) -> bool {
        self.managers().all(VipManager::all_absent)
    }

    /// Where `address` is wanted: `Some(None)` the Services interface, `Some(Some(name))`
    /// another one, `None` nowhere.
    pub fn wanted_on(&self, address: IpAddr) -> Option<Option<&str>> {
        if self.services.is_wanted(address) {
            return Some(None);
        }
        self.others
            .iter()
            .find(|(_, m)| m.is_wanted(address))
            .map(|(name, _)| Some(name.as_str()))
    }
}
