//! kube-apiserver v1.20 (built from Debian's source package, cached by
//! `testbed/scripts/build-kube-apiserver.sh`): its command line (TLS serving certificate, static
//! bearer tokens, RBAC, service-account keys as 1.20 requires, 6443 on 0.0.0.0 of its namespace), the
//! identities of the token file, and an HTTPS probe run with `curl` from any namespace.

use super::cmd::Cmd;
use super::lan::Netns;
use super::pki::{Pki, ServingCert};
use super::{io_err, NetnsError, Result};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// The secure port.
pub const PORT: u16 = 6443;
/// `--service-account-issuer` (and the API audience).
pub const SA_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// `--service-cluster-ip-range`; its first address is the `kubernetes` Service's.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";

/// A user of the static token file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name (`kubernetes-admin`, `system:serviceaccount:kube-system:kube-vip`).
    pub user: String,
    /// UID written in the token file.
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
    /// The bearer token.
    pub token: String,
}

impl Identity {
    /// The cluster admin: group `system:masters`.
    pub fn admin(token: String) -> Identity {
        Identity {
            user: "kubernetes-admin".into(),
            uid: "uid-admin".into(),
            groups: vec!["system:masters".into()],
            token,
        }
    }

    /// A ServiceAccount's identity: `system:serviceaccount:<ns>:<name>` with the ServiceAccount groups,
    /// exactly what a ServiceAccount token of that account authenticates as, so RBAC bindings to the
    /// ServiceAccount apply.
    pub fn service_account(namespace: &str, name: &str, token: String) -> Identity {
        Identity {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            uid: format!("uid-sa-{namespace}-{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
            ],
            token,
        }
    }

    /// A short name for file names: the last `:`-separated part of the user.
    pub fn short(&self) -> &str {
        self.user.rsplit(':').next().unwrap_or(&self.user)
    }

    fn csv_line(&self) -> String {
        format!(
            "{},{},{},\"{}\"",
            self.token,
            self.user,
            self.uid,
            self.groups.join(",")
        )
    }
}

/// Writes the `--token-auth-file` for these identities.
pub fn write_token_file(path: &Path, ids: &[Identity]) -> Result<()> {
    let mut s = String::new();
    for id in ids {
        s.push_str(&id.csv_line());
        s.push('\n');
    }
    std::fs::write(path, s).map_err(io_err(path.display().to_string()))
}

/// Everything one API server needs.
#[derive(Debug, Clone)]
pub struct ApiServerConfig<'a> {
    /// The master's address (`--advertise-address`).
    pub advertise: Ipv4Addr,
    /// `--etcd-servers`.
    pub etcd_servers: Vec<String>,
    /// The run's CA and service-account keys.
    pub pki: &'a Pki,
    /// This server's certificate.
    pub cert: &'a ServingCert,
    /// The token file.
    pub token_file: &'a Path,
    /// A private directory for `--cert-dir` (so the shared /var/run/kubernetes is never written).
    pub cert_dir: &'a Path,
    /// Extra arguments, appended last.
    pub extra_args: &'a [String],
}

/// The command line of one kube-apiserver.
pub fn args(c: &ApiServerConfig<'_>) -> Vec<String> {
    let d = |p: &Path| p.display().to_string();
    let mut a = vec![
        format!("--advertise-address={}", c.advertise),
        "--bind-address=0.0.0.0".to_string(),
        format!("--secure-port={PORT}"),
        "--insecure-port=0".to_string(),
        format!("--etcd-servers={}", c.etcd_servers.join(",")),
        format!("--tls-cert-file={}", d(&c.cert.crt)),
        format!("--tls-private-key-file={}", d(&c.cert.key)),
        format!("--client-ca-file={}", d(&c.pki.ca_crt)),
        format!("--cert-dir={}", d(c.cert_dir)),
        "--authorization-mode=RBAC".to_string(),
        format!("--token-auth-file={}", d(c.token_file)),
        format!("--service-account-key-file={}", d(&c.pki.sa_pub)),
        format!("--service-account-signing-key-file={}", d(&c.pki.sa_key)),
        format!("--service-account-issuer={SA_ISSUER}"),
        format!("--api-audiences={SA_ISSUER}"),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--allow-privileged=true".to_string(),
        "--profiling=false".to_string(),
        "--v=1".to_string(),
    ];
    a.extend(c.extra_args.iter().cloned());
    a
}

/// `https://IP:6443`.
pub fn url(ip: Ipv4Addr) -> String {
    format!("https://{ip}:{PORT}")
}

/// `GET server+path` with a bearer token, verified against `ca`, from namespace `from`; returns
/// (HTTP status, body). Status 0 means no HTTP answer (connection refused, TLS error, timeout).
pub fn get(
    from: &Netns,
    server: &str,
    ca: &Path,
    token: Option<&str>,
    path: &str,
) -> Result<(u16, String)> {
    let mut c = from
        .cmd("curl")
        .args(["-s", "-m", "2", "--cacert", &ca.display().to_string()]);
    if let Some(t) = token {
        c = c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let o = c
        .args(["-w", "\n%{http_code}", &format!("{server}{path}")])
        .timeout(Duration::from_secs(5))
        .output()?;
    let (body, code) = o
        .stdout
        .rsplit_once('\n')
        .unwrap_or(("", o.stdout.as_str()));
    let code: u16 = code.trim().parse().map_err(|_| NetnsError::Failed {
        cmd: format!("curl {server}{path}"),
        status: o.status.to_string(),
        stderr: o.stderr.clone(),
    })?;
    Ok((code, body.to_string()))
}

/// True when `server`'s `/readyz` answers 200 `ok` to `token`.
pub fn ready(from: &Netns, server: &str, ca: &Path, token: &str) -> bool {
    matches!(get(from, server, ca, Some(token), "/readyz"), Ok((200, body)) if body.trim() == "ok")
}

/// A curl command prepared for `server` (for tests that need more than GET).
pub fn curl(from: &Netns, ca: &Path, token: &str) -> Cmd {
    from.cmd("curl").args([
        "-s",
        "-m",
        "3",
        "--cacert",
        &ca.display().to_string(),
        "-H",
        &format!("Authorization: Bearer {token}"),
    ])
}
