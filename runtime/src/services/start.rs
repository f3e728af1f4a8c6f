//! Starts the Services half of `kvip manager`: resolves the Services interface
//! (`vip_servicesinterface`, else `vip_interface`, else the default route's), opens its address,
//! monitor and frame ports, picks the endpoint source, builds the
//! [`ServicesNode`](kvip_core::service::ServicesNode) and drives it until shutdown.

use std::future::Future;

use anyhow::Context;
use kvip_core::config::Config;
use kvip_core::service::{ElectionMode, ServicesConfig, ServicesNode};
use kvip_core::wire::MacAddr;
use tracing::info;

use super::dhcp_clients::ServiceDhcp;
use super::driver::{drive_services, ServicesPorts};
use super::events::ServiceEvents;
use super::links::{link_changes, other_ethernet_links, LinkPorts};
use super::watch::endpoint_source;
use crate::manager::clock::CoreClock;
use crate::manager::driver::Exit;
use crate::manager::{default_route_interface, frames, netlink, seed};

/// Runs the Services node until `shutdown` resolves and it has stopped.
pub async fn run_services(
    config: &Config,
    client: kube::Client,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Exit> {
    let interface = match config.effective_services_interface() {
        Some(i) => i.to_string(),
        None => default_route_interface().context(
            "vip_servicesinterface and vip_interface are empty and no default route was found",
        )?,
    };
    let (addresses, mac) = netlink::NetlinkAddresses::open(&interface).await?;
    let kernel = netlink::monitor(addresses.index(), |_| true)?;
    let frames = frames::RawFrames::open(&interface)?;
    let link_changes = link_changes()?;
    let endpoints = endpoint_source(&client, config.enable_endpoints).await;
    let (dhcp, dhcp_events) = ServiceDhcp::new(&interface);
    let clock = CoreClock::start();
    let mut services_config =
        ServicesConfig::from_config(config, MacAddr(mac), seed(), clock.wall_clock());
    services_config.interface = interface.clone();
    let others = other_ethernet_links(&interface);
    services_config.links = others
        .iter()
        .map(|(name, &mac)| (name.clone(), MacAddr(mac)))
        .collect();
    let mode = match &services_config.mode {
        ElectionMode::Global { lease } => {
            format!("global lease {}/{}", lease.namespace, lease.name)
        }
        ElectionMode::PerService { namespace } => {
            format!("per-service, membership leases in {namespace}")
        }
    };
    let node = ServicesNode::new(services_config, clock.now())?;
    info!(
        identity = %config.node_name,
        interface = %interface,
        other_interfaces = ?others.keys().collect::<Vec<_>>(),
        election = %mode,
        endpoints = ?endpoints,
        "kvip services starting"
    );
    let ports = ServicesPorts {
        events: ServiceEvents::new(client.clone(), "kube-vip", &config.node_name),
        client,
        endpoints,
        links: LinkPorts::new(&interface, others, (addresses, frames), kernel),
        link_changes,
        dhcp,
        dhcp_events,
    };
    Ok(drive_services(node, clock, ports, shutdown).await)
}
