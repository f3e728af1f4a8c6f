//! Liveness: once faults stop and the nodes reach the API server, one node holds and announces
//! the VIP within `leaseDuration + 2 × retryPeriod`, and it is the node the Lease names.

use std::time::Duration;

use kvip_core::ElectionTiming;

use super::Violation;

/// The bound after the heal.
pub fn bound(timing: ElectionTiming) -> Duration {
    timing.lease_duration + 2 * timing.retry_period
}

/// Checks the holders at the bound, given which node the Lease names.
pub fn check_after_heal(
    now: u64,
    holders: &[usize],
    lease_holder: Option<usize>,
) -> Result<(), Violation> {
    match holders {
        [h] if lease_holder == Some(*h) => Ok(()),
        _ => Err(Violation::NoHolderAfterHeal {
            at: now,
            holders: holders.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_holder_named_by_the_lease_is_live() {
        assert!(super::check_after_heal(1, &[2], Some(2)).is_ok());
        assert!(super::check_after_heal(1, &[], None).is_err());
        assert!(super::check_after_heal(1, &[2], Some(1)).is_err());
    }
}
