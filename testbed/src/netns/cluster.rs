//! A cluster built from a description ([`ClusterSpec`]): the LAN, the masters (each one member of a
//! single three-member etcd cluster, stacked as RKE and kubeadm do, plus its own kube-apiserver), the
//! clients and extra hosts; the admin and `kube-vip` identities; and the faults on a master's
//! control plane (kill, stop, restart) and on a host (power-off). The description is in [`super::spec`].

use super::apiserver::{self, Identity};
use super::cmd::poll_until;
use super::kubeconfig::{write_kubeconfig, Kubectl};
use super::lan::{Host, Lan};
use super::master::{Master, Shared};
use super::pki::{random_token, Pki};
use super::run::{ProcId, Run};
use super::spec::{ClusterSpec, HostSpec};
use super::{etcd, kube_apiserver_binary, NetnsError, Result, KUBE_APISERVER_CACHE};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A running cluster; dropping it removes everything (its [`Run`] does).
#[derive(Debug)]
pub struct Cluster {
    masters: Vec<Master>,
    lan: Lan,
    pki: Pki,
    admin: Identity,
    kube_vip: Identity,
    binary: PathBuf,
    spec: ClusterSpec,
    up_in: Duration,
    run: Run,
}

fn parse_ip(h: &HostSpec) -> Result<Ipv4Addr> {
    h.ip.parse()
        .map_err(|_| NetnsError::Spec(format!("{}: bad address {:?}", h.name, h.ip)))
}

impl Cluster {
    /// Builds and starts the cluster; returns once every API server answers `/readyz`.
    pub fn start(spec: ClusterSpec) -> Result<Cluster> {
        let t0 = Instant::now();
        let binary = kube_apiserver_binary().ok_or_else(|| {
            NetnsError::Spec(format!("no kube-apiserver at {KUBE_APISERVER_CACHE}"))
        })?;
        if spec.masters.is_empty() {
            return Err(NetnsError::Spec("no master".into()));
        }
        let mut run = match &spec.prefix {
            Some(p) => Run::with_prefix(p)?,
            None => Run::new()?,
        };
        let mut lan = Lan::new(&mut run, &spec.subnet)?;
        let all = spec
            .masters
            .iter()
            .chain(&spec.clients)
            .chain(&spec.extra_hosts);
        for h in all {
            lan.add_host(&mut run, &h.name, parse_ip(h)?, &spec.ifname)?;
        }
        let pki = Pki::new(&run.dir().join("pki"))?;
        let admin = Identity::admin(random_token()?);
        let kube_vip = Identity::service_account("kube-system", "kube-vip", random_token()?);
        let token_file = run.dir().join("tokens.csv");
        apiserver::write_token_file(&token_file, &[admin.clone(), kube_vip.clone()])?;

        let members: Vec<(String, Ipv4Addr)> = spec
            .masters
            .iter()
            .map(|h| Ok((h.name.clone(), parse_ip(h)?)))
            .collect::<Result<_>>()?;
        let shared = Shared::new(&spec, &pki, &token_file, &members)?;
        let mut masters = Vec::new();
        for (name, _) in &members {
            masters.push(Master::start_etcd(
                &mut run,
                &shared,
                lan.host(name)?.clone(),
            )?);
        }
        let mut c = Cluster {
            masters,
            lan,
            pki,
            admin,
            kube_vip,
            binary,
            spec,
            up_in: Duration::ZERO,
            run,
        };
        c.wait_etcd()?;
        for i in 0..c.masters.len() {
            c.spawn_apiserver(i)?;
        }
        for i in 0..c.masters.len() {
            let name = c.masters[i].host.name.clone();
            c.wait_ready(&name, c.spec.ready_timeout)?;
        }
        c.up_in = t0.elapsed();
        Ok(c)
    }

    fn wait_etcd(&mut self) -> Result<Duration> {
        let from = self.masters[0].host.ns.clone();
        let endpoints = self.etcd_endpoints();
        let ids: Vec<ProcId> = self.masters.iter().map(|m| m.etcd).collect();
        let run = &mut self.run;
        poll_until(
            "etcd cluster healthy",
            self.spec.ready_timeout,
            Duration::from_millis(50),
            || {
                for id in &ids {
                    run.process(*id).check_alive()?;
                }
                Ok(endpoints.iter().all(|e| etcd::healthy(&from, e)))
            },
        )
    }

    fn spawn_apiserver(&mut self, i: usize) -> Result<()> {
        let id = self.masters[i].spawn_apiserver(&mut self.run, &self.binary)?;
        self.masters[i].apiserver = id;
        Ok(())
    }

    fn index(&self, master: &str) -> Result<usize> {
        self.masters
            .iter()
            .position(|m| m.host.name == master)
            .ok_or_else(|| NetnsError::Spec(format!("no master {master:?}")))
    }

