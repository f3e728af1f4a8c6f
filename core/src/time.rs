//! Time as the core sees it: a monotonic [`Instant`] handed in by the driver, and the wall-clock
//! [`MicroTime`] stamped into Lease records. The core never reads a clock itself.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the driver's monotonic clock, in nanoseconds since an arbitrary epoch.
///
/// The runtime maps `tokio::time::Instant` onto it; the simulator uses virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch of this clock.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.0 / 1_000_000_000,
            (self.0 % 1_000_000_000) / 1000
        )
    }
}

/// Wall-clock time in microseconds since the Unix epoch, as Kubernetes' `MicroTime` carries it.
///
/// Only ever written into Lease records for humans and other clients to read; expiry is never
/// judged from it (client-go's rule: judge on the local monotonic clock at observation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MicroTime(pub i64);

/// Maps the driver's monotonic clock onto wall time, fixed at node start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// Monotonic instant at which `wall_at_start` was read.
    pub start: Instant,
    /// Wall time at `start`.
    pub wall_at_start: MicroTime,
}

impl WallClock {
    /// The wall time corresponding to monotonic `now`.
    pub fn at(&self, now: Instant) -> MicroTime {
        let micros = i64::try_from((now - self.start).as_micros()).unwrap_or(i64::MAX);
        MicroTime(self.wall_at_start.0.saturating_add(micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates() {
        let a = Instant::from_nanos(5);
        assert_eq!(a - Instant::from_nanos(9), Duration::ZERO);
        assert_eq!((a + Duration::from_nanos(7)).as_nanos(), 12);
        assert_eq!(Instant::from_nanos(1_500_000_000).to_string(), "1.500000s");
    }

    #[test]
    fn wall_clock_follows_monotonic_time() {
        let w = WallClock {
            start: Instant::from_nanos(1_000),
            wall_at_start: MicroTime(100),
        };
        assert_eq!(w.at(Instant::from_nanos(3_001_000)), MicroTime(3_100));
    }
}
