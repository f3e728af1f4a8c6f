//! The core's boundary: every fact a driver hands in ([`Input`]) and every piece of work it takes
//! out ([`Output`]), as plain data. Effects with a result carry an [`OpId`]; the result comes back
//! as an `Input` carrying the same id.

use std::net::IpAddr;

use crate::election::record::{LeaseError, LeaseObject, LeaseRequest};

/// Identifies one effect whose result must come back as an [`Input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// A virtual IP with the prefix length it is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VipAddress {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length (`vip_subnet`: 32 / 128 by default).
    pub prefix_len: u8,
}

/// One event of a Kubernetes watch, as kube-runtime's watcher emits them: a resync batch
/// (`Init`, `InitApply`…, `InitDone`) after every (re)connect, then `Apply` / `Delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent<T> {
    /// A (re)list starts; what follows up to `InitDone` is the complete current state.
    Init,
    /// One object of the (re)list.
    InitApply(T),
    /// The (re)list is complete.
    InitDone,
    /// An object was created or changed.
    Apply(T),
    /// An object was deleted.
    Delete(T),
}

/// Why an address operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// The address was already there (EEXIST on add): treated as success.
    AlreadyPresent,
    /// The address was not there (EADDRNOTAVAIL on remove): treated as success.
    NotPresent,
    /// Anything else (interface gone, permission denied…): retried.
    Failed(String),
}

/// A fact handed to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The answer to an [`Output::Lease`] request.
    LeaseResponse {
        /// The request's id.
        op: OpId,
        /// The Lease as stored after the request, or why it failed.
        result: Result<LeaseObject, LeaseError>,
    },
    /// An event from the watch on the control-plane Lease (field selector on its name).
    LeaseWatch(WatchEvent<LeaseObject>),
    /// The answer to an [`Output::AddAddress`] or [`Output::RemoveAddress`].
    AddressDone {
        /// The operation's id.
        op: OpId,
        /// Success, or why it failed.
        result: Result<(), AddressError>,
    },
    /// Address monitoring saw a VIP appear on or vanish from the interface.
    AddressObserved {
        /// The address.
        address: IpAddr,
        /// Whether it is now configured.
        present: bool,
    },
    /// The VIP interface's carrier changed.
    LinkChanged {
        /// Whether the link is up.
        up: bool,
    },
}

/// Work handed out by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this request to the API server. Emitted once; answer with [`Input::LeaseResponse`].
    /// The core times it out itself after `request_timeout` and ignores a late answer.
    Lease {
        /// Id to answer with.
        op: OpId,
        /// The request.
        request: LeaseRequest,
    },
    /// Configure the address on the VIP interface (IPv6 without DAD). Emitted once; answer with
    /// [`Input::AddressDone`].
    AddAddress {
        /// Id to answer with.
        op: OpId,
        /// The address.
        vip: VipAddress,
    },
    /// Remove the address from the VIP interface. Emitted once; answer with [`Input::AddressDone`].
    RemoveAddress {
        /// Id to answer with.
        op: OpId,
        /// The address.
        vip: VipAddress,
    },
    /// Put this Ethernet frame (gratuitous ARP or unsolicited NA) on the VIP interface.
    /// Emitted once, fire-and-forget.
    SendFrame {
        /// The address announced.
        address: IpAddr,
        /// The encoded frame.
        frame: Vec<u8>,
    },
    /// Something worth a log line or a timeline entry happened. Emitted once.
    Event(Event),
    /// Shutdown finished: addresses removed and the lease released (or release given up).
    /// Emitted once, after [`crate::Node::shutdown`].
    Stopped,
}

/// Why leadership ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossReason {
    /// `renewDeadline` passed since the last successful renew was sent.
    RenewDeadline,
    /// Another holder appeared in the Lease.
    OtherHolder,
    /// We released it on shutdown.
    Released,
}

/// A notable transition, for logs and timelines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// We acquired the lease.
    Acquired {
        /// `leaseTransitions` after acquiring.
        transitions: u32,
    },
    /// We are no longer leader.
    LostLeadership(LossReason),
    /// A different holder (or none) is now seen in the Lease.
    HolderChanged(Option<String>),
    /// The lease was released.
    Released,
    /// An address add completed.
    AddressAdded(IpAddr),
    /// An address removal completed.
    AddressRemoved(IpAddr),
    /// An address disappeared or appeared behind our back and is being corrected.
    AddressDrift {
        /// The address.
        address: IpAddr,
        /// Whether it was found present.
        present: bool,
    },
    /// An address operation failed and will be retried.
    AddressFailed {
        /// The address.
        address: IpAddr,
        /// The error.
        error: String,
    },
    /// A Lease request failed or timed out.
    LeaseRequestFailed(String),
    /// An input the core could not use (unknown op id, late answer); counted, not fatal.
    Ignored(&'static str),
}
