//! [`DhcpLeaseTask`]: the tokio task that owns one Service's DHCP address. It creates the
//! macvlan (or joins the one of the Service's DHCPv6 client), opens a packet socket on it,
//! drives a [`DhcpClient`], puts the leased address on the macvlan when bound (with a
//! gratuitous ARP from the macvlan's MAC) and takes it off when the lease ends, and reports what
//! happened over a channel.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use kvip_core::dhcp::{macvlan_name, DhcpClient, DhcpClientConfig, DhcpOutput, Lease};
use kvip_core::wire;
use kvip_core::wire::MacAddr;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::link::Macvlan;
use super::packet::PacketSocket;
use crate::manager::clock::CoreClock;

/// What happened to the address, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpEvent {
    /// An address was leased and is now on the macvlan (announced by a gratuitous ARP).
    Bound(Lease),
    /// The lease was extended.
    Renewed(Lease),
    /// The address was lost (lease end or NAK) and removed; the client is discovering again.
    Expired(Ipv4Addr),
    /// This many DISCOVERs went unanswered (kube-vip's `dhcp_backoff_attempts`); still trying.
    NoOffer {
        /// DISCOVERs of this round that went unanswered.
        attempts: u32,
    },
    /// Something failed that the task cannot fix (the address could not be added, a send
    /// failed); the task goes on.
    Error(String),
}

/// How the task ends.
#[derive(Debug)]
enum Stop {
    /// DHCPRELEASE, remove the address, leave the macvlan.
    Release(oneshot::Sender<anyhow::Result<()>>),
    /// Remove the address and leave the macvlan: the lease stays with the server for the next
    /// holder of the MAC.
    Abandon(oneshot::Sender<anyhow::Result<()>>),
}

/// A running DHCP address. Dropping it abandons the address (best effort: the macvlan is deleted
/// if the tokio runtime is still running); call [`release`](Self::release) or
/// [`abandon`](Self::abandon) to wait for the end.
pub struct DhcpLeaseTask {
    interface: String,
    mac: MacAddr,
    stop: Option<mpsc::Sender<Stop>>,
    join: Option<JoinHandle<()>>,
}

impl DhcpLeaseTask {
    /// Creates the macvlan on `parent` with `config.mac` (named [`macvlan_name`]), opens the
    /// socket and starts discovering. Events go to `events` (dropped when nobody listens).
    pub async fn start(
        parent: &str,
        config: DhcpClientConfig,
        events: mpsc::UnboundedSender<DhcpEvent>,
    ) -> anyhow::Result<DhcpLeaseTask> {
        let name = macvlan_name(config.mac);
        let link = Macvlan::create(parent, &name, config.mac).await?;
        Self::start_on(parent, Arc::new(link), config, events).await
    }

    /// Like [`start`](Self::start), on a macvlan of `parent` the caller made with `config.mac`
    /// (possibly shared with the Service's DHCPv6 client): the task leaves it when it ends, and
    /// the last one to leave deletes it.
    pub async fn start_on(
        parent: &str,
        link: Arc<Macvlan>,
        config: DhcpClientConfig,
        events: mpsc::UnboundedSender<DhcpEvent>,
    ) -> anyhow::Result<DhcpLeaseTask> {
        super::warn_on_arp_sysctls(parent);
        debug_assert_eq!(link.mac(), config.mac, "a macvlan made for another MAC");
        let name = link.name().to_owned();
        let socket = match PacketSocket::open(link.index()) {
            Ok(socket) => socket,
            Err(e) => {
                let _ = Macvlan::leave(link).await;
                anyhow::bail!("packet socket on {name}: {e} (needs CAP_NET_RAW)");
            }
        };
        info!(interface = %name, parent, mac = %config.mac, "dhcp client started");
        let (stop_tx, stop_rx) = mpsc::channel(1);
        let mac = config.mac;
        let join = tokio::spawn(run(link, socket, config, events, stop_rx));
        Ok(DhcpLeaseTask {
            interface: name,
            mac,
            stop: Some(stop_tx),
            join: Some(join),
        })
    }

    /// The macvlan's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The macvlan's MAC, the one the lease is held for.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Sends a DHCPRELEASE (when bound), removes the address and leaves the macvlan (deleted
    /// unless the Service's DHCPv6 client still uses it).
    pub async fn release(mut self) -> anyhow::Result<()> {
        self.finish(Stop::Release).await
    }

    /// Removes the address and leaves the macvlan without releasing: the server keeps the lease,
    /// so whoever takes the Service over with the same MAC gets the same address (failover,
    /// leadership lost).
    pub async fn abandon(mut self) -> anyhow::Result<()> {
        self.finish(Stop::Abandon).await
    }

