//! Order: a node announces an address only once its add has completed (the kernel has it), so a
//! client that follows the announcement always finds the address there.

use super::Violation;

/// Checks an announcement frame sent by `node`.
pub fn on_frame(now: u64, node: usize, node_has_vip: bool) -> Result<(), Violation> {
    if !node_has_vip {
        return Err(Violation::AnnouncedWithoutAddress { at: now, node });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn frame_without_address_is_a_violation() {
        assert!(super::on_frame(5, 1, true).is_ok());
        assert!(super::on_frame(5, 1, false).is_err());
    }
}
