//! The DHCP clients of the Services node: a [`DhcpLeaseTask`] (`0.0.0.0`, DHCPv4) or a
//! [`Dhcp6LeaseTask`] (`::`, DHCPv6) per Service and family the core starts, their events
//! turned into [`ServicesInput::DhcpLease`], and the leased addresses,
//! which live on the Service's macvlan (the task adds them and announces them from the
//! macvlan's MAC, the one the DHCP server knows) rather than on the Services interface.
//!
//! A client the core stops is **released** when its Service is gone or no longer asks for DHCP,
//! and **abandoned** otherwise (leadership moved, daemon stopping): the server
//! keeps the lease for the MAC written in `kube-vip.io/hwaddr`, so the next holder gets the same
//! address.
//!
//! Both families use the one macvlan of the Service's MAC (the kernel refuses a second macvlan
//! with the same MAC on a parent): a Service asking for both `0.0.0.0` and `::` gets a client of
//! each on one shared macvlan, deleted by the last client to end. A client started while the
//! other family's client runs on that parent joins its macvlan; one started when no client of
//! its MAC runs there any more makes a new one (replacing one still being abandoned, whose
//! ending client must not take a new lease's address away with it).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use kvip_core::dhcp::{macvlan_name, stable_mac, DhcpClientConfig};
use kvip_core::dhcp6::Dhcp6ClientConfig;
use kvip_core::service::{DhcpBinding, DhcpFamily, ServiceKey, ServicesInput};
use kvip_core::wire::MacAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::dhcp::link::Macvlan;
use crate::dhcp::{DhcpEvent, DhcpLeaseTask};
use crate::dhcp6::{Dhcp6Event, Dhcp6LeaseTask};

/// One client: a Service and a family.
pub type ClientId = (ServiceKey, DhcpFamily);

/// How long stopping one client may take.
const STOP_BOUND: Duration = Duration::from_secs(3);

/// What the core asked a client to start with.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Which client.
    pub id: ClientId,
    /// The Service's uid: the MAC is derived from it when `hwaddr` is unset, as
    /// `kvip dhcp-lease --uid` does.
    pub uid: String,
    /// `kube-vip.io/loadbalancerHostname`.
    pub hostname: Option<String>,
    /// `kube-vip.io/requestedIP`.
    pub requested: Option<IpAddr>,
    /// `kube-vip.io/hwaddr`.
    pub hwaddr: Option<String>,
    /// Parent of the macvlan (`kube-vip.io/serviceInterface`; `None`: the Services interface).
    pub link: Option<String>,
}

/// What a client of either family reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    /// The address is leased (or the lease extended) and configured on the macvlan.
    Bound(IpAddr),
    /// The address was lost and removed; the client is asking again.
    Lost,
    /// This many requests went unanswered; still trying.
    NoOffer(u32),
    /// Something the client cannot fix; it goes on.
    Error(String),
}

impl From<DhcpEvent> for LeaseEvent {
    fn from(event: DhcpEvent) -> Self {
        match event {
            DhcpEvent::Bound(lease) | DhcpEvent::Renewed(lease) => {
                LeaseEvent::Bound(IpAddr::V4(lease.address))
            }
            DhcpEvent::Expired(_) => LeaseEvent::Lost,
            DhcpEvent::NoOffer { attempts } => LeaseEvent::NoOffer(attempts),
            DhcpEvent::Error(e) => LeaseEvent::Error(e),
        }
    }
}

impl From<Dhcp6Event> for LeaseEvent {
    fn from(event: Dhcp6Event) -> Self {
        match event {
            Dhcp6Event::Bound(lease) | Dhcp6Event::Renewed(lease) => {
                LeaseEvent::Bound(IpAddr::V6(lease.address))
            }
            Dhcp6Event::Expired(_) => LeaseEvent::Lost,
            Dhcp6Event::NoOffer { attempts } => LeaseEvent::NoOffer(attempts),
            Dhcp6Event::Error(e) => LeaseEvent::Error(e),
        }
    }
}

/// A running client of either family.
enum LeaseTask {
    V4(DhcpLeaseTask),
    V6(Dhcp6LeaseTask),
}

impl LeaseTask {
    fn mac(&self) -> MacAddr {
        match self {
            LeaseTask::V4(task) => task.mac(),
            LeaseTask::V6(task) => task.mac(),
        }
    }

    async fn stop(self, release: bool) -> anyhow::Result<()> {
        match (self, release) {
            (LeaseTask::V4(task), true) => task.release().await,
            (LeaseTask::V4(task), false) => task.abandon().await,
            (LeaseTask::V6(task), true) => task.release().await,
            (LeaseTask::V6(task), false) => task.abandon().await,
        }
    }
}

/// Forwards a task's events, tagged with its client, to the shared channel.
fn forward<E: Into<LeaseEvent> + Send + 'static>(
    id: ClientId,
    mut events: mpsc::UnboundedReceiver<E>,
    to: mpsc::UnboundedSender<(ClientId, LeaseEvent)>,
) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if to.send((id.clone(), event.into())).is_err() {
                break;
            }
        }
    });
}

/// Where a client's macvlan is: its parent and MAC.
type LinkId = (String, MacAddr);

/// The running clients.
pub struct ServiceDhcp {
    parent: String,
    tasks: BTreeMap<ClientId, (LinkId, LeaseTask)>,
    /// The macvlans of running clients, for the other family of the same Service to join.
    links: BTreeMap<LinkId, Weak<Macvlan>>,
    events_tx: mpsc::UnboundedSender<(ClientId, LeaseEvent)>,
    stopping: Vec<JoinHandle<()>>,
}

