//! The IPv6 side of a DHCPv6 macvlan, through rtnetlink and the interface's sysctls: duplicate
//! address detection turned off for it (its MAC is ours alone, and a tentative link-local cannot
//! be bound), its link-local address once usable, and the leased address added as /128 with
//! `nodad` and removed.
//!
//! Why /128: the prefix belongs to router advertisements, and a second connected route for the
//! LAN beside the parent's would move the node's own traffic onto the macvlan (as /32 for v4).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::{Handle, LinkUnspec};

/// How long the link-local address may take to become usable.
pub const LINK_LOCAL_BOUND: Duration = Duration::from_secs(5);

const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

/// IPv6 configuration of interface `name` (index `index`).
pub struct Ipv6Link {
    handle: Handle,
    name: String,
    index: u32,
}

impl Ipv6Link {
    /// A handle on interface `name` with index `index` (its own netlink connection).
    pub fn new(name: &str, index: u32) -> anyhow::Result<Ipv6Link> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Ipv6Link {
            handle,
            name: name.to_string(),
            index,
        })
    }

    /// Turns DAD off for the interface (`accept_dad=0`); with `bounce`, takes it down and up so
    /// its link-local address is made again without DAD (without, as when the interface also
    /// carries a DHCPv4 address, a tentative one finishes its DAD); then waits
    /// (≤ [`LINK_LOCAL_BOUND`]) until a link-local address that is not tentative is there;
    /// returns it.
    pub async fn prepare(&self, bounce: bool) -> anyhow::Result<Ipv6Addr> {
        let sysctl = format!("/proc/sys/net/ipv6/conf/{}/accept_dad", self.name);
        if let Err(e) = std::fs::write(&sysctl, "0") {
            tracing::warn!(interface = %self.name, "{sysctl}: {e}; waiting for DAD instead");
        }
        let downs_and_ups: &[bool] = if bounce { &[false, true] } else { &[] };
        for &up in downs_and_ups {
            let message = LinkUnspec::new_with_index(self.index);
            let message = if up { message.up() } else { message.down() }.build();
            self.handle
                .link()
                .set(message)
                .execute()
                .await
                .map_err(|e| anyhow::anyhow!("setting {} up={up}: {e}", self.name))?;
        }
        let deadline = tokio::time::Instant::now() + LINK_LOCAL_BOUND;
        loop {
            if let Some(address) = self.usable_link_local().await? {
                return Ok(address);
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "{} has no usable link-local address after {LINK_LOCAL_BOUND:?}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The interface's link-local address unless it is missing, tentative or failed DAD.
    pub async fn usable_link_local(&self) -> anyhow::Result<Option<Ipv6Addr>> {
        let mut addresses = self
            .handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute();
        while let Some(m) = addresses.try_next().await? {
            let address = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(IpAddr::V6(v6)) if v6.is_unicast_link_local() => {
                    Some(*v6)
                }
                _ => None,
            });
            let unusable = AddressHeaderFlags::Tentative | AddressHeaderFlags::Dadfailed;
            let flags_unusable = m.attributes.iter().any(|a| {
                matches!(a, AddressAttribute::Flags(f)
                    if f.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed))
            });
            if let Some(address) = address {
                if !m.header.flags.intersects(unusable) && !flags_unusable {
                    return Ok(Some(address));
                }
            }
        }
        Ok(None)
    }

    /// Adds `address/128` with `nodad` (already present counts as success).
    pub async fn add_address(&self, address: Ipv6Addr) -> anyhow::Result<()> {
        let mut request = self
            .handle
            .address()
            .add(self.index, IpAddr::V6(address), 128);
        request
            .message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            Err(e) => Err(anyhow::anyhow!(
                "adding {address}/128 to {}: {e}",
                self.name
            )),
        }
    }

    /// Removes `address/128` (absent counts as success).
    pub async fn remove_address(&self, address: Ipv6Addr) -> anyhow::Result<()> {
        let message = rtnetlink::AddressMessageBuilder::<Ipv6Addr>::new()
            .index(self.index)
            .address(address, 128)
            .build();
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENODEV)) => Ok(()),
            Err(e) => Err(anyhow::anyhow!(
                "removing {address}/128 from {}: {e}",
                self.name
            )),
        }
    }
}
