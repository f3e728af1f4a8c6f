//! Runs a story in network namespaces: the cluster of real etcd members and kube-apiservers, the
//! RBAC from `deploy/`, kvip on every master with a kubeconfig that points at that master's own API
//! server as the `kube-vip` ServiceAccount, a capture of announcements on the bridge, and the
//! client's probe. Faults are injected on the current holder and undone afterwards.
//!
//! The VIP daemon is kvip by default ([`Scenario::start`]); [`Scenario::start_with`] runs
//! keepalived as S4 configures it instead ([`Daemon::Keepalived`], the benchmark's baseline), on the
//! same cluster, capture and probe, with the same faults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use kvip_testbed::netns::{Cluster, Cmd, ProcId};

use crate::faults::Fault;
use crate::keepalived::{self, Keepalived};
use crate::story::Story;

/// How long kvip gets to elect a first holder.
const FIRST_HOLDER_BOUND: Duration = Duration::from_secs(30);

/// The VIP daemon a scenario runs on every master.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Daemon {
    /// kvip with the story's environment.
    #[default]
    Kvip,
    /// keepalived configured as S4 describes (the comparison baseline).
    Keepalived(Keepalived),
}

impl Daemon {
    /// `kvip` or `keepalived`.
    pub fn name(&self) -> &'static str {
        match self {
            Daemon::Kvip => "kvip",
            Daemon::Keepalived(_) => "keepalived",
        }
    }
}

/// A running story.
pub struct Scenario {
    /// The story.
    pub story: Story,
    /// The cluster (owns every namespace and process; removes them on drop).
    pub cluster: Cluster,
    kvips: BTreeMap<String, ProcId>,
    kubeconfigs: BTreeMap<String, PathBuf>,
    capture: Option<ProcId>,
    probe: Option<ProcId>,
    probe_file: PathBuf,
    kvip: PathBuf,
    /// Hosts currently cut off the LAN (powered off or cut): they answer nobody.
    cut: std::collections::BTreeSet<String>,
    daemon: Daemon,
}

impl Scenario {
    /// Builds the cluster, applies `deploy/rbac.yaml`, starts kvip on every master and waits for a
    /// first holder.
    pub fn start(story: Story, kvip: PathBuf, deploy: &Path) -> Result<Scenario> {
        Scenario::start_with(story, Daemon::Kvip, kvip, deploy)
    }

    /// Like [`start`](Self::start) with `daemon` as the VIP daemon on every master (`kvip` still
    /// names the directory of `kvip-probe`).
    pub fn start_with(
        story: Story,
        daemon: Daemon,
        kvip: PathBuf,
        deploy: &Path,
    ) -> Result<Scenario> {
        let mut spec = story.spec.clone();
        spec.vip_sans = vec![story.vip.to_string()];
        let cluster = Cluster::start(spec).context("starting the cluster")?;
        let mut s = Scenario {
            story,
            cluster,
            kvips: BTreeMap::new(),
            kubeconfigs: BTreeMap::new(),
            capture: None,
            probe: None,
            probe_file: PathBuf::new(),
            kvip,
            cut: Default::default(),
            daemon,
        };
        let first = s.master_names()[0].clone();
        let admin = s.cluster.write_kubeconfig(
            "admin.kubeconfig",
            s.cluster.admin(),
            &s.cluster.server_url(&first)?,
        )?;
        let rbac = std::fs::read_to_string(deploy.join("rbac.yaml"))
            .context("reading deploy/rbac.yaml")?;
        s.cluster
            .kubectl("client", &admin)?
            .apply(&rbac)
            .context("applying deploy/rbac.yaml")?;
        for name in s.master_names() {
            let server = s.cluster.server_url(&name)?;
            let id = s.cluster.kube_vip().clone();
            let path =
                s.cluster
                    .write_kubeconfig(&format!("{name}.kube-vip.kubeconfig"), &id, &server)?;
            s.kubeconfigs.insert(name, path);
        }
        if let Daemon::Keepalived(k) = &s.daemon {
            let dir = s.keepalived_dir();
            std::fs::create_dir_all(&dir)?;
            let script = dir.join("check_apiserver.sh");
            std::fs::write(&script, keepalived::check_script(s.story.vip))?;
            std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            for (i, m) in s.cluster.masters().iter().enumerate() {
                let paths = Keepalived::paths(&dir, &m.host.name);
                let conf = k.config(&m.host.name, i, s.story.vip, &m.host.ifname, &script);
                std::fs::write(&paths.conf, conf)?;
            }
        }
        s.start_capture()?;
        for name in s.master_names() {
            s.start_daemon(&name)?;
        }
        s.wait_for_holder(FIRST_HOLDER_BOUND, None)?;
        s.settle()?;
        Ok(s)
    }

