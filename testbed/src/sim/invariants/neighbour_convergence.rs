//! Convergence: once one node has held the VIP with a working LAN path for longer than a refresh
//! period plus the burst, the client's neighbour entry for the VIP points at that node's MAC.

use std::time::Duration;

use kvip_core::vip::announce::BURST_OFFSETS;
use kvip_core::wire::MacAddr;

use super::Violation;

/// How long a stable holder may take to reach the client: a refresh period, the burst, and slack
/// for LAN latency.
pub fn window(arp_rate: Duration) -> u64 {
    let burst = BURST_OFFSETS[BURST_OFFSETS.len() - 1];
    (arp_rate + burst + Duration::from_millis(50)).as_nanos() as u64
}

/// Checks the client's entry against the sole holder, stable since `stable_since`.
pub fn check(
    now: u64,
    holder: usize,
    holder_mac: MacAddr,
    stable_since: u64,
    window_ns: u64,
    entry: Option<MacAddr>,
) -> Result<(), Violation> {
    if now.saturating_sub(stable_since) > window_ns && entry != Some(holder_mac) {
        return Err(Violation::NeighbourStale {
            at: now,
            holder,
            entry,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entry_after_the_window_is_a_violation() {
        let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        assert!(check(100, 0, a, 0, 200, Some(b)).is_ok());
        assert!(check(300, 0, a, 0, 200, Some(a)).is_ok());
        assert!(check(300, 0, a, 0, 200, Some(b)).is_err());
        assert!(check(300, 0, a, 0, 200, None).is_err());
    }
}
