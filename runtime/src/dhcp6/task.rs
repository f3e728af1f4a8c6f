//! [`Dhcp6LeaseTask`]: the tokio task that owns one Service's DHCPv6 address. It creates the
//! macvlan (or joins the one of the Service's DHCPv4 client), makes its link-local address
//! usable, opens a UDP socket on `[link-local%macvlan]:546`, drives a [`Dhcp6Client`]
//! (messages to `[ff02::1:2]:547`), puts the leased address on the
//! macvlan as /128 when bound (with an unsolicited neighbour advertisement from the macvlan's
//! MAC) and takes it off when the lease ends, and reports what happened over a channel.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

use kvip_core::dhcp::macvlan_name;
use kvip_core::dhcp6::{
    Dhcp6Client, Dhcp6ClientConfig, Dhcp6Output, Dhcp6State, Lease6, ALL_SERVERS, CLIENT_PORT,
    SERVER_PORT,
};
use kvip_core::wire;
use kvip_core::wire::MacAddr;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::ipv6_link::Ipv6Link;
use crate::dhcp::link::Macvlan;
use crate::dhcp::packet::PacketSocket;
use crate::manager::clock::CoreClock;

/// How long [`Dhcp6LeaseTask::release`] waits for the server's REPLY to the RELEASE.
pub const RELEASE_BOUND: Duration = Duration::from_secs(3);

/// What happened to the address, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dhcp6Event {
    /// An address was leased and is now on the macvlan (announced by an unsolicited NA).
    Bound(Lease6),
    /// The lease was extended.
    Renewed(Lease6),
    /// The address was lost (valid lifetime over, withdrawn, refused) and removed; the client
    /// is soliciting again.
    Expired(Ipv6Addr),
    /// This many SOLICITs went unanswered (kube-vip's `dhcp_backoff_attempts`); still trying.
    NoOffer {
        /// SOLICITs of this round that went unanswered.
        attempts: u32,
    },
    /// Something failed that the task cannot fix (the address could not be added, a send
    /// failed); the task goes on.
    Error(String),
}

/// How the task ends.
#[derive(Debug)]
enum Stop {
    /// RELEASE, remove the address, leave the macvlan.
    Release(oneshot::Sender<anyhow::Result<()>>),
    /// Remove the address and leave the macvlan: the lease stays with the server for the next
    /// holder of the DUID.
    Abandon(oneshot::Sender<anyhow::Result<()>>),
}

/// A running DHCPv6 address. Dropping it abandons the address (best effort: the macvlan is
/// deleted if the tokio runtime is still running); call [`release`](Self::release) or
/// [`abandon`](Self::abandon) to wait for the end.
pub struct Dhcp6LeaseTask {
    interface: String,
    mac: MacAddr,
    stop: Option<mpsc::Sender<Stop>>,
    join: Option<JoinHandle<()>>,
}

impl Dhcp6LeaseTask {
    /// Creates the macvlan on `parent` with `config.mac` (named [`macvlan_name`], the same name
    /// a DHCPv4 lease of that MAC uses), waits until its link-local address is usable, opens
    /// the socket and starts soliciting. Events go to `events` (dropped when nobody listens).
    pub async fn start(
        parent: &str,
        config: Dhcp6ClientConfig,
        events: mpsc::UnboundedSender<Dhcp6Event>,
    ) -> anyhow::Result<Dhcp6LeaseTask> {
        let name = macvlan_name(config.mac);
        let link = Macvlan::create(parent, &name, config.mac).await?;
        Self::start_on(parent, Arc::new(link), config, events).await
    }

