//! Per-node clocks: each node reads a monotonic clock with its own offset and rate drift (in parts
//! per million) against the world's true time, and a wall clock with its own skew.

use kvip_core::{Instant, MicroTime, WallClock};

/// Wall time of the world's time zero, in microseconds since the Unix epoch (2026-11-22).
pub const WORLD_WALL_EPOCH: i64 = 1_795_305_600_000_000;

/// One node's view of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeClock {
    /// Local monotonic reading at true time zero, in ns.
    pub offset_ns: u64,
    /// Rate error in parts per million (positive: runs fast).
    pub drift_ppm: i64,
    /// Wall-clock skew against true wall time, in µs.
    pub wall_skew_us: i64,
}

impl NodeClock {
    /// The node's monotonic reading at true time `global_ns`.
    pub fn local(&self, global_ns: u64) -> Instant {
        let scaled = i128::from(global_ns) * i128::from(1_000_000 + self.drift_ppm) / 1_000_000;
        Instant::from_nanos(self.offset_ns + scaled as u64)
    }

    /// The earliest true time at which the node's clock reads at least `local`.
    pub fn global(&self, local: Instant) -> u64 {
        let since = i128::from(local.as_nanos().saturating_sub(self.offset_ns));
        let rate = i128::from(1_000_000 + self.drift_ppm);
        let mut g = (since * 1_000_000 + rate - 1) / rate;
        while self.local(g as u64) < local {
            g += 1;
        }
        g as u64
    }

    /// The wall clock a node started at true time `global_ns` hands its core.
    pub fn wall_clock(&self, global_ns: u64) -> WallClock {
        let wall = WORLD_WALL_EPOCH + (global_ns / 1000) as i64 + self.wall_skew_us;
        WallClock {
            start: self.local(global_ns),
            wall_at_start: MicroTime(wall),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_inverts_local_for_fast_and_slow_clocks() {
        for drift_ppm in [-10_000, -1, 0, 7, 10_000] {
            let c = NodeClock {
                offset_ns: 5_000_000_123,
                drift_ppm,
                wall_skew_us: 0,
            };
            for g in [0u64, 1, 999_999_937, 600_000_000_000] {
                let l = c.local(g);
                let back = c.global(l);
                assert!(back <= g && c.local(back) >= l, "drift {drift_ppm} g {g}");
            }
        }
    }

    #[test]
    fn drift_changes_elapsed_time() {
        let fast = NodeClock {
            offset_ns: 0,
            drift_ppm: 10_000,
            wall_skew_us: 0,
        };
        assert_eq!(fast.local(1_000_000_000).as_nanos(), 1_010_000_000);
    }
}
