//! `kvip manager`: builds the control-plane [`kvip_core::Node`] from the configuration, opens the
//! real ports (kube-rs Lease, rtnetlink addresses and monitor, pnet frames) and drives the node
//! until SIGTERM/SIGINT, then withdraws the address and releases the lease.

pub mod clock;
pub mod driver;
pub mod frames;
pub mod kube_lease;
pub mod netlink;
pub mod ports;

use std::collections::BTreeSet;
use std::net::IpAddr;

use anyhow::Context;
use futures::FutureExt;
use kvip_core::config::{Config, Loaded, VipTarget};
use kvip_core::wire::MacAddr;
use kvip_core::{Defects, Node, NodeConfig, VipAddress};
use tracing::{info, warn};

use clock::CoreClock;
use driver::{drive, Exit, Ports};

/// Runs the manager until it is stopped; blocks the calling thread (it builds its own tokio
/// runtime, so callers may `setns` first). The control-plane VIP (`cp_enable`) and the Services
/// (`svc_enable`) run as two loops on the same thread, each with its own Lease, stopped by the
/// same signal.
pub fn run(loaded: Loaded) -> anyhow::Result<()> {
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let config = loaded.config;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_manager(config))
}

async fn run_manager(config: Config) -> anyhow::Result<()> {
    let vips = if config.cp_enable {
        resolve(&config).await?
    } else {
        Vec::new()
    };
    let client = kube_client(&config, &vips).await?;
    let shutdown = shutdown_signal().boxed().shared();
    // On a stop the control plane goes first: its address removal, Lease release and the
    // takeover elsewhere are what kubectl waits on, and the Services' own release would compete
    // with them for the same API server. The Services stop right after.
    let (cp_stopped, cp_stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let control_plane = async {
        let exit = if config.cp_enable {
            run_control_plane(&config, vips.clone(), client.clone(), shutdown.clone()).await
        } else {
            Ok(Exit::Stopped)
        };
        let _ = cp_stopped.send(());
        exit
    };
    let services_shutdown = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.await;
            let _ = cp_stopped_rx.await;
        }
    };
    let services = async {
        if config.svc_enable {
            crate::services::start::run_services(&config, client.clone(), services_shutdown).await
        } else {
            Ok(Exit::Stopped)
        }
    };
    tokio::try_join!(control_plane, services)?;
    Ok(())
}

async fn run_control_plane(
    config: &Config,
    vips: Vec<VipAddress>,
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Exit> {
    let interface = match &config.interface {
        Some(i) => i.clone(),
        None => default_route_interface()
            .context("vip_interface is empty and no default route was found")?,
    };
    let (addresses, mac) = netlink::NetlinkAddresses::open(&interface).await?;
    let watched: BTreeSet<IpAddr> = vips.iter().map(|v| v.address).collect();
    let kernel = netlink::monitor(addresses.index(), move |ip| watched.contains(ip))?;
    let frames = frames::RawFrames::open(&interface)?;
    let lease =
        kube_lease::KubeLease::new(client, &config.cp_lease.namespace, &config.cp_lease.name);
    let clock = CoreClock::start();
    let node_config = NodeConfig {
        identity: config.node_name.clone(),
        timing: config.election,
        vips: vips.clone(),
        mac: MacAddr(mac),
        arp_rate: config.arp_rate,
        seed: seed(),
        wall: clock.wall_clock(),
        defects: Defects::default(),
    };
    let node = Node::new(node_config, clock.now())?;
    info!(
        identity = %config.node_name,
        interface = %interface,
        vips = ?vips.iter().map(|v| format!("{}/{}", v.address, v.prefix_len)).collect::<Vec<_>>(),
        lease = %format!("{}/{}", config.cp_lease.namespace, config.cp_lease.name),
        timing = ?config.election,
        "kvip manager starting"
    );
    let ports = Ports {
        lease,
        addresses,
        frames,
        kernel,
    };
    Ok(drive(node, clock, ports, shutdown).await)
}

/// Resolves on SIGTERM or SIGINT (never, if the handlers cannot be installed).
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return futures::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM"),
        _ = int.recv() => info!("SIGINT"),
    }
}

/// The VIPs with their prefix lengths; DNS names are resolved once at start.
async fn resolve(config: &Config) -> anyhow::Result<Vec<VipAddress>> {
    let mut out = Vec::new();
    for target in &config.addresses {
        let ip = match target {
            VipTarget::Ip(ip) => *ip,
            VipTarget::Dns(name) => tokio::net::lookup_host((name.as_str(), 0))
                .await
                .with_context(|| format!("resolving address {name:?}"))?
                .next()
                .with_context(|| format!("address {name:?} resolved to nothing"))?
                .ip(),
        };
        let prefix_len = if ip.is_ipv4() {
            config.prefix_v4
        } else {
            config.prefix_v6
        };
        out.push(VipAddress {
            address: ip,
            prefix_len,
        });
    }
    Ok(out)
}

/// The API client, found the way kube-vip finds it: `k8s_config_file` if it exists, else
/// `~/.kube/config`, else the in-cluster ServiceAccount. A kubeconfig whose server is the VIP
/// itself is pointed at the local API server instead (`127.0.0.1:port`, verified as
/// `kubernetes`), as kube-vip does with its `kubernetes` host alias: the node must not need the
/// VIP to win the VIP.
async fn kube_client(config: &Config, vips: &[VipAddress]) -> anyhow::Result<kube::Client> {
    let home = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".kube/config"));
    let file = [
        Some(std::path::PathBuf::from(&config.k8s_config_file)),
        home,
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_file());
    let kube_config = match file {
        Some(path) => {
            let mut kubeconfig = kube::config::Kubeconfig::read_from(&path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            for named in &mut kubeconfig.clusters {
                if let Some(cluster) = named.cluster.as_mut() {
                    redirect_vip_server(cluster, vips, config.port);
                }
            }
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        None => kube::Config::incluster().with_context(|| {
            format!(
                "no kubeconfig at {:?} or ~/.kube/config, and not in a cluster",
                config.k8s_config_file
            )
        })?,
    };
    Ok(kube::Client::try_from(kube_config)?)
}

/// Points a cluster entry whose server is one of the VIPs at the local API server.
fn redirect_vip_server(cluster: &mut kube::config::Cluster, vips: &[VipAddress], port: u16) {
    let Some(server) = cluster.server.as_deref() else {
        return;
    };
    let Ok(uri) = server.parse::<http::Uri>() else {
        return;
    };
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let Ok(ip) = host.parse::<IpAddr>() else {
        return;
    };
    if vips.iter().any(|v| v.address == ip) {
        info!(%server, "kubeconfig points at the VIP; using the local API server instead");
        cluster.server = Some(format!("https://127.0.0.1:{port}"));
        cluster
            .tls_server_name
            .get_or_insert_with(|| "kubernetes".to_string());
    }
}

/// The interface of the IPv4 default route, from /proc/net/route.
pub(crate) fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let (iface, dest) = (fields.next()?, fields.next()?);
        (dest == "00000000").then(|| iface.to_string())
    })
}

/// A seed that differs between runs and processes (clock and PID), for retry jitter and
/// transaction ids.
pub(crate) fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}
