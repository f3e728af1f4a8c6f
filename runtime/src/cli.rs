//! The `kvip` command line: `kvip manager` (kube-vip's daemon, plus `--check`) and
//! `kvip manifest pod|daemonset|rbac` (kube-vip's generator).
//!
//! `manager` hands kube-vip's flags to [`kvip_core::config`] untouched (clap does not know them),
//! together with the process environment and the host name.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use kvip_core::config::Config;
use tracing_subscriber::EnvFilter;

use crate::check;
use crate::manifest::{self, Kind, Options};

const ABOUT: &str = "Highly-available virtual IPs for Kubernetes (control plane and LoadBalancer \
Services): a drop-in replacement for kube-vip";

const LONG_ABOUT: &str = "\
Highly-available virtual IPs for Kubernetes (control plane and LoadBalancer Services): a drop-in
replacement for kube-vip.

kvip reads kube-vip's environment variables and flags: swap kube-vip's image for kvip's in an
existing manifest and keep the rest.

Precedence: environment variables override flags, which override defaults (as in kube-vip), so a
manifest's `env:` wins over its `args:`. `kvip manager --check` shows every setting, its value and
where it came from.";

const MANAGER_ABOUT: &str = "Run the VIP daemon (kube-vip's `manager`); --check only validates";

const MANAGER_LONG_ABOUT: &str = "\
Run the VIP daemon (kube-vip's `manager`).

Reads kube-vip's environment variables (vip_arp, vip_interface, address, cp_enable, ...) and
kube-vip's manager flags (--arp, --interface, --address, --controlplane, ...). Environment
variables override flags, which override defaults: with vip_interface=eth0 in the environment and
--interface eth1 on the command line, eth0 is used. Deprecated names (vip_address, vip_cidr,
--vip, --cidr) still work, with a warning.

With --check, kvip only validates: it prints every setting, its value and its source (default,
flag --x or env y) and the warnings (deprecated aliases, unknown vip_*/cp_*/svc_*/bgp_* variables,
kube-vip settings kvip ignores), touches nothing (no network, no netlink, no Kubernetes API) and
exits 0; an invalid configuration exits 1 with the reason, naming the variable or flag, on stderr.

Logging: RUST_LOG (a tracing filter) when set, else vip_loglevel: 5 or -4 and below debug, 6 trace,
7 and above errors only, anything else info.";

const MANAGER_FLAGS: &str = "\
Common flags and the environment variable that overrides each:
  --arp                          vip_arp
  --bgp                          bgp_enable
  --interface NAME               vip_interface
  --serviceInterface NAME        vip_servicesinterface
  --address ADDRESS              address (old name vip_address)
  --vipSubnet PREFIXES           vip_subnet (old name vip_cidr)
  --port PORT                    port
  --controlplane                 cp_enable
  --namespace NAMESPACE          cp_namespace
  --services                     svc_enable
  --servicesElection             svc_election
  --leaderElection               vip_leaderelection
  --leaseName NAME               vip_leasename
  --leaseDuration SECONDS        vip_leaseduration
  --leaseRenewDuration SECONDS   vip_renewdeadline
  --leaseRetry SECONDS           vip_retryperiod
  --nodeName NAME                vip_nodename (default: the host name)
  --k8sConfigPath PATH           k8s_config_file
  --inCluster                    (flag only) use the Pod's ServiceAccount
  --prometheusHTTPServer ADDR    prometheus_server
`kvip manager --check` lists every setting kvip reads.

Examples:
  vip_arp=true vip_interface=eth0 address=192.168.66.101 cp_enable=true \\
    vip_leaderelection=true kvip manager --check
  kvip manager --arp --interface eth0 --address 192.168.66.101 --controlplane --leaderElection";

const MANIFEST_ABOUT: &str = "Generate kube-vip's manifests (Pod, DaemonSet, RBAC), running kvip";

const MANIFEST_LONG_ABOUT: &str = "\
Generate the manifests kube-vip's generator produces (same object names, environment variables
and RBAC), running kvip's image. The environment is checked as `kvip manager` would load it: a
manifest kvip would refuse is never printed.";

const MANIFEST_EXAMPLES: &str = "\
Examples:
  kvip manifest rbac > rbac.yaml
  kvip manifest daemonset --interface ens3 --address 192.168.205.200 --inCluster --taint \\
    --controlplane --services --arp --leaderElection > daemonset.yaml
  kvip manifest pod --interface eth0 --address 192.168.66.101 --controlplane --services --arp \\
    --leaderElection > /etc/kubernetes/manifests/kube-vip.yaml";

