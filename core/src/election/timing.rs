//! Election timing (leaseDuration, renewDeadline, retryPeriod) and its validation, which follows
//! client-go's rule `leaseDuration > renewDeadline > 1.2 × retryPeriod`.

use std::time::Duration;
use thiserror::Error;

/// The three durations that drive Lease election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionTiming {
    /// How long a non-leader waits after last observing a changed record before it may take over.
    /// Whole seconds: the Lease field `leaseDurationSeconds` is an integer.
    pub lease_duration: Duration,
    /// How long a leader keeps the VIP after it *sent* its last successful renew.
    pub renew_deadline: Duration,
    /// Interval between acquire/renew attempts.
    pub retry_period: Duration,
}

/// Why an [`ElectionTiming`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimingError {
    /// leaseDuration is not a positive whole number of seconds.
    #[error("vip_leaseduration must be a positive whole number of seconds (the Lease field is an integer), got {0:?}")]
    LeaseDurationNotWholeSeconds(Duration),
    /// leaseDuration must exceed renewDeadline.
    #[error("vip_leaseduration ({lease:?}) must be greater than vip_renewdeadline ({renew:?})")]
    LeaseNotAboveRenew {
        /// leaseDuration given.
        lease: Duration,
        /// renewDeadline given.
        renew: Duration,
    },
    /// renewDeadline must exceed 1.2 × retryPeriod.
    #[error(
        "vip_renewdeadline ({renew:?}) must be greater than 1.2 × vip_retryperiod ({retry:?})"
    )]
    RenewNotAboveJitteredRetry {
        /// renewDeadline given.
        renew: Duration,
        /// retryPeriod given.
        retry: Duration,
    },
    /// retryPeriod must be positive.
    #[error("vip_retryperiod must be greater than zero")]
    ZeroRetry,
}

impl ElectionTiming {
    /// kube-vip's defaults: 15 / 10 / 2 seconds.
    pub const KUBE_VIP_DEFAULT: ElectionTiming = ElectionTiming::from_millis(15_000, 10_000, 2_000);

    /// Builds a timing from milliseconds, unvalidated (use [`ElectionTiming::validate`]).
    pub const fn from_millis(lease: u64, renew: u64, retry: u64) -> Self {
        ElectionTiming {
            lease_duration: Duration::from_millis(lease),
            renew_deadline: Duration::from_millis(renew),
            retry_period: Duration::from_millis(retry),
        }
    }

    /// Checks client-go's rule and that leaseDuration is whole seconds.
    pub fn validate(self) -> Result<Self, TimingError> {
        let ElectionTiming {
            lease_duration: lease,
            renew_deadline: renew,
            retry_period: retry,
        } = self;
        if retry.is_zero() {
            return Err(TimingError::ZeroRetry);
        }
        if lease.is_zero() || lease.subsec_nanos() != 0 {
            return Err(TimingError::LeaseDurationNotWholeSeconds(lease));
        }
        if lease <= renew {
            return Err(TimingError::LeaseNotAboveRenew { lease, renew });
        }
        if renew.as_nanos() * 10 <= retry.as_nanos() * 12 {
            return Err(TimingError::RenewNotAboveJitteredRetry { renew, retry });
        }
        Ok(self)
    }

    /// `leaseDurationSeconds` as written into the Lease.
    pub fn lease_duration_seconds(self) -> u32 {
        u32::try_from(self.lease_duration.as_secs()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_profiles() {
        for (l, r, p) in [
            (15_000, 10_000, 2_000),
            (5_000, 3_000, 1_000),
            (1_000, 600, 200),
        ] {
            assert!(
                ElectionTiming::from_millis(l, r, p).validate().is_ok(),
                "{l}/{r}/{p}"
            );
        }
    }

    #[test]
    fn refuses_what_client_go_refuses() {
        let err = |l, r, p| ElectionTiming::from_millis(l, r, p).validate().unwrap_err();
        assert!(matches!(
            err(3_000, 3_000, 1_000),
            TimingError::LeaseNotAboveRenew { .. }
        ));
        assert!(matches!(
            err(5_000, 1_200, 1_000),
            TimingError::RenewNotAboveJitteredRetry { .. }
        ));
        assert!(matches!(
            err(1_500, 600, 200),
            TimingError::LeaseDurationNotWholeSeconds(_)
        ));
        assert_eq!(err(5_000, 3_000, 0), TimingError::ZeroRetry);
        assert!(err(5_000, 1_200, 1_000)
            .to_string()
            .contains("1.2 × vip_retryperiod"));
    }
}
