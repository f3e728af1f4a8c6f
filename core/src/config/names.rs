//! The names kvip reads: every setting with its environment names and kube-vip `manager`
//! flags, and the kube-vip names it recognises but ignores.

/// Whether a flag is a bare switch (`--arp`, `--arp=false`) or takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Value,
}

/// One setting kvip reads: its canonical environment name and the other ways to set it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Canonical environment-variable name, also the [`super::Setting`] name.
    pub name: &'static str,
    /// Whether it can be set from the environment at all (`in_cluster` is flag-only).
    pub env: bool,
    /// Deprecated environment names, in order of preference after `name`.
    pub aliases: &'static [&'static str],
    /// kube-vip `manager` flags, without dashes (matched case-insensitively).
    pub flags: &'static [&'static str],
    pub kind: Kind,
    /// An empty environment value means "set to empty", not "unset".
    pub empty_is_value: bool,
}

const fn b(name: &'static str, flags: &'static [&'static str]) -> Spec {
    Spec {
        name,
        env: true,
        aliases: &[],
        flags,
        kind: Kind::Bool,
        empty_is_value: false,
    }
}

const fn v(name: &'static str, flags: &'static [&'static str]) -> Spec {
    Spec {
        name,
        env: true,
        aliases: &[],
        flags,
        kind: Kind::Value,
        empty_is_value: false,
    }
}

/// Every setting, in the order `kvip manager --check` prints them.
pub(crate) const SPECS: &[Spec] = &[
    b("vip_arp", &["arp"]),
    b("bgp_enable", &["bgp"]),
    b("vip_routingtable", &["table"]),
    b("vip_wireguard", &["wireguard"]),
    v("vip_interface", &["interface"]),
    v("vip_servicesinterface", &["serviceInterface"]),
    Spec {
        aliases: &["vip_address"],
        ..v("address", &["address"])
    },
    v("port", &["port"]),
    Spec {
        aliases: &["vip_cidr"],
        ..v("vip_subnet", &["vipSubnet"])
    },
    b("cp_enable", &["controlplane"]),
    v("cp_namespace", &["namespace"]),
    b("svc_enable", &["services"]),
    b("svc_election", &["servicesElection"]),
    v("svc_leasename", &["servicesLeaseName"]),
    b("vip_leaderelection", &["leaderElection"]),
    v("vip_leasename", &["leaseName"]),
    v("vip_leaseduration", &["leaseDuration"]),
    v("vip_renewdeadline", &["leaseRenewDuration"]),
    v("vip_retryperiod", &["leaseRetry"]),
    v("vip_arpRate", &[]),
    v("vip_nodename", &["nodeName"]),
    b("vip_ddns", &["ddns"]),
    b("vip_preserve_on_leadership_loss", &[]),
    b("vip_loseleadership", &[]),
    v("vip_loseleadership_timeout_seconds", &[]),
    b("lb_class_only", &["lbClassOnly"]),
    Spec {
        empty_is_value: true,
        ..v("lb_class_name", &["lbClassName"])
    },
    b("lb_class_legacy_handling", &["lbClassNameLegacyHandling"]),
    b("lb_enable", &["enableLoadBalancer"]),
    v("lb_port", &["lbPort"]),
    v("lb_fwdmethod", &["lbForwardingMethod"]),
    v("bgp_routerid", &["bgpRouterID"]),
    v("bgp_routerinterface", &[]),
    v("bgp_as", &["localAS"]),
    v("bgp_peeraddress", &["peerAddress"]),
    v("bgp_peeras", &["peerAS"]),
    v("bgp_peerpass", &["peerPass"]),
    b("bgp_multihop", &["multihop"]),
    v("bgp_peers", &["bgppeers"]),
    v("bgp_hold_time", &["bgpHoldTimer"]),
    v("bgp_keepalive_interval", &["bgpKeepAliveInterval"]),
    v("bgp_sourceip", &["sourceIP"]),
    v("bgp_sourceif", &["sourceIF"]),
    Spec {
        empty_is_value: true,
        ..v("prometheus_server", &["prometheusHTTPServer"])
    },
    v("k8s_config_file", &["k8sConfigPath"]),
    Spec {
        env: false,
        ..b("in_cluster", &["inCluster"])
    },
    b("enable_node_labeling", &["enableNodeLabeling"]),
    Spec {
        aliases: &["enableUPNP"],
        ..b("enable_upnp", &[])
    },
    v("dns_mode", &["dnsMode"]),
    v("dhcp_mode", &[]),
    v("dhcp_backoff_attempts", &[]),
    b("disable_service_updates", &["disableServiceUpdates"]),
    b("enable_endpoints", &["enableEndpoints"]),
    v("vip_loglevel", &["log"]),
];

/// Deprecated flags: (flag, canonical setting, replacement flag).
pub(crate) const DEPRECATED_FLAGS: &[(&str, &str, &str)] = &[
    ("vip", "address", "--address"),
    ("cidr", "vip_subnet", "--vipSubnet"),
];

/// kube-vip flags kvip accepts and ignores (with a warning): (flag, takes a value).
pub(crate) const IGNORED_FLAGS: &[(&str, bool)] = &[
    ("taint", false),
    ("leaderElectionType", true),
    ("mirrorDestInterface", true),
    ("annotations", true),
    ("zebra", false),
    ("zebraUrl", true),
    ("zebraVersion", true),
    ("zebraSoftwareName", true),
    ("tableID", true),
    ("tableType", true),
    ("routingProtocol", true),
    ("cleanRoutingTable", false),
    ("autodetectcp", false),
    ("onlyAllowTrafficServicePorts", false),
    ("loInterfaceGlobalScope", false),
    ("healthCheckPort", true),
    ("etcdCACert", true),
    ("etcdCert", true),
    ("etcdKey", true),
    ("etcdEndpoints", true),
    ("config-file", true),
];

/// kube-vip environment variables kvip recognises and ignores (with a warning).
pub(crate) const IGNORED_ENV: &[&str] = &[
    "vip_leaseannotations",
    "vip_interfaceloglobal",
    "vip_singlenode",
    "vip_startleader",
    "vip_routingtableid",
    "vip_routingtabletype",
    "vip_routingprotocol",
    "vip_cleanroutingtable",
    "vip_configmap",
    "cp_detect",
    "svc_namespace",
    "kubernetes_addr",
    "annotation",
    "egress_podcidr",
    "egress_servicecidr",
    "egress_withnftables",
    "egress_clean",
    "zebra_enable",
    "zebra_url",
    "zebra_version",
    "zebra_software_name",
    "mpbgp_nexthop",
    "mpbgp_ipv4",
    "mpbgp_ipv6",
    "enable_service_security",
    "mirror_dest_interface",
    "iptables_backend",
    "backend_health_check_interval",
    "health_check_port",
    "config_file",
];

/// Environment prefixes that mark a variable as meant for kvip / kube-vip.
pub(crate) const OUR_PREFIXES: &[&str] = &["vip_", "cp_", "svc_", "bgp_", "lb_"];