    /// The VIP daemon on the masters.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Starts the scenario's VIP daemon on `master`.
    pub fn start_daemon(&mut self, master: &str) -> Result<()> {
        match self.daemon {
            Daemon::Kvip => self.start_kvip(master),
            Daemon::Keepalived(_) => self.start_keepalived(master),
        }
    }

    fn keepalived_dir(&self) -> PathBuf {
        self.cluster.run().dir().join("keepalived")
    }

    /// Starts keepalived on `master` with its S4 configuration, first making sure no VRRP child of
    /// an earlier instance is left in that namespace and its pid files are gone.
    fn start_keepalived(&mut self, master: &str) -> Result<()> {
        let ns = self.cluster.host(master)?.ns.clone();
        let paths = Keepalived::paths(&self.keepalived_dir(), master);
        if let Some(pid) = keepalived::read_pid(&paths.vrrp_pid) {
            if ns.pids().unwrap_or_default().contains(&pid) {
                kill_pid(pid, "KILL");
            }
        }
        let _ = std::fs::remove_file(&paths.pid);
        let _ = std::fs::remove_file(&paths.vrrp_pid);
        let id = self.cluster.run_mut().spawn(
            &ns,
            &format!("keepalived-{master}"),
            "keepalived",
            &Keepalived::args(&paths),
        )?;
        self.kvips.insert(master.into(), id);
        Ok(())
    }

    /// A keepalived crash on `master`: the parent frozen (so it cannot respawn a child), the VRRP
    /// child SIGKILLed (so it cannot shut down gracefully when its parent dies); the caller then
    /// SIGKILLs the parent with the rest of the namespace.
    fn crash_keepalived(&mut self, master: &str) -> Result<()> {
        let ns = self.cluster.host(master)?.ns.clone();
        if let Some(&id) = self.kvips.get(master) {
            self.cluster.run_mut().process(id).signal(libc::SIGSTOP);
        }
        let paths = Keepalived::paths(&self.keepalived_dir(), master);
        if let Some(pid) = keepalived::read_pid(&paths.vrrp_pid) {
            if ns.pids().unwrap_or_default().contains(&pid) {
                kill_pid(pid, "KILL");
            }
        }
        Ok(())
    }

    /// The running daemon processes: (name, PID). For keepalived, the parent and the VRRP child.
    pub fn daemon_pids(&mut self) -> Vec<(String, u32)> {
        let masters = self.master_names();
        let mut out = Vec::new();
        for m in masters {
            let Some(&id) = self.kvips.get(&m) else {
                continue;
            };
            let p = self.cluster.run_mut().process(id);
            if !p.is_running() {
                continue;
            }
            let pid = p.pid();
            match self.daemon {
                Daemon::Kvip => out.push((format!("kvip-{m}"), pid)),
                Daemon::Keepalived(_) => {
                    out.push((format!("keepalived-{m}"), pid));
                    let paths = Keepalived::paths(&self.keepalived_dir(), &m);
                    let child = keepalived::read_pid(&paths.vrrp_pid).filter(|c| {
                        std::fs::read_to_string(format!("/proc/{c}/comm"))
                            .is_ok_and(|comm| comm.trim() == "keepalived")
                    });
                    if let Some(child) = child {
                        out.push((format!("keepalived-vrrp-{m}"), child));
                    }
                }
            }
        }
        out
    }

    /// How long `fault` on the holder may take to move the VIP: kvip, the lease duration + 5 s;
    /// keepalived, its master-down interval (plus the failed checks for a dead API server) + margin.
    pub fn failover_bound(&self, fault: Fault) -> Duration {
        match &self.daemon {
            Daemon::Kvip => self.story.timing.lease_duration + Duration::from_secs(5),
            Daemon::Keepalived(k) => k.failover_bound(fault),
        }
    }

