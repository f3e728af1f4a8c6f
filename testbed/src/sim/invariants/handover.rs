//! Speed of a graceful handover: when a holder releases the lease in a quiet world (no fault but
//! the stop itself, and a follower with a live watch), another node holds and announces the VIP
//! within [`BOUND`]. This is what watch-driven takeover buys over waiting for a retry tick.

use std::time::Duration;

use super::Violation;

/// How long a quiet handover may take.
pub const BOUND: Duration = Duration::from_millis(150);

/// Checks, at `released_at + BOUND`, that some node other than `releaser` holds the VIP.
pub fn check(
    now: u64,
    released_at: u64,
    releaser: usize,
    holders: &[usize],
) -> Result<(), Violation> {
    if holders.iter().any(|&h| h != releaser) {
        return Ok(());
    }
    Err(Violation::SlowHandover {
        at: now,
        released_at,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_new_holder_is_a_violation() {
        assert!(super::check(10, 0, 1, &[2]).is_ok());
        assert!(super::check(10, 0, 1, &[]).is_err());
        assert!(super::check(10, 0, 1, &[1]).is_err());
    }
}
