//! The Kubernetes objects of the LoadBalancer stories, through `kubectl` as the admin: Services
//! (type LoadBalancer, ports, `loadBalancerIP`, annotations, `externalTrafficPolicy`), their
//! core/v1 Endpoints with `nodeName` (no kubelet or controller-manager runs, so endpoints are
//! written by hand), namespaces, the cloud provider's ConfigMap `kube-system/kubevip`, and reads
//! of what the daemons wrote (status ingress, annotations, Lease holders), with bounded polling.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use kvip_testbed::netns::Kubectl;

use super::manifest::quote;
pub use super::manifest::{configmap_yaml, endpoints_yaml, ServiceSpec};

/// The cloud provider's address annotation.
pub const ANNOTATION_LB_IPS: &str = "kube-vip.io/loadbalancerIPs";
/// The annotation naming the node that holds a Service's address.
pub const ANNOTATION_VIP_HOST: &str = "kube-vip.io/vipHost";
/// The global services Lease (in `cp_namespace`).
pub const SERVICES_LEASE: &str = "plndr-svcs-lock";

/// kubectl as the admin, with the stories' verbs.
#[derive(Debug, Clone)]
pub struct Kube {
    kubectl: Kubectl,
}

impl Kube {
    /// Over `kubectl` (the admin's kubeconfig, run from the client's namespace).
    pub fn new(kubectl: Kubectl) -> Kube {
        Kube { kubectl }
    }

    /// The kubectl it runs.
    pub fn kubectl(&self) -> &Kubectl {
        &self.kubectl
    }

    /// `kubectl apply -f -`.
    pub fn apply(&self, yaml: &str) -> Result<()> {
        self.kubectl.apply(yaml)?;
        Ok(())
    }

    /// Creates namespace `name` (no error if it exists).
    pub fn create_namespace(&self, name: &str) -> Result<()> {
        self.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n",
            quote(name)
        ))
    }

    /// Creates or updates the Service and its Endpoints (Endpoints first, so the daemon never
    /// sees the Service without them).
    pub fn put_service(
        &self,
        service: &ServiceSpec,
        backends: &[(Ipv4Addr, String)],
    ) -> Result<()> {
        self.apply(&endpoints_yaml(service, backends))?;
        self.apply(&service.yaml())
    }

    /// Sets `kube-system/kubevip`'s data to exactly `data` (replaced, or created).
    pub fn put_configmap(&self, data: &[(&str, &str)]) -> Result<()> {
        let yaml = configmap_yaml(data);
        let replaced = self.kubectl.with_stdin("replace", &yaml)?;
        if replaced.ok() {
            return Ok(());
        }
        if !replaced.stderr.contains("NotFound") && !replaced.stderr.contains("not found") {
            bail!(
                "kubectl replace configmap kubevip: {}",
                replaced.stderr.trim()
            );
        }
        self.kubectl.create(&yaml)?;
        Ok(())
    }

    /// Changes the Service's port number `index` to `port` (a JSON patch).
    pub fn set_service_port(
        &self,
        namespace: &str,
        name: &str,
        index: usize,
        port: u16,
    ) -> Result<()> {
        let patch = format!(
            "[{{\"op\":\"replace\",\"path\":\"/spec/ports/{index}/port\",\"value\":{port}}}]"
        );
        self.kubectl.run(&[
            "patch", "service", name, "-n", namespace, "--type", "json", "-p", &patch,
        ])?;
        Ok(())
    }

    /// Deletes the Service and its Endpoints (missing ones are fine).
    pub fn delete_service(&self, namespace: &str, name: &str) -> Result<()> {
        for kind in ["service", "endpoints"] {
            self.kubectl.run(&[
                "delete",
                kind,
                name,
                "-n",
                namespace,
                "--ignore-not-found",
                "--wait=false",
            ])?;
        }
        Ok(())
    }

    /// `kubectl get KIND NAME -n NS -o jsonpath=PATH`; `None` when the object does not exist.
    pub fn jsonpath(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        path: &str,
    ) -> Result<Option<String>> {
        let o = self.kubectl.output(&[
            "get",
            kind,
            name,
            "-n",
            namespace,
            "-o",
            &format!("jsonpath={path}"),
        ])?;
        if o.ok() {
            return Ok(Some(o.stdout.trim().to_string()));
        }
        if o.stderr.contains("NotFound") {
            return Ok(None);
        }
        bail!("kubectl get {kind} {namespace}/{name}: {}", o.stderr.trim())
    }

    /// The Warning Events on a Service, as `(reason, message)`.
    pub fn warning_events(&self, namespace: &str, name: &str) -> Result<Vec<(String, String)>> {
        let selector =
            format!("involvedObject.kind=Service,involvedObject.name={name},type=Warning");
        let o = self.kubectl.output(&[
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            &selector,
            "-o",
            "jsonpath={range .items[*]}{.reason}{\"\\t\"}{.message}{\"\\n\"}{end}",
        ])?;
        if !o.ok() {
            bail!("kubectl get events -n {namespace}: {}", o.stderr.trim());
        }
        Ok(o.stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(r, m)| (r.to_string(), m.to_string()))
            .collect())
    }

    /// The IPv4 addresses of `status.loadBalancer.ingress` (none when absent).
    pub fn ingress_ips(&self, namespace: &str, name: &str) -> Result<Vec<Ipv4Addr>> {
        let text = self
            .jsonpath(
                "service",
                namespace,
                name,
                "{.status.loadBalancer.ingress[*].ip}",
            )?
            .unwrap_or_default();
        Ok(text
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect())
    }

    /// The Service's annotation `key` (`None` when unset or empty).
    pub fn annotation(&self, namespace: &str, name: &str, key: &str) -> Result<Option<String>> {
        let path = format!("{{.metadata.annotations.{}}}", key.replace('.', "\\."));
        Ok(self
            .jsonpath("service", namespace, name, &path)?
            .filter(|v| !v.is_empty()))
    }

    /// `spec.loadBalancerIP` (`None` when unset).
    pub fn load_balancer_ip(&self, namespace: &str, name: &str) -> Result<Option<String>> {
        Ok(self
            .jsonpath("service", namespace, name, "{.spec.loadBalancerIP}")?
            .filter(|v| !v.is_empty()))
    }

    /// The holder of Lease `namespace/name` (`None` when the Lease or its holder is absent).
    pub fn lease_holder(&self, namespace: &str, name: &str) -> Result<Option<String>> {
        Ok(self
            .jsonpath("lease", namespace, name, "{.spec.holderIdentity}")?
            .filter(|v| !v.is_empty()))
    }
}

/// Calls `probe` every `every` until it returns `Some`, at most for `bound`; returns the value and
/// the time it took. Errors from `probe` count as "not yet" (the API server may be busy).
pub fn wait_for<T>(
    bound: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Option<(T, Duration)> {
    let t = Instant::now();
    loop {
        if let Ok(Some(v)) = probe() {
            return Some((v, t.elapsed()));
        }
        if t.elapsed() > bound {
            return None;
        }
        std::thread::sleep(every);
    }
}
