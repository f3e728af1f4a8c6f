//! One daemon started inside a namespace with `ip netns exec NS program…` (which execs, so the
//! recorded PID is the daemon's own), stdout and stderr appended to a log file. It is stopped with
//! TERM, up to 4 s of waiting, then KILL, and always reaped; `Drop` does that. A reaped process is
//! never signalled again, so a recycled PID is never hit.

use super::{io_err, NetnsError, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`Process::stop`] waits after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(4);

/// A daemon running in a namespace.
#[derive(Debug)]
pub struct Process {
    name: String,
    netns: String,
    pid: u32,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
    grace: Duration,
    tier: u8,
}

impl Process {
    /// Starts `program args…` in namespace `netns`, output appended to `log`.
    pub fn spawn(
        name: &str,
        netns: &str,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        log: &Path,
    ) -> Result<Process> {
        let f: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io_err(format!("open log {}", log.display())))?;
        let f2 = f.try_clone().map_err(io_err("dup log fd"))?;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", netns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(f2);
        for (k, v) in env {
            c.env(k, v);
        }
        let shown = format!("ip netns exec {netns} {program} {}", args.join(" "));
        let child = c
            .spawn()
            .map_err(|source| NetnsError::Spawn { cmd: shown, source })?;
        Ok(Process {
            name: name.to_string(),
            netns: netns.to_string(),
            pid: child.id(),
            child,
            log: log.to_path_buf(),
            exited: None,
            grace: TERM_GRACE,
            tier: 0,
        })
    }

    /// The name given at spawn (e.g. `etcd-master01`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Its PID (recorded at spawn; stays valid for reporting after it exited).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How long [`stop`](Self::stop) waits after SIGTERM (default [`TERM_GRACE`]).
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Sets the grace period of [`stop`](Self::stop) (etcd: 2 s, PEERS.md §5).
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace.min(TERM_GRACE);
    }

    /// The cleanup tier: a run's cleanup stops tier 0 first, then 1, … (default 0).
    pub fn stop_tier(&self) -> u8 {
        self.tier
    }

    /// Sets the cleanup tier (stores such as etcd go last, after the servers that use them, so
    /// those can shut down cleanly and etcd members do not hang on leadership transfer).
    pub fn set_stop_tier(&mut self, tier: u8) {
        self.tier = tier;
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Its exit status if it has exited (reaps it then), `None` while it runs.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.exited = Some(st);
            }
        }
        self.exited
    }

    /// True while it runs.
    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// An error if it has exited (with its log tail), `Ok` while it runs.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.try_exit() {
            None => Ok(()),
            Some(st) => Err(NetnsError::Exited {
                name: self.name.clone(),
                status: st.to_string(),
                log: self.log_tail(25),
            }),
        }
    }

    /// Sends `sig` if it has not been reaped yet; returns whether a signal was sent.
    pub fn signal(&mut self, sig: libc::c_int) -> bool {
        if self.try_exit().is_some() {
            return false;
        }
        // SAFETY: kill(2) on the PID of our own unreaped child; it cannot have been recycled.
        unsafe { libc::kill(self.pid as libc::pid_t, sig) == 0 }
    }

    /// Waits up to `bound` for it to exit; returns its status if it did.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(st) = self.try_exit() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL at once and reap: the "power-off" of a daemon.
    pub fn kill(&mut self) -> ExitStatus {
        self.signal(libc::SIGKILL);
        self.reap_blocking()
    }

    /// SIGTERM, up to its grace period (≤ [`TERM_GRACE`]), then SIGKILL; always reaped. Idempotent.
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_within(self.grace)
    }

    /// Like [`stop`](Self::stop) with another grace period.
    pub fn stop_within(&mut self, grace: Duration) -> ExitStatus {
        if let Some(st) = self.try_exit() {
            return st;
        }
        self.signal(libc::SIGTERM);
        if let Some(st) = self.wait_exit(grace) {
            return st;
        }
        self.kill()
    }

    fn reap_blocking(&mut self) -> ExitStatus {
        if let Some(st) = self.exited {
            return st;
        }
        // After SIGKILL the exit is immediate unless the process is stuck in the kernel.
        let st = match self.wait_exit(Duration::from_secs(10)) {
            Some(st) => st,
            None => self.child.wait().expect("wait for a SIGKILLed child"),
        };
        self.exited = Some(st);
        st
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM to all at once, each waited for up to its own grace period, then SIGKILL; all reaped.
/// Returns name, pid and time from SIGTERM to exit of each.
pub fn stop_all(mut ps: Vec<&mut Process>) -> Vec<(String, u32, Duration)> {
    for p in ps.iter_mut() {
        p.signal(libc::SIGTERM);
    }
    let t = Instant::now();
    let mut took: Vec<Option<Duration>> = vec![None; ps.len()];
    loop {
        for (i, p) in ps.iter_mut().enumerate() {
            if took[i].is_none() && (!p.is_running() || t.elapsed() >= p.grace()) {
                took[i] = Some(t.elapsed());
                p.stop_within(Duration::ZERO);
            }
        }
        if took.iter().all(Option::is_some) || t.elapsed() >= TERM_GRACE {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = Vec::new();
    for (i, p) in ps.iter_mut().enumerate() {
        p.stop_within(Duration::ZERO);
        out.push((
            p.name().to_string(),
            p.pid(),
            took[i].unwrap_or_else(|| t.elapsed()),
        ));
    }
    out
}
