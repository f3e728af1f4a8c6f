//! The LoadBalancer stories of SCENARIOS.md in namespaces: S2's LoadBalancer part (`s2-lb`) and
//! S3 (`s3`), on the runner's cluster (real etcd + kube-apiservers, kvip on every master), with
//! stand-ins for what the testbed has no real copy of: sshd and nginx on every node
//! (`kvip-hostname-server`), kube-proxy (nftables DNAT in each node namespace), and
//! hand-written Endpoints (no kubelet or controller-manager). Each story prints its timeline as
//! it goes and returns it with the failed checks.
//!
//! | module | owns |
//! |---|---|
//! | [`timeline`] | the printed timeline and the failed checks |
//! | [`stand_in`] | the hostname servers on the nodes, the client's connection from a namespace |
//! | [`kube_proxy`] | the kube-proxy stand-in: nftables DNAT of Service address:port to local nginx |
//! | [`manifest`] | the YAML of Services, their Endpoints and ConfigMap `kube-system/kubevip` |
//! | [`kube`] | those objects and namespaces via kubectl, and reads of what the daemons wrote |
//! | [`cloud_provider`] | starting `kvip cloud-provider` |
//! | [`harness`] | [`LbScenario`]: the cluster plus all of the above |
//! | [`checks`] | the checks both stories repeat (assigned, published, held, routed, answering) |
//! | [`s2`] | S2's LoadBalancer part: pool address, ssh lands on the leader, graceful move, port 22, pinned VIP |
//! | [`s3`] | S3: static, DHCP and pool addresses, per-namespace pools |
//! | [`s3_dhcp6`] | S3's DHCPv6 step: `::` leased from dnsmasq, held on a macvlan, released |
//! | [`s3_interface`] | S3's second NIC: `kube-vip.io/serviceInterface`, static and DHCP |
//! | [`s3_dual`] | S3's dual-stack DHCP step: `0.0.0.0` and `::` on one Service, one macvlan |

pub mod checks;
pub mod cloud_provider;
pub mod harness;
pub mod kube;
pub mod kube_proxy;
pub mod manifest;
pub mod s2;
pub mod s3;
pub mod s3_dhcp6;
pub mod s3_dual;
pub mod s3_interface;
pub mod stand_in;
pub mod timeline;

pub use harness::LbScenario;
pub use timeline::Timeline;

/// How far a story goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every step of the story.
    Full,
    /// Only what does not need kvip to serve Services: the cluster, the stand-ins, the objects,
    /// the DHCP server and the cloud provider's assignments. For shaking out the harness.
    BringUp,
}

/// `None` when the LoadBalancer stories can run here; otherwise why not.
pub fn skip_reason() -> Option<String> {
    if let Some(r) = kvip_testbed::netns::skip_reason() {
        return Some(r);
    }
    for tool in ["nft", "dnsmasq"] {
        let found = kvip_testbed::netns::which(tool).is_some()
            || std::path::Path::new("/usr/sbin").join(tool).is_file();
        if !found {
            return Some(format!(
                "`{tool}` is not installed; run: sudo testbed/scripts/install-deps.sh"
            ));
        }
    }
    None
}

/// Runs the story called `name` (`s2-lb` or `s3`).
pub fn run(name: &str, mode: Mode) -> anyhow::Result<Timeline> {
    match name {
        "s2-lb" => s2::run(mode),
        "s3" => s3::run(mode),
        other => anyhow::bail!("no LoadBalancer story {other:?} (s2-lb, s3)"),
    }
}
