//! The failover benchmark's figures (issue 3, item 6): outage percentiles per (system, profile,
//! fault), the kvip / keepalived ratios, kvip's first-announcement latency from its logs, and the
//! daemons' peak RSS and idle CPU from /proc. Pure helpers (parsing, percentiles, the table) so
//! they are tested without namespaces; `failover-bench` drives the runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::faults::Fault;

/// The nearest-rank percentile `p` (0–100] of `sorted` (ascending); `None` when empty.
/// With 20 samples p50 is the 10th and p99 the 20th (the maximum).
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// n, p50, p99 and max of some durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// How many.
    pub n: usize,
    /// Median (nearest rank).
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Stats {
    /// The statistics of `samples` (any order); all zero when empty.
    pub fn of(samples: &[Duration]) -> Stats {
        let mut v = samples.to_vec();
        v.sort();
        Stats {
            n: v.len(),
            p50: percentile(&v, 50.0).unwrap_or_default(),
            p99: percentile(&v, 99.0).unwrap_or_default(),
            max: v.last().copied().unwrap_or_default(),
        }
    }
}

/// `VmHWM` (peak resident set) in kB from the text of `/proc/PID/status`.
pub fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU ticks from the text of `/proc/PID/stat`: (utime + stime, cutime + cstime). The fields are
/// counted after the last `)`, since the command name may hold spaces and parentheses.
pub fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14 → index 11.
    let n = |i: usize| f.get(i)?.parse::<u64>().ok();
    Some((n(11)? + n(12)?, n(13)? + n(14)?))
}

/// `VmHWM` of a live process, kB.
pub fn read_vm_hwm_kb(pid: u32) -> Option<u64> {
    vm_hwm_kb(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// CPU ticks of a live process (see [`cpu_ticks`]).
pub fn read_cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// kvip's first-announcement latencies from one log: for every `address added` line, the time to
/// the next `first announcement` line (both are tracing lines led by an RFC 3339 timestamp).
pub fn announce_latencies(log: &str) -> Vec<Duration> {
    let stamp = |line: &str| -> Option<i128> {
        let ts: jiff::Timestamp = line.split_whitespace().next()?.parse().ok()?;
        Some(ts.as_nanosecond())
    };
    let mut out = Vec::new();
    let mut added: Option<i128> = None;
    for line in log.lines() {
        if line.contains(": address added") {
            added = stamp(line);
        } else if line.contains(": first announcement") {
            if let (Some(a), Some(b)) = (added.take(), stamp(line)) {
                if b >= a {
                    out.push(Duration::from_nanos((b - a) as u64));
                }
            }
        }
    }
    out
}

/// What one (system, profile, fault) cell collected.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Client outages of the trials that ran.
    pub outages: Vec<Duration>,
    /// Trials whose checks all passed.
    pub passed: usize,
    /// Trials where `arping -b` got exactly one answer.
    pub arping_one: usize,
    /// Trials where the capture saw one MAC at a time: the announcing MAC changed no more often
    /// than the handovers the fault causes ([`allowed_switches`]).
    pub capture_one: usize,
    /// The most MAC changes one trial's capture saw.
    pub max_switches: usize,
    /// Trials where two masters held the VIP at once.
    pub two_holders: usize,
    /// Trials that could not run to the end (an error, the cluster rebuilt).
    pub errors: usize,
}

/// How many handovers (changes of the announcing MAC) `fault` may cause: one for a move; a flap
/// may or may not move the VIP; a daemon that preempts (keepalived) hands the VIP back to the old
/// holder when it returns within the trial (LAN cut, link flap): one more.
pub fn allowed_switches(fault: Fault, preempts: bool) -> usize {
    match fault {
        Fault::LanCut | Fault::LinkFlap => 1 + usize::from(preempts),
        _ => 1,
    }
}

/// Key of a cell: (system, profile, fault).
pub type Key = (String, String, Fault);

/// Formats milliseconds.
fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// The results table: one row per (system, profile, fault) in `order` of systems/profiles, then the
/// ratios kvip / keepalived of p50 and p99 per fault and kvip profile.
pub fn render_table(
    cells: &BTreeMap<Key, Cell>,
    groups: &[(String, String)],
    faults: &[Fault],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<11} {:<10} {:<17} {:>3} {:>8} {:>8} {:>8}  {:>6} {:>6} {:>6} {:>3} {:>5} {:>3}",
        "system",
        "profile",
        "fault",
        "n",
        "p50 ms",
        "p99 ms",
        "max ms",
        "pass",
        "arp1",
        "mac1",
        "sw",
        "2hold",
        "err"
    );
    for (system, profile) in groups {
        for &fault in faults {
            let Some(c) = cells.get(&(system.clone(), profile.clone(), fault)) else {
                continue;
            };
            let st = Stats::of(&c.outages);
            let _ = writeln!(
                s,
                "{:<11} {:<10} {:<17} {:>3} {:>8} {:>8} {:>8}  {:>6} {:>6} {:>6} {:>3} {:>5} {:>3}",
                system,
                profile,
                fault.name(),
                st.n,
                if st.n > 0 { ms(st.p50) } else { "-".into() },
                if st.n > 0 { ms(st.p99) } else { "-".into() },
                if st.n > 0 { ms(st.max) } else { "-".into() },
                format!("{}/{}", c.passed, st.n),
                format!("{}/{}", c.arping_one, st.n),
                format!("{}/{}", c.capture_one, st.n),
                c.max_switches,
                c.two_holders,
                c.errors,
            );
        }
    }
    let baseline: Vec<&(String, String)> = groups
        .iter()
        .filter(|(sys, _)| sys == "keepalived")
        .collect();
    let kvips: Vec<&(String, String)> = groups.iter().filter(|(sys, _)| sys == "kvip").collect();
    if let (Some(base), false) = (baseline.first(), kvips.is_empty()) {
        let _ = writeln!(
            s,
            "\nratio kvip / keepalived ({}), p50 and p99 of the client outage:",
            base.1
        );
        let _ = write!(s, "{:<17}", "fault");
        for (_, p) in &kvips {
            let _ = write!(s, " {:>22}", format!("kvip {p}"));
        }
        let _ = writeln!(s);
        for &fault in faults {
            let Some(b) = cells.get(&(base.0.clone(), base.1.clone(), fault)) else {
                continue;
            };
            let bs = Stats::of(&b.outages);
            let _ = write!(s, "{:<17}", fault.name());
            for (sys, p) in &kvips {
                let k = cells
                    .get(&(sys.clone(), p.clone(), fault))
                    .map(|c| Stats::of(&c.outages))
                    .unwrap_or_default();
                let text = format!(
                    "{} / {}",
                    ratio(k.p50, bs.p50, k.n, bs.n),
                    ratio(k.p99, bs.p99, k.n, bs.n)
                );
                let _ = write!(s, " {text:>22}");
            }
            let _ = writeln!(s);
        }
    }
    s
}

