//! keepalived as the VIP daemon: SCENARIOS.md S4's baseline (kubeadm's HA guide) on the same
//! topology, probe and faults as kvip, so the benchmark compares like with like.
//!
//! Each master runs `keepalived -n -l -D -P -f <conf> -p <pid> -r <vrrp pid>` (PEERS.md §2: separate
//! pid files, because every namespace shares /run) with S4's configuration: one VRRP instance,
//! `state MASTER` on the first master and `BACKUP` on the others, priorities 101/100/99,
//! `advert_int 1`, `auth_type PASS`, the VIP as a /32 on the story's interface, and the
//! `check_apiserver` track script (interval 3, weight -2, fall 10, rise 2) that curls the master's own
//! API server `https://localhost:6443/healthz` and, when the VIP is local, `https://VIP:6443/healthz`.
//! The GARP settings stay at keepalived's defaults (`vrrp_garp_master_delay 5`, `repeat 5`).
//!
//! What differs from kvip, measured as it is:
//! - keepalived runs as two processes, the parent (pid file `-p`, the PID the run records) and the
//!   VRRP child (pid file `-r`). A crash (power-off) must SIGKILL both, the child first: if only the
//!   parent dies the child shuts down gracefully (priority-0 advert, VIP removed), and if only the
//!   child dies the parent respawns it.
//! - Preemption is on (keepalived's default): once the first master is whole again it takes the VIP
//!   back, a second handover the restore waits out before the next trial.
//! - A dead API server only lowers the priority by 2 after `fall` failures of the script
//!   (10 × 3 s ≈ 30 s), then the next master preempts.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::faults::Fault;

/// The API server's port (what the track script checks).
pub const APISERVER_PORT: u16 = 6443;

/// S4's keepalived settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keepalived {
    /// `virtual_router_id`.
    pub virtual_router_id: u8,
    /// `advert_int` in seconds (VRRPv2: whole seconds).
    pub advert_int: u32,
    /// Priorities of the masters in order (the first one is `state MASTER`).
    pub priorities: Vec<u8>,
    /// `auth_pass` of `auth_type PASS` (at most 8 characters).
    pub auth_pass: String,
    /// `check_apiserver`: `interval` in seconds.
    pub script_interval: u32,
    /// `check_apiserver`: `weight`.
    pub script_weight: i32,
    /// `check_apiserver`: `fall`.
    pub script_fall: u32,
    /// `check_apiserver`: `rise`.
    pub script_rise: u32,
}

impl Default for Keepalived {
    fn default() -> Self {
        Keepalived::s4()
    }
}

/// Where one master's keepalived keeps its files (all under the run dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `-f`: the configuration.
    pub conf: PathBuf,
    /// `-p`: the parent's pid file.
    pub pid: PathBuf,
    /// `-r`: the VRRP child's pid file.
    pub vrrp_pid: PathBuf,
}

impl Keepalived {
    /// S4: advert_int 1, priorities 101/100/99, auth PASS, `check_apiserver` 3 / -2 / 10 / 2.
    pub fn s4() -> Keepalived {
        Keepalived {
            virtual_router_id: 51,
            advert_int: 1,
            priorities: vec![101, 100, 99],
            auth_pass: "42".into(),
            script_interval: 3,
            script_weight: -2,
            script_fall: 10,
            script_rise: 2,
        }
    }

    /// The priority of the master at `index` (masters past the list get one less each).
    pub fn priority(&self, index: usize) -> u8 {
        match self.priorities.get(index) {
            Some(p) => *p,
            None => {
                let last = self.priorities.last().copied().unwrap_or(100);
                let extra = index + 1 - self.priorities.len();
                last.saturating_sub(extra.min(255) as u8).max(1)
            }
        }
    }

    /// VRRPv2's master-down interval: 3 × advert_int + skew, skew = (256 − priority) / 256 × advert_int.
    pub fn master_down_interval(&self, priority: u8) -> Duration {
        let adv = f64::from(self.advert_int);
        Duration::from_secs_f64(3.0 * adv + (256.0 - f64::from(priority)) / 256.0 * adv)
    }

