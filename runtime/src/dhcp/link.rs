//! The macvlan a DHCP Service address lives on, through rtnetlink: created in bridge mode on the
//! parent interface with the Service's MAC (replacing a leftover of the same name), its leased
//! address added as /32 and removed, and the link deleted at the end — by the last of the
//! clients sharing it ([`Macvlan::leave`]: a Service leasing both families has one macvlan, the
//! kernel refusing a second one with the same MAC on a parent).
//!
//! Why /32: the server's prefix on the macvlan would add a second connected route for the LAN
//! beside the parent's, and the node's own traffic could start leaving through the macvlan.
//! kube-vip also puts Service addresses on as /32.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures::TryStreamExt;
use kvip_core::wire::MacAddr;
use rtnetlink::packet_route::link::MacVlanMode;
use rtnetlink::{Handle, LinkMacVlan};

/// errno values the kernel answers with.
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

/// A macvlan created by [`Macvlan::create`].
#[derive(Clone)]
pub struct Macvlan {
    handle: Handle,
    name: String,
    index: u32,
    mac: MacAddr,
}

/// The index of interface `name`, `None` when there is none.
async fn index_of(handle: &Handle, name: &str) -> anyhow::Result<Option<u32>> {
    match handle
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await
    {
        Ok(link) => Ok(link.map(|l| l.header.index)),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("looking up interface {name:?}: {e}")),
    }
}

impl Macvlan {
    /// Creates macvlan `name` (bridge mode, address `mac`, up) on `parent`. A link of the same
    /// name left by a crashed run is deleted first (names are derived from the MAC, so it was one
    /// of ours for this very Service).
    pub async fn create(parent: &str, name: &str, mac: MacAddr) -> anyhow::Result<Macvlan> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        let parent_index = index_of(&handle, parent)
            .await?
            .ok_or_else(|| anyhow::anyhow!("parent interface {parent:?} not found"))?;
        if let Some(stale) = index_of(&handle, name).await? {
            tracing::warn!(interface = name, "deleting a leftover macvlan");
            handle.link().del(stale).execute().await?;
        }
        let message = LinkMacVlan::new(name, parent_index, MacVlanMode::Bridge)
            .address(mac.0.to_vec())
            .up()
            .build();
        match handle.link().add(message).execute().await {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EEXIST) => {
                anyhow::bail!("macvlan {name:?} appeared while it was being created")
            }
            Err(e) => anyhow::bail!("creating macvlan {name:?} on {parent:?}: {e}"),
        }
        let index = index_of(&handle, name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("macvlan {name:?} vanished after creation"))?;
        Ok(Macvlan {
            handle,
            name: name.to_string(),
            index,
            mac,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The interface's MAC.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Adds `address/32` (already present counts as success).
    pub async fn add_address(&self, address: Ipv4Addr) -> anyhow::Result<()> {
        let request = self
            .handle
            .address()
            .add(self.index, IpAddr::V4(address), 32);
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("adding {address}/32 to {}: {e}", self.name)),
        }
    }

    /// Removes `address/32` (absent counts as success).
    pub async fn remove_address(&self, address: Ipv4Addr) -> anyhow::Result<()> {
        let message = rtnetlink::AddressMessageBuilder::<Ipv4Addr>::new()
            .index(self.index)
            .address(address, 32)
            .build();
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENODEV)) => Ok(()),
            Err(e) => Err(anyhow::anyhow!(
                "removing {address}/32 from {}: {e}",
                self.name
            )),
        }
    }

    /// Leaves a macvlan shared by the clients of one MAC: the last one to leave deletes it
    /// (`Arc::into_inner` picks exactly one, even when they leave at once). Returns whether
    /// this call deleted it.
    pub async fn leave(link: Arc<Macvlan>) -> anyhow::Result<bool> {
        match Arc::into_inner(link) {
            Some(last) => last.delete().await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Deletes the link (and with it its addresses); already gone counts as success.
    pub async fn delete(&self) -> anyhow::Result<()> {
        match self.handle.link().del(self.index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("deleting macvlan {}: {e}", self.name)),
        }
    }
}
