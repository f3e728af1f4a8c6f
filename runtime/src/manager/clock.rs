//! Maps tokio's monotonic clock onto the core's [`Instant`] and back, and reads wall time once at
//! start for the Lease timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvip_core::{Instant, MicroTime, WallClock};

/// The driver's clock: core instants are nanoseconds since the driver started.
#[derive(Debug, Clone, Copy)]
pub struct CoreClock {
    start: tokio::time::Instant,
}

impl CoreClock {
    /// A clock starting now.
    pub fn start() -> Self {
        CoreClock {
            start: tokio::time::Instant::now(),
        }
    }

    /// The core's `now`.
    pub fn now(&self) -> Instant {
        self.to_core(tokio::time::Instant::now())
    }

    /// A tokio instant as a core instant.
    pub fn to_core(&self, t: tokio::time::Instant) -> Instant {
        Instant::from_nanos(u64::try_from((t - self.start).as_nanos()).unwrap_or(u64::MAX))
    }

    /// A core instant as a tokio instant.
    pub fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        self.start + Duration::from_nanos(t.as_nanos())
    }

    /// The wall clock the core stamps Lease records with, read now.
    pub fn wall_clock(&self) -> WallClock {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        WallClock {
            start: self.now(),
            wall_at_start: MicroTime(i64::try_from(micros).unwrap_or(i64::MAX)),
        }
    }
}
