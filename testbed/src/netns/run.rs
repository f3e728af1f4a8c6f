//! The guard of one namespace test run: a unique prefix, the namespaces and processes it created
//! (recorded by name and PID), a temp dir (`/tmp/kvip-<prefix>`: logs, certificates, kubeconfigs) and a
//! /dev/shm dir (etcd data). `Drop` removes them all, also during a panic: TERM to every process at
//! once, KILL after 4 s, reap; kill anything still inside one of its namespaces; delete the
//! namespaces; remove the dirs. Everything is also written to `/run/kvip-testbed/<prefix>.state`, so
//! a run that was SIGKILLed (no `Drop`) is cleaned up by the next [`Run::new`] on the machine.

use super::cmd::Cmd;
use super::lan::Netns;
use super::process::{stop_all, Process};
use super::stale::{list_netns, start_time, sweep_stale, STATE_DIR};
use super::{io_err, NetnsError, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Index of a process owned by a [`Run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId(usize);

impl ProcId {
    /// An id that names no process yet (replaced before use).
    pub(crate) fn placeholder() -> ProcId {
        ProcId(usize::MAX)
    }
}

/// What a cleanup did.
#[derive(Debug, Default, Clone)]
pub struct CleanupReport {
    /// Processes stopped: name, pid, time from SIGTERM to exit (the grace period when KILLed).
    pub stopped: Vec<(String, u32, Duration)>,
    /// PIDs found still inside one of the run's namespaces and killed.
    pub stragglers: Vec<u32>,
    /// Namespaces deleted.
    pub namespaces: Vec<String>,
    /// Anything that failed (cleanup goes on regardless).
    pub errors: Vec<String>,
}

/// Owns every namespace, process and directory of one test run.
#[derive(Debug)]
pub struct Run {
    prefix: String,
    dir: PathBuf,
    shm: PathBuf,
    state: PathBuf,
    namespaces: Vec<String>,
    procs: Vec<Option<Process>>,
    pids: Vec<u32>,
    keep_dir: bool,
    cleaned: bool,
    started: Instant,
}

impl Run {
    /// A new run with a fresh prefix `kv<pid%10000><letter>`; first removes what dead runs left.
    pub fn new() -> Result<Run> {
        sweep_stale();
        for _ in 0..200 {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let prefix = format!("kv{}{}", std::process::id() % 10000, letters(n));
            let taken = Path::new(STATE_DIR)
                .join(format!("{prefix}.state"))
                .exists()
                || list_netns()
                    .iter()
                    .any(|ns| ns.starts_with(&format!("{prefix}-")));
            if !taken {
                return Run::with_prefix(&prefix);
            }
        }
        Err(NetnsError::Spec(
            "no free run prefix after 200 tries".into(),
        ))
    }

    /// A run with this exact prefix (short: namespace names are `<prefix>-<host>`).
    pub fn with_prefix(prefix: &str) -> Result<Run> {
        if prefix.is_empty()
            || prefix.len() > 10
            || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(NetnsError::Spec(format!(
                "prefix {prefix:?}: 1-10 ASCII letters/digits"
            )));
        }
        fs::create_dir_all(STATE_DIR).map_err(io_err(STATE_DIR))?;
        let dir = std::env::temp_dir().join(format!("kvip-{prefix}"));
        let shm = PathBuf::from(format!("/dev/shm/kvip-{prefix}"));
        let state = Path::new(STATE_DIR).join(format!("{prefix}.state"));
        let me = std::process::id();
        let line = format!(
            "owner {me} {}\ndir {}\ndir {}\n",
            start_time(me).unwrap_or(0),
            dir.display(),
            shm.display()
        );
        fs::write(&state, line).map_err(io_err(state.display().to_string()))?;
        for d in [&dir, &shm] {
            let _ = fs::remove_dir_all(d);
            fs::create_dir_all(d).map_err(io_err(d.display().to_string()))?;
        }
        let keep_dir = std::env::var("KVIP_KEEP_RUN").is_ok_and(|v| v == "1");
        Ok(Run {
            prefix: prefix.to_string(),
            dir,
            shm,
            state,
            namespaces: Vec::new(),
            procs: Vec::new(),
            pids: Vec::new(),
            keep_dir,
            cleaned: false,
            started: Instant::now(),
        })
    }

    /// The run's prefix; every namespace it creates is named `<prefix>-<short>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Temp dir for logs, certificates and kubeconfigs (removed at cleanup unless `KVIP_KEEP_RUN=1`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Dir on /dev/shm for daemon data (etcd); always removed at cleanup.
    pub fn shm_dir(&self) -> &Path {
        &self.shm
    }

    /// Its state file under `/run/kvip-testbed/` (what [`sweep_stale`] reads if this run dies).
    pub fn state_file(&self) -> &Path {
        &self.state
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Names of the namespaces created so far.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Every PID this run ever spawned (also those already stopped).
    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    fn record(&self, line: &str) -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&self.state)
            .map_err(io_err("state file"))?;
        writeln!(f, "{line}").map_err(io_err("state file"))
    }

    /// Creates namespace `<prefix>-<short>` with `lo` up.
    pub fn add_netns(&mut self, short: &str) -> Result<Netns> {
        let name = format!("{}-{short}", self.prefix);
        self.record(&format!("ns {name}"))?;
        Cmd::new("ip").args(["netns", "add", &name]).run()?;
        self.namespaces.push(name.clone());
        let ns = Netns::new(&name);
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Starts `program args…` in `ns` as `name`, logging to `<dir>/<name>.log`.
    pub fn spawn(
        &mut self,
        ns: &Netns,
        name: &str,
        program: &str,
        args: &[String],
    ) -> Result<ProcId> {
        self.spawn_env(ns, name, program, args, &[])
    }

    /// Like [`spawn`](Self::spawn) with extra environment variables.
    pub fn spawn_env(
        &mut self,
        ns: &Netns,
        name: &str,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<ProcId> {
        let log = self.dir.join(format!("{name}.log"));
        let p = Process::spawn(name, ns.name(), program, args, env, &log)?;
        self.record(&format!("pid {} {}", p.pid(), ns.name()))?;
        self.pids.push(p.pid());
        self.procs.push(Some(p));
        Ok(ProcId(self.procs.len() - 1))
    }

    /// The process behind an id (it may have exited).
    pub fn process(&mut self, id: ProcId) -> &mut Process {
        self.procs[id.0].as_mut().expect("process already removed")
    }

    /// Ids of the processes started in namespace `ns` that still run.
    pub fn running_in(&mut self, ns: &Netns) -> Vec<ProcId> {
        let mut ids = Vec::new();
        for (i, p) in self.procs.iter_mut().enumerate() {
            if let Some(p) = p {
                if p.netns() == ns.name() && p.is_running() {
                    ids.push(ProcId(i));
                }
            }
        }
        ids
    }

    /// Graceful stop (TERM, ≤ 4 s, KILL), reaped.
    pub fn stop(&mut self, id: ProcId) -> std::process::ExitStatus {
        self.process(id).stop()
    }

    /// Immediate SIGKILL, reaped.
    pub fn kill(&mut self, id: ProcId) -> std::process::ExitStatus {
        self.process(id).kill()
    }

    /// Removes everything; idempotent (`Drop` calls it). Never panics.
    pub fn cleanup(&mut self) -> CleanupReport {
        let mut rep = CleanupReport::default();
        if self.cleaned {
            return rep;
        }
        self.cleaned = true;
        let mut live: Vec<Process> = self.procs.iter_mut().filter_map(Option::take).collect();
        let mut tiers: Vec<u8> = live.iter().map(Process::stop_tier).collect();
        tiers.sort_unstable();
        tiers.dedup();
        for tier in tiers {
            let group = live.iter_mut().filter(|p| p.stop_tier() == tier).collect();
            rep.stopped.extend(stop_all(group));
        }
        drop(live);
        for ns in self.namespaces.iter().rev() {
            for pid in Netns::new(ns).pids().unwrap_or_default() {
                // Inside a namespace this run created, so started by it (or by its daemons).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                rep.stragglers.push(pid);
            }
        }
        if !rep.stragglers.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
        for ns in self.namespaces.iter().rev() {
            let del = Cmd::new("ip")
                .args(["netns", "del", ns])
                .timeout(Duration::from_secs(10))
                .run();
            match del {
                Ok(_) => rep.namespaces.push(ns.clone()),
                Err(e) => rep.errors.push(e.to_string()),
            }
        }
        if let Err(e) = fs::remove_dir_all(&self.shm) {
            rep.errors.push(format!("rm {}: {e}", self.shm.display()));
        }
        if self.keep_dir {
            eprintln!(
                "[kvip-testbed] KVIP_KEEP_RUN=1: kept {}",
                self.dir.display()
            );
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            rep.errors.push(format!("rm {}: {e}", self.dir.display()));
        }
        if rep.errors.is_empty() {
            let _ = fs::remove_file(&self.state);
        }
        rep
    }

    /// Prints the last lines of every process log to stderr (used when a test fails).
    pub fn dump_logs(&self, lines: usize) {
        for p in self.procs.iter().flatten() {
            eprintln!(
                "----- {} (pid {}) {} -----",
                p.name(),
                p.pid(),
                p.log_path().display()
            );
            eprintln!("{}", p.log_tail(lines));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "[kvip-testbed] run {} failed; process logs follow",
                self.prefix
            );
            self.dump_logs(15);
        }
        let rep = self.cleanup();
        if !rep.errors.is_empty() || !rep.stragglers.is_empty() {
            eprintln!("[kvip-testbed] cleanup of {}: {rep:?}", self.prefix);
        }
    }
}

fn letters(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}
