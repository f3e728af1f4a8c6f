//! The interfaces Service addresses go on: the Services interface (its ports opened at start) and
//! the node's other Ethernet interfaces a Service names with `kube-vip.io/serviceInterface`, each
//! with an rtnetlink address port, a raw frame sender and a kernel monitor opened on first use.
//! Kernel events of every opened interface come out of one stream, tagged with its name.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;

use futures::stream::{BoxStream, SelectAll};
use futures::StreamExt;
use kvip_core::dhcp::macvlan_name;
use kvip_core::wire::MacAddr;
use kvip_core::{AddressError, VipAddress};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;

use crate::manager::frames::RawFrames;
use crate::manager::netlink::{self, NetlinkAddresses};
use crate::manager::ports::{AddressPort, FramePort, KernelEvent};

/// A kernel event and the interface it is about (`None`: the Services interface).
pub type LinkEvent = (Option<String>, KernelEvent);

/// The node's Ethernet interfaces other than `services` (and loopback, and the DHCP clients'
/// own macvlans, named after their MACs), with their MACs: the ones a Service may name.
pub fn other_ethernet_links(services: &str) -> BTreeMap<String, [u8; 6]> {
    pnet_datalink::interfaces()
        .into_iter()
        .filter(|i| i.name != services && !i.is_loopback())
        .filter_map(|i| {
            let mac = i.mac?.octets();
            let ours = macvlan_name(MacAddr(mac)) == i.name;
            (mac != [0; 6] && !ours).then_some((i.name, mac))
        })
        .collect()
}

/// One item whenever an interface appears, changes or goes (rtnetlink's link group): the cue
/// to list the interfaces again with [`other_ethernet_links`].
pub fn link_changes() -> anyhow::Result<BoxStream<'static, ()>> {
    let (connection, _handle, messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])?;
    tokio::spawn(connection);
    let changes = messages.filter_map(|(message, _)| {
        let change = matches!(
            message.payload,
            NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::NewLink(_) | RouteNetlinkMessage::DelLink(_)
            )
        );
        futures::future::ready(change.then_some(()))
    });
    Ok(changes.boxed())
}

/// One other interface, opened.
struct Opened {
    addresses: NetlinkAddresses,
    frames: RawFrames,
}

/// The address and frame ports of every interface in use.
pub struct LinkPorts<A, F> {
    services: String,
    known: BTreeMap<String, [u8; 6]>,
    addresses: A,
    frames: F,
    others: BTreeMap<String, Opened>,
    events: SelectAll<BoxStream<'static, LinkEvent>>,
}

impl<A: AddressPort, F: FramePort> LinkPorts<A, F> {
    /// The Services interface (`services`), its ports and kernel events; `known`: the other
    /// interfaces the node was told of at start.
    pub fn new(
        services: &str,
        known: BTreeMap<String, [u8; 6]>,
        (addresses, frames): (A, F),
        kernel: BoxStream<'static, KernelEvent>,
    ) -> Self {
        let mut events = SelectAll::new();
        events.push(kernel.map(|e| (None, e)).boxed());
        LinkPorts {
            services: services.to_owned(),
            known,
            addresses,
            frames,
            others: BTreeMap::new(),
            events,
        }
    }

    /// Lists the other interfaces again; `Some` with them when they changed since last told.
    pub fn refresh(&mut self) -> Option<BTreeMap<String, MacAddr>> {
        let now = other_ethernet_links(&self.services);
        if now == self.known {
            return None;
        }
        self.known = now;
        // A changed interface is opened afresh on next use.
        let known = &self.known;
        self.others.retain(|name, _| known.contains_key(name));
        Some(
            self.known
                .iter()
                .map(|(name, &mac)| (name.clone(), MacAddr(mac)))
                .collect(),
        )
    }

    /// Kernel events of every opened interface.
    pub fn events(&mut self) -> &mut SelectAll<BoxStream<'static, LinkEvent>> {
        &mut self.events
    }

    /// Opens `name`'s ports (and its monitor) unless open.
    async fn open(&mut self, name: &str) -> Result<&Opened, String> {
        if !self.others.contains_key(name) {
            let (addresses, _mac) = NetlinkAddresses::open(name)
                .await
                .map_err(|e| e.to_string())?;
            let frames = RawFrames::open(name).map_err(|e| e.to_string())?;
            let tag = name.to_owned();
            let monitor = netlink::monitor(addresses.index(), |_| true)
                .map_err(|e| format!("monitor on {name}: {e}"))?;
            self.events
                .push(monitor.map(move |e| (Some(tag.clone()), e)).boxed());
            self.others
                .insert(name.to_owned(), Opened { addresses, frames });
        }
        Ok(&self.others[name])
    }

    /// Adds (`add`) or removes `vip` on `link`.
    pub async fn change(
        &mut self,
        link: Option<&str>,
        vip: VipAddress,
        add: bool,
    ) -> impl Future<Output = Result<(), AddressError>> + Send + 'static {
        let port = match link {
            None => Ok(Port::Services(self.addresses.clone())),
            Some(name) => self
                .open(name)
                .await
                .map(|o| Port::Other(o.addresses.clone())),
        };
        async move {
            match (port, add) {
                (Ok(Port::Services(a)), true) => a.add(vip).await,
                (Ok(Port::Services(a)), false) => a.remove(vip).await,
                (Ok(Port::Other(a)), true) => a.add(vip).await,
                (Ok(Port::Other(a)), false) => a.remove(vip).await,
                (Err(e), true) => Err(AddressError::Failed(e)),
                // An interface that cannot be opened (gone) holds no address.
                (Err(_), false) => Err(AddressError::NotPresent),
            }
        }
    }

    /// Sends `frame` out of `link`.
    pub async fn send(&mut self, link: Option<&str>, frame: &[u8]) -> io::Result<()> {
        match link {
            None => self.frames.send(frame),
            Some(name) => match self.open(name).await {
                Ok(_) => match self.others.get_mut(name) {
                    Some(o) => o.frames.send(frame),
                    None => Err(io::Error::other(format!("{name} not open"))),
                },
                Err(e) => Err(io::Error::other(e)),
            },
        }
    }
}

/// An address port of either kind.
enum Port<A> {
    Services(A),
    Other(NetlinkAddresses),
}
