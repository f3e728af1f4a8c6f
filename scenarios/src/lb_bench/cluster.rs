//! [`BenchCluster`]: a story's cluster (the runner's [`Scenario`]: real etcd + kube-apiserver per
//! master, kvip on every master) with an admin kubectl per master's own API server (so a powered-off
//! master never takes the benchmark's reads with it), and the bulk reads the benchmark polls: the
//! benchmark's addresses on every live master (one `ip addr` per host), every Service's state (one
//! `kubectl get` per poll), Lease holders, `/metrics`, and creating Services in batches.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use kvip_testbed::netns::{Host, Kubectl};

use super::plan::{parse_addrs, parse_states, Plan, SvcState, LABEL, NAMESPACE, STATES_JSONPATH};
use crate::runner::Scenario;
use crate::story::Story;

/// Services per `kubectl create`.
const BATCH: usize = 250;

/// A running cluster for the benchmark.
pub struct BenchCluster {
    /// The cluster with kvip on every master.
    pub scenario: Scenario,
    kubectl: BTreeMap<String, Kubectl>,
    /// Masters powered off now (their kernel still holds addresses nobody can reach).
    pub off: BTreeSet<String>,
}

impl BenchCluster {
    /// Starts `story`'s cluster with `kvip` on every master, and an admin kubectl per master.
    pub fn start(story: Story, kvip: &Path) -> Result<BenchCluster> {
        let deploy = crate::binaries::workspace().join("deploy");
        let scenario = Scenario::start(story, kvip.to_path_buf(), &deploy)?;
        let mut kubectl = BTreeMap::new();
        for m in scenario.master_names() {
            let c = &scenario.cluster;
            let path = c.write_kubeconfig(
                &format!("lb-bench-admin-{m}.kubeconfig"),
                c.admin(),
                &c.server_url(&m)?,
            )?;
            let k = c
                .kubectl("client", &path)?
                .with_timeout(Duration::from_secs(60));
            kubectl.insert(m, k);
        }
        Ok(BenchCluster {
            scenario,
            kubectl,
            off: BTreeSet::new(),
        })
    }

    /// The masters' names.
    pub fn masters(&self) -> Vec<String> {
        self.scenario.master_names()
    }

    /// The masters that are not powered off.
    pub fn live(&self) -> Vec<String> {
        self.masters()
            .into_iter()
            .filter(|m| !self.off.contains(m))
            .collect()
    }

    /// Admin kubectl against a live master's API server, preferring one other than `avoid`.
    pub fn kubectl(&self, avoid: Option<&str>) -> Kubectl {
        let live = self.live();
        let pick = live
            .iter()
            .find(|m| Some(m.as_str()) != avoid)
            .or(live.first())
            .expect("a live master");
        self.kubectl[pick].clone()
    }

    /// Admin kubectl against `master`'s own API server.
    pub fn kubectl_of(&self, master: &str) -> Kubectl {
        self.kubectl[master].clone()
    }

    /// Creates the plan's Services `range` with `kubectl create` in batches.
    pub fn create(&self, plan: &Plan, range: std::ops::Range<usize>) -> Result<()> {
        let k = self.kubectl(None).with_timeout(Duration::from_secs(120));
        let mut start = range.start;
        while start < range.end {
            let end = (start + BATCH).min(range.end);
            k.create(&plan.list_json(start..end))
                .with_context(|| format!("creating Services {start}..{end}"))?;
            start = end;
        }
        Ok(())
    }

    /// The live masters' hosts (for [`addresses_of`], which runs on another thread).
    pub fn live_hosts(&self) -> Result<Vec<Host>> {
        self.live()
            .iter()
            .map(|m| Ok(self.scenario.cluster.host(m)?.clone()))
            .collect()
    }

    /// The plan's addresses configured on each live master now (one `ip addr` per master).
    pub fn addresses(&self, plan: &Plan) -> Result<BTreeMap<String, BTreeSet<Ipv4Addr>>> {
        addresses_of(&self.live_hosts()?, plan)
    }

    /// The plan's addresses still configured on `master` (even if it is powered off).
    pub fn addresses_on(&self, plan: &Plan, master: &str) -> Result<BTreeSet<Ipv4Addr>> {
        let h = self.scenario.cluster.host(master)?;
        let text = h.ns.ip(&["-4", "-o", "addr", "show"])?;
        Ok(parse_addrs(&text, |a| plan.in_range(a)))
    }

    /// Removes the plan's addresses from `master`'s interface (a rebooted host starts without
    /// them), in one `ip -batch`.
    pub fn flush(&self, plan: &Plan, master: &str) -> Result<usize> {
        let have = self.addresses_on(plan, master)?;
        if have.is_empty() {
            return Ok(0);
        }
        let h = self.scenario.cluster.host(master)?;
        let script: String = have
            .iter()
            .map(|a| format!("addr del {a}/32 dev {}\n", h.ifname))
            .collect();
        let o =
            h.ns.cmd("ip")
                .args(["-batch", "-"])
                .stdin(script.into_bytes())
                .timeout(Duration::from_secs(60))
                .output()?;
        if !o.ok() {
            bail!("ip -batch on {master}: {}", o.stderr.trim());
        }
        Ok(have.len())
    }

    /// Every benchmark Service's state (one `kubectl get`), through a master other than `avoid`.
    pub fn states(&self, avoid: Option<&str>) -> Result<Vec<SvcState>> {
        states_of(&self.kubectl(avoid))
    }

    /// The holder of Lease `kube-system/<name>` (`None` when absent or unheld).
    pub fn lease_holder(&self, name: &str, avoid: Option<&str>) -> Result<Option<String>> {
        let k = self.kubectl(avoid);
        let o = k.output(&[
            "get",
            "lease",
            name,
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])?;
        if !o.ok() {
            if o.stderr.contains("NotFound") {
                return Ok(None);
            }
            bail!("kubectl get lease {name}: {}", o.stderr.trim());
        }
        Ok(Some(o.stdout.trim().to_string()).filter(|s| !s.is_empty()))
    }

    /// `GET /metrics` of `master`'s own API server.
    pub fn metrics(&self, master: &str) -> Result<String> {
        Ok(self.kubectl_of(master).run(&["get", "--raw", "/metrics"])?)
    }

    /// Peak RSS (VmHWM, kB) of every running kvip: (process name, kB).
    pub fn kvip_hwm(&mut self) -> Vec<(String, u64)> {
        self.scenario
            .daemon_pids()
            .into_iter()
            .filter_map(|(name, pid)| Some((name, crate::bench::read_vm_hwm_kb(pid)?)))
            .collect()
    }
}

/// The plan's addresses configured on each of `hosts` now (one `ip addr` per host).
pub fn addresses_of(hosts: &[Host], plan: &Plan) -> Result<BTreeMap<String, BTreeSet<Ipv4Addr>>> {
    let mut out = BTreeMap::new();
    for h in hosts {
        let text = h.ns.ip(&["-4", "-o", "addr", "show"])?;
        out.insert(h.name.clone(), parse_addrs(&text, |a| plan.in_range(a)));
    }
    Ok(out)
}

/// Every benchmark Service's state, with one `kubectl get` through `k`.
pub fn states_of(k: &Kubectl) -> Result<Vec<SvcState>> {
    let text = k.run(&[
        "get",
        "services",
        "-n",
        NAMESPACE,
        "-l",
        &format!("app={LABEL}"),
        "-o",
        STATES_JSONPATH,
    ])?;
    Ok(parse_states(&text))
}

/// Seconds with millisecond precision, for the printed lines.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
