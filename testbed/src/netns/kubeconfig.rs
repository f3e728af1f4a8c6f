//! Kubeconfigs (CA data + bearer token + server URL) for an identity and a server — a master's own
//! address as S2's static pod uses, or the VIP — and `kubectl` run inside a namespace against one.
//! kubectl's cache goes to a directory of the run, never to the shared `~/.kube`.

use super::apiserver::Identity;
use super::cmd::{Cmd, Output};
use super::lan::Netns;
use super::{io_err, NetnsError, Result};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The text of a kubeconfig for `id` talking to `server` (`https://IP:6443`), trusting `ca_pem`.
pub fn kubeconfig_yaml(ca_pem: &str, server: &str, id: &Identity) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let user = id.short();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kvip\n  cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n\
         users:\n- name: {user}\n  user:\n    token: {token}\n\
         contexts:\n- name: {user}@kvip\n  context:\n    cluster: kvip\n    user: {user}\n\
         current-context: {user}@kvip\n",
        token = id.token
    )
}

/// Writes [`kubeconfig_yaml`] to `path` (mode 0600).
pub fn write_kubeconfig(path: &Path, ca_pem: &str, server: &str, id: &Identity) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, kubeconfig_yaml(ca_pem, server, id))
        .map_err(io_err(path.display().to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err(path.display().to_string()))?;
    Ok(path.to_path_buf())
}

/// `kubectl --kubeconfig K …` run inside a namespace.
#[derive(Debug, Clone)]
pub struct Kubectl {
    ns: Netns,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
    timeout: Duration,
}

impl Kubectl {
    /// kubectl in `ns` with `kubeconfig`, its discovery cache in `cache_dir`.
    pub fn new(ns: &Netns, kubeconfig: &Path, cache_dir: &Path) -> Kubectl {
        Kubectl {
            ns: ns.clone(),
            kubeconfig: kubeconfig.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The kubeconfig it uses.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Another bound per call (default 30 s).
    pub fn with_timeout(mut self, t: Duration) -> Kubectl {
        self.timeout = t;
        self
    }

    /// The command `kubectl <args>` (not yet run), with `--request-timeout` below the bound.
    pub fn cmd(&self, args: &[&str]) -> Cmd {
        self.ns
            .cmd("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--cache-dir={}", self.cache_dir.display()))
            .arg("--request-timeout=10s")
            .args(args.iter().copied())
            .timeout(self.timeout)
    }

    /// Runs `kubectl <args>`; whatever the exit status, returns what it printed.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        self.cmd(args).output()
    }

    /// Runs `kubectl <args>`; a non-zero exit is an error. Returns stdout.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        self.cmd(args).run()
    }

    /// `kubectl <verb> -f -` with `yaml` on stdin (`verb` = apply, create, replace, delete).
    pub fn with_stdin(&self, verb: &str, yaml: &str) -> Result<Output> {
        self.cmd(&[verb, "-f", "-"])
            .stdin(yaml.as_bytes().to_vec())
            .output()
    }

    /// `kubectl apply -f -`; an error if it fails.
    pub fn apply(&self, yaml: &str) -> Result<String> {
        ok(self.with_stdin("apply", yaml)?, "kubectl apply")
    }

    /// `kubectl create -f -`; an error if it fails.
    pub fn create(&self, yaml: &str) -> Result<String> {
        ok(self.with_stdin("create", yaml)?, "kubectl create")
    }

    /// `kubectl replace -f -` (an HTTP PUT: needs only the `update` verb); an error if it fails.
    pub fn replace(&self, yaml: &str) -> Result<String> {
        ok(self.with_stdin("replace", yaml)?, "kubectl replace")
    }

    /// `kubectl get <what…>`; an error if it fails.
    pub fn get(&self, what: &[&str]) -> Result<String> {
        let mut a = vec!["get"];
        a.extend_from_slice(what);
        self.run(&a)
    }

    /// `kubectl auth can-i VERB RESOURCE -n NAMESPACE` (a SelfSubjectAccessReview): yes or no.
    pub fn can_i(&self, verb: &str, resource: &str, namespace: &str) -> Result<bool> {
        let o = self.output(&["auth", "can-i", verb, resource, "-n", namespace])?;
        match o.stdout.trim() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(NetnsError::Failed {
                cmd: format!("kubectl auth can-i {verb} {resource}"),
                status: o.status.to_string(),
                stderr: o.stderr.trim().to_string(),
            }),
        }
    }
}

fn ok(o: Output, what: &str) -> Result<String> {
    if o.ok() {
        Ok(o.stdout)
    } else {
        Err(NetnsError::Failed {
            cmd: what.to_string(),
            status: o.status.to_string(),
            stderr: o.stderr.trim().to_string(),
        })
    }
}
