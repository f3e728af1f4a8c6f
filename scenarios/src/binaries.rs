//! The binaries a namespace scenario runs: `kvip` (the daemon), `kvip-probe` (the client) and
//! `kvip-hostname-server` (the node stand-ins of the LoadBalancer stories). They are built with
//! cargo (a no-op when up to date) into the workspace's release target dir.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("scenarios/ has a parent")
        .to_path_buf()
}

/// The node stand-in's binary name; it sits next to `kvip`.
pub const HOSTNAME_SERVER: &str = "kvip-hostname-server";

/// Builds `bins` (`(package, binary)`) with cargo in the release profile (a no-op when up to
/// date) and returns the release directory they are in.
fn build_release(bins: &[(&str, &str)]) -> Result<PathBuf> {
    let root = workspace();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build", "--release", "-q"];
    for (package, bin) in bins {
        args.extend(["-p", package, "--bin", bin]);
    }
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(&args)
        .status()
        .with_context(|| format!("running {cargo} build"))?;
    let names: Vec<&str> = bins.iter().map(|(_, b)| *b).collect();
    if !status.success() {
        bail!("building {} failed", names.join(", "));
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = target.join("release");
    for bin in names {
        if !dir.join(bin).is_file() {
            bail!("{} missing after the build", dir.join(bin).display());
        }
    }
    Ok(dir)
}

/// Builds (if needed) and returns the path of `kvip`; `kvip-probe` and [`HOSTNAME_SERVER`] sit
/// next to it.
pub fn kvip() -> Result<PathBuf> {
    let dir = build_release(&[
        ("kvip-runtime", "kvip"),
        ("kvip-testbed", "kvip-probe"),
        ("kvip-testbed", HOSTNAME_SERVER),
    ])?;
    Ok(dir.join("kvip"))
}

/// Builds (if needed) and returns the path of [`HOSTNAME_SERVER`] alone (tests of the stand-ins
/// that run no daemon).
pub fn hostname_server() -> Result<PathBuf> {
    Ok(build_release(&[("kvip-testbed", HOSTNAME_SERVER)])?.join(HOSTNAME_SERVER))
}
