//! The kube-proxy stand-in (the testbed has no kubelet or kube-proxy): in every node namespace,
//! an nftables table `ip kvip_kube_proxy` whose prerouting NAT chain sends each LoadBalancer
//! address:port to the node's own nginx stand-in (`<node IP>:8080`, a local address, so no
//! `route_localnet` is needed). A port without a rule lands on whatever listens on the holder
//! itself (the sshd stand-in on 22): S2's story. The whole table is replaced in one nft
//! transaction on every change, and deleted by [`KubeProxy::clear`]; deleting the namespace
//! removes it too. Nothing is ever written to the root namespace's ruleset.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context, Result};
use kvip_testbed::netns::Host;

/// The table's name (family `ip`).
pub const TABLE: &str = "kvip_kube_proxy";

/// One Service rule: traffic to `address:port` goes to the local nginx stand-in.
pub type Rule = (Ipv4Addr, u16);

/// The nft script that replaces the table with `rules`, DNATing to `backend` (the node's own
/// address and the nginx stand-in's port). With no rules it only deletes the table.
pub fn script(rules: &BTreeSet<Rule>, backend: SocketAddrV4) -> String {
    // `table` first creates it if absent, so the `delete` never fails; one transaction.
    let mut s = format!("table ip {TABLE}\ndelete table ip {TABLE}\n");
    if rules.is_empty() {
        return s;
    }
    let _ = writeln!(s, "table ip {TABLE} {{");
    let _ = writeln!(s, "  chain prerouting {{");
    let _ = writeln!(
        s,
        "    type nat hook prerouting priority dstnat; policy accept;"
    );
    for (addr, port) in rules {
        let _ = writeln!(s, "    ip daddr {addr} tcp dport {port} dnat to {backend}");
    }
    let _ = writeln!(s, "  }}");
    let _ = writeln!(s, "}}");
    s
}

/// The stand-in on a set of nodes.
#[derive(Debug, Clone)]
pub struct KubeProxy {
    nodes: Vec<Host>,
    backend_port: u16,
    rules: BTreeSet<Rule>,
}

impl KubeProxy {
    /// The stand-in on `nodes`, sending Service traffic to `backend_port` on each node. Installs
    /// nothing until [`set`](Self::set).
    pub fn new(nodes: &[Host], backend_port: u16) -> KubeProxy {
        KubeProxy {
            nodes: nodes.to_vec(),
            backend_port,
            rules: BTreeSet::new(),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &BTreeSet<Rule> {
        &self.rules
    }

    /// Replaces the rules on every node.
    pub fn set(&mut self, rules: impl IntoIterator<Item = Rule>) -> Result<()> {
        let rules: BTreeSet<Rule> = rules.into_iter().collect();
        for node in &self.nodes {
            let backend = SocketAddrV4::new(node.ip, self.backend_port);
            node.ns
                .cmd("nft")
                .args(["-f", "-"])
                .stdin(script(&rules, backend))
                .run()
                .with_context(|| format!("nft on {}", node.name))?;
        }
        self.rules = rules;
        Ok(())
    }

    /// Adds one rule (kept with the others).
    pub fn add(&mut self, rule: Rule) -> Result<()> {
        let mut rules = self.rules.clone();
        rules.insert(rule);
        self.set(rules)
    }

    /// Removes every rule for `address`.
    pub fn remove_address(&mut self, address: Ipv4Addr) -> Result<()> {
        let rules: Vec<Rule> = self
            .rules
            .iter()
            .copied()
            .filter(|(a, _)| *a != address)
            .collect();
        self.set(rules)
    }

    /// Deletes the table on every node.
    pub fn clear(&mut self) -> Result<()> {
        self.set([])
    }

    /// The table as nft lists it on `node` (empty when there is none), for diagnostics.
    pub fn listing(&self, node: &str) -> String {
        self.nodes
            .iter()
            .find(|h| h.name == node)
            .and_then(|h| {
                h.ns.cmd("nft")
                    .args(["list", "table", "ip", TABLE])
                    .run()
                    .ok()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replaces_the_table_atomically() {
        let backend = SocketAddrV4::new(Ipv4Addr::new(192, 168, 66, 90), 8080);
        let rules: BTreeSet<Rule> = [
            (Ipv4Addr::new(192, 168, 66, 210), 80),
            (Ipv4Addr::new(192, 168, 66, 101), 80),
        ]
        .into();
        let s = script(&rules, backend);
        assert!(s.starts_with("table ip kvip_kube_proxy\ndelete table ip kvip_kube_proxy\n"));
        assert!(s.contains("type nat hook prerouting priority dstnat;"));
        assert!(s.contains("ip daddr 192.168.66.210 tcp dport 80 dnat to 192.168.66.90:8080"));
        assert!(s.contains("ip daddr 192.168.66.101 tcp dport 80 dnat to 192.168.66.90:8080"));
        let empty = script(&BTreeSet::new(), backend);
        assert!(!empty.contains("chain"));
        assert!(empty.ends_with("delete table ip kvip_kube_proxy\n"));
    }
}
