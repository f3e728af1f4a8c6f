//! The run's trace: a cheap running hash of every step (for the determinism check) and, when
//! asked for, the text of each step (for snapshots and for reading a failing seed).

/// FNV-1a over the numbers that describe each step, plus optional text lines.
#[derive(Debug, Clone)]
pub struct Trace {
    hash: u64,
    lines: Option<Vec<String>>,
}

impl Trace {
    /// A trace that keeps text lines when `keep_text` is set.
    pub fn new(keep_text: bool) -> Self {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            lines: keep_text.then(Vec::new),
        }
    }

    /// Folds numbers into the hash.
    pub fn mix(&mut self, values: &[u64]) {
        for v in values {
            for b in v.to_le_bytes() {
                self.hash ^= u64::from(b);
                self.hash = self.hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }

    /// Whether text lines are kept (so callers can skip formatting).
    pub fn keeps_text(&self) -> bool {
        self.lines.is_some()
    }

    /// Adds a text line at true time `now_ns` (ignored unless text is kept).
    pub fn line(&mut self, now_ns: u64, text: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.lines {
            let ms = now_ns / 1_000_000;
            let us = (now_ns / 1000) % 1000;
            lines.push(format!("{:>6}.{:03}ms {}", ms, us, text()));
        }
    }

    /// The hash so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The text lines kept.
    pub fn lines(&self) -> &[String] {
        self.lines.as_deref().unwrap_or(&[])
    }
}
