//! `kvip cloud-provider`: kube-vip-cloud-provider's IPAM, leader-elected on Lease
//! `kube-system/kube-vip-cloud-controller`. It watches every Service and ConfigMap
//! `kube-system/kubevip`, and the leader writes an address from the pools on each LoadBalancer
//! Service that has none (annotation `kube-vip.io/loadbalancerIPs`, `spec.loadBalancerIP`, label
//! `implementation: kube-vip`; never status) and reports what it cannot do as Events. The
//! decisions are [`kvip_core::ipam`]'s; this module carries them out.
//!
//! | module | owns |
//! |---|---|
//! | [`args`] | flags, environment and their resolution |
//! | [`kube_io`] | API client, watches, the address write, Events |
//! | [`driver`] | the loop that owns the [`kvip_core::ipam::CloudProvider`] |

pub mod args;
pub mod driver;
pub mod kube_io;

use std::process::ExitCode;

use kvip_core::ipam::{CloudProvider, CloudProviderConfig};
use tracing::info;
use tracing_subscriber::EnvFilter;

use crate::manager::clock::CoreClock;
use crate::manager::kube_lease::KubeLease;
use crate::manager::{seed, shutdown_signal};

pub use args::{Args, Settings};

/// Runs `kvip cloud-provider` until SIGTERM/SIGINT; logs at RUST_LOG's filter, else info.
pub fn main(args: Args) -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let settings = match args.resolve(|name| std::env::var(name).ok(), hostname.trim()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kvip cloud-provider: {e}");
            return ExitCode::from(1);
        }
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("kvip cloud-provider: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the cloud provider with `settings`; blocks (it builds its own tokio runtime).
pub fn run(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = kube_io::client(settings.kubeconfig.as_deref()).await?;
        let clock = CoreClock::start();
        let (lease_ns, lease_name) = &settings.lease;
        let ipam = &settings.ipam;
        info!(
            version = env!("CARGO_PKG_VERSION"),
            identity = %settings.identity,
            lease = %format!("{lease_ns}/{lease_name}"),
            config_map = %format!("{}/{}", ipam.config_map_namespace, ipam.config_map_name),
            class = %ipam.classes.class,
            class_only = ipam.classes.class_only,
            timing = ?settings.timing,
            "kvip cloud-provider starting"
        );
        let io = driver::Io {
            lease: KubeLease::new(client.clone(), lease_ns, lease_name),
            services: kube_io::watch_services(client.clone()),
            config_map: kube_io::watch_config_map(
                client.clone(),
                &ipam.config_map_namespace,
                &ipam.config_map_name,
            ),
            classes: ipam.classes.clone(),
            identity: settings.identity.clone(),
            client,
        };
        let config = CloudProviderConfig {
            identity: settings.identity.clone(),
            timing: settings.timing,
            seed: seed(),
            wall: clock.wall_clock(),
            ipam: settings.ipam.clone(),
        };
        let provider = CloudProvider::new(config, clock.now())?;
        driver::drive(provider, clock, io, shutdown_signal()).await;
        Ok(())
    })
}
