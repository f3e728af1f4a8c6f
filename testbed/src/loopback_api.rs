//! A real etcd and kube-apiserver v1.20 on loopback, for tests that need the API but no network
//! namespaces (no root): free ports on 127.0.0.1, a run CA and serving certificate made with
//! openssl (so kube-rs verifies TLS for real), static bearer tokens for the admin and for
//! ServiceAccount identities (`system:serviceaccount:<ns>:<name>`, so RBAC bindings to the
//! account apply), RBAC authorization. Both servers are killed by the PID this module started
//! and the run directory is removed on drop, also when the test panics.
//!
//! [`LoopbackApi::skip_reason`] says why a test must skip (binary missing); the API server is
//! `testbed/scripts/build-kube-apiserver.sh`'s cached build.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::netns::apiserver::{write_token_file, Identity};
use crate::netns::cmd::{Cmd, Output};
use crate::netns::kubeconfig::write_kubeconfig;
use crate::netns::pki::{random_token, Pki};
use crate::netns::{io_err, kube_apiserver_binary, which, NetnsError, Result, BUILD_HINT};

/// How long the API server may take to answer /readyz.
const READY_BOUND: Duration = Duration::from_secs(60);

/// A running loopback API server and its etcd.
pub struct LoopbackApi {
    dir: PathBuf,
    children: Vec<(String, Child)>,
    url: String,
    ca_pem: String,
    admin: Identity,
    accounts: Vec<Identity>,
    admin_kubeconfig: PathBuf,
}

impl Drop for LoopbackApi {
    fn drop(&mut self) {
        // The API server first, then etcd; each by the PID we started, then reaped.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err("bind a free port"))?;
    Ok(listener.local_addr().map_err(io_err("local addr"))?.port())
}

fn spawn(program: &Path, args: &[String], log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log).map_err(io_err(log.display().to_string()))?;
    let err = file.try_clone().map_err(io_err("dup log"))?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|source| NetnsError::Spawn {
            cmd: program.display().to_string(),
            source,
        })
}

impl LoopbackApi {
    /// Why the fixture cannot run here (a missing binary), or `None`.
    pub fn skip_reason() -> Option<String> {
        let mut missing: Vec<String> = ["etcd", "kubectl", "openssl"]
            .into_iter()
            .filter(|p| which(p).is_none())
            .map(String::from)
            .collect();
        if kube_apiserver_binary().is_none() {
            missing.push(format!("kube-apiserver (build it: {BUILD_HINT})"));
        }
        (!missing.is_empty()).then(|| format!("missing: {}", missing.join(", ")))
    }

