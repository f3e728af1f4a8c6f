//! Order: a node removes its VIP (and stops announcing) before its release reaches the API
//! server, so whoever takes over on the release never overlaps with it.

use super::Violation;

/// Checks a release by `node` as the API server applies it.
pub fn on_release_applied(now: u64, node: usize, node_has_vip: bool) -> Result<(), Violation> {
    if node_has_vip {
        return Err(Violation::ReleasedWhileHolding { at: now, node });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_with_vip_is_a_violation() {
        assert!(super::on_release_applied(5, 1, false).is_ok());
        assert!(super::on_release_applied(5, 1, true).is_err());
    }
}
