//! When announcements go out: at once when an address becomes ours, a short burst to cover a lost
//! frame, then a refresh every `vip_arpRate`.

use std::time::Duration;

use crate::time::Instant;

/// Offsets after the first frame at which the burst repeats it.
pub const BURST_OFFSETS: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(200)];

/// The schedule of one address's announcements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceSchedule {
    started: Instant,
    next: Option<Instant>,
    sent: usize,
    refresh: Duration,
    once: bool,
}

impl AnnounceSchedule {
    /// A schedule whose first frame is due at `now`; `once` drops the burst and refresh.
    pub fn start(now: Instant, refresh: Duration, once: bool) -> Self {
        AnnounceSchedule {
            started: now,
            next: Some(now),
            sent: 0,
            refresh,
            once,
        }
    }

    /// When the next frame is due.
    pub fn due(&self) -> Option<Instant> {
        self.next
    }

    /// Records a frame sent at `now` and schedules the next one.
    pub fn sent(&mut self, now: Instant) {
        self.sent += 1;
        self.next = if self.once {
            None
        } else if let Some(offset) = BURST_OFFSETS.get(self.sent - 1) {
            Some(self.started + *offset)
        } else {
            Some(now + self.refresh)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_then_burst_then_refresh() {
        let t0 = Instant::from_nanos(1_000_000_000);
        let mut s = AnnounceSchedule::start(t0, Duration::from_secs(3), false);
        let mut times = vec![];
        for _ in 0..5 {
            let due = s.due().unwrap();
            times.push((due - t0).as_millis());
            s.sent(due);
        }
        assert_eq!(times, vec![0, 50, 200, 3200, 6200]);
    }

    #[test]
    fn once_sends_a_single_frame() {
        let mut s = AnnounceSchedule::start(Instant::ZERO, Duration::from_secs(3), true);
        s.sent(Instant::ZERO);
        assert_eq!(s.due(), None);
    }
}
