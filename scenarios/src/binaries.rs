//! The binaries a namespace scenario runs: `kvip` (the daemon) and `kvip-probe` (the client).
//! They are built with cargo (a no-op when up to date) into the workspace's release target dir.

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

/// Builds (if needed) and returns the path of `kvip`; `kvip-probe` sits next to it.
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
        ])
        .status()
        .with_context(|| format!("running {cargo} build"))?;
    if !status.success() {
        bail!("building kvip and kvip-probe failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let kvip = target.join("release").join("kvip");
    if !kvip.is_file() || !kvip.with_file_name("kvip-probe").is_file() {
        bail!("{} or kvip-probe missing after the build", kvip.display());
    }
    Ok(kvip)
}