    /// Waits until `master`'s API server answers `/readyz` (probed from its own namespace).
    pub fn wait_ready(&mut self, master: &str, bound: Duration) -> Result<Duration> {
        let m = self.masters[self.index(master)?].clone();
        let (ca, token, url) = (
            self.pki.ca_crt.clone(),
            self.admin.token.clone(),
            apiserver::url(m.host.ip),
        );
        let run = &mut self.run;
        poll_until(
            &format!("{master} /readyz"),
            bound,
            Duration::from_millis(100),
            || {
                run.process(m.apiserver).check_alive()?;
                Ok(apiserver::ready(&m.host.ns, &url, &ca, &token))
            },
        )
    }

    /// SIGKILL of `master`'s kube-apiserver and etcd member (its data stays for a restart).
    pub fn kill_control_plane(&mut self, master: &str) -> Result<()> {
        let m = self.masters[self.index(master)?].clone();
        self.run.kill(m.apiserver);
        self.run.kill(m.etcd);
        Ok(())
    }

    /// Graceful stop (TERM, ≤ 4 s, KILL) of `master`'s kube-apiserver and etcd member.
    pub fn stop_control_plane(&mut self, master: &str) -> Result<()> {
        let m = self.masters[self.index(master)?].clone();
        self.run.stop(m.apiserver);
        self.run.stop(m.etcd);
        Ok(())
    }

    /// Starts `master`'s etcd member and kube-apiserver again (after a kill or stop) and waits for
    /// `/readyz`. The member rejoins with its data on /dev/shm.
    pub fn restart_control_plane(&mut self, master: &str) -> Result<Duration> {
        let i = self.index(master)?;
        let m = self.masters[i].clone();
        self.run.stop(m.apiserver);
        self.run.stop(m.etcd);
        self.masters[i].etcd = m.spawn_etcd(&mut self.run)?;
        self.spawn_apiserver(i)?;
        self.wait_ready(master, self.spec.ready_timeout)
    }

    /// Power-off of host `name`: SIGKILL every process of the run in its namespace, then its
    /// bridge port down (no chance to clean up). Returns how many processes were killed.
    pub fn power_off(&mut self, name: &str) -> Result<usize> {
        let ns = self.lan.host(name)?.ns.clone();
        let ids = self.run.running_in(&ns);
        for id in &ids {
            self.run.kill(*id);
        }
        self.lan.cut(name)?;
        Ok(ids.len())
    }

    /// Writes a kubeconfig for `id` and `server` (`https://IP:6443`) into the run dir.
    pub fn write_kubeconfig(&self, file: &str, id: &Identity, server: &str) -> Result<PathBuf> {
        let path = self.run.dir().join(file);
        write_kubeconfig(&path, &self.pki.ca_pem()?, server, id)
    }

    /// kubectl run from host `from` with `kubeconfig`.
    pub fn kubectl(&self, from: &str, kubeconfig: &std::path::Path) -> Result<Kubectl> {
        let ns = self.lan.host(from)?.ns.clone();
        Ok(Kubectl::new(
            &ns,
            kubeconfig,
            &self.run.dir().join("kubectl-cache"),
        ))
    }

    /// `GET server+path` with `id`'s token from host `from`: (HTTP status, body), 0 = no answer.
    pub fn get(
        &self,
        from: &str,
        server: &str,
        id: &Identity,
        path: &str,
    ) -> Result<(u16, String)> {
        apiserver::get(
            &self.lan.host(from)?.ns,
            server,
            &self.pki.ca_crt,
            Some(&id.token),
            path,
        )
    }

    /// `https://<master's IP>:6443`.
    pub fn server_url(&self, master: &str) -> Result<String> {
        Ok(apiserver::url(self.masters[self.index(master)?].host.ip))
    }

    /// Client URLs of all etcd members.
    pub fn etcd_endpoints(&self) -> Vec<String> {
        self.masters
            .iter()
            .map(|m| etcd::client_url(m.host.ip))
            .collect()
    }

    /// The masters.
    pub fn masters(&self) -> &[Master] {
        &self.masters
    }

    /// The host called `name` (master, client or extra host).
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.lan.host(name)
    }

    /// The LAN (cut / reconnect hosts, the bridge namespace).
    pub fn lan(&self) -> &Lan {
        &self.lan
    }

    /// The run's CA and keys.
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The admin identity (group `system:masters`).
    pub fn admin(&self) -> &Identity {
        &self.admin
    }

    /// The `system:serviceaccount:kube-system:kube-vip` identity.
    pub fn kube_vip(&self) -> &Identity {
        &self.kube_vip
    }

    /// The description it was built from.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// Time from [`start`](Self::start) to every API server ready.
    pub fn up_in(&self) -> Duration {
        self.up_in
    }

    /// The run (namespaces, processes, dirs), e.g. to start kvip in a master's namespace.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// The run, mutable.
    pub fn run_mut(&mut self) -> &mut Run {
        &mut self.run
    }
}
