//! The address port over rtnetlink: add (IPv6 with `nodad`) and remove the VIPs on one interface,
//! and a multicast monitor that reports addresses and carrier changes on that interface, so an
//! address removed behind our back is noticed and put back.

use std::net::IpAddr;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use kvip_core::{AddressError, VipAddress};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::{Handle, MulticastGroup};

use super::ports::{AddressPort, KernelEvent};

/// errno values the kernel answers with.
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;

/// The VIP interface through rtnetlink.
#[derive(Clone)]
pub struct NetlinkAddresses {
    handle: Handle,
    index: u32,
}

impl NetlinkAddresses {
    /// Connects to rtnetlink (spawning the connection on the current runtime) and resolves
    /// `interface`; returns the port, the interface index and its MAC.
    pub async fn open(interface: &str) -> anyhow::Result<(Self, [u8; 6])> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        let link = handle
            .link()
            .get()
            .match_name(interface.to_string())
            .execute()
            .try_next()
            .await
            .map_err(|e| anyhow::anyhow!("interface {interface:?}: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("interface {interface:?} not found"))?;
        let mac = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(bytes);
                    Some(mac)
                }
                _ => None,
            })
            .ok_or_else(|| anyhow::anyhow!("interface {interface:?} has no Ethernet address"))?;
        Ok((
            NetlinkAddresses {
                handle,
                index: link.header.index,
            },
            mac,
        ))
    }

    /// The interface index.
    pub fn index(&self) -> u32 {
        self.index
    }

    fn message(&self, vip: VipAddress) -> AddressMessage {
        match vip.address {
            IpAddr::V4(a) => rtnetlink::AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(self.index)
                .address(a, vip.prefix_len)
                .build(),
            IpAddr::V6(a) => rtnetlink::AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                .index(self.index)
                .address(a, vip.prefix_len)
                .build(),
        }
    }
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

impl AddressPort for NetlinkAddresses {
    fn add(
        &self,
        vip: VipAddress,
    ) -> impl std::future::Future<Output = Result<(), AddressError>> + Send + 'static {
        let mut request = self
            .handle
            .address()
            .add(self.index, vip.address, vip.prefix_len);
        if vip.address.is_ipv6() {
            let message = request.message_mut();
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        async move {
            match request.execute().await {
                Ok(()) => Ok(()),
                Err(e) if errno(&e) == Some(EEXIST) => Err(AddressError::AlreadyPresent),
                Err(e) => Err(AddressError::Failed(e.to_string())),
            }
        }
    }

    fn remove(
        &self,
        vip: VipAddress,
    ) -> impl std::future::Future<Output = Result<(), AddressError>> + Send + 'static {
        let request = self.handle.address().del(self.message(vip));
        async move {
            match request.execute().await {
                Ok(()) => Ok(()),
                Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENOENT | ESRCH)) => {
                    Err(AddressError::NotPresent)
                }
                Err(e) => Err(AddressError::Failed(e.to_string())),
            }
        }
    }
}

/// Reports changes of the addresses `watched` accepts and of the carrier on interface `index`.
pub fn monitor(
    index: u32,
    watched: impl Fn(&IpAddr) -> bool + Send + 'static,
) -> anyhow::Result<BoxStream<'static, KernelEvent>> {
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    let (connection, _handle, messages) = rtnetlink::new_multicast_connection(&groups)?;
    tokio::spawn(connection);
    let mut carrier: Option<bool> = None;
    let stream = messages
        .filter_map(move |(message, _)| {
            let event = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(m)) => {
                    address_event(&m, index, &watched, true)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(m)) => {
                    address_event(&m, index, &watched, false)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    link_event(&m, index, &mut carrier)
                }
                _ => None,
            };
            futures::future::ready(event)
        })
        .boxed();
    Ok(stream)
}

fn address_event(
    m: &AddressMessage,
    index: u32,
    watched: &impl Fn(&IpAddr) -> bool,
    present: bool,
) -> Option<KernelEvent> {
    if m.header.index != index {
        return None;
    }
    m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(ip) | AddressAttribute::Local(ip) if watched(ip) => {
            Some(KernelEvent::Address {
                address: *ip,
                present,
            })
        }
        _ => None,
    })
}

fn link_event(m: &LinkMessage, index: u32, carrier: &mut Option<bool>) -> Option<KernelEvent> {
    if m.header.index != index {
        return None;
    }
    let up = m.header.flags.contains(LinkFlags::LowerUp) && m.header.flags.contains(LinkFlags::Up);
    if *carrier == Some(up) {
        return None;
    }
    *carrier = Some(up);
    Some(KernelEvent::Link { up })
}