    /// Starts etcd and kube-apiserver; `accounts` are the ServiceAccounts (`namespace`, `name`)
    /// that get a token. Waits (bounded) until /readyz answers.
    pub fn start(name: &str, accounts: &[(&str, &str)]) -> Result<LoopbackApi> {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "kvip-loopback-{name}-{}-{serial}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(io_err(dir.display().to_string()))?;
        let pki = Pki::new(&dir.join("pki"))?;
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let cert = pki.serving_cert(
            "apiserver",
            "kube-apiserver",
            &[localhost],
            &["localhost".into(), "kubernetes".into()],
        )?;
        let admin = Identity::admin(random_token()?);
        let accounts: Vec<Identity> = accounts
            .iter()
            .map(|(ns, n)| Ok(Identity::service_account(ns, n, random_token()?)))
            .collect::<Result<_>>()?;
        let tokens = dir.join("tokens.csv");
        let all: Vec<Identity> = std::iter::once(admin.clone())
            .chain(accounts.clone())
            .collect();
        write_token_file(&tokens, &all)?;
        let (client, peer, secure) = (free_port()?, free_port()?, free_port()?);
        let url = format!("https://127.0.0.1:{secure}");
        let mut api = LoopbackApi {
            ca_pem: pki.ca_pem()?,
            admin_kubeconfig: dir.join("admin.kubeconfig"),
            dir: dir.clone(),
            children: Vec::new(),
            url: url.clone(),
            admin,
            accounts,
        };
        write_kubeconfig(&api.admin_kubeconfig, &api.ca_pem, &url, &api.admin)?;
        let etcd_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let d = |p: &Path| p.display().to_string();
        let etcd_args: Vec<String> = vec![
            format!("--data-dir={}", d(&dir.join("etcd"))),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
        ];
        let etcd = which("etcd").ok_or_else(|| NetnsError::Spec("etcd not found".into()))?;
        let child = spawn(&etcd, &etcd_args, &dir.join("etcd.log"))?;
        api.children.push(("etcd".into(), child));
        let apiserver = kube_apiserver_binary()
            .ok_or_else(|| NetnsError::Spec(format!("kube-apiserver missing: {BUILD_HINT}")))?;
        let issuer = "https://kvip.loopback";
        let api_args: Vec<String> = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={secure}"),
            "--insecure-port=0".into(),
            format!("--tls-cert-file={}", d(&cert.crt)),
            format!("--tls-private-key-file={}", d(&cert.key)),
            format!("--client-ca-file={}", d(&pki.ca_crt)),
            format!("--cert-dir={}", d(&dir.join("certs"))),
            "--authorization-mode=RBAC".into(),
            format!("--token-auth-file={}", d(&tokens)),
            format!("--service-account-key-file={}", d(&pki.sa_pub)),
            format!("--service-account-signing-key-file={}", d(&pki.sa_key)),
            format!("--service-account-issuer={issuer}"),
            format!("--api-audiences={issuer}"),
            "--service-cluster-ip-range=10.96.0.0/12".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
            // No token controller runs here to mint ServiceAccount tokens for Pods.
            "--disable-admission-plugins=ServiceAccount".into(),
        ];
        let child = spawn(&apiserver, &api_args, &dir.join("kube-apiserver.log"))?;
        api.children.push(("kube-apiserver".into(), child));
        api.wait_ready()?;
        Ok(api)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            let exited = self
                .children
                .iter_mut()
                .find_map(|(name, child)| Some((name.clone(), child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                return Err(NetnsError::Exited {
                    log: self.log_tail(&name, 30),
                    name,
                    status: status.to_string(),
                });
            }
            let ready = self.kubectl(&["get", "--raw", "/readyz"]);
            if ready.is_ok_and(|o| o.ok() && o.stdout.trim() == "ok") {
                return Ok(());
            }
            if start.elapsed() > READY_BOUND {
                return Err(NetnsError::Timeout {
                    what: format!(
                        "kube-apiserver /readyz; log tail:\n{}",
                        self.log_tail("kube-apiserver", 20)
                    ),
                    after: READY_BOUND,
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last `n` lines of the log of `name` (`etcd` or `kube-apiserver`).
    pub fn log_tail(&self, name: &str, n: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The run directory (logs, kubeconfigs); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The admin's kubeconfig (group `system:masters`).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// Writes (once) and returns a kubeconfig for ServiceAccount `namespace/name`, which must
    /// have been named at [`LoopbackApi::start`].
    pub fn account_kubeconfig(&self, namespace: &str, name: &str) -> Result<PathBuf> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let id = self
            .accounts
            .iter()
            .find(|i| i.user == user)
            .ok_or_else(|| NetnsError::Spec(format!("{user} has no token in this run")))?;
        let path = self.dir.join(format!("{namespace}-{name}.kubeconfig"));
        write_kubeconfig(&path, &self.ca_pem, &self.url, id)
    }

    /// `kubectl <args>` as the admin (bounded to 30 s); whatever the exit status.
    pub fn kubectl(&self, args: &[&str]) -> Result<Output> {
        self.kubectl_cmd(args).output()
    }

    /// `kubectl <verb> -f -` as the admin with `yaml` on stdin; an error if it fails.
    pub fn kubectl_stdin(&self, verb: &str, yaml: &str) -> Result<String> {
        self.kubectl_cmd(&[verb, "-f", "-"])
            .stdin(yaml.as_bytes().to_vec())
            .run()
    }

    /// `kubectl get <what> -o json` as the admin, parsed; `None` if it does not exist.
    pub fn get_json(&self, what: &[&str]) -> Result<Option<serde_json::Value>> {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend(["-o", "json", "--ignore-not-found"]);
        let out = self.kubectl_cmd(&args).run()?;
        if out.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&out)
            .map(Some)
            .map_err(|e| NetnsError::Spec(format!("kubectl {args:?}: bad JSON: {e}")))
    }

    fn kubectl_cmd(&self, args: &[&str]) -> Cmd {
        Cmd::new("kubectl")
            .arg(format!("--kubeconfig={}", self.admin_kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.dir.join("kube-cache").display()
            ))
            .arg("--request-timeout=10s")
            .args(args.iter().copied())
            .timeout(Duration::from_secs(30))
    }
}
