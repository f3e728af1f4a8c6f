//! One fault trial on a running scenario: find the holder, start the client's probe, inject the
//! fault, watch the takeover, then build the timeline (fault, lease lost/acquired, address added,
//! first announcement, first good probe) from kvip's logs, the probe and the bridge capture, and
//! check what the articles promise: one new holder, the client reaches it, the capture and
//! `arping -b` see one MAC, and never two holders.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use crate::faults::Fault;
use crate::runner::Scenario;

/// What one trial measured and found.
#[derive(Debug, Clone)]
pub struct TrialReport {
    /// The fault.
    pub fault: Fault,
    /// Who held the VIP before.
    pub old_holder: String,
    /// Who holds it after.
    pub new_holder: String,
    /// Client outage: from the last good probe before the first failure to the first good probe
    /// after the last failure (zero when no probe failed).
    pub outage: Duration,
    /// Timeline entries: seconds since the fault, text.
    pub timeline: Vec<(f64, String)>,
    /// Failed checks (empty: the trial passed).
    pub failures: Vec<String>,
    /// The MACs that answered `arping -b` for the VIP at the end of the trial.
    pub arping_macs: Vec<String>,
    /// The distinct MACs that announced the VIP (gratuitous ARP) after the fault, in order.
    pub capture_macs: Vec<String>,
    /// How often the announcing MAC changed after the fault, starting from the old holder's (one
    /// per handover; more means MACs took turns).
    pub capture_switches: usize,
    /// Whether two masters on the LAN were seen holding the VIP at once.
    pub two_holders: bool,
}

impl TrialReport {
    /// The timeline as printed lines.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (t, what) in &self.timeline {
            let _ = writeln!(s, "  {t:>+9.3}s  {what}");
        }
        let _ = writeln!(
            s,
            "  {} on {}: new holder {}, client outage {:.0} ms{}",
            self.fault,
            self.old_holder,
            self.new_holder,
            self.outage.as_secs_f64() * 1000.0,
            if self.failures.is_empty() {
                ", all checks passed".to_string()
            } else {
                format!(", FAILED: {}", self.failures.join("; "))
            }
        );
        s
    }
}

