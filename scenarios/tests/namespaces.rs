//! The stories in namespaces, as CI runs them (root): S2 with every fault on the holder, and S1's
//! power-off, against real etcd + kube-apiserver with kvip on every master. Each trial asserts its
//! checks (a new single holder, the client back through the VIP, one MAC in `arping -b` and in the
//! capture, never two holders) and the graceful stop's promise: the client's outage stays under
//! a second (measured figures are printed; the benchmark owns the targets).
//! Skips with the reason when not root or when kube-apiserver is not built.

use kvip_scenarios::faults::Fault;
use kvip_scenarios::runner::Scenario;
use kvip_scenarios::{binaries, story, trial};
use kvip_testbed::netns;

fn skip() -> bool {
    if let Some(reason) = netns::skip_reason() {
        eprintln!("skipping namespace scenario: {reason}");
        return true;
    }
    false
}

#[test]
fn s2_every_fault_on_the_holder() {
    if skip() {
        return;
    }
    let kvip = binaries::kvip().expect("kvip builds");
    let mut s = Scenario::start(story::s2(None), kvip, &binaries::workspace().join("deploy"))
        .expect("S2 starts");
    let mut failed = Vec::new();
    for fault in Fault::ALL {
        let report = trial::run(&mut s, fault).expect("trial runs");
        println!("{fault}:\n{}", report.render());
        if fault == Fault::GracefulStop && report.outage.as_secs_f64() >= 1.0 {
            failed.push(format!("graceful stop outage {:?}", report.outage));
        }
        failed.extend(report.failures.iter().map(|f| format!("{fault}: {f}")));
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn s1_power_off_with_the_generated_daemonset_environment() {
    if skip() {
        return;
    }
    let kvip = binaries::kvip().expect("kvip builds");
    let mut s = Scenario::start(story::s1(None), kvip, &binaries::workspace().join("deploy"))
        .expect("S1 starts");
    let report = trial::run(&mut s, Fault::PowerOff).expect("trial runs");
    println!("power-off:\n{}", report.render());
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
}