    /// Whether the daemon hands the VIP back to a returning higher-priority master (keepalived's
    /// preemption); kvip leaves it with the holder.
    pub fn preempts(&self) -> bool {
        matches!(self.daemon, Daemon::Keepalived(_))
    }

    /// The daemon's log on `master`.
    pub fn daemon_log(&self, master: &str) -> String {
        match self.daemon {
            Daemon::Kvip => self.kvip_log(master),
            Daemon::Keepalived(_) => {
                let path = self
                    .cluster
                    .run()
                    .dir()
                    .join(format!("keepalived-{master}.log"));
                std::fs::read_to_string(path).unwrap_or_default()
            }
        }
    }

    /// The notable lines of the daemon's log on `master` after `t0` (unix ns).
    pub fn daemon_events(&self, master: &str, t0: u128) -> Vec<(f64, String)> {
        let log = self.daemon_log(master);
        match self.daemon {
            Daemon::Kvip => crate::trial::log_events(&log, t0),
            Daemon::Keepalived(_) => keepalived::log_events(&log, t0),
        }
    }

    /// Waits (bounded) until the cluster is settled for the next trial. kvip: nothing to wait for.
    /// keepalived: the highest-priority master takes the VIP back (preemption, once its check
    /// script passes again), so wait until it alone holds the VIP.
    pub fn settle(&self) -> Result<()> {
        let Daemon::Keepalived(k) = &self.daemon else {
            return Ok(());
        };
        let top = self.master_names()[0].clone();
        let bound = k.settle_bound();
        let t = Instant::now();
        loop {
            if self.holders() == [top.clone()] {
                // One more advert interval: the previous holder has heard the preempting advert.
                std::thread::sleep(Duration::from_secs(u64::from(k.advert_int)));
                if self.holders() == [top.clone()] {
                    return Ok(());
                }
            }
            if t.elapsed() > bound {
                self.cluster.run().dump_logs(30);
                bail!(
                    "keepalived: {top} did not take the VIP back within {bound:?}: holders {:?}",
                    self.holders()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The masters' names.
    pub fn master_names(&self) -> Vec<String> {
        self.cluster
            .masters()
            .iter()
            .map(|m| m.host.name.clone())
            .collect()
    }

    /// Starts kvip on `master`: the story's environment plus the node name (the static pod's
    /// hostname / the DaemonSet's downward API) and the kubeconfig of the `kube-vip` identity
    /// pointing at that master's own API server.
    pub fn start_kvip(&mut self, master: &str) -> Result<()> {
        let ns = self.cluster.host(master)?.ns.clone();
        let mut env = self.story.env.clone();
        env.push(("vip_nodename".into(), master.into()));
        let kubeconfig = self.kubeconfigs[master].display().to_string();
        env.push(("k8s_config_file".into(), kubeconfig));
        env.push(("RUST_LOG".into(), "info".into()));
        env.push(("HOME".into(), "/nonexistent".into()));
        let kvip = self.kvip.display().to_string();
        let id = self.cluster.run_mut().spawn_env(
            &ns,
            &format!("kvip-{master}"),
            &kvip,
            &["manager".into()],
            &env,
        )?;
        self.kvips.insert(master.into(), id);
        Ok(())
    }

    /// Sends SIGTERM to kvip on `master` and waits (bounded) for it to exit; returns how long it took.
    pub fn stop_kvip(&mut self, master: &str) -> Result<Duration> {
        let id = *self.kvips.get(master).context("no kvip on that master")?;
        let t = Instant::now();
        let p = self.cluster.run_mut().process(id);
        p.signal(libc::SIGTERM);
        if p.wait_exit(Duration::from_secs(5)).is_none() {
            p.kill();
            bail!("kvip on {master} did not exit within 5 s of SIGTERM");
        }
        Ok(t.elapsed())
    }

    /// Whether kvip on `master` still runs.
    pub fn kvip_running(&mut self, master: &str) -> bool {
        match self.kvips.get(master) {
            Some(&id) => self.cluster.run_mut().process(id).is_running(),
            None => false,
        }
    }

    /// The masters on the LAN whose interface has the VIP configured now (a host cut off or
    /// powered off answers nobody, whatever its kernel still holds).
    pub fn holders(&self) -> Vec<String> {
        let vip = format!("{}/", self.story.vip);
        self.cluster
            .masters()
            .iter()
            .filter(|m| !self.cut.contains(&m.host.name))
            .filter(|m| {
                m.host
                    .ns
                    .ip(&["-4", "-o", "addr", "show", "dev", &m.host.ifname])
                    .is_ok_and(|out| out.contains(&vip))
            })
            .map(|m| m.host.name.clone())
            .collect()
    }

    /// Waits (bounded) until exactly one master, other than `not`, holds the VIP.
    pub fn wait_for_holder(&self, bound: Duration, not: Option<&str>) -> Result<String> {
        let t = Instant::now();
        loop {
            let h = self.holders();
            if let [one] = h.as_slice() {
                if Some(one.as_str()) != not {
                    return Ok(one.clone());
                }
            }
            if t.elapsed() > bound {
                self.cluster.run().dump_logs(30);
                bail!("no single holder (other than {not:?}) within {bound:?}: holders {h:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn start_capture(&mut self) -> Result<()> {
        let bridge = self.cluster.lan().bridge().clone();
        let file = self.cluster.run().dir().join("announcements.pcap");
        let args: Vec<String> = [
            "-i",
            "br0",
            "-n",
            "-U",
            "-Z",
            "root",
            "-w",
            &file.display().to_string(),
            "arp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        self.capture = Some(
            self.cluster
                .run_mut()
                .spawn(&bridge, "capture", "tcpdump", &args)?,
        );
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// Gratuitous ARPs for the VIP seen on the bridge so far: (unix seconds, sender MAC).
    pub fn announcements(&self) -> Vec<(f64, String)> {
        let file = self.cluster.run().dir().join("announcements.pcap");
        let bridge = self.cluster.lan().bridge();
        let Ok(out) = bridge
            .cmd("tcpdump")
            .args(["-r", &file.display().to_string(), "-n", "-e", "-tt", "arp"])
            .run()
        else {
            return Vec::new();
        };
        let vip = self.story.vip.to_string();
        let (asks, tells) = (format!("who-has {vip} "), format!("tell {vip},"));
        out.lines()
            .filter(|l| l.contains(&asks) && l.contains(&tells))
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.parse().ok()?, f.next()?.to_string()))
            })
            .collect()
    }

    /// The MAC of `host`'s LAN interface.
    pub fn mac_of(&self, host: &str) -> Result<String> {
        let h = self.cluster.host(host)?;
        let out = h.ns.ip(&["-o", "link", "show", "dev", &h.ifname])?;
        out.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .map(str::to_string)
            .context("no link/ether")
    }

    /// The client's neighbour entry for the VIP (`ip neigh`), if it has one: after a takeover
    /// it must point at the new holder's MAC.
    pub fn client_neighbour_mac(&self) -> Option<String> {
        let client = self.cluster.host("client").ok()?;
        let out = client
            .ns
            .ip(&["neigh", "show", &self.story.vip.to_string()])
            .ok()?;
        out.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .map(str::to_lowercase)
    }

    /// `arping -b` from the client: the MACs that answer for the VIP.
    pub fn arping_macs(&self) -> Vec<String> {
        let client = match self.cluster.host("client") {
            Ok(c) => c.clone(),
            Err(_) => return Vec::new(),
        };
        let vip = self.story.vip.to_string();
        let out = Cmd::in_netns(client.ns.name(), "arping")
            .args(["-b", "-c", "1", "-w", "2", "-I", &client.ifname, &vip])
            .timeout(Duration::from_secs(5))
            .output();
        let text = out.map(|o| o.stdout).unwrap_or_default();
        let mut macs: Vec<String> = text
            .lines()
            .filter(|l| l.contains("reply from"))
            .filter_map(|l| Some(l.split('[').nth(1)?.split(']').next()?.to_lowercase()))
            .collect();
        macs.sort();
        macs.dedup();
        macs
    }

    /// Starts the client's probe of `VIP:6443` for `seconds`.
    pub fn start_probe(&mut self, seconds: u64) -> Result<()> {
        let probe = self.kvip.with_file_name("kvip-probe");
        let file = self
            .cluster
            .run()
            .dir()
            .join(format!("probe-{}.tsv", now_ns()));
        let ca = self.cluster.run().dir().join("probe-ca.pem");
        std::fs::write(&ca, self.cluster.pki().ca_pem()?)?;
        let client = self.cluster.host("client")?.ns.clone();
        let args: Vec<String> = [
            "--target",
            &format!("{}:6443", self.story.vip),
            "--ca",
            &ca.display().to_string(),
            "--out",
            &file.display().to_string(),
            "--interval-ms",
            "10",
            "--timeout-ms",
            "50",
            "--seconds",
            &seconds.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        self.probe = Some(self.cluster.run_mut().spawn(
            &client,
            "probe",
            &probe.display().to_string(),
            &args,
        )?);
        self.probe_file = file;
        Ok(())
    }

    /// Stops the probe and returns its samples: (unix ns, tcp ok, https ok).
    pub fn finish_probe(&mut self) -> Vec<(u128, bool, bool)> {
        if let Some(id) = self.probe.take() {
            self.cluster.run_mut().stop(id);
        }
        let text = std::fs::read_to_string(&self.probe_file).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.parse().ok()?, f.next()? == "1", f.next()? == "1"))
            })
            .collect()
    }

    /// kvip's log on `master`.
    pub fn kvip_log(&self, master: &str) -> String {
        let path = self.cluster.run().dir().join(format!("kvip-{master}.log"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Injects `fault` on `holder`; returns when it was injected.
    pub fn inject(&mut self, fault: Fault, holder: &str) -> Result<SystemTime> {
        let at = SystemTime::now();
        match fault {
            Fault::PowerOff => {
                if self.preempts() {
                    self.crash_keepalived(holder)?;
                }
                self.cluster.power_off(holder)?;
                self.cut.insert(holder.to_string());
                if self.preempts() {
                    // Stragglers of keepalived's (the check script's curl) die with the host.
                    let ns = self.cluster.host(holder)?.ns.clone();
                    for pid in ns.pids().unwrap_or_default() {
                        kill_pid(pid, "KILL");
                    }
                }
            }
            Fault::GracefulStop => {
                self.stop_kvip(holder)?;
            }
            Fault::ApiServerKilled => {
                let id = self
                    .cluster
                    .masters()
                    .iter()
                    .find(|m| m.host.name == holder)
                    .context("master")?
                    .apiserver;
                self.cluster.run_mut().kill(id);
            }
            Fault::LanCut => {
                self.cluster.lan().cut(holder)?;
                self.cut.insert(holder.to_string());
            }
            Fault::LinkFlap => {
                self.cluster.lan().set_host_link(holder, false)?;
                std::thread::sleep(Duration::from_millis(300));
                self.cluster.lan().set_host_link(holder, true)?;
            }
        }
        Ok(at)
    }

    /// Puts a cut-off host back on the LAN (the lan-cut trial's return).
    pub fn reconnect(&mut self, host: &str) -> Result<()> {
        self.cluster.lan().reconnect(host)?;
        self.cut.remove(host);
        Ok(())
    }

    /// Undoes `fault` on `host` so the next trial starts from a whole cluster.
    pub fn restore(&mut self, fault: Fault, host: &str) -> Result<()> {
        match fault {
            Fault::PowerOff => {
                // A reboot starts with no VIP on the interface.
                let h = self.cluster.host(host)?.clone();
                let _ = h.ns.ip(&[
                    "addr",
                    "del",
                    &format!("{}/32", self.story.vip),
                    "dev",
                    &h.ifname,
                ]);
                self.cluster.lan().reconnect(host)?;
                self.cut.remove(host);
                self.cluster.restart_control_plane(host)?;
                self.start_daemon(host)?;
            }
            Fault::GracefulStop => self.start_daemon(host)?,
            Fault::ApiServerKilled => {
                self.cluster.restart_control_plane(host)?;
            }
            Fault::LanCut => {
                self.cluster.lan().reconnect(host)?;
                self.cut.remove(host);
            }
            Fault::LinkFlap => {}
        }
        self.settle()
    }
}

/// `kill -SIG pid` for a PID found inside one of the run's namespaces (not one the run recorded).
fn kill_pid(pid: u32, sig: &str) {
    let _ = Cmd::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .timeout(Duration::from_secs(5))
        .output();
}

/// Unix time in ns.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
