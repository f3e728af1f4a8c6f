//! The namespace plumbing without API servers (quick, root only): a LAN whose hosts reach each other
//! and can be cut off and reconnected, per-namespace sysctls, interface names as the articles use,
//! a `Run` that removes everything when the test panics, and the sweep that removes what a run
//! killed without cleanup left behind.
//!
//! Run: `cargo test -p kvip-testbed --test netns_run -- --nocapture`

use kvip_testbed::netns::{self, list_netns, sweep_stale, Lan, Netns, Run};
use std::net::Ipv4Addr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

fn skip() -> bool {
    if !netns::is_root() {
        eprintln!("SKIPPED netns_run: needs root (network namespaces, veths, sysctls)");
        return true;
    }
    false
}

fn pings(from: &Netns, ip: Ipv4Addr) -> bool {
    from.cmd("ping")
        .args(["-c", "1", "-W", "1", &ip.to_string()])
        .timeout(Duration::from_secs(3))
        .output()
        .is_ok_and(|o| o.ok())
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn lan_cut_reconnect_sysctl_and_names() {
    if skip() {
        return;
    }
    let mut run = Run::new().unwrap();
    let mut lan = Lan::new(&mut run, "192.168.205.0/24").unwrap();
    let a = lan
        .add_host(&mut run, "k3s1", "192.168.205.11".parse().unwrap(), "ens3")
        .unwrap();
    let c = lan
        .add_host(
            &mut run,
            "client",
            "192.168.205.100".parse().unwrap(),
            "ens3",
        )
        .unwrap();
    assert!(lan
        .add_host(&mut run, "bad", "10.0.0.1".parse().unwrap(), "ens3")
        .is_err());
    assert!(a
        .ns
        .ip(&["addr", "show", "dev", "ens3"])
        .unwrap()
        .contains("192.168.205.11/24"));
    assert!(pings(&c.ns, a.ip), "client reaches k3s1");
    lan.cut("k3s1").unwrap();
    assert!(!pings(&c.ns, a.ip), "k3s1 is cut off");
    lan.reconnect("k3s1").unwrap();
    assert!(pings(&c.ns, a.ip), "k3s1 is back");
    c.ns.sysctl("net.ipv4.conf.ens3.arp_accept", "1").unwrap();
    assert_eq!(
        c.ns.sysctl_get("net.ipv4.conf.ens3.arp_accept").unwrap(),
        "1"
    );
    let prefix = run.prefix().to_string();
    let rep = run.cleanup();
    assert!(rep.errors.is_empty(), "{rep:?}");
    assert!(!list_netns()
        .iter()
        .any(|n| n.starts_with(&format!("{prefix}-"))));
}

#[test]
fn run_cleans_up_when_the_test_panics() {
    if skip() {
        return;
    }
    let mut seen = None;
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut run = Run::new().unwrap();
        let ns = run.add_netns("h1").unwrap();
        let id = run.spawn(&ns, "sleeper", "sleep", &["30".into()]).unwrap();
        let pid = run.process(id).pid();
        seen = Some((
            run.prefix().to_string(),
            pid,
            run.dir().to_path_buf(),
            run.state_file().to_path_buf(),
        ));
        assert!(alive(pid));
        panic!("planted failure");
    }));
    assert!(res.is_err());
    let (prefix, pid, dir, state) = seen.unwrap();
    assert!(!alive(pid), "process {pid} left after the panic");
    assert!(!list_netns()
        .iter()
        .any(|n| n.starts_with(&format!("{prefix}-"))));
    assert!(!dir.exists() && !state.exists());
}

#[test]
fn sweep_removes_what_a_killed_run_left() {
    if skip() {
        return;
    }
    let mut run = Run::new().unwrap();
    let ns = run.add_netns("h1").unwrap();
    // A daemon that this "dead" run started and could not stop.
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "sleep", "30"])
        .spawn()
        .unwrap();
    let (prefix, dir, state) = (
        run.prefix().to_string(),
        run.dir().to_path_buf(),
        run.state_file().to_path_buf(),
    );
    // Pretend the owner died: a PID that no longer exists (a reaped child of ours).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let text = std::fs::read_to_string(&state).unwrap();
    let rest: Vec<&str> = text.lines().skip(1).collect();
    std::fs::write(&state, format!("owner {gone_pid} 1\n{}\n", rest.join("\n"))).unwrap();
    std::mem::forget(run); // no Drop: as if SIGKILLed
    std::thread::sleep(Duration::from_millis(100));
    sweep_stale();
    let status = child.wait().unwrap(); // killed by the sweep, reaped here
    assert!(!status.success());
    assert!(!list_netns()
        .iter()
        .any(|n| n.starts_with(&format!("{prefix}-"))));
    assert!(!dir.exists() && !state.exists());
}
