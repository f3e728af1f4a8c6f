//! What a run measured: failovers counted, and how long each crash failover and graceful handover
//! took from the fault to the new holder's first announcement.

/// Which kind of takeover a measurement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeoverKind {
    /// The holder powered off.
    Crash,
    /// The holder was stopped with SIGTERM.
    Graceful,
}

/// A takeover being timed: started by a fault on `old_holder` at `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingTakeover {
    /// Kind of fault.
    pub kind: TakeoverKind,
    /// The node that held the VIP.
    pub old_holder: usize,
    /// When the fault hit, ns.
    pub since: u64,
}

/// Counters and measurements of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Times the VIP got a different holder.
    pub failovers: u64,
    /// Crash failover durations, ns.
    pub crash_ns: Vec<u64>,
    /// Graceful handover durations, ns.
    pub graceful_ns: Vec<u64>,
    /// Steps (events) simulated.
    pub steps: u64,
    /// True time simulated, ns.
    pub sim_ns: u64,
}

impl RunStats {
    /// Records a finished takeover.
    pub fn record(&mut self, kind: TakeoverKind, ns: u64) {
        match kind {
            TakeoverKind::Crash => self.crash_ns.push(ns),
            TakeoverKind::Graceful => self.graceful_ns.push(ns),
        }
    }
}

/// p50 / p99 / max of a sample, in ns (all zero when empty).
pub fn percentiles(sample: &[u64]) -> (u64, u64, u64) {
    if sample.is_empty() {
        return (0, 0, 0);
    }
    let mut s = sample.to_vec();
    s.sort_unstable();
    let at = |q: f64| s[((q * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)];
    (at(0.50), at(0.99), *s.last().expect("non-empty"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_sample() {
        let s: Vec<u64> = (1..=100).collect();
        assert_eq!(percentiles(&s), (51, 99, 100));
        assert_eq!(percentiles(&[]), (0, 0, 0));
        assert_eq!(percentiles(&[7]), (7, 7, 7));
    }
}
