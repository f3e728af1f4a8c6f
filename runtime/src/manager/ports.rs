//! The driver's ports: the three kinds of IO the core's outputs need (the Lease API, the VIP
//! interface's addresses, raw frames) and the kernel events fed back. Production implements them
//! with kube-rs, rtnetlink and pnet; the turmoil harness with simulated services.

use std::future::Future;
use std::io;
use std::net::IpAddr;

use futures::stream::BoxStream;
use kvip_core::{AddressError, LeaseError, LeaseObject, LeaseRequest, VipAddress, WatchEvent};

/// Something the kernel reports about the VIP interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    /// An address appeared on or vanished from the interface.
    Address {
        /// The address.
        address: IpAddr,
        /// Whether it is now configured.
        present: bool,
    },
    /// The interface's carrier changed.
    Link {
        /// Whether it is up.
        up: bool,
    },
}

/// The control-plane Lease on the API server.
pub trait LeasePort: Clone + Send + Sync + 'static {
    /// Carries out one request.
    fn call(
        &self,
        request: LeaseRequest,
    ) -> impl Future<Output = Result<LeaseObject, LeaseError>> + Send + 'static;
    /// A watch on the Lease, as resync batches; it reconnects by itself and never ends.
    fn watch(&self) -> BoxStream<'static, WatchEvent<LeaseObject>>;
}

/// The addresses of the VIP interface.
pub trait AddressPort: Clone + Send + Sync + 'static {
    /// Adds the address (IPv6 without duplicate address detection).
    fn add(
        &self,
        vip: VipAddress,
    ) -> impl Future<Output = Result<(), AddressError>> + Send + 'static;
    /// Removes the address.
    fn remove(
        &self,
        vip: VipAddress,
    ) -> impl Future<Output = Result<(), AddressError>> + Send + 'static;
}

/// Raw Ethernet frames out of the VIP interface.
pub trait FramePort: Send + 'static {
    /// Sends one frame now.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
}
