//! The container's environment, in kube-vip's generator order and with its names, and the check
//! that `kvip manager` would accept it.

use std::net::IpAddr;

use kvip_core::config::{Config, ConfigError, Loaded};

use super::Options;

/// One environment variable of the generated container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// A literal value.
    Literal(String),
    /// The node's name, from the downward API (`spec.nodeName`).
    NodeName,
}

/// Name and value of one generated variable.
pub type EnvVar = (&'static str, EnvValue);

/// The node name used when checking the environment: the real one comes from the downward API.
pub const CHECK_NODE_NAME: &str = "node-from-downward-api";

/// The environment kube-vip's generator writes for these options, in its order:
/// mode and port, node name, interface, subnet, DNS mode, control plane, Services, election,
/// BGP, address, metrics. Empty values are left out (kvip, like kube-vip, treats them as unset).
pub fn environment(o: &Options) -> Vec<EnvVar> {
    let mut env = Env(Vec::new());
    env.set("vip_arp", bool_str(o.arp));
    env.set("port", &o.port.to_string());
    env.0.push(("vip_nodename", EnvValue::NodeName));
    env.set("vip_interface", o.interface.as_deref().unwrap_or(""));
    let subnet = o
        .vip_subnet
        .clone()
        .or_else(|| subnet_for(o.address.as_deref()));
    env.set("vip_subnet", subnet.as_deref().unwrap_or(""));
    env.set("dns_mode", "first");
    if o.controlplane {
        env.set("cp_enable", "true");
    }
    if o.controlplane || o.namespace != "kube-system" {
        env.set("cp_namespace", &o.namespace);
    }
    if o.services {
        env.set("svc_enable", "true");
        env.set("svc_leasename", "plndr-svcs-lock");
    }
    if o.leader_election {
        env.set("vip_leaderelection", "true");
        env.set("vip_leasename", "plndr-cp-lock");
        env.set("vip_leaseduration", &o.lease_duration);
        env.set("vip_renewdeadline", &o.lease_renew_duration);
        env.set("vip_retryperiod", &o.lease_retry);
    }
    if o.bgp {
        env.set("bgp_enable", "true");
        env.set("bgp_routerid", o.bgp_router_id.as_deref().unwrap_or(""));
        env.set("bgp_as", &o.local_as.to_string());
        env.set("bgp_peeraddress", o.peer_address.as_deref().unwrap_or(""));
        env.set("bgp_peerpass", o.peer_pass.as_deref().unwrap_or(""));
        env.set("bgp_peeras", &o.peer_as.to_string());
        env.set("bgp_peers", o.bgp_peers.as_deref().unwrap_or(""));
    }
    env.set("address", o.address.as_deref().unwrap_or(""));
    env.set("prometheus_server", ":2112");
    env.0
}

/// The variables written so far.
struct Env(Vec<EnvVar>);

impl Env {
    /// Appends `name=value`, unless `value` is empty.
    fn set(&mut self, name: &'static str, value: &str) {
        if !value.is_empty() {
            self.0.push((name, EnvValue::Literal(value.to_string())));
        }
    }
}

/// kube-vip's default `vip_subnet`: 32 per IPv4 and 128 per IPv6 address, positionally; none
/// when an entry is a DNS name (kvip then uses its per-family defaults).
fn subnet_for(address: Option<&str>) -> Option<String> {
    let address = address?.trim();
    if address.is_empty() {
        return None;
    }
    let prefixes = address
        .split(',')
        .map(|a| match a.trim().parse::<IpAddr>().ok()? {
            IpAddr::V4(_) => Some("32"),
            IpAddr::V6(_) => Some("128"),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(prefixes.join(","))
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The generator flag that writes the variable `name`, if any.
pub fn flag_for(name: &str) -> Option<&'static str> {
    Some(match name {
        "vip_interface" => "--interface",
        "address" => "--address",
        "port" => "--port",
        "vip_subnet" => "--vipSubnet",
        "cp_namespace" => "--namespace",
        "vip_leaseduration" => "--leaseDuration",
        "vip_renewdeadline" => "--leaseRenewDuration",
        "vip_retryperiod" => "--leaseRetry",
        "bgp_routerid" => "--bgpRouterID",
        "bgp_peeraddress" => "--peerAddress",
        "bgp_peerpass" => "--peerPass",
        "bgp_peers" => "--bgppeers",
        _ => return None,
    })
}

/// Loads `env` as `kvip manager` would inside the Pod, the downward-API node name replaced by
/// [`CHECK_NODE_NAME`]: a manifest kvip would refuse is never printed.
pub fn check(env: &[EnvVar]) -> Result<Loaded, ConfigError> {
    let vars = env.iter().map(|(name, value)| {
        let value = match value {
            EnvValue::Literal(v) => v.clone(),
            EnvValue::NodeName => CHECK_NODE_NAME.to_string(),
        };
        ((*name).to_string(), value)
    });
    Config::from_sources(vars, &[], CHECK_NODE_NAME)
}