/// Runs one trial of `fault` and restores the cluster afterwards.
pub fn run(s: &mut Scenario, fault: Fault) -> Result<TrialReport> {
    let old = s.wait_for_holder(Duration::from_secs(30), None)?;
    let old_mac = s.mac_of(&old)?;
    let bound = s.failover_bound(fault);
    let observe = bound + Duration::from_secs(3);
    s.start_probe(observe.as_secs() + 4)?;
    std::thread::sleep(Duration::from_secs(1));
    let t0 = s.inject(fault, &old)?;
    let mut failures = Vec::new();
    let mut two_holders = false;
    let new = if fault.moves_the_vip() {
        match s.wait_for_holder(bound, Some(&old)) {
            Ok(h) => h,
            Err(e) => {
                failures.push(format!("no new holder: {e}"));
                String::from("-")
            }
        }
    } else {
        std::thread::sleep(Duration::from_secs(1));
        s.wait_for_holder(bound, None).unwrap_or_else(|e| {
            failures.push(format!("no holder after the flap: {e}"));
            String::from("-")
        })
    };
    if fault == Fault::LanCut {
        s.reconnect(&old)?;
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            let h = s.holders();
            if h.len() > 1 {
                failures.push(format!("two holders after {old} came back: {h:?}"));
                two_holders = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let samples = s.finish_probe();
    let t0_ns = t0.duration_since(SystemTime::UNIX_EPOCH)?.as_nanos();
    let (outage, first_good) = outage(&samples, t0_ns);
    if first_good.is_none() {
        failures.push("the client never reached the VIP after the fault".into());
    }
    let mut timeline = vec![(0.0, format!("fault: {fault} on {old}"))];
    for master in s.master_names() {
        for (t, what) in s.daemon_events(&master, t0_ns) {
            timeline.push((t, format!("{master} {what}")));
        }
    }
    let garps: Vec<(f64, String)> = s.announcements();
    let t0_s = t0_ns as f64 / 1e9;
    let after: Vec<&(f64, String)> = garps.iter().filter(|(t, _)| *t >= t0_s).collect();
    let mut capture_macs: Vec<String> = Vec::new();
    let mut capture_switches = 0;
    let mut current = &old_mac;
    for (_, mac) in &after {
        if !capture_macs.contains(mac) {
            capture_macs.push(mac.clone());
        }
        if mac != current {
            capture_switches += 1;
            current = mac;
        }
    }
    if let Some((t, mac)) = after.iter().find(|(_, m)| *m != old_mac) {
        timeline.push((
            t - t0_s,
            format!("capture: first gratuitous ARP from {mac}"),
        ));
        if let Some((t2, _)) = after.iter().find(|(t2, m)| t2 > t && *m == old_mac) {
            if fault.moves_the_vip() && !(s.preempts() && fault == Fault::LanCut) {
                failures.push(format!(
                    "old holder's MAC announced again at +{:.3}s after the takeover",
                    t2 - t0_s
                ));
            } else {
                timeline.push((t2 - t0_s, format!("capture: {old} announces the VIP again")));
            }
        }
    }
    if let Some(t) = first_good {
        timeline.push((
            (t as f64 - t0_ns as f64) / 1e9,
            "client: first good probe (HTTPS /readyz) after the outage".into(),
        ));
        let tcp_back = samples
            .iter()
            .filter(|(ts, _, _)| *ts >= t0_ns && *ts <= t)
            .rev()
            .take_while(|(_, tcp, _)| *tcp)
            .last();
        if let Some((ts, _, _)) = tcp_back.filter(|(ts, _, _)| *ts < t) {
            timeline.push((
                (*ts as f64 - t0_ns as f64) / 1e9,
                "client: TCP connects again".into(),
            ));
        }
    }
    if fault.moves_the_vip() && new == old {
        failures.push(format!("the VIP stayed on {old}"));
    }
    let mut arping_macs = Vec::new();
    if new != "-" {
        // The holder now: the new one, except that keepalived hands the VIP back to a returning
        // higher-priority master (preemption) — kvip must not move it again.
        let now = s
            .wait_for_holder(bound, None)
            .unwrap_or_else(|_| new.clone());
        if now != new && fault.moves_the_vip() {
            if s.preempts() {
                timeline.push((
                    SystemTime::now()
                        .duration_since(t0)
                        .map_or(0.0, |d| d.as_secs_f64()),
                    format!("VIP back on {now} (preemption)"),
                ));
            } else {
                failures.push(format!("the VIP moved again, to {now}, after the takeover"));
            }
        }
        let want = s.mac_of(&now)?;
        if let Some(entry) = s.client_neighbour_mac() {
            if entry != want {
                failures.push(format!(
                    "the client's neighbour entry for the VIP is {entry}, not the holder's {want}"
                ));
            }
        }
        arping_macs = s.arping_macs();
        if arping_macs != vec![want.clone()] {
            failures.push(format!(
                "arping -b answered by {arping_macs:?}, expected only {want}"
            ));
        }
    }
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    s.restore(fault, &old)
        .with_context(|| format!("restoring {old} after {fault}"))?;
    Ok(TrialReport {
        fault,
        old_holder: old,
        new_holder: new,
        outage,
        timeline,
        failures,
        arping_macs,
        capture_macs,
        capture_switches,
        two_holders,
    })
}

/// The client outage around `t0`, and the first good probe after it.
fn outage(samples: &[(u128, bool, bool)], t0: u128) -> (Duration, Option<u128>) {
    let before_ok = samples
        .iter()
        .rev()
        .find(|(t, _, ok)| *t < t0 && *ok)
        .map(|s| s.0);
    let first_fail = samples
        .iter()
        .find(|(t, _, ok)| *t >= t0 && !*ok)
        .map(|s| s.0);
    let Some(first_fail) = first_fail else {
        let good = samples
            .iter()
            .find(|(t, _, ok)| *t >= t0 && *ok)
            .map(|s| s.0);
        return (Duration::ZERO, good);
    };
    let last_fail = samples
        .iter()
        .rev()
        .find(|(t, _, ok)| *t >= t0 && !*ok)
        .map_or(first_fail, |s| s.0);
    let recovered = samples
        .iter()
        .find(|(t, _, ok)| *t > last_fail && *ok)
        .map(|s| s.0);
    let start = before_ok.unwrap_or(t0).max(t0);
    let end = recovered.unwrap_or(last_fail);
    (
        Duration::from_nanos((end.saturating_sub(start)) as u64),
        recovered,
    )
}

/// The notable lines of a kvip log after `t0` (unix ns): (seconds since t0, what).
pub fn log_events(log: &str, t0: u128) -> Vec<(f64, String)> {
    const NOTABLE: [&str; 12] = [
        "lease acquired",
        "leadership lost",
        "address added",
        "address removed",
        "first announcement",
        "lease released",
        "services lease acquired",
        "services leadership lost",
        "service address added",
        "service address removed",
        "service first announcement",
        "services lease released",
    ];
    log.lines()
        .filter_map(|line| {
            let what = NOTABLE.iter().find(|n| line.contains(&format!(": {n}")))?;
            let stamp: jiff::Timestamp = line.split_whitespace().next()?.parse().ok()?;
            let ns = u128::try_from(stamp.as_nanosecond()).ok()?;
            (ns >= t0).then(|| ((ns as f64 - t0 as f64) / 1e9, what.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_spans_from_last_good_to_first_good() {
        let s = |t: u128, ok: bool| (t * 1_000_000, ok, ok);
        let samples = [
            s(90, true),
            s(100, true),
            s(110, false),
            s(120, false),
            s(130, true),
            s(140, true),
        ];
        let (o, good) = outage(&samples, 105_000_000);
        assert_eq!(o, Duration::from_millis(25));
        assert_eq!(good, Some(130_000_000));
        let clean = [s(90, true), s(110, true)];
        assert_eq!(
            outage(&clean, 100_000_000),
            (Duration::ZERO, Some(110_000_000))
        );
    }

    #[test]
    fn log_events_are_parsed_after_the_fault() {
        let log = "2026-11-22T04:00:00.000000Z  INFO kvip: lease acquired: leading transitions=1\n\
                   2026-11-22T04:00:01.500000Z  INFO kvip: address added address=192.168.66.101\n\
                   2026-11-22T04:00:01.500100Z  INFO kvip: lease request\n";
        let t0 = u128::try_from(
            "2026-11-22T04:00:01Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_nanosecond(),
        )
        .unwrap();
        let ev = log_events(log, t0);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].1, "address added");
        assert!((ev[0].0 - 0.5).abs() < 1e-6);
    }
}
