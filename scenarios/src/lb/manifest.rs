//! The manifests of the LoadBalancer stories, as YAML for `kubectl`: a selector-less Service of
//! type LoadBalancer ([`ServiceSpec`]), its hand-written core/v1 Endpoints with `nodeName`, and the
//! cloud provider's ConfigMap `kube-system/kubevip`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// A LoadBalancer Service as a story creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Ports (TCP), each sent to the pods' `targetPort`.
    pub ports: Vec<u16>,
    /// The pods' port.
    pub target_port: u16,
    /// `spec.loadBalancerIP`.
    pub load_balancer_ip: Option<String>,
    /// Annotations.
    pub annotations: Vec<(String, String)>,
    /// `externalTrafficPolicy: Local` (else Cluster).
    pub local_traffic: bool,
}

/// A YAML double-quoted string.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

impl ServiceSpec {
    /// Service `name` in `namespace` on `port`, pods on `target_port`, no address, policy Cluster.
    pub fn new(name: &str, namespace: &str, port: u16, target_port: u16) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            namespace: namespace.into(),
            ports: vec![port],
            target_port,
            load_balancer_ip: None,
            annotations: Vec::new(),
            local_traffic: false,
        }
    }

    /// With `spec.loadBalancerIP`.
    pub fn with_ip(mut self, ip: &str) -> ServiceSpec {
        self.load_balancer_ip = Some(ip.into());
        self
    }

    /// The Service's manifest (no selector: its Endpoints are written by hand).
    pub fn yaml(&self) -> String {
        let mut y = format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {}\n  namespace: {}\n",
            quote(&self.name),
            quote(&self.namespace)
        );
        if !self.annotations.is_empty() {
            y.push_str("  annotations:\n");
            for (k, v) in &self.annotations {
                let _ = writeln!(y, "    {}: {}", quote(k), quote(v));
            }
        }
        y.push_str("spec:\n  type: LoadBalancer\n");
        if let Some(ip) = &self.load_balancer_ip {
            let _ = writeln!(y, "  loadBalancerIP: {}", quote(ip));
        }
        let policy = if self.local_traffic {
            "Local"
        } else {
            "Cluster"
        };
        let _ = writeln!(y, "  externalTrafficPolicy: {policy}");
        y.push_str("  ports:\n");
        for (i, p) in self.ports.iter().enumerate() {
            let _ = writeln!(
                y,
                "  - name: tcp-{i}\n    protocol: TCP\n    port: {p}\n    targetPort: {}",
                self.target_port
            );
        }
        y
    }
}

/// The core/v1 Endpoints of a selector-less Service: one ready address per (IP, node name), the
/// Service's ports (named `tcp-<index>`) mapped to `target_port`.
pub fn endpoints_yaml(service: &ServiceSpec, backends: &[(Ipv4Addr, String)]) -> String {
    let mut y = format!(
        "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: {}\n  namespace: {}\nsubsets:\n- addresses:\n",
        quote(&service.name),
        quote(&service.namespace)
    );
    for (ip, node) in backends {
        let _ = writeln!(y, "  - ip: {ip}\n    nodeName: {}", quote(node));
    }
    y.push_str("  ports:\n");
    for i in 0..service.ports.len() {
        let _ = writeln!(
            y,
            "  - name: tcp-{i}\n    protocol: TCP\n    port: {}",
            service.target_port
        );
    }
    y
}

/// The ConfigMap `kube-system/kubevip` with exactly `data`.
pub fn configmap_yaml(data: &[(&str, &str)]) -> String {
    let mut y = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubevip\n  namespace: kube-system\ndata:\n",
    );
    if data.is_empty() {
        y = y.replace("data:\n", "data: {}\n");
    }
    for (k, v) in data {
        let _ = writeln!(y, "  {}: {}", quote(k), quote(v));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::kube::ANNOTATION_LB_IPS;

    #[test]
    fn service_manifest_carries_every_field() {
        let mut s = ServiceSpec::new("nginx-lb", "default", 80, 8080).with_ip("0.0.0.0");
        s.annotations
            .push((ANNOTATION_LB_IPS.into(), "192.168.66.210".into()));
        s.local_traffic = true;
        let y = s.yaml();
        assert!(y.contains("  name: \"nginx-lb\"\n  namespace: \"default\"\n"));
        assert!(y.contains("    \"kube-vip.io/loadbalancerIPs\": \"192.168.66.210\"\n"));
        assert!(y.contains("  type: LoadBalancer\n  loadBalancerIP: \"0.0.0.0\"\n"));
        assert!(y.contains("  externalTrafficPolicy: Local\n"));
        assert!(
            y.contains("  - name: tcp-0\n    protocol: TCP\n    port: 80\n    targetPort: 8080\n")
        );
        let plain = ServiceSpec::new("a", "b", 22, 8080).yaml();
        assert!(!plain.contains("loadBalancerIP") && !plain.contains("annotations"));
        assert!(plain.contains("externalTrafficPolicy: Cluster"));
    }

    #[test]
    fn endpoints_name_their_nodes_and_configmap_is_exact() {
        let s = ServiceSpec::new("nginx", "team-a", 80, 8080);
        let y = endpoints_yaml(
            &s,
            &[
                (Ipv4Addr::new(192, 168, 205, 11), "k3s1".into()),
                (Ipv4Addr::new(192, 168, 205, 12), "k3s2".into()),
            ],
        );
        assert!(y.contains("  - ip: 192.168.205.11\n    nodeName: \"k3s1\"\n"));
        assert!(y.contains("  - ip: 192.168.205.12\n    nodeName: \"k3s2\"\n"));
        assert!(y.contains("  - name: tcp-0\n    protocol: TCP\n    port: 8080\n"));
        let c = configmap_yaml(&[("range-global", "192.168.66.210-192.168.66.219")]);
        assert!(c.ends_with("data:\n  \"range-global\": \"192.168.66.210-192.168.66.219\"\n"));
        assert!(configmap_yaml(&[]).ends_with("data: {}\n"));
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
