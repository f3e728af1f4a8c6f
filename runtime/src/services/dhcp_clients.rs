//! The DHCP clients of the Services node: a [`DhcpLeaseTask`] per Service and family the core
//! starts, their events turned into [`ServicesInput::DhcpLease`], and the leased addresses,
//! which live on the Service's macvlan (the task adds them and announces them from the
//! macvlan's MAC, the one the DHCP server knows) rather than on the Services interface.
//!
//! A client the core stops is **released** when its Service is gone or no longer asks for DHCP,
//! and **abandoned** otherwise (leadership moved, daemon stopping): the server
//! keeps the lease for the MAC written in `kube-vip.io/hwaddr`, so the next holder gets the same
//! address.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use kvip_core::dhcp::{stable_mac, DhcpClientConfig};
use kvip_core::service::{DhcpBinding, DhcpFamily, ServiceKey, ServicesInput};
use kvip_core::wire::MacAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::dhcp::{DhcpEvent, DhcpLeaseTask};

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
}

/// The running clients.
pub struct ServiceDhcp {
    parent: String,
    tasks: BTreeMap<ClientId, DhcpLeaseTask>,
    events_tx: mpsc::UnboundedSender<(ClientId, DhcpEvent)>,
    stopping: Vec<JoinHandle<()>>,
}

impl ServiceDhcp {
    /// Clients on macvlans of `parent`; their events arrive on the returned receiver.
    pub fn new(parent: &str) -> (Self, mpsc::UnboundedReceiver<(ClientId, DhcpEvent)>) {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let dhcp = ServiceDhcp {
            parent: parent.to_string(),
            tasks: BTreeMap::new(),
            events_tx,
            stopping: Vec::new(),
        };
        (dhcp, events_rx)
    }

    /// Starts a client. Failures are logged and returned as text.
    pub async fn start(&mut self, request: StartRequest) -> Result<(), String> {
        let (key, family) = &request.id;
        if *family != DhcpFamily::V4 {
            return Err(format!(
                "{key}: DHCPv6 addresses (`::`) are not supported yet"
            ));
        }
        let mac = match request.hwaddr.as_deref().map(str::parse::<MacAddr>) {
            Some(Ok(mac)) => mac,
            Some(Err(e)) => {
                warn!(service = %key, error = %e, "kube-vip.io/hwaddr is not a MAC; generating one");
                stable_mac(&request.uid)
            }
            None => stable_mac(&request.uid),
        };
        let requested_ip = match request.requested {
            Some(IpAddr::V4(ip)) => Some(ip),
            _ => None,
        };
        let config = DhcpClientConfig {
            host_name: request.hostname.clone(),
            requested_ip,
            seed: crate::manager::seed(),
            ..DhcpClientConfig::new(mac)
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = DhcpLeaseTask::start(&self.parent, config, tx)
            .await
            .map_err(|e| format!("{key}: DHCP client not started: {e:#}"))?;
        let id = request.id.clone();
        let forward = self.events_tx.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if forward.send((id.clone(), event)).is_err() {
                    break;
                }
            }
        });
        self.tasks.insert(request.id, task);
        Ok(())
    }

    /// The core's view of a client event (`None` for events it does not need).
    pub fn handle_event(&mut self, id: ClientId, event: DhcpEvent) -> Option<ServicesInput> {
        let (key, family) = id.clone();
        let mac = self.tasks.get(&id).map(DhcpLeaseTask::mac)?;
        let binding = match event {
            DhcpEvent::Bound(lease) | DhcpEvent::Renewed(lease) => {
                let address = IpAddr::V4(lease.address);
                Some(DhcpBinding {
                    address,
                    hwaddr: mac.to_string(),
                })
            }
            DhcpEvent::Expired(_) => None,
            DhcpEvent::NoOffer { attempts } => {
                warn!(service = %key, attempts, "no DHCP offer yet");
                return None;
            }
            DhcpEvent::Error(e) => {
                warn!(service = %key, error = e, "DHCP client");
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
        let Some(task) = self.tasks.remove(id) else {
            return;
        };
        let key = id.0.clone();
        self.stopping.push(tokio::spawn(async move {
            let how = if release { "released" } else { "abandoned" };
            let stop = async {
                if release {
                    task.release().await
                } else {
                    task.abandon().await
                }
            };
            match tokio::time::timeout(STOP_BOUND, stop).await {
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
            if let Some(task) = self.tasks.remove(&id) {
                let _ = tokio::time::timeout(bound, task.abandon()).await;
            }
        }
    }
}
