//! `lb-bench`: the LoadBalancer Services benchmark in namespaces (real etcd + kube-apiserver per
//! master, kvip on every master). It prints figures and compares them with targets; it never
//! asserts a timing. The binary (`src/bin/lb-bench.rs`) parses the command line and calls [`run`].
//!
//! | module | owns |
//! |---|---|
//! | [`plan`] | the benchmark's Services as data: names, addresses, the JSON List `kubectl create` reads |
//! | [`cluster`] | [`cluster::BenchCluster`]: a story's cluster plus admin kubectl per master and bulk reads |
//! | [`converge`] | when global mode has converged: addresses and Service states watched on two threads |
//! | [`wait`] | bounded polling that says what was still missing when it gives up |
//! | [`metrics`] | `apiserver_request_total` from `/metrics`: write requests by resource |
//! | [`global`] | global mode: settle time, leader changes, API writes per second, peak RSS |
//! | [`per_service`] | per-service mode: spread over the nodes, takeover after a power-off |
//! | [`report`] | the printed log, the figures and the summary table |

pub mod cluster;
pub mod converge;
pub mod global;
pub mod metrics;
pub mod per_service;
pub mod plan;
pub mod report;
pub mod wait;

use std::time::Duration;

use anyhow::Result;

pub use report::Report;

/// The most any single wait of the benchmark may take.
pub const WAIT_BOUND: Duration = Duration::from_secs(120);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Services in global mode (parts `global` and `writes`).
    pub services: usize,
    /// Services in per-service mode.
    pub per_service: usize,
    /// Steady-state window for counting API writes.
    pub window: Duration,
    /// Part `global`: settle time and leader changes.
    pub global: bool,
    /// Part `writes`: API writes per second with 1 and N Services.
    pub writes: bool,
    /// Part `per-service`: spread and takeover with `svc_election=true`.
    pub per_service_part: bool,
}

/// Runs the selected parts; the figures go to `report` as they are measured (a failed part adds
/// its error and the next part still runs).
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    let kvip = crate::binaries::kvip()?;
    report.say(format!("kvip binary: {}", kvip.display()));
    if opts.global || opts.writes {
        if let Err(e) = global::run(opts, &kvip, report) {
            report.say(format!("FAILED global mode: {e:#}"));
            report.failed(format!("global mode: {e:#}"));
        }
    }
    if opts.per_service_part {
        if let Err(e) = per_service::run(opts, &kvip, report) {
            report.say(format!("FAILED per-service mode: {e:#}"));
            report.failed(format!("per-service mode: {e:#}"));
        }
    }
    Ok(())
}