    async fn finish(
        &mut self,
        how: fn(oneshot::Sender<anyhow::Result<()>>) -> Stop,
    ) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        let stop = self.stop.take().expect("stop sender is only taken here");
        if stop.send(how(tx)).await.is_err() {
            anyhow::bail!("dhcp task for {} already ended", self.interface);
        }
        let result = rx
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("dhcp task ended early")));
        if let Some(join) = self.join.take() {
            let _ = join.await;
        }
        result
    }
}

impl Drop for DhcpLeaseTask {
    fn drop(&mut self) {
        // Dropping the sender makes the task abandon the address and leave the macvlan.
        self.stop.take();
    }
}

struct Driver {
    link: Arc<Macvlan>,
    socket: PacketSocket,
    client: DhcpClient,
    clock: CoreClock,
    events: mpsc::UnboundedSender<DhcpEvent>,
}

async fn run(
    link: Arc<Macvlan>,
    socket: PacketSocket,
    config: DhcpClientConfig,
    events: mpsc::UnboundedSender<DhcpEvent>,
    mut stop: mpsc::Receiver<Stop>,
) {
    let clock = CoreClock::start();
    let client = DhcpClient::new(config, clock.now());
    let mut d = Driver {
        link,
        socket,
        client,
        clock,
        events,
    };
    let mut buf = vec![0u8; 2048];
    let stop = loop {
        d.drain().await;
        let deadline = d
            .client
            .poll_timeout()
            .map(|t| d.clock.to_tokio(t))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            stop = stop.recv() => break stop,
            received = d.socket.recv(&mut buf) => match received {
                Ok((n, checksum)) => d.client.handle_frame_with(d.clock.now(), &buf[..n], checksum),
                Err(e) => {
                    warn!(interface = d.link.name(), "dhcp receive failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = tokio::time::sleep_until(deadline) => d.client.handle_timeout(d.clock.now()),
        }
    };
    let (reply, release) = match stop {
        Some(Stop::Release(reply)) => (Some(reply), true),
        Some(Stop::Abandon(reply)) => (Some(reply), false),
        None => (None, false),
    };
    if release {
        d.client.release(d.clock.now());
        d.drain().await;
    }
    // The macvlan may live on (the Service's DHCPv6 client uses it): the address goes first.
    if let Some(address) = d.client.lease().map(|l| l.address) {
        if let Err(e) = d.link.remove_address(address).await {
            warn!(interface = d.link.name(), "{e:#}");
        }
    }
    let name = d.link.name().to_owned();
    let result = Macvlan::leave(d.link).await;
    info!(interface = name, release, deleted = ?result.as_ref().ok(), "dhcp client stopped");
    let result = result.map(|_| ());
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}

impl Driver {
    /// Runs every output of the client, in order.
    async fn drain(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                DhcpOutput::Send(frame) => {
                    if let Err(e) = self.socket.send(&frame).await {
                        self.error(format!("sending a DHCP frame: {e}"));
                    }
                }
                DhcpOutput::Bound(lease) => {
                    if let Err(e) = self.link.add_address(lease.address).await {
                        self.error(format!("{e:#}"));
                        continue;
                    }
                    let garp = wire::announcement(self.link.mac(), lease.address.into());
                    if let Err(e) = self.socket.send(&garp).await {
                        self.error(format!("sending the gratuitous ARP: {e}"));
                    }
                    info!(
                        interface = self.link.name(),
                        address = %lease.address,
                        prefix_len = lease.prefix_len,
                        server = %lease.server,
                        lease_secs = lease.lease_time.as_secs(),
                        t1_secs = lease.t1.as_secs(),
                        t2_secs = lease.t2.as_secs(),
                        "dhcp bound"
                    );
                    let _ = self.events.send(DhcpEvent::Bound(lease));
                }
                DhcpOutput::Renewed(lease) => {
                    info!(
                        interface = self.link.name(),
                        address = %lease.address,
                        lease_secs = lease.lease_time.as_secs(),
                        "dhcp renewed"
                    );
                    let _ = self.events.send(DhcpEvent::Renewed(lease));
                }
                DhcpOutput::Expired(address) => {
                    warn!(interface = self.link.name(), %address, "dhcp lease lost");
                    if let Err(e) = self.link.remove_address(address).await {
                        self.error(format!("{e:#}"));
                    }
                    let _ = self.events.send(DhcpEvent::Expired(address));
                }
                DhcpOutput::Released(address) => {
                    info!(interface = self.link.name(), %address, "dhcp released");
                    if let Err(e) = self.link.remove_address(address).await {
                        self.error(format!("{e:#}"));
                    }
                }
                DhcpOutput::NoOffer { attempts } => {
                    warn!(interface = self.link.name(), attempts, "no DHCP offer yet");
                    let _ = self.events.send(DhcpEvent::NoOffer { attempts });
                }
            }
        }
    }

    fn error(&self, message: String) {
        warn!(interface = self.link.name(), "{message}");
        let _ = self.events.send(DhcpEvent::Error(message));
    }
}