    /// Like [`start`](Self::start), on a macvlan of `parent` the caller made with `config.mac`
    /// (possibly shared with the Service's DHCPv4 client, in which case it is not taken down
    /// and up to redo its link-local address): the task leaves it when it ends, and the last one
    /// to leave deletes it.
    pub async fn start_on(
        parent: &str,
        link: Arc<Macvlan>,
        config: Dhcp6ClientConfig,
        events: mpsc::UnboundedSender<Dhcp6Event>,
    ) -> anyhow::Result<Dhcp6LeaseTask> {
        debug_assert_eq!(link.mac(), config.mac, "a macvlan made for another MAC");
        let name = link.name().to_owned();
        // Alone on it: nothing else on the link to disturb by taking it down and up.
        let alone = Arc::strong_count(&link) == 1;
        let (ipv6, socket) = match open(&link, alone).await {
            Ok(opened) => opened,
            Err(e) => {
                let _ = Macvlan::leave(link).await;
                return Err(e);
            }
        };
        info!(interface = %name, parent, mac = %config.mac, "dhcp6 client started");
        let (stop_tx, stop_rx) = mpsc::channel(1);
        let mac = config.mac;
        let join = tokio::spawn(run(link, ipv6, socket, config, events, stop_rx));
        Ok(Dhcp6LeaseTask {
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

    /// The macvlan's MAC, the one the client's DUID names.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Sends a RELEASE (when bound; waits ≤ [`RELEASE_BOUND`] for the server's REPLY), removes
    /// the address and leaves the macvlan (deleted unless the Service's DHCPv4 client still
    /// uses it).
    pub async fn release(mut self) -> anyhow::Result<()> {
        self.finish(Stop::Release).await
    }

    /// Removes the address and leaves the macvlan without releasing: the server keeps the
    /// lease, so whoever takes the Service over with the same MAC (same DUID) gets the same
    /// address.
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
            anyhow::bail!("dhcp6 task for {} already ended", self.interface);
        }
        let result = rx
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("dhcp6 task ended early")));
        if let Some(join) = self.join.take() {
            let _ = join.await;
        }
        result
    }
}

impl Drop for Dhcp6LeaseTask {
    fn drop(&mut self) {
        // Dropping the sender makes the task abandon the address and leave the macvlan.
        self.stop.take();
    }
}

/// The macvlan's IPv6 side and the client socket on its link-local address.
async fn open(link: &Macvlan, bounce: bool) -> anyhow::Result<(Ipv6Link, UdpSocket)> {
    let ipv6 = Ipv6Link::new(link.name(), link.index())?;
    let local = ipv6.prepare(bounce).await?;
    let at = SocketAddrV6::new(local, CLIENT_PORT, 0, link.index());
    let socket = UdpSocket::bind(SocketAddr::V6(at))
        .await
        .map_err(|e| anyhow::anyhow!("binding UDP [{local}%{}]:{CLIENT_PORT}: {e}", link.name()))?;
    Ok((ipv6, socket))
}

struct Driver {
    link: Arc<Macvlan>,
    ipv6: Ipv6Link,
    socket: UdpSocket,
    servers: SocketAddr,
    client: Dhcp6Client,
    clock: CoreClock,
    events: mpsc::UnboundedSender<Dhcp6Event>,
}

async fn run(
    link: Arc<Macvlan>,
    ipv6: Ipv6Link,
    socket: UdpSocket,
    config: Dhcp6ClientConfig,
    events: mpsc::UnboundedSender<Dhcp6Event>,
    mut stop: mpsc::Receiver<Stop>,
) {
    let clock = CoreClock::start();
    let client = Dhcp6Client::new(config, clock.now());
    let servers = SocketAddr::V6(SocketAddrV6::new(ALL_SERVERS, SERVER_PORT, 0, link.index()));
    let mut d = Driver {
        link,
        ipv6,
        socket,
        servers,
        client,
        clock,
        events,
    };
    let stop = loop {
        d.drain().await;
        tokio::select! {
            stop = stop.recv() => break stop,
            () = d.step() => {}
        }
    };
    let (reply, release) = match stop {
        Some(Stop::Release(reply)) => (Some(reply), true),
        Some(Stop::Abandon(reply)) => (Some(reply), false),
        None => (None, false),
    };
    if release {
        d.client.release(d.clock.now());
        let waited = tokio::time::timeout(RELEASE_BOUND, async {
            loop {
                d.drain().await;
                if d.client.state() == Dhcp6State::Released {
                    break;
                }
                d.step().await;
            }
        })
        .await;
        if waited.is_err() {
            warn!(interface = d.link.name(), "no REPLY to the RELEASE");
        }
    }
    // The macvlan may live on (the Service's DHCPv4 client uses it): the address goes first.
    if let Some(address) = d.client.lease().map(|l| l.address) {
        if let Err(e) = d.ipv6.remove_address(address).await {
            warn!(interface = d.link.name(), "{e:#}");
        }
    }
    let name = d.link.name().to_owned();
    let result = Macvlan::leave(d.link).await;
    info!(interface = name, release, deleted = ?result.as_ref().ok(), "dhcp6 client stopped");
    let result = result.map(|_| ());
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}