impl ServiceDhcp {
    /// Clients on macvlans of `parent`; their events arrive on the returned receiver.
    pub fn new(parent: &str) -> (Self, mpsc::UnboundedReceiver<(ClientId, LeaseEvent)>) {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let dhcp = ServiceDhcp {
            parent: parent.to_string(),
            tasks: BTreeMap::new(),
            links: BTreeMap::new(),
            events_tx,
            stopping: Vec::new(),
        };
        (dhcp, events_rx)
    }

    /// Starts a client. Failures are logged and returned as text.
    pub async fn start(&mut self, request: StartRequest) -> Result<(), String> {
        let (key, family) = &request.id;
        let mac = match request.hwaddr.as_deref().map(str::parse::<MacAddr>) {
            Some(Ok(mac)) => mac,
            Some(Err(e)) => {
                warn!(service = %key, error = %e, "kube-vip.io/hwaddr is not a MAC; generating one");
                stable_mac(&request.uid)
            }
            None => stable_mac(&request.uid),
        };
        let (id, parent, seed) = (
            request.id.clone(),
            request.link.clone().unwrap_or_else(|| self.parent.clone()),
            crate::manager::seed(),
        );
        let link_id = (parent.clone(), mac);
        let link = self
            .shared_link(&link_id)
            .await
            .map_err(|e| format!("{key}: DHCP client ({family:?}) not started: {e:#}"))?;
        let task = match family {
            DhcpFamily::V4 => {
                let config = DhcpClientConfig {
                    host_name: request.hostname.clone(),
                    requested_ip: match request.requested {
                        Some(IpAddr::V4(ip)) => Some(ip),
                        _ => None,
                    },
                    seed,
                    ..DhcpClientConfig::new(mac)
                };
                let (tx, rx) = mpsc::unbounded_channel();
                let task = DhcpLeaseTask::start_on(&parent, link, config, tx).await;
                task.map(|task| {
                    forward(id, rx, self.events_tx.clone());
                    LeaseTask::V4(task)
                })
            }
            DhcpFamily::V6 => {
                let config = Dhcp6ClientConfig {
                    host_name: request.hostname.clone(),
                    requested_address: match request.requested {
                        Some(IpAddr::V6(ip)) => Some(ip),
                        _ => None,
                    },
                    seed,
                    ..Dhcp6ClientConfig::new(mac)
                };
                let (tx, rx) = mpsc::unbounded_channel();
                let task = Dhcp6LeaseTask::start_on(&parent, link, config, tx).await;
                task.map(|task| {
                    forward(id, rx, self.events_tx.clone());
                    LeaseTask::V6(task)
                })
            }
        }
        .map_err(|e| format!("{key}: DHCP client ({family:?}) not started: {e:#}"))?;
        self.tasks.insert(request.id, (link_id, task));
        Ok(())
    }

    /// The macvlan of `link_id` a running client of the other family uses, or a new one.
    async fn shared_link(&mut self, link_id: &LinkId) -> anyhow::Result<Arc<Macvlan>> {
        self.links.retain(|_, link| link.strong_count() > 0);
        if let Some(link) = self.links.get(link_id).and_then(Weak::upgrade) {
            return Ok(link);
        }
        let (parent, mac) = link_id;
        let link = Arc::new(Macvlan::create(parent, &macvlan_name(*mac), *mac).await?);
        self.links.insert(link_id.clone(), Arc::downgrade(&link));
        Ok(link)
    }

    /// The core's view of a client event (`None` for events it does not need).
    pub fn handle_event(&mut self, id: ClientId, event: LeaseEvent) -> Option<ServicesInput> {
        let (key, family) = id.clone();
        let mac = self.tasks.get(&id).map(|(_, task)| task.mac())?;
        let binding = match event {
            LeaseEvent::Bound(address) => Some(DhcpBinding {
                address,
                hwaddr: mac.to_string(),
            }),
            LeaseEvent::Lost => None,
            LeaseEvent::NoOffer(attempts) => {
                warn!(service = %key, ?family, attempts, "no DHCP offer yet");
                return None;
            }
            LeaseEvent::Error(e) => {
                warn!(service = %key, ?family, error = e, "DHCP client");
                return None;
            }
        };
        Some(ServicesInput::DhcpLease {
            key,
            family,
            binding,
        })
    }

    /// Stops a client in the background: with `release` a DHCPRELEASE is sent, else the lease
    /// is abandoned (it stays with the server for the next holder of the MAC).
    pub fn stop(&mut self, id: &ClientId, release: bool) {
        let Some((link_id, task)) = self.tasks.remove(id) else {
            return;
        };
        // The last client of a macvlan stopped: a client started from now on makes a new one.
        if !self.tasks.values().any(|(other, _)| *other == link_id) {
            self.links.remove(&link_id);
        }
        let key = id.0.clone();
        self.stopping.push(tokio::spawn(async move {
            let how = if release { "released" } else { "abandoned" };
            match tokio::time::timeout(STOP_BOUND, task.stop(release)).await {
                Ok(Ok(())) => info!(service = %key, how, "DHCP client stopped"),
                Ok(Err(e)) => warn!(service = %key, error = %e, "DHCP client stop failed"),
                Err(_) => warn!(service = %key, "DHCP client stop timed out"),
            }
        }));
    }

    /// Waits (at most `bound`) for every stop in flight, then abandons whatever still runs.
    pub async fn finish(&mut self, bound: Duration) {
        let stops = std::mem::take(&mut self.stopping);
        let _ = tokio::time::timeout(bound, futures::future::join_all(stops)).await;
        let ids: Vec<ClientId> = self.tasks.keys().cloned().collect();
        for id in ids {
            if let Some((_, task)) = self.tasks.remove(&id) {
                let _ = tokio::time::timeout(bound, task.stop(false)).await;
            }
        }
    }
}
