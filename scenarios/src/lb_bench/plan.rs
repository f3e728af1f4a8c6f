//! The benchmark's Services as data: Service `i` is `default/<prefix>-<i>` (type LoadBalancer,
//! policy Cluster, one TCP port 80, no selector) with its own address `10.<net>.<i/200>.<i%200+10>`
//! in annotation `kube-vip.io/loadbalancerIPs`. The addresses lie outside the LAN (kvip adds them
//! as /32s, `vip_cidr=32`), so they never collide with a host's own address. Creation is a JSON
//! `List` for `kubectl create -f -`, in batches.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::lb::kube::ANNOTATION_LB_IPS;

/// The label every benchmark Service carries (`app=<LABEL>`), for listing them.
pub const LABEL: &str = "lb-bench";
/// The namespace of the benchmark's Services.
pub const NAMESPACE: &str = "default";

/// `count` Services named `<prefix>-NNNN` on addresses in `10.<net>.0.0/16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Name prefix.
    pub prefix: String,
    /// Second octet of the addresses.
    pub net: u8,
    /// How many Services.
    pub count: usize,
}

impl Plan {
    /// A plan of `count` Services (at most 200 × 256).
    pub fn new(prefix: &str, net: u8, count: usize) -> Plan {
        assert!(count <= 200 * 256, "too many Services for one /16");
        Plan {
            prefix: prefix.into(),
            net,
            count,
        }
    }

    /// Service `i`'s name.
    pub fn name(&self, i: usize) -> String {
        format!("{}-{i:04}", self.prefix)
    }

    /// Service `i`'s address.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net, (i / 200) as u8, (i % 200 + 10) as u8)
    }

    /// Every address of the plan.
    pub fn addrs(&self) -> BTreeSet<Ipv4Addr> {
        (0..self.count).map(|i| self.addr(i)).collect()
    }

    /// Whether `a` lies in the plan's /16 (an address of this benchmark, wanted or not).
    pub fn in_range(&self, a: Ipv4Addr) -> bool {
        let o = a.octets();
        o[0] == 10 && o[1] == self.net
    }

    /// The JSON `List` of Services `range` for `kubectl create -f -`.
    pub fn list_json(&self, range: std::ops::Range<usize>) -> String {
        let mut out = String::from("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[");
        for (n, i) in range.enumerate() {
            if n > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                concat!(
                    "{{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{{",
                    "\"name\":\"{name}\",\"namespace\":\"{ns}\",\"labels\":{{\"app\":\"{label}\"}},",
                    "\"annotations\":{{\"{ann}\":\"{addr}\"}}}},",
                    "\"spec\":{{\"type\":\"LoadBalancer\",\"ports\":[{{\"name\":\"http\",",
                    "\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}}]}}}}"
                ),
                name = self.name(i),
                ns = NAMESPACE,
                label = LABEL,
                ann = ANNOTATION_LB_IPS,
                addr = self.addr(i),
            );
        }
        out.push_str("]}");
        out
    }
}

/// One Service as read back: name, `kube-vip.io/vipHost` (empty when unset), ingress addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcState {
    /// Name.
    pub name: String,
    /// The node that says it holds the address (empty when unset).
    pub vip_host: String,
    /// `status.loadBalancer.ingress[*].ip`.
    pub ingress: Vec<Ipv4Addr>,
}

/// The jsonpath template whose output [`parse_states`] reads: one line per Service.
pub const STATES_JSONPATH: &str = "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.metadata.annotations.kube-vip\\.io/vipHost}{\"\\t\"}{.status.loadBalancer.ingress[*].ip}{\"\\n\"}{end}";

/// Parses the output of [`STATES_JSONPATH`].
pub fn parse_states(text: &str) -> Vec<SvcState> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let name = f.next().unwrap_or_default().trim().to_string();
            let vip_host = f.next().unwrap_or_default().trim().to_string();
            let ingress = f
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            SvcState {
                name,
                vip_host,
                ingress,
            }
        })
        .collect()
}

/// The IPv4 addresses in the text of `ip -4 -o addr show` that `keep` accepts.
pub fn parse_addrs(text: &str, keep: impl Fn(Ipv4Addr) -> bool) -> BTreeSet<Ipv4Addr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().skip_while(|w| *w != "inet");
            w.next()?;
            w.next()?.split('/').next()?.parse().ok()
        })
        .filter(|a| keep(*a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_in_range() {
        let p = Plan::new("lb", 210, 1000);
        let all = p.addrs();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|a| p.in_range(*a)));
        assert_eq!(p.addr(0), Ipv4Addr::new(10, 210, 0, 10));
        assert_eq!(p.addr(999), Ipv4Addr::new(10, 210, 4, 209));
        assert_eq!(p.name(7), "lb-0007");
    }

    #[test]
    fn list_json_has_every_item() {
        let p = Plan::new("lb", 210, 3);
        let j = p.list_json(0..3);
        assert!(j.starts_with("{\"apiVersion\":\"v1\",\"kind\":\"List\""));
        assert_eq!(j.matches("\"kind\":\"Service\"").count(), 3);
        assert!(j.contains("\"kube-vip.io/loadbalancerIPs\":\"10.210.0.12\""));
        assert!(j.ends_with("]}"));
    }

    #[test]
    fn states_and_addresses_parse() {
        let s = parse_states("lb-0000\tmaster01\t10.210.0.10\nlb-0001\t\t\n");
        assert_eq!(s[0].vip_host, "master01");
        assert_eq!(s[0].ingress, vec![Ipv4Addr::new(10, 210, 0, 10)]);
        assert_eq!(s[1].vip_host, "");
        assert!(s[1].ingress.is_empty());
        let out = "2: eth0    inet 192.168.66.90/24 brd 192.168.66.255 scope global eth0\n\
                   2: eth0    inet 10.210.0.10/32 scope global eth0\n";
        let p = Plan::new("lb", 210, 1);
        let a = parse_addrs(out, |a| p.in_range(a));
        assert_eq!(
            a.into_iter().collect::<Vec<_>>(),
            vec![Ipv4Addr::new(10, 210, 0, 10)]
        );
    }
}