impl Driver {
    /// Waits for one datagram or the client's timer, and hands it to the client.
    async fn step(&mut self) {
        let mut buf = [0u8; 1500];
        let deadline = self
            .client
            .poll_timeout()
            .map(|t| self.clock.to_tokio(t))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = self.socket.recv_from(&mut buf) => match received {
                Ok((n, _from)) => self.client.handle_datagram(self.clock.now(), &buf[..n]),
                Err(e) => {
                    warn!(interface = self.link.name(), "dhcp6 receive failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = tokio::time::sleep_until(deadline) => self.client.handle_timeout(self.clock.now()),
        }
    }

    /// Runs every output of the client, in order.
    async fn drain(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Dhcp6Output::Send(message) => {
                    if let Err(e) = self.socket.send_to(&message, self.servers).await {
                        self.error(format!("sending a DHCPv6 message: {e}"));
                    }
                }
                Dhcp6Output::Bound(lease) => {
                    if let Err(e) = self.ipv6.add_address(lease.address).await {
                        self.error(format!("{e:#}"));
                        continue;
                    }
                    self.announce(lease.address).await;
                    info!(
                        interface = self.link.name(),
                        address = %lease.address,
                        iaid = lease.iaid,
                        valid_secs = lease.valid.as_secs(),
                        preferred_secs = lease.preferred.as_secs(),
                        t1_secs = lease.t1.as_secs(),
                        t2_secs = lease.t2.as_secs(),
                        "dhcp6 bound"
                    );
                    let _ = self.events.send(Dhcp6Event::Bound(lease));
                }
                Dhcp6Output::Renewed(lease) => {
                    info!(
                        interface = self.link.name(),
                        address = %lease.address,
                        valid_secs = lease.valid.as_secs(),
                        "dhcp6 renewed"
                    );
                    let _ = self.events.send(Dhcp6Event::Renewed(lease));
                }
                Dhcp6Output::Expired(address) => {
                    warn!(interface = self.link.name(), %address, "dhcp6 lease lost");
                    if let Err(e) = self.ipv6.remove_address(address).await {
                        self.error(format!("{e:#}"));
                    }
                    let _ = self.events.send(Dhcp6Event::Expired(address));
                }
                Dhcp6Output::Released(address) => {
                    info!(interface = self.link.name(), %address, "dhcp6 released");
                    if let Err(e) = self.ipv6.remove_address(address).await {
                        self.error(format!("{e:#}"));
                    }
                }
                Dhcp6Output::NoOffer { attempts } => {
                    warn!(
                        interface = self.link.name(),
                        attempts, "no DHCPv6 advertise yet"
                    );
                    let _ = self.events.send(Dhcp6Event::NoOffer { attempts });
                }
            }
        }
    }

    /// One unsolicited neighbour advertisement for `address` from the macvlan's MAC, through a
    /// packet socket opened for it (so no receive queue fills between announcements).
    async fn announce(&self, address: Ipv6Addr) {
        let frame = wire::announcement(self.link.mac(), address.into());
        let sent = match PacketSocket::open(self.link.index()) {
            Ok(socket) => socket.send(&frame).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            self.error(format!("sending the neighbour advertisement: {e}"));
        }
    }

    fn error(&self, message: String) {
        warn!(interface = self.link.name(), "{message}");
        let _ = self.events.send(Dhcp6Event::Error(message));
    }
}
