//! The generator's flags: kube-vip's `manifest pod|daemonset` flags, with kube-vip's spellings
//! and defaults (election 5 / 3 / 1 s, port 6443, namespace `kube-system`).

use clap::Args;

/// The image the generated manifests run unless `--image` says otherwise.
pub fn default_image() -> String {
    format!("ghcr.io/kvip/kvip:v{}", env!("CARGO_PKG_VERSION"))
}

/// Flags of `kvip manifest pod` and `kvip manifest daemonset`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct Options {
    /// Interface that carries the VIP (vip_interface); omitted: the default-route interface
    #[arg(long, value_name = "NAME")]
    pub interface: Option<String>,

    /// Control-plane VIP: an IP, a comma list, or a DNS name (address)
    #[arg(long, visible_alias = "vip", value_name = "ADDRESS")]
    pub address: Option<String>,

    /// Prefix length per address, e.g. 32 or 32,128 (vip_subnet); default: 32 per IPv4, 128 per IPv6
    #[arg(long = "vipSubnet", value_name = "PREFIXES")]
    pub vip_subnet: Option<String>,

    /// Run with the `kube-vip` ServiceAccount instead of mounting /etc/kubernetes/admin.conf
    #[arg(long = "inCluster")]
    pub in_cluster: bool,

    /// DaemonSet only: tolerate NoSchedule/NoExecute taints and run only on control-plane nodes
    #[arg(long)]
    pub taint: bool,

    /// Serve the control-plane VIP (cp_enable)
    #[arg(long)]
    pub controlplane: bool,

    /// Serve LoadBalancer Services (svc_enable)
    #[arg(long)]
    pub services: bool,

    /// Layer-2 mode: gratuitous ARP / unsolicited neighbour advertisements (vip_arp)
    #[arg(long)]
    pub arp: bool,

    /// BGP mode (bgp_enable); give peers with --bgppeers or --peerAddress
    #[arg(long)]
    pub bgp: bool,

    /// Elect one holder with a Lease (vip_leaderelection)
    #[arg(long = "leaderElection")]
    pub leader_election: bool,

    /// Lease duration, whole seconds (vip_leaseduration)
    #[arg(long = "leaseDuration", value_name = "SECONDS", default_value = "5")]
    pub lease_duration: String,

    /// Renew deadline in seconds; kvip also takes 0.6 or 600ms (vip_renewdeadline)
    #[arg(
        long = "leaseRenewDuration",
        value_name = "SECONDS",
        default_value = "3"
    )]
    pub lease_renew_duration: String,

    /// Retry period in seconds; kvip also takes 0.2 or 200ms (vip_retryperiod)
    #[arg(long = "leaseRetry", value_name = "SECONDS", default_value = "1")]
    pub lease_retry: String,

    /// Namespace of the leases (cp_namespace); the Pod/DaemonSet itself stays in kube-system
    #[arg(
        long,
        short = 'n',
        value_name = "NAMESPACE",
        default_value = "kube-system"
    )]
    pub namespace: String,

    /// API server port (port)
    #[arg(long, value_name = "PORT", default_value_t = 6443)]
    pub port: u16,

    /// Container image (default: kvip's image at this version).
    #[arg(
        long,
        value_name = "IMAGE",
        help = "Container image [default: ghcr.io/kvip/kvip:v<this version>]"
    )]
    pub image: Option<String>,

    /// BGP router ID (bgp_routerid)
    #[arg(long = "bgpRouterID", value_name = "IP")]
    pub bgp_router_id: Option<String>,

    /// Local BGP AS (bgp_as)
    #[arg(long = "localAS", value_name = "AS", default_value_t = 65000)]
    pub local_as: u32,

    /// One BGP peer's address (bgp_peeraddress)
    #[arg(long = "peerAddress", value_name = "IP")]
    pub peer_address: Option<String>,

    /// That peer's AS (bgp_peeras)
    #[arg(long = "peerAS", value_name = "AS", default_value_t = 65000)]
    pub peer_as: u32,

    /// That peer's MD5 password (bgp_peerpass)
    #[arg(long = "peerPass", value_name = "PASSWORD")]
    pub peer_pass: Option<String>,

    /// BGP peers, a comma list (bgp_peers).
    #[arg(
        long = "bgppeers",
        value_name = "PEERS",
        help = "BGP peers, address:AS[:password[:multihop]] comma list (bgp_peers)"
    )]
    pub bgp_peers: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interface: None,
            address: None,
            vip_subnet: None,
            in_cluster: false,
            taint: false,
            controlplane: false,
            services: false,
            arp: false,
            bgp: false,
            leader_election: false,
            lease_duration: "5".into(),
            lease_renew_duration: "3".into(),
            lease_retry: "1".into(),
            namespace: "kube-system".into(),
            port: 6443,
            image: None,
            bgp_router_id: None,
            local_as: 65000,
            peer_address: None,
            peer_as: 65000,
            peer_pass: None,
            bgp_peers: None,
        }
    }
}

impl Options {
    /// The image to run: `--image`, else [`default_image`].
    pub fn image(&self) -> String {
        self.image.clone().unwrap_or_else(default_image)
    }

    /// The flags that reproduce these options, in a fixed order, defaults left out: the
    /// command line written at the top of a generated manifest.
    pub fn to_args(&self) -> Vec<String> {
        let d = Options::default();
        let mut args = Vec::new();
        let mut value = |flag: &str, v: Option<&str>| {
            if let Some(v) = v {
                args.push(format!("--{flag}"));
                args.push(shell_word(v));
            }
        };
        value("interface", self.interface.as_deref());
        value("address", self.address.as_deref());
        value("vipSubnet", self.vip_subnet.as_deref());
        value(
            "leaseDuration",
            differs(&self.lease_duration, &d.lease_duration),
        );
        let renew = differs(&self.lease_renew_duration, &d.lease_renew_duration);
        value("leaseRenewDuration", renew);
        value("leaseRetry", differs(&self.lease_retry, &d.lease_retry));
        value("namespace", differs(&self.namespace, &d.namespace));
        let port = self.port.to_string();
        value("port", (self.port != d.port).then_some(port.as_str()));
        value("image", self.image.as_deref());
        value("bgpRouterID", self.bgp_router_id.as_deref());
        let local_as = self.local_as.to_string();
        value(
            "localAS",
            (self.local_as != d.local_as).then_some(local_as.as_str()),
        );
        value("peerAddress", self.peer_address.as_deref());
        let peer_as = self.peer_as.to_string();
        value(
            "peerAS",
            (self.peer_as != d.peer_as).then_some(peer_as.as_str()),
        );
        value("peerPass", self.peer_pass.as_deref());
        value("bgppeers", self.bgp_peers.as_deref());
        let switches = [
            ("inCluster", self.in_cluster),
            ("taint", self.taint),
            ("controlplane", self.controlplane),
            ("services", self.services),
            ("arp", self.arp),
            ("bgp", self.bgp),
            ("leaderElection", self.leader_election),
        ];
        for (flag, on) in switches {
            if on {
                args.push(format!("--{flag}"));
            }
        }
        args
    }
}

/// `a`, when it differs from the default `b`.
fn differs<'a>(a: &'a str, b: &str) -> Option<&'a str> {
    (a != b).then_some(a)
}

/// `text` as one POSIX shell word: bare when it is plainly safe, else single-quoted.
fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.,:/@=+".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
