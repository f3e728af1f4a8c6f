//! `kvip manager`: builds the control-plane [`kvip_core::Node`] from the configuration and drives
//! it with real IO until SIGTERM/SIGINT.

use kvip_core::config::Loaded;

/// Runs the manager until it is stopped; blocks the calling thread (it builds its own tokio
/// runtime, so callers may `setns` first).
pub fn run(loaded: Loaded) -> anyhow::Result<()> {
    let _ = loaded;
    anyhow::bail!("manager not implemented yet")
}
