//! `kvip dhcp-lease`: leases one address the way a DHCP Service does (a macvlan with the
//! Service's MAC on `--interface`), logs `dhcp bound` / `dhcp renewed` lines with the address,
//! holds it until SIGTERM or SIGINT, then releases it, deletes the macvlan and exits 0. An
//! operator's tool to check a LAN's DHCP server before using `0.0.0.0` Services, and the entry
//! point of the namespace test against dnsmasq.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use kvip_core::dhcp::{stable_mac, DhcpClientConfig};
use kvip_core::wire::MacAddr;
use tokio::sync::mpsc;
use tracing_subscriber::EnvFilter;

use super::{DhcpEvent, DhcpLeaseTask};

/// How long the release may take before the command gives up on it.
const RELEASE_BOUND: Duration = Duration::from_secs(5);

/// `kvip dhcp-lease`'s arguments.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("identity").required(true).args(["mac", "uid"]))]
pub struct DhcpLeaseArgs {
    /// Parent interface the macvlan is created on (e.g. eth0)
    #[arg(long)]
    pub interface: String,
    /// MAC of the macvlan (as kube-vip.io/hwaddr)
    #[arg(long)]
    pub mac: Option<MacAddr>,
    /// Service UID to derive the MAC from, as every node does for that Service
    #[arg(long)]
    pub uid: Option<String>,
    /// Host name to send (option 12, as kube-vip.io/loadbalancerHostname)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Address to ask for (option 50, as kube-vip.io/requestedIP)
    #[arg(long)]
    pub requested_ip: Option<Ipv4Addr>,
    /// First retransmission delay in milliseconds (doubles up to 64 s)
    #[arg(long, default_value_t = 4000)]
    pub retransmit_ms: u64,
}

impl DhcpLeaseArgs {
    /// The client configuration these arguments describe.
    pub fn client_config(&self) -> anyhow::Result<DhcpClientConfig> {
        let mac = match (&self.mac, &self.uid) {
            (Some(mac), _) => *mac,
            (None, Some(uid)) => stable_mac(uid),
            (None, None) => anyhow::bail!("--mac or --uid is required"),
        };
        Ok(DhcpClientConfig {
            host_name: self.hostname.clone(),
            requested_ip: self.requested_ip,
            retransmit_initial: Duration::from_millis(self.retransmit_ms.max(1)),
            seed: crate::manager::seed(),
            ..DhcpClientConfig::new(mac)
        })
    }
}

/// Runs `kvip dhcp-lease`.
pub fn run(args: DhcpLeaseArgs) -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kvip dhcp-lease: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(hold(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("kvip dhcp-lease: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn hold(args: DhcpLeaseArgs) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let task = DhcpLeaseTask::start(&args.interface, args.client_config()?, events_tx).await?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            event = events.recv() => match event {
                // The task logs bound / renewed / lost itself; errors are worth repeating here.
                Some(DhcpEvent::Error(e)) => tracing::error!("{e}"),
                Some(_) => {}
                None => anyhow::bail!("the DHCP task ended"),
            },
        }
    }
    tracing::info!(
        interface = task.interface(),
        "stopping: releasing the lease"
    );
    match tokio::time::timeout(RELEASE_BOUND, task.release()).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("release did not finish within {RELEASE_BOUND:?}"),
    }
}
