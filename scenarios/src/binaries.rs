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

/// Builds (if needed) and returns the path of `kvip`; `kvip-probe` and [`HOSTNAME_SERVER`] sit
/// next to it.
pub fn kvip() -> Result<PathBuf> {
    let root = workspace();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "kvip-runtime",
            "--bin",
            "kvip",
            "-p",
            "kvip-testbed",
            "--bin",
            "kvip-probe",
            "--bin",
            HOSTNAME_SERVER,
        ])
        .status()
        .with_context(|| format!("running {cargo} build"))?;
    if !status.success() {
        bail!("building kvip, kvip-probe and {HOSTNAME_SERVER} failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let kvip = target.join("release").join("kvip");
    for bin in ["kvip-probe", HOSTNAME_SERVER] {
        if !kvip.is_file() || !kvip.with_file_name(bin).is_file() {
            bail!("{} or {bin} missing after the build", kvip.display());
        }
    }
    Ok(kvip)
}

/// Builds (if needed) and returns the path of [`HOSTNAME_SERVER`] alone (tests of the stand-ins
/// that run no daemon).
pub fn hostname_server() -> Result<PathBuf> {
    let root = workspace();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "kvip-testbed",
            "--bin",
            HOSTNAME_SERVER,
        ])
        .status()
        .with_context(|| format!("running {cargo} build"))?;
    if !status.success() {
        bail!("building {HOSTNAME_SERVER} failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let server = target.join("release").join(HOSTNAME_SERVER);
    if !server.is_file() {
        bail!("{} missing after the build", server.display());
    }
    Ok(server)
}