    /// How long a fault on the holder may take to move the VIP (the trial's bound): a master-down
    /// interval, plus for a dead API server `fall` failed checks (and one more interval of phase),
    /// plus a margin for a loaded machine.
    pub fn failover_bound(&self, fault: Fault) -> Duration {
        let down = self.master_down_interval(1);
        let margin = Duration::from_secs(6);
        match fault {
            Fault::ApiServerKilled => {
                let checks = self.script_interval * (self.script_fall + 1);
                down + Duration::from_secs(u64::from(checks)) + margin
            }
            _ => down + margin,
        }
    }

    /// How long the cluster may take to settle after a restore: an API server's `rise` checks, a
    /// master-down interval for the preempting master, and a margin.
    pub fn settle_bound(&self) -> Duration {
        let checks = self.script_interval * (self.script_rise + 1);
        Duration::from_secs(u64::from(checks))
            + self.master_down_interval(1) * 2
            + Duration::from_secs(15)
    }

    /// The files of `master`'s keepalived under `dir`.
    pub fn paths(dir: &Path, master: &str) -> Paths {
        Paths {
            conf: dir.join(format!("{master}.conf")),
            pid: dir.join(format!("{master}.pid")),
            vrrp_pid: dir.join(format!("{master}-vrrp.pid")),
        }
    }

    /// The command line (without the program) for `paths`.
    pub fn args(paths: &Paths) -> Vec<String> {
        let d = |p: &Path| p.display().to_string();
        vec![
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-P".into(),
            "-f".into(),
            d(&paths.conf),
            "-p".into(),
            d(&paths.pid),
            "-r".into(),
            d(&paths.vrrp_pid),
        ]
    }

    /// The configuration of the master at `index` (`state MASTER` for index 0).
    pub fn config(
        &self,
        master: &str,
        index: usize,
        vip: Ipv4Addr,
        ifname: &str,
        script: &Path,
    ) -> String {
        let state = if index == 0 { "MASTER" } else { "BACKUP" };
        format!(
            "! keepalived for {master}: SCENARIOS.md S4 (kubeadm HA), written by kvip-scenarios\n\
             global_defs {{\n    router_id {master}\n}}\n\
             vrrp_script check_apiserver {{\n    script \"{script}\"\n    interval {interval}\n    \
             weight {weight}\n    fall {fall}\n    rise {rise}\n}}\n\
             vrrp_instance VI_1 {{\n    state {state}\n    interface {ifname}\n    \
             virtual_router_id {vrid}\n    priority {prio}\n    advert_int {adv}\n    \
             authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}\n    \
             virtual_ipaddress {{\n        {vip}/32 dev {ifname}\n    }}\n    \
             track_script {{\n        check_apiserver\n    }}\n}}\n",
            script = script.display(),
            interval = self.script_interval,
            weight = self.script_weight,
            fall = self.script_fall,
            rise = self.script_rise,
            vrid = self.virtual_router_id,
            prio = self.priority(index),
            adv = self.advert_int,
            pass = self.auth_pass,
        )
    }
}

/// kubeadm's `check_apiserver.sh` for `vip`: the master's own API server on localhost, and the VIP
/// too while it is local. Runs inside the master's namespace, so both reach that master.
pub fn check_script(vip: Ipv4Addr) -> String {
    let port = APISERVER_PORT;
    format!(
        "#!/bin/sh\n\
         # check_apiserver (kubeadm HA guide; SCENARIOS.md S4), written by kvip-scenarios\n\
         errorExit() {{\n    echo \"*** $*\" 1>&2\n    exit 1\n}}\n\
         curl -sfk --max-time 2 https://localhost:{port}/healthz -o /dev/null || \
         errorExit \"Error GET https://localhost:{port}/healthz\"\n\
         if ip addr | grep -q ' {vip}/'; then\n    \
         curl -sfk --max-time 2 https://{vip}:{port}/healthz -o /dev/null || \
         errorExit \"Error GET https://{vip}:{port}/healthz\"\n\
         fi\n"
    )
}

