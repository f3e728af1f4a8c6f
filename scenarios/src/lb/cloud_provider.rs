//! `kvip cloud-provider` (kvip's kube-vip-cloud-provider: IPAM from ConfigMap
//! `kube-system/kubevip`) started as one process of the run in a host's namespace, with a
//! kubeconfig. The kubeconfig is handed over every way the command may read it: `--kubeconfig`
//! when its help lists that flag, and the `KUBECONFIG` and `k8s_config_file` variables.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use kvip_testbed::netns::{Cluster, Cmd, ProcId};

/// How long the process must stay up after start to count as started.
const SETTLE: Duration = Duration::from_millis(500);

/// The arguments `kvip cloud-provider` gets, or why it cannot run: it must exist (its `--help`
/// exits 0); `--kubeconfig PATH` is passed when the help mentions it.
pub fn arguments(kvip: &Path, kubeconfig: &Path) -> Result<Vec<String>> {
    let help = Cmd::new(kvip.display().to_string())
        .args(["cloud-provider", "--help"])
        .timeout(Duration::from_secs(10))
        .output()?;
    if !help.ok() {
        let why = help.stderr.lines().next().unwrap_or("").trim().to_string();
        bail!("`kvip cloud-provider` is not available in this build ({why})");
    }
    let mut args = vec!["cloud-provider".to_string()];
    if help.stdout.contains("--kubeconfig") {
        args.push("--kubeconfig".into());
        args.push(kubeconfig.display().to_string());
    }
    Ok(args)
}

/// Starts `kvip cloud-provider` in `host`'s namespace as process `kvip-cloud-provider` and checks
/// that it is still running shortly after.
pub fn start(cluster: &mut Cluster, kvip: &Path, host: &str, kubeconfig: &Path) -> Result<ProcId> {
    let args = arguments(kvip, kubeconfig)?;
    let ns = cluster.host(host)?.ns.clone();
    let path = kubeconfig.display().to_string();
    let env = vec![
        ("KUBECONFIG".to_string(), path.clone()),
        ("k8s_config_file".to_string(), path),
        ("RUST_LOG".to_string(), "info".to_string()),
        ("HOME".to_string(), "/nonexistent".to_string()),
    ];
    let id = cluster.run_mut().spawn_env(
        &ns,
        "kvip-cloud-provider",
        &kvip.display().to_string(),
        &args,
        &env,
    )?;
    std::thread::sleep(SETTLE);
    cluster.run_mut().process(id).check_alive()?;
    Ok(id)
}
