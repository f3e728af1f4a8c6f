//! `lb-bench`: the LoadBalancer Services benchmark in namespaces (real etcd + kube-apiserver per
//! master, kvip on every master). Global mode: time until N Services are announced, leader changes
//! (graceful stop, power-off), API writes per second with 1 and N Services, kvip's peak RSS.
//! Per-service mode: spread of M Services over 3 masters and takeover after a power-off. It prints
//! figures and a summary against the targets; it never asserts a timing.
//!
//! ```text
//! lb-bench [--services 1000] [--per-service 999] [--window-secs 30]
//!          [--parts global,writes,per-service] [--out FILE]
//! ```
//! Needs root (namespaces) and the cached kube-apiserver; it is a binary, never run by `cargo test`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;
use kvip_scenarios::lb_bench::{self, Options, Report};
use kvip_testbed::netns;

/// The LoadBalancer Services benchmark.
#[derive(Parser, Debug)]
#[command(name = "lb-bench")]
struct Args {
    /// Services in global mode.
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// Services in per-service mode (3 masters).
    #[arg(long, default_value_t = 999)]
    per_service: usize,
    /// Steady-state window for counting API writes, seconds.
    #[arg(long, default_value_t = 30)]
    window_secs: u64,
    /// Comma-separated parts: global, writes, per-service.
    #[arg(long, default_value = "global,writes,per-service")]
    parts: String,
    /// Also write everything printed to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

fn options(args: &Args) -> Result<Options> {
    let mut o = Options {
        services: args.services,
        per_service: args.per_service,
        window: Duration::from_secs(args.window_secs),
        global: false,
        writes: false,
        per_service_part: false,
    };
    for p in args.parts.split(',').map(str::trim) {
        match p {
            "global" => o.global = true,
            "writes" => o.writes = true,
            "per-service" => o.per_service_part = true,
            other => bail!("unknown part {other:?} (global, writes, per-service)"),
        }
    }
    if o.services == 0 || o.per_service == 0 || o.services > 40_000 || o.per_service > 40_000 {
        bail!("--services and --per-service must be 1..=40000");
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lb-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(reason) = netns::skip_reason() {
        eprintln!("lb-bench: namespaces unavailable ({reason}); the benchmark needs root and the cached kube-apiserver");
        return ExitCode::from(2);
    }
    let mut report = Report::default();
    report.say(format!("lb-bench {opts:?}"));
    let t = Instant::now();
    let result = lb_bench::run(&opts, &mut report);
    if let Err(e) = &result {
        report.failed(format!("{e:#}"));
    }
    report.say(format!(
        "\n== summary ({:.0} s) ==",
        t.elapsed().as_secs_f64()
    ));
    for line in report.summary().lines() {
        report.say(line);
    }
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, report.text()) {
            eprintln!("lb-bench: writing {}: {e}", out.display());
        }
    }
    if result.is_err() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
