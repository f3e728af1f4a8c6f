//! `kvip dhcp-lease`: leases one address the way a DHCP Service does (a macvlan with the
//! Service's MAC on `--interface`), logs `dhcp bound` / `dhcp renewed` lines with the address
//! (`dhcp6 bound` / `dhcp6 renewed` with `--ipv6`, as a `::` Service), holds it until SIGTERM or
//! SIGINT, then releases it, deletes the macvlan and exits 0. An operator's tool to check a LAN's
//! DHCP server before using `0.0.0.0` or `::` Services, and the entry point of the namespace tests
//! against dnsmasq.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use kvip_core::dhcp::{stable_mac, DhcpClientConfig};
use kvip_core::dhcp6::Dhcp6ClientConfig;
use kvip_core::wire::MacAddr;
use tokio::sync::mpsc;
use tracing_subscriber::EnvFilter;

use super::{DhcpEvent, DhcpLeaseTask};
use crate::dhcp6::{Dhcp6Event, Dhcp6LeaseTask};

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
    /// Host name to send (option 12, or the DHCPv6 Client FQDN option; as
    /// kube-vip.io/loadbalancerHostname)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Address to ask for (option 50, or the DHCPv6 IA_NA hint; as kube-vip.io/requestedIP)
    #[arg(long)]
    pub requested_ip: Option<IpAddr>,
    /// DHCPv4: first retransmission delay in milliseconds (doubles up to 64 s)
    #[arg(long, default_value_t = 4000)]
    pub retransmit_ms: u64,
    /// Lease an IPv6 address by DHCPv6 (DUID-LL of the MAC, a /128), as a `::` Service does
    #[arg(long)]
    pub ipv6: bool,
}

impl DhcpLeaseArgs {
    /// The macvlan's MAC: `--mac`, else the one every node derives from `--uid`.
    fn mac(&self) -> anyhow::Result<MacAddr> {
        match (&self.mac, &self.uid) {
            (Some(mac), _) => Ok(*mac),
            (None, Some(uid)) => Ok(stable_mac(uid)),
            (None, None) => anyhow::bail!("--mac or --uid is required"),
        }
    }

    /// The DHCPv4 client configuration these arguments describe.
    pub fn client_config(&self) -> anyhow::Result<DhcpClientConfig> {
        let requested_ip = match self.requested_ip {
            None => None,
            Some(IpAddr::V4(ip)) => Some(ip),
            Some(IpAddr::V6(ip)) => {
                anyhow::bail!("--requested-ip {ip} is an IPv6 address: add --ipv6 for DHCPv6")
            }
        };
        Ok(DhcpClientConfig {
            host_name: self.hostname.clone(),
            requested_ip,
            retransmit_initial: Duration::from_millis(self.retransmit_ms.max(1)),
            seed: crate::manager::seed(),
            ..DhcpClientConfig::new(self.mac()?)
        })
    }

    /// The DHCPv6 client configuration these arguments describe (`--ipv6`).
    pub fn client6_config(&self) -> anyhow::Result<Dhcp6ClientConfig> {
        let requested_address = match self.requested_ip {
            None => None,
            Some(IpAddr::V6(ip)) => Some(ip),
            Some(IpAddr::V4(ip)) => {
                anyhow::bail!("--requested-ip {ip} is an IPv4 address, but --ipv6 asks DHCPv6")
            }
        };
        Ok(Dhcp6ClientConfig {
            host_name: self.hostname.clone(),
            requested_address,
            seed: crate::manager::seed(),
            ..Dhcp6ClientConfig::new(self.mac()?)
        })
    }
}

/// The lease held, either family.
enum Held {
    V4(DhcpLeaseTask),
    V6(Dhcp6LeaseTask),
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
    // The tasks log bound / renewed / lost themselves; errors are worth repeating here.
    let (errors_tx, mut errors) = mpsc::unbounded_channel::<String>();
    let held = if args.ipv6 {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = Dhcp6LeaseTask::start(&args.interface, args.client6_config()?, tx).await?;
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let Dhcp6Event::Error(e) = event {
                    let _ = errors_tx.send(e);
                }
            }
        });
        Held::V6(task)
    } else {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = DhcpLeaseTask::start(&args.interface, args.client_config()?, tx).await?;
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let DhcpEvent::Error(e) = event {
                    let _ = errors_tx.send(e);
                }
            }
        });
        Held::V4(task)
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            error = errors.recv() => match error {
                Some(e) => tracing::error!("{e}"),
                None => anyhow::bail!("the DHCP task ended"),
            },
        }
    }
    let (interface, release) = match held {
        Held::V4(task) => (task.interface().to_owned(), boxed(task.release())),
        Held::V6(task) => (task.interface().to_owned(), boxed(task.release())),
    };
    tracing::info!(interface, "stopping: releasing the lease");
    match tokio::time::timeout(RELEASE_BOUND, release).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("release did not finish within {RELEASE_BOUND:?}"),
    }
}

type Release = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

fn boxed(
    release: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
) -> Release {
    Box::pin(release)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DhcpLeaseArgs,
    }

    fn parse(args: &[&str]) -> DhcpLeaseArgs {
        let argv = ["kvip", "--interface", "eth0", "--uid", "u-1"];
        Cli::try_parse_from(argv.iter().chain(args))
            .expect("parses")
            .args
    }

    #[test]
    fn the_requested_address_must_be_of_the_family_asked_for() {
        let v4 = parse(&["--requested-ip", "10.0.0.7"]);
        let config = v4.client_config().expect("v4 config");
        assert_eq!(config.requested_ip, Some("10.0.0.7".parse().expect("ip")));
        assert_eq!(config.mac, stable_mac("u-1"));
        let err = v4.client6_config().expect_err("v4 address with --ipv6");
        assert!(err.to_string().contains("IPv4 address"), "{err}");

        let v6 = parse(&["--ipv6", "--requested-ip", "fd00::7", "--hostname", "web"]);
        let config = v6.client6_config().expect("v6 config");
        assert_eq!(
            config.requested_address,
            Some("fd00::7".parse().expect("ip"))
        );
        assert_eq!(config.mac, stable_mac("u-1"));
        assert_eq!(config.host_name.as_deref(), Some("web"));
        let err = v6.client_config().expect_err("v6 address for DHCPv4");
        assert!(err.to_string().contains("add --ipv6"), "{err}");
    }
}
