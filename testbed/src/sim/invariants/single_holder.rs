//! Safety: the VIP is never configured-and-announced on two nodes at the same instant.

use super::Violation;

/// Checks the holders seen after a step.
pub fn check(now: u64, holders: &[usize]) -> Result<(), Violation> {
    if holders.len() > 1 {
        return Err(Violation::TwoHolders {
            at: now,
            nodes: holders.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_holders_is_a_violation() {
        assert!(super::check(1, &[0]).is_ok());
        assert!(super::check(1, &[0, 2]).is_err());
    }
}
