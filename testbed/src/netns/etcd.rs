//! etcd (Debian's `etcd-server`, 3.4) as the API servers' store: the command line of one member of
//! a static cluster (one member per master namespace, data on /dev/shm, fast raft timers as
//! PEERS.md §5: heartbeat 50 ms, election timeout 500 ms) and its health probe.

use super::cmd::Cmd;
use super::lan::Netns;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// The etcd binary (Debian's `etcd-server`).
pub const ETCD: &str = "etcd";
/// Client port.
pub const CLIENT_PORT: u16 = 2379;
/// Peer port.
pub const PEER_PORT: u16 = 2380;

/// `http://IP:2379`.
pub fn client_url(ip: Ipv4Addr) -> String {
    format!("http://{ip}:{CLIENT_PORT}")
}

/// `http://IP:2380`.
pub fn peer_url(ip: Ipv4Addr) -> String {
    format!("http://{ip}:{PEER_PORT}")
}

/// `--initial-cluster` for these members: `n1=http://ip1:2380,…`.
pub fn initial_cluster(members: &[(String, Ipv4Addr)]) -> String {
    members
        .iter()
        .map(|(n, ip)| format!("{n}={}", peer_url(*ip)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The arguments of member `name` at `ip`, listening for clients on its IP and on 127.0.0.1.
/// With an existing `data_dir` etcd ignores the `--initial-*` flags, so the same arguments restart
/// a member that was killed.
pub fn member_args(
    name: &str,
    ip: Ipv4Addr,
    initial_cluster: &str,
    data_dir: &Path,
    token: &str,
) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut kv = |k: &str, v: String| {
        a.push(format!("--{k}"));
        a.push(v);
    };
    kv("name", name.to_string());
    kv("data-dir", data_dir.display().to_string());
    kv(
        "listen-client-urls",
        format!("{},http://127.0.0.1:{CLIENT_PORT}", client_url(ip)),
    );
    kv("advertise-client-urls", client_url(ip));
    kv("listen-peer-urls", peer_url(ip));
    kv("initial-advertise-peer-urls", peer_url(ip));
    kv("initial-cluster", initial_cluster.to_string());
    kv("initial-cluster-state", "new".into());
    kv("initial-cluster-token", token.to_string());
    kv("heartbeat-interval", "50".into());
    kv("election-timeout", "500".into());
    kv("logger", "zap".into());
    kv("log-level", "warn".into());
    // A member that was cut off keeps campaigning and returns with a higher term; without
    // pre-vote it deposes the working leader and stalls every write (and so every lease renew)
    // for an election. etcd 3.5 turns this on by default; 3.4 (Debian's) needs it asked for.
    a.push("--pre-vote=true".into());
    a
}

/// True when `endpoint`'s `/health` says `{"health":"true"}` (it has a leader), probed from `from`.
pub fn healthy(from: &Netns, endpoint: &str) -> bool {
    from.cmd("curl")
        .args(["-s", "-m", "1", &format!("{endpoint}/health")])
        .timeout(Duration::from_secs(3))
        .output()
        .is_ok_and(|o| o.ok() && o.stdout.contains("\"health\":\"true\""))
}

/// `etcdctl` against `endpoints`, run from `from` (for tests that look into the store).
pub fn etcdctl(from: &Netns, endpoints: &[String]) -> Cmd {
    from.cmd("etcdctl")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .arg("--command-timeout=3s")
        .env("ETCDCTL_API", "3")
}
