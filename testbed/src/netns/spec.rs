//! The description of a namespace cluster ([`ClusterSpec`]): the LAN, the interface name, masters,
//! clients, extra hosts, the extra SANs (the VIP) and how API servers reach etcd.
//! [`ClusterSpec::s1`], [`ClusterSpec::s2`] and [`ClusterSpec::s3`] carry the articles' addresses
//! (SCENARIOS.md).

use std::time::Duration;

/// A host of the description: a name and an address on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// Host name (also the namespace suffix: `<prefix>-<name>`).
    pub name: String,
    /// Dotted IPv4 address inside the subnet.
    pub ip: String,
}

impl From<(&str, &str)> for HostSpec {
    fn from((name, ip): (&str, &str)) -> HostSpec {
        HostSpec {
            name: name.to_string(),
            ip: ip.to_string(),
        }
    }
}

/// Which etcd members each API server is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdEndpoints {
    /// Only its own master's member, on 127.0.0.1 (kubeadm's stacked layout).
    Local,
    /// All members.
    All,
}

/// The description of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Name prefix of the run's namespaces; `None` picks a unique `kv<pid%10000><letter>`.
    pub prefix: Option<String>,
    /// The LAN, e.g. `192.168.66.0/24`.
    pub subnet: String,
    /// Interface name inside host namespaces: the article's (`ens3` for S1, `eth0` for S2).
    pub ifname: String,
    /// Masters: etcd member + kube-apiserver each (3 for a quorum that survives one loss).
    pub masters: Vec<HostSpec>,
    /// Client hosts (probes, kubectl).
    pub clients: Vec<HostSpec>,
    /// Other hosts (workers such as S2's node01), with nothing started on them.
    pub extra_hosts: Vec<HostSpec>,
    /// Extra IP SANs of every serving certificate (the VIP).
    pub vip_sans: Vec<String>,
    /// Extra DNS SANs of every serving certificate.
    pub dns_sans: Vec<String>,
    /// Which etcd members each API server talks to.
    pub etcd_endpoints: EtcdEndpoints,
    /// Extra kube-apiserver arguments.
    pub apiserver_args: Vec<String>,
    /// Bound on the wait for each readiness step.
    pub ready_timeout: Duration,
}

impl ClusterSpec {
    fn base(subnet: &str, ifname: &str) -> ClusterSpec {
        ClusterSpec {
            prefix: None,
            subnet: subnet.into(),
            ifname: ifname.into(),
            masters: Vec::new(),
            clients: Vec::new(),
            extra_hosts: Vec::new(),
            vip_sans: Vec::new(),
            dns_sans: Vec::new(),
            etcd_endpoints: EtcdEndpoints::Local,
            apiserver_args: Vec::new(),
            ready_timeout: Duration::from_secs(120),
        }
    }

    /// S1: three K3s servers on 192.168.205.0/24 with interface `ens3`, VIP 192.168.205.200 in the
    /// SANs (`--tls-san`). The article gives no server addresses: .11–.13 here; client .100.
    pub fn s1() -> ClusterSpec {
        let mut s = ClusterSpec::base("192.168.205.0/24", "ens3");
        s.masters = vec![
            ("k3s1", "192.168.205.11").into(),
            ("k3s2", "192.168.205.12").into(),
            ("k3s3", "192.168.205.13").into(),
        ];
        s.clients = vec![("client", "192.168.205.100").into()];
        s.vip_sans = vec!["192.168.205.200".into()];
        s
    }

    /// S2: master01–03 at 192.168.66.90–.92, worker node01 .93, interface `eth0`, VIP
    /// 192.168.66.101 and `kube-vip.treesir.pub` in the SANs; client .100.
    pub fn s2() -> ClusterSpec {
        let mut s = ClusterSpec::base("192.168.66.0/24", "eth0");
        s.masters = vec![
            ("master01", "192.168.66.90").into(),
            ("master02", "192.168.66.91").into(),
            ("master03", "192.168.66.92").into(),
        ];
        s.extra_hosts = vec![("node01", "192.168.66.93").into()];
        s.clients = vec![("client", "192.168.66.100").into()];
        s.vip_sans = vec!["192.168.66.101".into()];
        s.dns_sans = vec!["kube-vip.treesir.pub".into()];
        s
    }

    /// S3: S1's cluster (K3s with ServiceLB disabled, `ens3`, VIP 192.168.205.200 in the SANs)
    /// plus `dhcp` at 192.168.205.1, the LAN's DHCP server for `loadBalancerIP: 0.0.0.0`
    /// Services (the article gives no address for it).
    pub fn s3() -> ClusterSpec {
        let mut s = ClusterSpec::s1();
        s.extra_hosts = vec![("dhcp", "192.168.205.1").into()];
        s
    }
}