/// `kvip`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "kvip",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    arg_required_else_help = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    #[command(about = MANAGER_ABOUT, long_about = MANAGER_LONG_ABOUT, after_long_help = MANAGER_FLAGS)]
    /// Run the VIP daemon.
    Manager(ManagerArgs),
    #[command(
        subcommand,
        about = MANIFEST_ABOUT,
        long_about = MANIFEST_LONG_ABOUT,
        after_long_help = MANIFEST_EXAMPLES
    )]
    /// Generate manifests.
    Manifest(ManifestCommand),
    /// Assign LoadBalancer addresses from IPAM pools (kube-vip-cloud-provider)
    CloudProvider(crate::cloud_provider::Args),
    /// Lease one address by DHCP on a macvlan, as a `0.0.0.0` Service does, until SIGTERM
    #[command(hide = true)]
    DhcpLease(crate::dhcp::cli::DhcpLeaseArgs),
}

/// `kvip manager`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ManagerArgs {
    /// Validate the environment and flags, print the effective configuration, touch nothing
    #[arg(long)]
    pub check: bool,

    /// kube-vip's manager flags (e.g. --interface eth0 --address 192.168.0.40 --arp)
    #[arg(
        value_name = "KUBE-VIP FLAGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub flags: Vec<String>,
}

/// `kvip manifest`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// The static Pod `kube-vip` (for /etc/kubernetes/manifests/ on every master)
    Pod(Options),
    /// The DaemonSet `kube-vip-ds` in kube-system (K3s, RKE2, any running cluster)
    Daemonset(Options),
    /// ServiceAccount `kube-vip`, ClusterRole `system:kube-vip-role` and its binding
    Rbac,
    /// kube-vip-cloud-provider's RBAC and Deployment, running `kvip cloud-provider`
    CloudProvider(crate::manifest::cloud_provider::CloudProviderOptions),
}

/// Runs `kvip` with the process's arguments and environment.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs `kvip` with `args` (the first being the program name).
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    match Cli::parse_from(args).command {
        Command::Manager(args) => manager(args),
        Command::Manifest(command) => manifest(command),
        Command::CloudProvider(args) => crate::cloud_provider::main(args),
        Command::DhcpLease(args) => crate::dhcp::cli::run(args),
    }
}

fn manager(args: ManagerArgs) -> ExitCode {
    // Flags after the first kube-vip flag reach us unparsed: pick ours out of them.
    let mut check = args.check;
    let mut flags = Vec::with_capacity(args.flags.len());
    for flag in args.flags {
        match flag.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                let mut command = Cli::command();
                let manager = command.find_subcommand_mut("manager").expect("manager");
                let help = if flag == "-h" {
                    manager.render_help()
                } else {
                    manager.render_long_help()
                };
                print!("{help}");
                return ExitCode::SUCCESS;
            }
            _ => flags.push(flag),
        }
    }
    let loaded = match Config::from_sources(process_env(), &flags, &hostname()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprint!("{}", check::render_error(&error));
            return ExitCode::from(1);
        }
    };
    if check {
        print!("{}", check::render(&loaded));
        return ExitCode::SUCCESS;
    }
    init_logging(loaded.config.log_level);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "kvip manager");
    match crate::manager::run(loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("kvip manager: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn manifest(command: ManifestCommand) -> ExitCode {
    let result = match &command {
        ManifestCommand::Pod(options) => manifest::render(Kind::Pod, options),
        ManifestCommand::Daemonset(options) => manifest::render(Kind::Daemonset, options),
        ManifestCommand::Rbac => manifest::render(Kind::Rbac, &Options::default()),
        ManifestCommand::CloudProvider(o) => {
            let options = Options {
                image: o.image.clone(),
                ..Options::default()
            };
            manifest::render(Kind::CloudProvider, &options)
        }
    };
    match result {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kvip manifest: {error}");
            ExitCode::from(1)
        }
    }
}

/// The process environment; variables whose name or value is not UTF-8 cannot be kvip's
/// settings and are skipped.
fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The host name (default of `vip_nodename`): /proc/sys/kernel/hostname, else `hostname`.
fn hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        if !name.trim().is_empty() {
            return name.trim().to_string();
        }
    }
    std::process::Command::new("hostname")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

/// Logs to stderr at RUST_LOG's filter when set, else at the level `vip_loglevel` names.
fn init_logging(log_level: i32) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level_for(log_level)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// kube-vip's `vip_loglevel` as a tracing level. kube-vip read it as a logrus level (5 debug,
/// 6 trace) before moving to slog (-4 debug, 0 info, 8 error); both readings are honoured where
/// they do not collide, and 0-4 (info in both worlds, roughly) logs at info.
pub fn level_for(log_level: i32) -> &'static str {
    match log_level {
        7.. => "error",
        6 => "trace",
        5 | ..=-4 => "debug",
        _ => "info",
    }
}
