//! Short-lived commands (`ip`, `openssl`, `curl`, `kubectl`, `etcdctl`…) run to completion with a
//! time bound, optional stdin, and captured output. A command past its bound is SIGKILLed by the
//! PID this module started, and reaped.

use super::{NetnsError, Result};
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Default bound of one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished command left: status and both outputs (lossy UTF-8).
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// True when the command exited 0.
    pub fn ok(&self) -> bool {
        self.status.success()
    }
}

/// A command line with a time bound, built like `std::process::Command`.
#[derive(Debug, Clone)]
pub struct Cmd {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Cmd {
    /// A command running `program`.
    pub fn new(program: impl Into<String>) -> Cmd {
        Cmd {
            argv: vec![program.into()],
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// `program` run inside namespace `ns` (`ip netns exec NS program`).
    pub fn in_netns(ns: &str, program: impl Into<String>) -> Cmd {
        Cmd::new("ip").args(["netns", "exec", ns]).arg(program)
    }

    /// Appends one argument.
    pub fn arg(mut self, a: impl Into<String>) -> Cmd {
        self.argv.push(a.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Cmd {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Feeds these bytes on stdin (otherwise stdin is /dev/null).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(data.into());
        self
    }

    /// Replaces the default bound of [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    /// The command line, for messages.
    pub fn shown(&self) -> String {
        self.argv.join(" ")
    }

    /// Runs it to completion (or to its bound) and returns what it left, whatever the exit status.
    pub fn output(&self) -> Result<Output> {
        let shown = self.shown();
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..])
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let mut child = c.spawn().map_err(|source| NetnsError::Spawn {
            cmd: shown.clone(),
            source,
        })?;
        let feeder = match (child.stdin.take(), self.stdin.clone()) {
            (Some(mut pipe), Some(data)) => Some(thread::spawn(move || {
                let _ = pipe.write_all(&data);
            })),
            _ => None,
        };
        let mut out = child.stdout.take().expect("stdout piped");
        let mut err = child.stderr.take().expect("stderr piped");
        let out_t = thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out.read_to_end(&mut b);
            b
        });
        let err_t = thread::spawn(move || {
            let mut b = Vec::new();
            let _ = err.read_to_end(&mut b);
            b
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
                Ok(None) | Err(_) => {
                    // Our own child, by its PID (std's kill); then reap it.
                    let _ = child.kill();
                    let _ = child.wait();
                    // Readers may hang if a grandchild keeps the pipes open: don't join them.
                    return Err(NetnsError::Timeout {
                        what: shown,
                        after: self.timeout,
                    });
                }
            }
        };
        if let Some(f) = feeder {
            let _ = f.join();
        }
        let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Runs it and returns stdout; a non-zero exit is an error carrying stderr.
    pub fn run(&self) -> Result<String> {
        let o = self.output()?;
        if o.ok() {
            Ok(o.stdout)
        } else {
            Err(NetnsError::Failed {
                cmd: self.shown(),
                status: o.status.to_string(),
                stderr: o.stderr.trim().to_string(),
            })
        }
    }
}

/// Calls `probe` every `every` until it returns `Ok(true)`, at most for `bound`. An `Err` from the
/// probe ends the wait at once (e.g. the daemon being waited for has exited). Returns the time taken.
pub fn poll_until(
    what: &str,
    bound: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<bool>,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if probe()? {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= bound {
            return Err(NetnsError::Timeout {
                what: what.to_string(),
                after: bound,
            });
        }
        thread::sleep(every);
    }
}
