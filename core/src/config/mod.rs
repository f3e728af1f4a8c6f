//! Typed configuration built from kube-vip's environment variables and `kvip manager` flags.
//!
//! A user swaps kube-vip's image for kvip's and keeps the manifest: every variable listed in
//! `COMPAT.md` keeps its meaning, or is refused with a [`ConfigError`] that names the variable
//! (or flag) and the form it accepts. Precedence is kube-vip's: environment variables override
//! flags, which override defaults. [`Config::from_sources`] also reports where every setting came
//! from ([`Setting`], for `kvip manager --check`) and [`Warning`]s for deprecated aliases, likely
//! typos and kube-vip settings kvip does not implement.
//!
//! Where kvip differs from kube-vip on purpose:
//! - exactly one mode (ARP, BGP, routing table, WireGuard) must be chosen; kube-vip lets the
//!   last one silently win;
//! - booleans accept `true`/`false`/`1`/`0`/`yes`/`no` in any case and nothing else;
//! - `vip_renewdeadline` / `vip_retryperiod` also take sub-second values (`0.6`, `600ms`), and the
//!   three election durations are checked against client-go's rule before anything starts;
//! - an empty environment variable counts as unset (as in kube-vip), except `prometheus_server`
//!   (empty disables metrics) and `lb_class_name`.

mod bgp;
mod build;
mod builder;
mod duration;
mod error;
mod names;
mod parse;
mod sources;
mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_values;

use std::fmt;
use std::time::Duration;

use crate::election::timing::ElectionTiming;

pub use bgp::{BgpConfig, BgpPeer};
pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, Warning};
pub use types::{DhcpMode, DnsMode, ForwardMethod, LeaseRef, Mode, VipTarget};

