//! Why a configuration was refused ([`ConfigError`]) and what is worth telling the operator
//! about one that was accepted ([`Warning`]).

use std::fmt;

use thiserror::Error;

use crate::election::timing::TimingError;

/// Why kvip refused its configuration. Every message names the variable or flag at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A variable or flag has a value kvip cannot accept; names it and the accepted form.
    #[error("{name}={value:?}: expected {expected}")]
    Invalid {
        /// The variable or flag as written (`vip_retryperiod`, `--leaseRetry`).
        name: String,
        /// The value given (passwords redacted).
        value: String,
        /// The accepted form.
        expected: String,
    },
    /// The election durations break client-go's rule `lease > renew > 1.2 × retry`.
    #[error("{source} (from {origin})")]
    Timing {
        /// What the rule refused.
        source: TimingError,
        /// The three settings and where each came from.
        origin: String,
    },
    /// No mode chosen although the control plane or Services are enabled.
    #[error(
        "no mode chosen: set exactly one of vip_arp, bgp_enable, vip_routingtable or \
         vip_wireguard to true (flags --arp, --bgp, --table, --wireguard)"
    )]
    NoMode,
    /// More than one mode chosen.
    #[error(
        "more than one mode chosen ({}): set exactly one of vip_arp, bgp_enable, \
         vip_routingtable or vip_wireguard to true", .chosen.join(" and ")
    )]
    ConflictingModes {
        /// The variables or flags that chose a mode, as written.
        chosen: Vec<String>,
    },
    /// Neither the control plane nor Services are enabled, so kvip would do nothing.
    #[error(
        "nothing to do: set cp_enable=true (--controlplane) and/or svc_enable=true (--services)"
    )]
    NothingEnabled,
    /// `cp_enable` without an `address`.
    #[error(
        "cp_enable is true but address is empty: set address (or --address) to the \
         control-plane VIP, e.g. address=192.168.0.40 (comma list or DNS name allowed)"
    )]
    MissingAddress,
    /// BGP mode without a single peer.
    #[error(
        "bgp_enable is true but no peer is configured: set bgp_peers \
         (address:AS[:password[:multihop[:port]]], comma list) or bgp_peeraddress"
    )]
    NoBgpPeers,
    /// No node name: `vip_nodename` unset and the host name is empty.
    #[error("vip_nodename is empty and the host name is unknown: set vip_nodename (manifests use the downward API, spec.nodeName)")]
    NoNodeName,
    /// A flag that neither kvip nor kube-vip's `manager` knows.
    #[error("unknown flag {flag}: `kvip manager` takes kube-vip's manager flags (e.g. --interface, --address, --arp)")]
    UnknownFlag {
        /// The flag as written.
        flag: String,
    },
    /// A flag that takes a value was given none.
    #[error("{flag} needs a value: {flag} VALUE or {flag}=VALUE")]
    MissingFlagValue {
        /// The flag as written.
        flag: String,
    },
    /// A positional argument where only flags are accepted.
    #[error("unexpected argument {arg:?}: `kvip manager` takes only flags (most manifests use environment variables)")]
    UnexpectedArgument {
        /// The argument.
        arg: String,
    },
}

/// Something worth telling the operator about a configuration that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A deprecated alias was used (`vip_cidr`, `vip_address`, `enableUPNP`, `--vip`, `--cidr`).
    DeprecatedAlias {
        /// The alias as written.
        used: String,
        /// What to write instead.
        replacement: &'static str,
        /// The replacement was also set, so the alias had no effect.
        shadowed: bool,
    },
    /// An environment variable that looks like a setting but is none: probably a typo.
    UnknownVariable {
        /// The variable's name.
        name: String,
        /// The known name it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A kube-vip variable or flag that kvip recognises but does not implement.
    Ignored {
        /// The variable or flag as written.
        name: String,
    },
    /// ARP mode without leader election: every node would claim the addresses.
    NoLeaderElection,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::DeprecatedAlias {
                used,
                replacement,
                shadowed: false,
            } => {
                write!(f, "{used} is deprecated: use {replacement}")
            }
            Warning::DeprecatedAlias {
                used,
                replacement,
                shadowed: true,
            } => {
                write!(
                    f,
                    "{used} is deprecated and ignored because {replacement} is also set"
                )
            }
            Warning::UnknownVariable {
                name,
                suggestion: Some(s),
            } => {
                write!(
                    f,
                    "{name} is not a kvip or kube-vip setting and is ignored: did you mean {s}?"
                )
            }
            Warning::UnknownVariable {
                name,
                suggestion: None,
            } => {
                write!(f, "{name} is not a kvip or kube-vip setting and is ignored")
            }
            Warning::Ignored { name } => {
                write!(
                    f,
                    "{name} is a kube-vip setting that kvip does not implement: it has no effect"
                )
            }
            Warning::NoLeaderElection => f.write_str(
                "vip_leaderelection is false in ARP mode: every node will claim the addresses \
                 (set vip_leaderelection=true)",
            ),
        }
    }
}
