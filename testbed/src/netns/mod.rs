//! The network-namespace cluster builder: real kernel networking, real etcd, real kube-apiserver.
//!
//! Owns everything a namespace test starts on this machine, and its removal:
//! - [`Run`] ([`run`]): the guard of one test run. It owns a unique name prefix (`kv<pid%10000><letter>`),
//!   every namespace and process it started (by the name and PID it recorded), a temp dir and an
//!   etcd data dir on /dev/shm, and removes them all on `Drop`, also when the test panics. A state
//!   file under `/run/kvip-testbed/` lets the next run remove what a SIGKILLed run left behind.
//! - [`Netns`], [`Lan`] ([`lan`]): `ip netns`/`ip link` helpers: a bridge namespace with `br0`, hosts
//!   with a veth (`eth0`, or `ens3` for S1) on it, cutting a host off at the bridge, sysctls.
//! - [`Process`] ([`process`]): a daemon started with `ip netns exec`, logged to a file, stopped with
//!   TERM, ≤ 4 s, KILL, and reaped.
//! - [`Pki`] ([`pki`]): a CA, serving certificates and the service-account key pair, made with openssl.
//! - [`etcd`], [`apiserver`]: the arguments and readiness checks of the two servers.
//! - [`ClusterSpec`] ([`spec`]), [`Cluster`] ([`cluster`]): a cluster from a description: a LAN, masters
//!   that each run one member of a three-member etcd cluster and their own kube-apiserver, clients,
//!   extra hosts; [`Master`] ([`master`]) keeps each master's command lines for restarts.
//!   [`stale`]: removal of what a SIGKILLed run left.
//! - [`Kubectl`] ([`kubeconfig`]): kubeconfigs for an identity and a server, and `kubectl` run from a
//!   namespace against one of them.
//!
//! Everything here needs root; tests call [`skip_reason`] first and skip with its message. Every
//! command and every wait is bounded in time; addresses are used only inside the run's namespaces.

pub mod apiserver;
pub mod cluster;
pub mod cmd;
pub mod dnsmasq;
pub mod etcd;
pub mod kubeconfig;
pub mod lan;
pub mod master;
pub mod pki;
pub mod process;
pub mod run;
pub mod spec;
pub mod stale;

pub use apiserver::Identity;
pub use cluster::Cluster;
pub use cmd::Cmd;
pub use kubeconfig::Kubectl;
pub use lan::{Host, Lan, Netns};
pub use master::Master;
pub use pki::Pki;
pub use process::Process;
pub use run::{CleanupReport, ProcId, Run};
pub use spec::{ClusterSpec, EtcdEndpoints, HostSpec};
pub use stale::{list_netns, sweep_stale};

use std::path::PathBuf;
use std::time::Duration;

/// Where `testbed/scripts/build-kube-apiserver.sh` caches the binary (a symlink to the versioned file).
pub const KUBE_APISERVER_CACHE: &str = "/var/cache/kvip/kube-apiserver";
/// The command that builds and caches kube-apiserver on a machine that lacks it.
pub const BUILD_HINT: &str =
    "sudo testbed/scripts/install-deps.sh && sudo testbed/scripts/build-kube-apiserver.sh";

/// Errors of the namespace testbed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A program could not be started at all (not installed, not executable).
    #[error("cannot start `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why exec failed.
        source: std::io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// A command or a readiness wait ran past its time bound.
    #[error("{what}: timed out after {after:?}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The bound that ran out.
        after: Duration,
    },
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The cluster description is inconsistent (bad subnet, duplicate name, address outside the LAN…).
    #[error("invalid cluster description: {0}")]
    Spec(String),
    /// A daemon exited while it should be serving.
    #[error("{name} exited early ({status}); last log lines:\n{log}")]
    Exited {
        /// The process's name in the run.
        name: String,
        /// Its exit status.
        status: String,
        /// The tail of its log file.
        log: String,
    },
}

/// Result of the namespace testbed.
pub type Result<T> = std::result::Result<T, NetnsError>;

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetnsError {
    let what = what.into();
    move |source| NetnsError::Io { what, source }
}

/// True when the process runs as root (namespaces, veths and sysctls need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The kube-apiserver binary: `$KVIP_KUBE_APISERVER` if set, else the cache, if it exists.
pub fn kube_apiserver_binary() -> Option<PathBuf> {
    let p = std::env::var_os("KVIP_KUBE_APISERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(KUBE_APISERVER_CACHE));
    p.is_file().then_some(p)
}

/// Searches `PATH` for a program.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `None` when a namespace cluster can run here; otherwise why not, and what to run to fix it.
pub fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some(
            "needs root (network namespaces, veths, sysctls); run the test as root".into(),
        );
    }
    for tool in ["ip", "etcd", "etcdctl", "openssl", "curl", "kubectl"] {
        if which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed; run: sudo testbed/scripts/install-deps.sh"
            ));
        }
    }
    if kube_apiserver_binary().is_none() {
        return Some(format!(
            "no kube-apiserver at {KUBE_APISERVER_CACHE} (or $KVIP_KUBE_APISERVER); build it once with: {BUILD_HINT}"
        ));
    }
    None
}
