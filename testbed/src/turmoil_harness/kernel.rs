//! A node host's simulated kernel and LAN: the address port (an add or remove completes after a
//! seeded latency, even if the daemon exits meanwhile, as a netlink request already sent does),
//! the kernel's address events fed back to the daemon like rtnetlink's multicast monitor, the
//! frame port (each Ethernet frame a UDP datagram to the "lan" host), and the "lan" host itself,
//! whose client keeps a neighbour entry that follows gratuitous ARPs and unsolicited NAs.

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use kvip_core::wire::{decode, Frame};
use kvip_core::{AddressError, VipAddress};
use kvip_runtime::manager::ports::{AddressPort, FramePort, KernelEvent};
use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use super::state::{lock, Shared};

/// The port the LAN host receives frames on.
pub const LAN_PORT: u16 = 7000;

/// Node `node`'s VIP interface.
#[derive(Clone)]
pub struct SimKernel {
    node: usize,
    shared: Shared,
}

impl SimKernel {
    /// The interface of node `node`, with its address monitor (replacing any earlier daemon's).
    pub fn open(node: usize, shared: Shared) -> (Self, BoxStream<'static, KernelEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&shared).nodes[node].monitor = Some(tx);
        let monitor = futures::stream::unfold(rx, |mut rx| async move {
            let (event, at) = rx.recv().await?;
            let now = turmoil::sim_elapsed().map_or(at, |d| d.as_nanos() as u64);
            if at > now {
                tokio::time::sleep(Duration::from_nanos(at - now)).await;
            }
            Some((event, rx))
        })
        .boxed();
        (SimKernel { node, shared }, monitor)
    }

    fn op(
        &self,
        add: bool,
    ) -> impl std::future::Future<Output = Result<(), AddressError>> + Send + 'static {
        let (node, shared) = (self.node, self.shared.clone());
        let (id, delay) = lock(&shared).submit_kernel_op(node, add);
        async move {
            tokio::time::sleep(delay).await;
            loop {
                if let Some(result) = lock(&shared).take_kernel_result(id) {
                    return result;
                }
                // Another host's tick may lag ours by less than a tick: look again shortly.
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
        }
    }
}

impl AddressPort for SimKernel {
    fn add(
        &self,
        vip: VipAddress,
    ) -> impl std::future::Future<Output = Result<(), AddressError>> + Send + 'static {
        let _ = vip;
        self.op(true)
    }

    fn remove(
        &self,
        vip: VipAddress,
    ) -> impl std::future::Future<Output = Result<(), AddressError>> + Send + 'static {
        let _ = vip;
        self.op(false)
    }
}

/// Frames out of node `node`'s VIP interface, as UDP datagrams to the LAN host.
pub struct UdpFrames {
    node: usize,
    shared: Shared,
    socket: UdpSocket,
}

impl UdpFrames {
    /// Binds the node's frame socket.
    pub async fn open(node: usize, shared: Shared) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(("0.0.0.0", 0)).await?;
        Ok(UdpFrames {
            node,
            shared,
            socket,
        })
    }
}

impl FramePort for UdpFrames {
    fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
        lock(&self.shared).frame_sent(self.node, frame);
        self.socket
            .try_send_to(frame, ("lan", LAN_PORT))
            .map(|_| ())
    }
}

/// The LAN host's software: a client whose neighbour entry for the VIP follows every
/// announcement it receives.
pub async fn lan(shared: Shared) -> turmoil::Result {
    let socket = UdpSocket::bind(("0.0.0.0", LAN_PORT)).await?;
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, _) = socket.recv_from(&mut buf).await?;
        let mac = match decode(&buf[..n]) {
            Ok(Frame::Arp(a)) => a.sender_mac,
            Ok(Frame::NeighborAdvert(na)) => na.target_link_addr.unwrap_or(na.eth_src),
            Err(_) => continue,
        };
        let mut s = lock(&shared);
        if s.client_entry != Some(mac) {
            s.log(|| format!("client neighbour entry -> {mac}"));
        }
        s.client_entry = Some(mac);
    }
}
