//! A scenario's running timeline: every step is printed the moment it happens (seconds since the
//! start) and kept, and failed checks are collected so the caller can exit non-zero.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// What happened so far, and what failed.
#[derive(Debug, Clone)]
pub struct Timeline {
    name: String,
    t0: Instant,
    /// Entries: seconds since the start, text (failures included, prefixed `FAILED:`).
    pub entries: Vec<(f64, String)>,
    /// Failed checks, in order.
    pub failures: Vec<String>,
}

impl Timeline {
    /// A timeline named `name` starting now; prints its header.
    pub fn new(name: &str) -> Timeline {
        println!("{name}:");
        Timeline {
            name: name.to_string(),
            t0: Instant::now(),
            entries: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Records and prints a step.
    pub fn note(&mut self, what: impl Into<String>) {
        let t = self.t0.elapsed().as_secs_f64();
        let what = what.into();
        println!("  {t:>+9.3}s  {what}");
        self.entries.push((t, what));
    }

    /// Records and prints a failed check.
    pub fn fail(&mut self, what: impl Into<String>) {
        let what = what.into();
        self.note(format!("FAILED: {what}"));
        self.failures.push(what);
    }

    /// Notes `passed` when `ok`, else fails with `failed`; returns `ok`.
    pub fn check(
        &mut self,
        ok: bool,
        passed: impl Into<String>,
        failed: impl Into<String>,
    ) -> bool {
        if ok {
            self.note(passed);
        } else {
            self.fail(failed);
        }
        ok
    }

    /// The closing line: how long it took and whether every check passed.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{}: {:.1} s, {}",
            self.name,
            self.t0.elapsed().as_secs_f64(),
            if self.failures.is_empty() {
                "all checks passed".to_string()
            } else {
                format!(
                    "{} FAILED: {}",
                    self.failures.len(),
                    self.failures.join("; ")
                )
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_collected_and_summarised() {
        let mut t = Timeline::new("t");
        assert!(t.check(true, "fine", "bad"));
        assert!(!t.check(false, "fine", "no address"));
        t.note("later");
        assert_eq!(t.failures, vec!["no address".to_string()]);
        assert_eq!(t.entries.len(), 3);
        assert!(t.entries[1].1.starts_with("FAILED: no address"));
        assert!(t.summary().contains("1 FAILED: no address"));
    }
}
