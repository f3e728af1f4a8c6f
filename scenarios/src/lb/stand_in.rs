//! What runs on a node in place of the real thing: `kvip-hostname-server` answering `sshd <host>`
//! on port 22 (the host's own sshd) and `nginx <host>` on [`NGINX_PORT`] (the Service's pod, reached
//! through the kube-proxy stand-in), and the client's side: one TCP connection from inside a
//! namespace that reads the reply line ([`ask`]). Also which hosts hold an address now.

use std::fmt;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kvip_testbed::netns::{Host, Netns, ProcId, Run};

/// The sshd stand-in's port.
pub const SSHD_PORT: u16 = 22;
/// The nginx stand-in's port (the pods' `targetPort`, where kube-proxy sends Service traffic).
pub const NGINX_PORT: u16 = 8080;
/// How long a hostname server may take to answer on its own address after start.
const READY_BOUND: Duration = Duration::from_secs(5);

/// The sshd stand-in's reply on `host`.
pub fn sshd_reply(host: &str) -> String {
    format!("sshd {host}")
}

/// The nginx stand-in's reply on `host`.
pub fn nginx_reply(host: &str) -> String {
    format!("nginx {host}")
}

/// Starts one `kvip-hostname-server` per host (process `hostname-<host>` of the run) serving
/// [`sshd_reply`] on 22 and [`nginx_reply`] on [`NGINX_PORT`], and waits until each answers both
/// on its own address.
pub fn start_hostname_servers(run: &mut Run, server: &Path, hosts: &[Host]) -> Result<Vec<ProcId>> {
    let program = server.display().to_string();
    let mut ids = Vec::new();
    for h in hosts {
        let args = vec![
            "--listen".to_string(),
            format!("0.0.0.0:{SSHD_PORT}"),
            "--reply".into(),
            sshd_reply(&h.name),
            "--listen".into(),
            format!("0.0.0.0:{NGINX_PORT}"),
            "--reply".into(),
            nginx_reply(&h.name),
        ];
        ids.push(run.spawn(&h.ns, &format!("hostname-{}", h.name), &program, &args)?);
    }
    for (h, id) in hosts.iter().zip(&ids) {
        for (port, want) in [
            (SSHD_PORT, sshd_reply(&h.name)),
            (NGINX_PORT, nginx_reply(&h.name)),
        ] {
            let target = SocketAddrV4::new(h.ip, port);
            let t = Instant::now();
            loop {
                run.process(*id).check_alive()?;
                let got = ask(&h.ns, target, Duration::from_millis(500));
                if got == Answer::Reply(want.clone()) {
                    break;
                }
                if t.elapsed() > READY_BOUND {
                    bail!("hostname server on {}: {target} answered {got} within {READY_BOUND:?}, not {want:?}", h.name);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    Ok(ids)
}

/// What one connection got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The reply line (trimmed).
    Reply(String),
    /// The connection was refused (nothing listens there, no rule sends it elsewhere).
    Refused,
    /// No answer: timeout, unreachable, or another error (its text).
    Nothing(String),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Reply(r) => write!(f, "{r:?}"),
            Answer::Refused => f.write_str("connection refused"),
            Answer::Nothing(e) => write!(f, "no answer ({e})"),
        }
    }
}

/// Opens one TCP connection to `target` from inside namespace `ns` and reads the reply line,
/// everything bounded by `timeout` (connect, then read). Runs on a short-lived thread that
/// enters the namespace (`setns` changes only that thread's network namespace).
pub fn ask(ns: &Netns, target: SocketAddrV4, timeout: Duration) -> Answer {
    let path = format!("/run/netns/{}", ns.name());
    let worker = std::thread::spawn(move || -> std::io::Result<String> {
        let f = std::fs::File::open(&path)?;
        // SAFETY: setns(2) on a valid fd of a network namespace, for the calling thread only.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let conn = TcpStream::connect_timeout(&SocketAddr::V4(target), timeout)?;
        conn.set_read_timeout(Some(timeout))?;
        let mut buf = Vec::new();
        conn.take(4096).read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).trim().to_string())
    });
    match worker.join() {
        Ok(Ok(reply)) => Answer::Reply(reply),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Answer::Refused,
        Ok(Err(e)) => Answer::Nothing(e.to_string()),
        Err(_) => Answer::Nothing("the asking thread panicked".into()),
    }
}

/// Asks `target` from `ns` every 50 ms until the answer is `want` or `bound` passes; returns the
/// time it took, or the last answer.
pub fn ask_until(
    ns: &Netns,
    target: SocketAddrV4,
    want: &Answer,
    bound: Duration,
) -> std::result::Result<Duration, Answer> {
    let t = Instant::now();
    loop {
        let got = ask(ns, target, Duration::from_millis(300));
        if &got == want {
            return Ok(t.elapsed());
        }
        if t.elapsed() > bound {
            return Err(got);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hosts (of `hosts`) that have `addr` configured on any interface now.
pub fn hosts_with(hosts: &[Host], addr: Ipv4Addr) -> Vec<String> {
    let needle = format!("inet {addr}/");
    hosts
        .iter()
        .filter(|h| {
            h.ns.ip(&["-4", "-o", "addr", "show"])
                .is_ok_and(|out| out.contains(&needle))
        })
        .map(|h| h.name.clone())
        .collect()
}

/// The interface that holds `addr` on `host`, if any.
pub fn interface_with(host: &Host, addr: Ipv4Addr) -> Result<Option<String>> {
    let out = host
        .ns
        .ip(&["-4", "-o", "addr", "show"])
        .context("ip addr show")?;
    let needle = format!("inet {addr}/");
    Ok(out
        .lines()
        .find(|l| l.contains(&needle))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|i| i.split('@').next().unwrap_or(i).to_string()))
}
