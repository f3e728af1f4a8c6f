//! [`LbScenario`]: a story's cluster (the [`Scenario`] runner: real etcd + kube-apiservers, kvip
//! on every master) plus what the LoadBalancer stories add: the hostname stand-ins on every node,
//! the kube-proxy stand-in, kubectl as the admin, the cloud provider, and the timeline; the
//! checks both stories repeat are in [`super::checks`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use kvip_testbed::netns::{Host, Netns, ProcId};

use super::kube::{wait_for, Kube, ServiceSpec, SERVICES_LEASE};
use super::kube_proxy::{KubeProxy, Rule};
use super::stand_in::{self, hosts_with, NGINX_PORT};
use super::timeline::Timeline;
use crate::binaries;
use crate::runner::Scenario;
use crate::story::Story;

/// How long the cloud provider gets to assign an address.
pub const ASSIGN_BOUND: Duration = Duration::from_secs(30);
/// How long kvip gets to publish a Service (status ingress written, address added).
pub const PUBLISH_BOUND: Duration = Duration::from_secs(30);
/// How long a client connection may take to reach the expected answer after a change.
pub const ANSWER_BOUND: Duration = Duration::from_secs(10);
/// The namespace of the leases (`cp_namespace` in both stories).
pub const LEASE_NAMESPACE: &str = "kube-system";

/// A LoadBalancer story running in namespaces.
pub struct LbScenario {
    /// The cluster with kvip on every master.
    pub scenario: Scenario,
    /// kubectl as the admin, from the client.
    pub kube: Kube,
    /// The kube-proxy stand-in on every node.
    pub proxy: KubeProxy,
    /// What happened so far.
    pub tl: Timeline,
    /// The `kvip` binary.
    pub kvip: PathBuf,
    /// The admin's kubeconfig (first master's API server).
    pub admin: PathBuf,
    nodes: Vec<Host>,
    routes: BTreeMap<(String, String), Vec<Rule>>,
    cloud_provider: Option<ProcId>,
}

impl LbScenario {
    /// Builds the story's cluster (kvip on every master, first control-plane holder elected),
    /// then starts the hostname stand-ins on the masters and `workers`.
    pub fn start(story: Story, workers: &[&str], name: &str) -> Result<LbScenario> {
        let kvip = binaries::kvip()?;
        let server = kvip.with_file_name(binaries::HOSTNAME_SERVER);
        let mut tl = Timeline::new(name);
        tl.note(format!(
            "building {} (real etcd + kube-apiserver per master, kvip on every master, VIP {})",
            story.name, story.vip
        ));
        let scenario = Scenario::start(story, kvip.clone(), &binaries::workspace().join("deploy"))?;
        tl.note(format!(
            "cluster up; control-plane VIP on {:?}",
            scenario.holders()
        ));
        let mut names = scenario.master_names();
        names.extend(workers.iter().map(|w| w.to_string()));
        let nodes: Vec<Host> = names
            .iter()
            .map(|n| scenario.cluster.host(n).cloned())
            .collect::<kvip_testbed::netns::Result<_>>()?;
        let mut s = scenario;
        stand_in::start_hostname_servers(s.cluster.run_mut(), &server, &nodes)?;
        tl.note(format!(
            "stand-ins up on {names:?}: sshd on :22, nginx on :{NGINX_PORT}"
        ));
        let first = names[0].clone();
        let admin = s.cluster.write_kubeconfig(
            "lb-admin.kubeconfig",
            s.cluster.admin(),
            &s.cluster.server_url(&first)?,
        )?;
        let kube = Kube::new(s.cluster.kubectl("client", &admin)?);
        Ok(LbScenario {
            scenario: s,
            kube,
            proxy: KubeProxy::new(&nodes, NGINX_PORT),
            tl,
            kvip,
            admin,
            nodes,
            routes: BTreeMap::new(),
            cloud_provider: None,
        })
    }

    /// The node hosts (masters, then workers).
    pub fn nodes(&self) -> &[Host] {
        &self.nodes
    }

