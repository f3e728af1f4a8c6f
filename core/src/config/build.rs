//! Turning the resolved raw values into a typed [`Config`] (each setting read and recorded by
//! [`Builder`]), then the checks that span several settings: mode, address, BGP peers.

use std::time::Duration;

use super::builder::{show_opt, timing, Builder};
use super::parse::{self, Parsed};
use super::sources::Resolved;
use super::Warning;
use super::{bgp, Config, ConfigError, DhcpMode, DnsMode, ForwardMethod, LeaseRef, Loaded, Mode};

/// Reads every setting, then checks the combinations.
pub(crate) fn build(
    raw: &Resolved,
    hostname: &str,
    mut warnings: Vec<Warning>,
) -> Result<Loaded, ConfigError> {
    let b = &mut Builder {
        raw,
        settings: Vec::new(),
    };
    let string = |t: &str| -> Parsed<String> { Ok(t.trim().to_string()) };
    let modes = [
        (b.flag("vip_arp", false)?, Mode::Arp, "vip_arp"),
        (b.flag("bgp_enable", false)?, Mode::Bgp, "bgp_enable"),
        (
            b.flag("vip_routingtable", false)?,
            Mode::Table,
            "vip_routingtable",
        ),
        (
            b.flag("vip_wireguard", false)?,
            Mode::Wireguard,
            "vip_wireguard",
        ),
    ];
    let interface = b.interface("vip_interface")?;
    let services_interface = b.interface("vip_servicesinterface")?;
    let addresses = b.take("address", Vec::new(), parse::addresses, |a| {
        a.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    })?;
    let port = b.take("port", 6443, parse::port, u16::to_string)?;
    let (prefix_v4, prefix_v6) = b.take(
        "vip_subnet",
        (32, 128),
        |t| parse::prefix_list(t).and_then(|v| parse::resolve_prefixes(&v, &addresses)),
        |(v4, v6)| format!("{v4},{v6}"),
    )?;
    let cp_enable = b.flag("cp_enable", false)?;
    let cp_namespace = b.take(
        "cp_namespace",
        "kube-system".into(),
        parse::namespace,
        Clone::clone,
    )?;
    let svc_enable = b.flag("svc_enable", false)?;
    let svc_election = b.flag("svc_election", false)?;
    let lease = |name: &str| LeaseRef {
        namespace: cp_namespace.clone(),
        name: name.into(),
    };
    let svc_lease = b.take(
        "svc_leasename",
        lease("plndr-svcs-lock"),
        |t| parse::lease(t, &cp_namespace),
        ToString::to_string,
    )?;
    let leader_election = b.flag("vip_leaderelection", false)?;
    let cp_lease = b.take(
        "vip_leasename",
        lease("plndr-cp-lock"),
        |t| parse::lease(t, &cp_namespace),
        ToString::to_string,
    )?;
    let election = timing(b)?;
    let arp_form = "milliseconds, at least 500 (e.g. 3000)";
    let arp_rate = b.take(
        "vip_arpRate",
        Duration::from_millis(3000),
        |t| parse::number(t, 500, 3_600_000, arp_form).map(Duration::from_millis),
        |d| d.as_millis().to_string(),
    )?;
    let node_name = b.take(
        "vip_nodename",
        hostname.trim().to_string(),
        parse::non_empty,
        Clone::clone,
    )?;
    let ddns = b.flag("vip_ddns", false)?;
    let preserve_on_leadership_loss = b.flag("vip_preserve_on_leadership_loss", false)?;
    let lose_leadership = b.flag("vip_loseleadership", false)?;
    let lose_leadership_timeout = b.take(
        "vip_loseleadership_timeout_seconds",
        Duration::from_secs(30),
        |t| parse::number(t, 1, 86_400, "whole seconds 1-86400 (e.g. 30)").map(Duration::from_secs),
        |d| d.as_secs().to_string(),
    )?;
    let lb_class_only = b.flag("lb_class_only", false)?;
    let lb_class_name = b.take(
        "lb_class_name",
        "kube-vip.io/kube-vip-class".into(),
        string,
        Clone::clone,
    )?;
    let lb_class_legacy_handling = b.flag("lb_class_legacy_handling", true)?;
    let lb_enable = b.flag("lb_enable", false)?;
    let lb_port = b.take("lb_port", 6443, parse::port, u16::to_string)?;
    let lb_fwdmethod = b.take(
        "lb_fwdmethod",
        ForwardMethod::Local,
        parse::forward_method,
        ToString::to_string,
    )?;
    let bgp = bgp::build(b)?;
    let prometheus_server = b.take(
        "prometheus_server",
        Some(":2112".into()),
        parse::prometheus,
        show_opt,
    )?;
    let kubeconfig = "/etc/kubernetes/admin.conf".to_string();
    let k8s_config_file = b.take(
        "k8s_config_file",
        kubeconfig,
        parse::non_empty,
        Clone::clone,
    )?;
    let in_cluster = b.flag("in_cluster", false)?;
    let enable_node_labeling = b.flag("enable_node_labeling", false)?;
    let enable_upnp = b.flag("enable_upnp", false)?;
    let dns_mode = b.take(
        "dns_mode",
        DnsMode::First,
        parse::dns_mode,
        ToString::to_string,
    )?;
    let dhcp_mode = b.take(
        "dhcp_mode",
        DhcpMode::Ipv4,
        parse::dhcp_mode,
        ToString::to_string,
    )?;
    let attempts = |t: &str| parse::number(t, 0, u32::MAX.into(), "a whole number (e.g. 3)");
    let dhcp_backoff_attempts = b.take(
        "dhcp_backoff_attempts",
        3,
        |t| attempts(t).map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        u32::to_string,
    )?;
    let disable_service_updates = b.flag("disable_service_updates", false)?;
    let enable_endpoints = b.flag("enable_endpoints", false)?;
    let log_level = b.take("vip_loglevel", 0, parse::log_level, i32::to_string)?;

    if node_name.is_empty() {
        return Err(ConfigError::NoNodeName);
    }
    if !cp_enable && !svc_enable {
        return Err(ConfigError::NothingEnabled);
    }
    let chosen: Vec<_> = modes.iter().filter(|m| m.0).collect();
    let mode = match chosen.as_slice() {
        [] => return Err(ConfigError::NoMode),
        [(_, mode, _)] => *mode,
        _ => {
            let chosen = chosen.iter().map(|m| b.written(m.2)).collect();
            return Err(ConfigError::ConflictingModes { chosen });
        }
    };
    if cp_enable && addresses.is_empty() {
        return Err(ConfigError::MissingAddress);
    }
    if ddns && addresses.iter().any(|a| a.ip().is_some()) {
        return Err(b.refuse(
            "address",
            "a DNS name when vip_ddns is true (DHCP picks the address)",
        ));
    }
    if mode == Mode::Bgp && bgp.peers.is_empty() {
        return Err(ConfigError::NoBgpPeers);
    }
    let global_arp = cp_enable || (svc_enable && !svc_election);
    if mode == Mode::Arp && !leader_election && global_arp {
        warnings.push(Warning::NoLeaderElection);
    }

    let config = Config {
        mode,
        interface,
        services_interface,
        addresses,
        port,
        prefix_v4,
        prefix_v6,
        cp_enable,
        cp_namespace,
        svc_enable,
        svc_election,
        svc_lease,
        leader_election,
        cp_lease,
        election,
        arp_rate,
        node_name,
        ddns,
        preserve_on_leadership_loss,
        lose_leadership,
        lose_leadership_timeout,
        lb_class_only,
        lb_class_name,
        lb_class_legacy_handling,
        lb_enable,
        lb_port,
        lb_fwdmethod,
        bgp,
        prometheus_server,
        k8s_config_file,
        in_cluster,
        enable_node_labeling,
        enable_upnp,
        dns_mode,
        dhcp_mode,
        dhcp_backoff_attempts,
        disable_service_updates,
        enable_endpoints,
        log_level,
    };
    let settings = std::mem::take(&mut b.settings);
    Ok(Loaded {
        config,
        settings,
        warnings,
    })
}
