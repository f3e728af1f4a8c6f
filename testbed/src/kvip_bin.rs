//! The `kvip` binary the namespace and loopback tests run: `$KVIP_BIN` if set, else built (a
//! no-op when up to date) in the profile the tests themselves were built in.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `$KVIP_BIN`, else `kvip` built by `cargo build -p kvip-runtime --bin kvip` in this workspace
/// (`--release` when the tests are), returning its path. Panics when the build fails.
pub fn kvip_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KVIP_BIN") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let release = !cfg!(debug_assertions);
    let mut build = Command::new(&cargo);
    build
        .current_dir(root)
        .args(["build", "-q", "-p", "kvip-runtime", "--bin", "kvip"]);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building kvip failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let path = target
        .join(if release { "release" } else { "debug" })
        .join("kvip");
    assert!(path.is_file(), "{} missing after the build", path.display());
    path
}