/// `a / b` with two decimals; `-` without samples, `inf` / `0/0` for a zero baseline.
pub fn ratio(a: Duration, b: Duration, na: usize, nb: usize) -> String {
    if na == 0 || nb == 0 {
        return "-".into();
    }
    if b.is_zero() {
        return if a.is_zero() {
            "0/0".into()
        } else {
            "inf".into()
        };
    }
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=20).map(d).collect();
        assert_eq!(percentile(&v, 50.0), Some(d(10)));
        assert_eq!(percentile(&v, 99.0), Some(d(20)));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[d(7)], 99.0), Some(d(7)));
        let st = Stats::of(&[d(30), d(10), d(20)]);
        assert_eq!((st.n, st.p50, st.p99, st.max), (3, d(20), d(30), d(30)));
        assert_eq!(Stats::of(&[]).n, 0);
    }

    #[test]
    fn proc_files_are_parsed() {
        let status = "Name:\tkvip\nVmPeak:\t  100 kB\nVmHWM:\t    8123 kB\nVmRSS:\t 8000 kB\n";
        assert_eq!(vm_hwm_kb(status), Some(8123));
        assert_eq!(vm_hwm_kb("Name: x\n"), None);
        let stat = "1234 (kvip (x) y) S 1 1234 1234 0 -1 4194560 500 0 0 0 17 4 3 2 20 0 9 0";
        assert_eq!(cpu_ticks(stat), Some((21, 5)));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn announcement_latency_pairs_add_with_first_announcement() {
        let log = "2026-11-22T04:00:01.000000Z  INFO kvip::manager: lease acquired: leading transitions=1\n\
                   2026-11-22T04:00:01.500000Z  INFO kvip::manager::driver: address added address=192.168.66.101\n\
                   2026-11-22T04:00:01.500042Z  INFO kvip::manager::driver: first announcement address=192.168.66.101\n\
                   2026-11-22T04:00:09.000000Z  INFO kvip::manager::driver: first announcement address=192.168.66.101\n\
                   2026-11-22T04:00:10.000000Z  INFO kvip::manager::driver: address added address=192.168.66.101\n\
                   2026-11-22T04:00:10.000100Z  INFO kvip::manager::driver: first announcement address=192.168.66.101\n";
        assert_eq!(
            announce_latencies(log),
            vec![Duration::from_micros(42), Duration::from_micros(100)]
        );
    }

    #[test]
    fn table_has_rows_and_ratios() {
        let mut cells = BTreeMap::new();
        let cell = |v: &[u64]| Cell {
            outages: v.iter().map(|m| d(*m)).collect(),
            passed: v.len(),
            arping_one: v.len(),
            capture_one: v.len(),
            ..Cell::default()
        };
        cells.insert(
            ("kvip".into(), "5/3/1".into(), Fault::PowerOff),
            cell(&[5000, 5100]),
        );
        cells.insert(
            ("keepalived".into(), "adv1".into(), Fault::PowerOff),
            cell(&[3600, 3700]),
        );
        let groups = vec![
            ("kvip".to_string(), "5/3/1".to_string()),
            ("keepalived".to_string(), "adv1".to_string()),
        ];
        let t = render_table(&cells, &groups, &[Fault::PowerOff]);
        assert!(
            t.contains("kvip        5/3/1      power-off           2     5000     5100     5100"),
            "{t}"
        );
        assert!(t.contains("1.39 / 1.38"), "{t}");
        assert_eq!(ratio(d(0), d(0), 1, 1), "0/0");
        assert_eq!(allowed_switches(Fault::LanCut, true), 2);
        assert_eq!(allowed_switches(Fault::PowerOff, true), 1);
        assert_eq!(ratio(d(5), d(0), 1, 1), "inf");
    }
}