    /// Every host of the LAN (nodes, client, others).
    pub fn all_hosts(&self) -> Vec<Host> {
        self.scenario.cluster.lan().hosts().to_vec()
    }

    /// The client's namespace.
    pub fn client(&self) -> Result<Netns> {
        Ok(self.scenario.cluster.host("client")?.ns.clone())
    }

    /// Every node as an endpoint (its own address, its node name).
    pub fn backends(&self) -> Vec<(Ipv4Addr, String)> {
        self.nodes.iter().map(|h| (h.ip, h.name.clone())).collect()
    }

    /// Starts `kvip cloud-provider` on `host` with the admin's kubeconfig; false (and a failed
    /// check) when it cannot run.
    pub fn start_cloud_provider(&mut self, host: &str) -> bool {
        let started =
            super::cloud_provider::start(&mut self.scenario.cluster, &self.kvip, host, &self.admin);
        match started {
            Ok(id) => {
                self.cloud_provider = Some(id);
                self.tl
                    .note(format!("kvip cloud-provider started on {host}"));
                true
            }
            Err(e) => {
                self.tl.fail(format!("cloud provider: {e:#}"));
                false
            }
        }
    }

    /// Sets ConfigMap `kube-system/kubevip` to exactly `data`.
    pub fn put_configmap(&mut self, data: &[(&str, &str)]) -> Result<()> {
        self.kube.put_configmap(data)?;
        self.tl
            .note(format!("ConfigMap kube-system/kubevip = {data:?}"));
        Ok(())
    }

    /// Creates the Service with every node as an endpoint.
    pub fn create(&mut self, svc: &ServiceSpec) -> Result<()> {
        self.kube.put_service(svc, &self.backends())?;
        self.tl.note(format!(
            "Service {}/{} ports {:?} loadBalancerIP {:?} created (Endpoints on every node)",
            svc.namespace, svc.name, svc.ports, svc.load_balancer_ip
        ));
        Ok(())
    }

    /// The holder of the global services Lease.
    pub fn services_holder(&self) -> Option<String> {
        self.kube
            .lease_holder(LEASE_NAMESPACE, SERVICES_LEASE)
            .ok()
            .flatten()
    }

    /// Waits (≤ `bound`) until exactly one host, other than `not`, has `addr`; returns it.
    pub fn wait_single_holder(
        &self,
        addr: Ipv4Addr,
        not: Option<&str>,
        bound: Duration,
    ) -> Option<(String, Duration)> {
        let hosts = self.all_hosts();
        wait_for(bound, Duration::from_millis(20), || {
            Ok(match hosts_with(&hosts, addr).as_slice() {
                [one] if Some(one.as_str()) != not => Some(one.clone()),
                _ => None,
            })
        })
    }

    /// Points the kube-proxy stand-in's rules for `svc` at `addr` on `ports` (replacing the
    /// Service's earlier rules).
    pub fn route(&mut self, svc: &ServiceSpec, addr: Ipv4Addr, ports: &[u16]) -> Result<()> {
        let key = (svc.namespace.clone(), svc.name.clone());
        self.routes
            .insert(key, ports.iter().map(|p| (addr, *p)).collect());
        self.proxy
            .set(self.routes.values().flatten().copied())
            .context("kube-proxy stand-in")?;
        self.tl.note(format!(
            "kube-proxy stand-in: {addr}:{ports:?} -> local nginx on every node"
        ));
        Ok(())
    }

    /// Drops the kube-proxy stand-in's rules for `svc`.
    pub fn unroute(&mut self, svc: &ServiceSpec) -> Result<()> {
        self.routes
            .remove(&(svc.namespace.clone(), svc.name.clone()));
        self.proxy
            .set(self.routes.values().flatten().copied())
            .context("kube-proxy stand-in")
    }

    /// Ends the story: the timeline (the cluster and every process go with `self`).
    pub fn finish(self) -> Timeline {
        println!("{}", self.tl.summary());
        self.tl
    }
}
