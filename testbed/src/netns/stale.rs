//! What a dead run left behind: every [`Run`](super::Run) writes its owner PID (with the process's
//! start time, so a recycled PID is not mistaken for it), namespaces and dirs to
//! `/run/kvip-testbed/<prefix>.state`. [`sweep_stale`] (called by `Run::new`) removes, for each state
//! file whose owner is gone, the namespaces it recorded (killing what still runs inside them, which
//! that run started) and its dirs. Also `ip netns list`.

use super::cmd::Cmd;
use super::lan::Netns;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// Where runs keep their state files.
pub const STATE_DIR: &str = "/run/kvip-testbed";

/// Names of all namespaces on the machine (`ip netns list`).
pub fn list_netns() -> Vec<String> {
    Cmd::new("ip")
        .args(["netns", "list"])
        .run()
        .map(|o| {
            o.lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Removes what runs whose owner process is gone left behind (from their state files).
pub fn sweep_stale() {
    let Ok(entries) = fs::read_dir(STATE_DIR) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let mut owner_alive = false;
        let (mut nss, mut dirs) = (Vec::new(), Vec::new());
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["owner", pid, st] => {
                    let pid: u32 = pid.parse().unwrap_or(0);
                    owner_alive = start_time(pid).is_some_and(|t| t.to_string() == *st);
                }
                ["ns", ns] => nss.push(ns.to_string()),
                ["dir", d] => dirs.push(PathBuf::from(d)),
                _ => {}
            }
        }
        if owner_alive {
            continue;
        }
        let existing = list_netns();
        for ns in nss.iter().rev().filter(|n| existing.contains(n)) {
            for pid in Netns::new(ns).pids().unwrap_or_default() {
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        for ns in nss.iter().rev().filter(|n| existing.contains(n)) {
            let _ = Cmd::new("ip")
                .args(["netns", "del", ns])
                .timeout(Duration::from_secs(10))
                .run();
        }
        for d in dirs {
            let _ = fs::remove_dir_all(d);
        }
        eprintln!(
            "[kvip-testbed] removed the leftovers of a dead run ({})",
            path.display()
        );
        let _ = fs::remove_file(&path);
    }
}
