//! DHCP-addressed Services (`0.0.0.0` / `::`), as far as the Services node is concerned: which DHCP
//! clients should run (one per Service and family, on the node announcing the Service), the lease
//! each reports, and whether a stopped client releases its lease.
//!
//! A leased address is not one of the node's VIPs: the client configures it on its own macvlan
//! (whose MAC the DHCP server knows), announces it from there, and reports the lease once it is
//! configured; stopping the client removes the macvlan and the address with it, before any
//! release. So the node never adds, removes or announces a leased address itself.
//! The client itself (RFC 2131 exchange, renewals) is [`crate::dhcp`]'s work.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::addresses::DhcpFamily;
use super::io::{DhcpBinding, ServicesOutput};
use super::model::{
    ServiceKey, ServiceView, ANNOTATION_HWADDR, ANNOTATION_LOADBALANCER_HOSTNAME,
    ANNOTATION_REQUESTED_IP,
};

/// One Service's DHCP client for one family.
pub type ClientId = (ServiceKey, DhcpFamily);

/// What a client should run with: its Service, and the parent of its macvlan (`None`: the
/// Services interface).
pub type ClientSpec<'a> = (&'a ServiceView, Option<&'a str>);

/// One running client: its macvlan's parent and its lease.
#[derive(Debug, Clone, Default)]
struct Running {
    link: Option<String>,
    binding: Option<DhcpBinding>,
}

/// The DHCP clients this node runs and their leases.
#[derive(Debug, Clone, Default)]
pub struct DhcpClients {
    running: BTreeMap<ClientId, Running>,
}

impl DhcpClients {
    /// Records the lease a client reports; `false` if no such client runs (a late report).
    pub fn handle_lease(&mut self, id: &ClientId, binding: Option<DhcpBinding>) -> bool {
        match self.running.get_mut(id) {
            Some(slot) => {
                slot.binding = binding;
                true
            }
            None => false,
        }
    }

    /// The lease of a running client.
    pub fn binding(&self, id: &ClientId) -> Option<&DhcpBinding> {
        self.running.get(id)?.binding.as_ref()
    }

    /// Every leased address, with its client.
    pub fn leased(&self) -> impl Iterator<Item = (&ClientId, IpAddr)> {
        self.running
            .iter()
            .filter_map(|(id, r)| Some((id, r.binding.as_ref()?.address)))
    }

    /// Whether no client runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Starts the `wanted` clients not running yet (with hints from the Service's annotations)
    /// and stops the running ones not wanted, releasing the lease of those no Service asks for
    /// any more (not in `asked`). A client whose parent changed is stopped without a release
    /// and started on the new one (same MAC, same address asked for).
    pub fn sync(
        &mut self,
        wanted: &BTreeMap<ClientId, ClientSpec<'_>>,
        asked: &BTreeSet<ClientId>,
        out: &mut Vec<ServicesOutput>,
    ) {
        let stop: BTreeSet<ClientId> = self
            .running
            .iter()
            .filter(|(id, r)| {
                wanted
                    .get(*id)
                    .is_none_or(|&(_, link)| link != r.link.as_deref())
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stop {
            self.running.remove(&id);
            let release = !asked.contains(&id);
            let (key, family) = id;
            out.push(ServicesOutput::DhcpStop {
                key,
                family,
                release,
            });
        }
        for (id, &(view, link)) in wanted {
            if self.running.contains_key(id) {
                continue;
            }
            let link = link.map(str::to_owned);
            let running = Running {
                link: link.clone(),
                binding: None,
            };
            self.running.insert(id.clone(), running);
            let text = |name: &str| view.annotation(name).map(str::to_owned);
            out.push(ServicesOutput::DhcpStart {
                key: id.0.clone(),
                family: id.1,
                uid: view.uid.clone(),
                hostname: text(ANNOTATION_LOADBALANCER_HOSTNAME),
                requested: requested_for(view.annotation(ANNOTATION_REQUESTED_IP), id.1),
                hwaddr: text(ANNOTATION_HWADDR),
                link,
            });
        }
    }
}

/// The address of `family` in a `kube-vip.io/requestedIP` value: one address, or one per family
/// separated by commas (what a Service leasing both families gets written).
pub fn requested_for(annotation: Option<&str>, family: DhcpFamily) -> Option<IpAddr> {
    annotation?
        .split(',')
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|ip| ip.is_ipv4() == (family == DhcpFamily::V4))
}