/// The PID in a keepalived pid file.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The notable lines of a keepalived console log (`-l`) after `t0` (unix ns): (seconds since t0,
/// what). keepalived stamps its console lines to the second (`Sun Nov 22 04:08:27 2026: …`, local
/// time), so these entries are marked `(±1 s)`.
pub fn log_events(log: &str, t0: u128) -> Vec<(f64, String)> {
    const NOTABLE: [(&str, &str); 9] = [
        ("Entering MASTER STATE", "keepalived MASTER"),
        ("Entering BACKUP STATE", "keepalived BACKUP"),
        ("Entering FAULT STATE", "keepalived FAULT"),
        ("sent 0 priority", "keepalived sent priority 0"),
        ("setting VIPs", "keepalived address added"),
        ("removing VIPs", "keepalived address removed"),
        ("Changing effective priority", "keepalived priority"),
        ("Script `check_apiserver` now returning", "check_apiserver"),
        ("Stopped Keepalived", "keepalived stopped"),
    ];
    log.lines()
        .filter_map(|line| {
            let (needle, what) = NOTABLE.iter().find(|(n, _)| line.contains(n))?;
            let ns = parse_stamp(line)?;
            let detail = match *needle {
                "Changing effective priority" | "Script `check_apiserver` now returning" => line
                    .split_once(needle)
                    .map(|(_, rest)| rest.trim().to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let text = if detail.is_empty() {
                format!("{what} (±1 s)")
            } else {
                format!("{what} {detail} (±1 s)")
            };
            (ns >= t0).then(|| ((ns as f64 - t0 as f64) / 1e9, text))
        })
        .collect()
}

/// The time of a keepalived console line (`Sun Nov 22 04:08:27 2026: …`, local time) in unix ns.
pub fn parse_stamp(line: &str) -> Option<u128> {
    let (stamp, _) = line.split_once(": ")?;
    let dt = jiff::civil::DateTime::strptime("%a %b %d %H:%M:%S %Y", stamp.trim()).ok()?;
    let zoned = dt.to_zoned(jiff::tz::TimeZone::system()).ok()?;
    u128::try_from(zoned.timestamp().as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s4_config_has_the_articles_settings() {
        let k = Keepalived::s4();
        let c = k.config(
            "master02",
            1,
            Ipv4Addr::new(192, 168, 66, 101),
            "eth0",
            Path::new("/tmp/x/check_apiserver.sh"),
        );
        for want in [
            "state BACKUP",
            "priority 100",
            "advert_int 1",
            "auth_type PASS",
            "192.168.66.101/32 dev eth0",
            "interval 3",
            "weight -2",
            "fall 10",
            "rise 2",
            "script \"/tmp/x/check_apiserver.sh\"",
            "check_apiserver\n",
        ] {
            assert!(c.contains(want), "{want:?} missing from\n{c}");
        }
        assert!(!c.contains("garp"), "GARP settings stay at their defaults");
        assert!(k
            .config("m", 0, Ipv4Addr::LOCALHOST, "eth0", Path::new("/s"))
            .contains("state MASTER"));
        assert_eq!((k.priority(0), k.priority(2), k.priority(4)), (101, 99, 97));
        let s = check_script(Ipv4Addr::new(192, 168, 66, 101));
        assert!(s.contains("https://localhost:6443/healthz"));
        assert!(s.contains("https://192.168.66.101:6443/healthz"));
    }

    #[test]
    fn timing_follows_vrrp() {
        let k = Keepalived::s4();
        let d = k.master_down_interval(100).as_secs_f64();
        assert!((d - (3.0 + 156.0 / 256.0)).abs() < 1e-9);
        assert!(k.failover_bound(Fault::ApiServerKilled) > Duration::from_secs(33));
        assert!(k.failover_bound(Fault::PowerOff) < Duration::from_secs(15));
    }

    #[test]
    fn console_lines_are_parsed() {
        let log = "Sun Nov 22 04:08:27 2026: (VI_1) Entering BACKUP STATE (init)\n\
                   Sun Nov 22 04:08:27 2026: (VI_1) Changing effective priority from 101 to 99\n\
                   Sun Nov 22 04:08:30 2026: (VI_1) Entering MASTER STATE\n\
                   Sun Nov 22 04:08:30 2026: Sending gratuitous ARP on eth0 for 10.9.0.100\n\
                   garbage\n";
        let t0 = parse_stamp("Sun Nov 22 04:08:28 2026: x").expect("stamp");
        let ev = log_events(log, t0);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].1, "keepalived MASTER (±1 s)");
        assert!((ev[0].0 - 2.0).abs() < 1e-9);
        let all = log_events(log, 0);
        assert_eq!(all[1].1, "keepalived priority from 101 to 99 (±1 s)");
    }
}