/// Everything kvip reads from kube-vip's environment variables and `kvip manager` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The one mode in use (`vip_arp` / `bgp_enable` / `vip_routingtable` / `vip_wireguard`).
    pub mode: Mode,
    /// `vip_interface`; `None` means the default-route interface.
    pub interface: Option<String>,
    /// `vip_servicesinterface`; when unset, the same as `interface`.
    pub services_interface: Option<String>,
    /// `address` (old name `vip_address`): control-plane VIPs, in the order given.
    pub addresses: Vec<VipTarget>,
    /// `port`: API server port (health checks, load balancing).
    pub port: u16,
    /// Prefix length of IPv4 VIPs (`vip_subnet`, alias `vip_cidr`), default 32.
    pub prefix_v4: u8,
    /// Prefix length of IPv6 VIPs (`vip_subnet`), default 128.
    pub prefix_v6: u8,
    /// `cp_enable`: serve the control-plane VIP.
    pub cp_enable: bool,
    /// `cp_namespace`: namespace of the leases (default `kube-system`).
    pub cp_namespace: String,
    /// `svc_enable`: serve LoadBalancer Services.
    pub svc_enable: bool,
    /// `svc_election`: one election per Service instead of one global one.
    pub svc_election: bool,
    /// `svc_leasename`: the global services lease (default `plndr-svcs-lock` in `cp_namespace`).
    pub svc_lease: LeaseRef,
    /// `vip_leaderelection`: use Lease election.
    pub leader_election: bool,
    /// `vip_leasename` (`name` or `ns/name`): the control-plane lease.
    pub cp_lease: LeaseRef,
    /// `vip_leaseduration` / `vip_renewdeadline` / `vip_retryperiod`, validated.
    pub election: ElectionTiming,
    /// `vip_arpRate`: period of the gratuitous ARP refresh (default 3 s, at least 500 ms).
    pub arp_rate: Duration,
    /// `vip_nodename`: lease holder identity (default: the hostname).
    pub node_name: String,
    /// `vip_ddns`: DHCP + dynamic DNS for the control-plane address.
    pub ddns: bool,
    /// `vip_preserve_on_leadership_loss`: keep the IPv4 VIP after losing the lease.
    pub preserve_on_leadership_loss: bool,
    /// `vip_loseleadership`: give up leadership when the link stays down.
    pub lose_leadership: bool,
    /// `vip_loseleadership_timeout_seconds`: how long the link may stay down (default 30 s).
    pub lose_leadership_timeout: Duration,
    /// `lb_class_only`: only Services whose class is `lb_class_name`.
    pub lb_class_only: bool,
    /// `lb_class_name` (default `kube-vip.io/kube-vip-class`).
    pub lb_class_name: String,
    /// `lb_class_legacy_handling`: also Services without a class (default true).
    pub lb_class_legacy_handling: bool,
    /// `lb_enable`: load-balance the control plane across masters.
    pub lb_enable: bool,
    /// `lb_port` (default 6443).
    pub lb_port: u16,
    /// `lb_fwdmethod` (default `local`).
    pub lb_fwdmethod: ForwardMethod,
    /// The `bgp_*` settings.
    pub bgp: BgpConfig,
    /// `prometheus_server` (default `:2112`); `None` when set empty (metrics disabled).
    pub prometheus_server: Option<String>,
    /// `k8s_config_file`: kubeconfig when not in-cluster (default `/etc/kubernetes/admin.conf`).
    pub k8s_config_file: String,
    /// `--inCluster`: use the Pod's ServiceAccount instead of `k8s_config_file`.
    pub in_cluster: bool,
    /// `enable_node_labeling`: label the leader node `kube-vip.io/has-ip=<VIP>`.
    pub enable_node_labeling: bool,
    /// `enable_upnp` (also `enableUPNP`): UPnP IGD port mappings.
    pub enable_upnp: bool,
    /// `dns_mode` (default `first`).
    pub dns_mode: DnsMode,
    /// `dhcp_mode` (default `ipv4`).
    pub dhcp_mode: DhcpMode,
    /// `dhcp_backoff_attempts` (default 3).
    pub dhcp_backoff_attempts: u32,
    /// `disable_service_updates`: do not write Service status.
    pub disable_service_updates: bool,
    /// `enable_endpoints`: read Endpoints instead of EndpointSlices.
    pub enable_endpoints: bool,
    /// `vip_loglevel` (default 0).
    pub log_level: i32,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// kvip's (kube-vip's) default.
    Default,
    /// A `kvip manager` flag, as written (e.g. `--leaseDuration`).
    Flag(String),
    /// An environment variable, by the name used (e.g. `vip_cidr` for `vip_subnet`).
    Env(String),
}

/// One setting's effective value and its provenance, for `kvip manager --check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Canonical environment-variable name (flag-only settings: `in_cluster`).
    pub name: &'static str,
    /// Effective value as a string (passwords are shown as `<redacted>`).
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// The result of loading: the configuration, every setting's provenance, and warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// Every known setting, in a fixed order, with its effective value and source.
    pub settings: Vec<Setting>,
    /// Things worth telling the operator that do not stop kvip.
    pub warnings: Vec<Warning>,
}

impl Config {
    /// Builds the configuration from the process environment, the arguments after
    /// `kvip manager`, and the host name (default for `vip_nodename`).
    ///
    /// Environment variables override flags, which override defaults.
    pub fn from_sources(
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[String],
        hostname: &str,
    ) -> Result<Loaded, ConfigError> {
        let mut warnings = Vec::new();
        let resolved = sources::resolve(env, flags, &mut warnings)?;
        build::build(&resolved, hostname, warnings)
    }

    /// The interface for Service VIPs: `services_interface`, else `interface`.
    pub fn effective_services_interface(&self) -> Option<&str> {
        self.services_interface
            .as_deref()
            .or(self.interface.as_deref())
    }
}

impl Loaded {
    /// The setting called `name` (canonical name), if known.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(name) => write!(f, "env {name}"),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?} ({})", self.name, self.value, self.source)
    }
}
