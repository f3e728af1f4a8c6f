//! The Services node's derived effects besides addresses: which DHCP clients run, and which
//! status writes go out (see [`super::status`] for when a write is needed).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::dhcp::{ClientId, ClientSpec};
use super::io::{ServicesOutput, StatusWrite};
use super::model::{ServiceKey, ANNOTATION_HWADDR, ANNOTATION_REQUESTED_IP, ANNOTATION_VIP_HOST};
use super::node::ServicesNode;
use super::plan::PlannedService;
use super::status::{clearing, status_for};
use crate::time::Instant;

impl ServicesNode {
    pub(super) fn sync_dhcp(&mut self) {
        let mut wanted: BTreeMap<ClientId, ClientSpec<'_>> = BTreeMap::new();
        for key in &self.serving {
            if let Some(s) = self.plan.services.get(key) {
                for &family in &s.dhcp {
                    wanted.insert((key.clone(), family), (&s.view, s.link.as_deref()));
                }
            }
        }
        let asked: BTreeSet<ClientId> = self
            .plan
            .services
            .iter()
            .flat_map(|(key, s)| s.dhcp.iter().map(move |&f| (key.clone(), f)))
            .collect();
        let mut outs = vec![];
        self.dhcp.sync(&wanted, &asked, &mut outs);
        for o in outs {
            self.queue.push(o);
        }
    }

    /// Decides the status writes of every Service (`scope` `None`) or of those in `scope`.
    pub(super) fn write_statuses(&mut self, now: Instant, scope: Option<&BTreeSet<ServiceKey>>) {
        let all = self.plan.services.iter();
        let services: Vec<(&ServiceKey, &PlannedService)> = match scope {
            None => all.collect(),
            Some(keys) => keys
                .iter()
                .filter_map(|k| self.plan.services.get_key_value(k))
                .collect(),
        };
        let mut written = BTreeSet::new();
        for (key, s) in services {
            let Some(want) = self.wanted_status(key, s) else {
                continue;
            };
            written.insert(key.clone());
            let queue = &mut self.queue;
            if let Some(op) = self.status.decide(now, &s.view, &want, || queue.next_op()) {
                queue.push(ServicesOutput::WriteStatus { op, write: want });
            }
        }
        if scope.is_none() {
            self.status.retain(&written);
        }
    }

    /// What this node wants written for `s`: the addresses configured here while it serves `s`,
    /// or a clearing when `s` wants no address and names this node in `vipHost`.
    fn wanted_status(&self, key: &ServiceKey, s: &PlannedService) -> Option<StatusWrite> {
        let me = self.cfg.node_name.as_str();
        if !self.serving.contains(key) {
            let ours = s.view.annotation(ANNOTATION_VIP_HOST) == Some(me);
            return (!s.wants_address() && ours).then(|| clearing(&s.view, ANNOTATION_VIP_HOST));
        }
        let foreign = &self.cfg.foreign_addresses;
        let mut ips: Vec<IpAddr> = s
            .statics
            .iter()
            .copied()
            .filter(|&ip| foreign.contains(&ip) || self.links.is_configured(ip))
            .collect();
        let mut annotations =
            BTreeMap::from([(ANNOTATION_VIP_HOST.to_owned(), Some(me.to_owned()))]);
        // A client reports its lease once the address is on its macvlan. Both families share
        // the Service's MAC; `requestedIP` lists the leases in family order (one address for
        // one family, as kube-vip writes it).
        let mut requested = Vec::new();
        for &family in &s.dhcp {
            let Some(b) = self.dhcp.binding(&(key.clone(), family)) else {
                continue;
            };
            ips.push(b.address);
            requested.push(b.address.to_string());
            annotations
                .entry(ANNOTATION_HWADDR.to_owned())
                .or_insert_with(|| Some(b.hwaddr.clone()));
        }
        if !requested.is_empty() {
            annotations.insert(
                ANNOTATION_REQUESTED_IP.to_owned(),
                Some(requested.join(",")),
            );
        }
        (!ips.is_empty()).then(|| status_for(&s.view, ips, annotations))
    }
}
