//! One master of a [`Cluster`](super::Cluster): its host, its serving certificate, the command lines
//! of its etcd member and kube-apiserver (kept, so a killed master starts again exactly as before) and
//! the ids of the processes running them.

use super::apiserver::{self, ApiServerConfig};
use super::lan::Host;
use super::pki::{Pki, ServingCert};
use super::run::{ProcId, Run};
use super::spec::{ClusterSpec, EtcdEndpoints};
use super::{etcd, io_err, NetnsError, Result};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A master: its host, its processes and how to start them again.
#[derive(Debug, Clone)]
pub struct Master {
    /// The host.
    pub host: Host,
    /// Its etcd member (the latest one started).
    pub etcd: ProcId,
    /// Its kube-apiserver (the latest one started; equal to `etcd` until it is started).
    pub apiserver: ProcId,
    /// Its serving certificate.
    pub cert: ServingCert,
    index: u8,
    etcd_args: Vec<String>,
    apiserver_args: Vec<String>,
}

/// What all masters of a cluster share.
pub(crate) struct Shared<'a> {
    spec: &'a ClusterSpec,
    pki: &'a Pki,
    token_file: &'a Path,
    members: &'a [(String, Ipv4Addr)],
    initial: String,
    extra_ips: Vec<IpAddr>,
}

impl<'a> Shared<'a> {
    pub(crate) fn new(
        spec: &'a ClusterSpec,
        pki: &'a Pki,
        token_file: &'a Path,
        members: &'a [(String, Ipv4Addr)],
    ) -> Result<Shared<'a>> {
        // 127.0.0.1, the `kubernetes` Service's address, then the VIPs.
        let mut extra_ips = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1)),
        ];
        for v in &spec.vip_sans {
            let ip = v
                .parse()
                .map_err(|_| NetnsError::Spec(format!("SAN {v:?} is not an IP")))?;
            extra_ips.push(ip);
        }
        let initial = etcd::initial_cluster(members);
        Ok(Shared {
            spec,
            pki,
            token_file,
            members,
            initial,
            extra_ips,
        })
    }
}

impl Master {
    /// Makes the master's certificate and command lines, and starts its etcd member.
    pub(crate) fn start_etcd(run: &mut Run, sh: &Shared<'_>, host: Host) -> Result<Master> {
        let (name, ip) = (host.name.clone(), host.ip);
        let mut ips = vec![IpAddr::V4(ip)];
        ips.extend(sh.extra_ips.iter().copied());
        let mut dns: Vec<String> = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        dns.push(name.clone());
        dns.extend(sh.spec.dns_sans.iter().cloned());
        let cert =
            sh.pki
                .serving_cert(&format!("apiserver-{name}"), "kube-apiserver", &ips, &dns)?;
        let data = run.shm_dir().join(format!("etcd-{name}"));
        let etcd_args = etcd::member_args(&name, ip, &sh.initial, &data, run.prefix());
        let etcd_servers = match sh.spec.etcd_endpoints {
            EtcdEndpoints::Local => vec![format!("http://127.0.0.1:{}", etcd::CLIENT_PORT)],
            EtcdEndpoints::All => sh
                .members
                .iter()
                .map(|(_, i)| etcd::client_url(*i))
                .collect(),
        };
        let cert_dir: PathBuf = run.dir().join(format!("certdir-{name}"));
        std::fs::create_dir_all(&cert_dir).map_err(io_err("cert dir"))?;
        let apiserver_args = apiserver::args(&ApiServerConfig {
            advertise: ip,
            etcd_servers,
            pki: sh.pki,
            cert: &cert,
            token_file: sh.token_file,
            cert_dir: &cert_dir,
            extra_args: &sh.spec.apiserver_args,
        });
        let mut m = Master {
            host,
            etcd: ProcId::placeholder(),
            apiserver: ProcId::placeholder(),
            cert,
            index: sh.members.iter().position(|(n, _)| *n == name).unwrap_or(0) as u8,
            etcd_args,
            apiserver_args,
        };
        m.etcd = m.spawn_etcd(run)?;
        m.apiserver = m.etcd;
        Ok(m)
    }

    /// Starts its etcd member, with PEERS.md's 2 s TERM grace. At cleanup the members are stopped
    /// after the API servers and one at a time (tiers 1, 2, 3…): members stopped together hang in
    /// leadership transfer, one by one each exits in tens of milliseconds.
    pub(crate) fn spawn_etcd(&self, run: &mut Run) -> Result<ProcId> {
        let name = format!("etcd-{}", self.host.name);
        let id = run.spawn(&self.host.ns, &name, etcd::ETCD, &self.etcd_args)?;
        run.process(id).set_stop_tier(1 + self.index);
        run.process(id).set_grace(Duration::from_secs(2));
        Ok(id)
    }

    /// Starts its kube-apiserver from `binary`.
    pub(crate) fn spawn_apiserver(&self, run: &mut Run, binary: &Path) -> Result<ProcId> {
        let name = format!("kube-apiserver-{}", self.host.name);
        let bin = binary.display().to_string();
        run.spawn(&self.host.ns, &name, &bin, &self.apiserver_args)
    }

    /// The arguments its etcd member runs with.
    pub fn etcd_args(&self) -> &[String] {
        &self.etcd_args
    }

    /// The arguments its kube-apiserver runs with.
    pub fn apiserver_args(&self) -> &[String] {
        &self.apiserver_args
    }
}
