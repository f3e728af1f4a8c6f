//! The canonical story's trace, pinned: three masters at 5/3/1, the leader powers off, a follower
//! takes over after the lease expires. Any change in what the core does shows up here for review.

use kvip_testbed::sim::profile;
use kvip_testbed::story::leader_loss;

#[test]
fn leader_loss_story_trace() {
    let report = leader_loss(profile("5/3/1").expect("known profile"));
    assert_eq!(report.violations, vec![]);
    assert_eq!(
        report.stats.crash_ns.len(),
        1,
        "exactly one takeover is timed"
    );
    let failover = report.stats.crash_ns[0];
    assert!(
        failover < 6_000_000_000,
        "failover {failover} ns exceeds leaseDuration + retryPeriod"
    );
    insta::assert_snapshot!(report.trace.join("\n"));
}
