//! What the benchmark prints: a log of lines (printed as they come, kept for `--out`), the
//! figures with their targets, and the closing summary table with "met" / "missed".

use std::fmt::Write as _;

/// A target a figure is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// No target: the figure is for information.
    None,
    /// At most this much.
    AtMost(f64),
    /// A yes/no check that must hold.
    Holds,
}

/// One figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// The value (for [`Target::Holds`], 1 = holds, 0 = does not).
    pub value: f64,
    /// Its unit (`s`, `writes/s`, `MB`, `×`, ``).
    pub unit: &'static str,
    /// The target.
    pub target: Target,
}

impl Figure {
    /// "met", "missed" or "-" (no target).
    pub fn verdict(&self) -> &'static str {
        let met = match self.target {
            Target::None => return "-",
            Target::AtMost(t) => self.value <= t,
            Target::Holds => self.value >= 1.0,
        };
        if met {
            "met"
        } else {
            "missed"
        }
    }

    fn value_text(&self) -> String {
        match self.target {
            Target::Holds => (if self.value >= 1.0 { "yes" } else { "no" }).into(),
            _ => format!("{:.3} {}", self.value, self.unit)
                .trim()
                .to_string(),
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => "-".into(),
            Target::AtMost(t) => format!("<= {t} {}", self.unit).trim().to_string(),
            Target::Holds => "yes".into(),
        }
    }
}

/// The benchmark's output so far.
#[derive(Debug, Default)]
pub struct Report {
    lines: String,
    figures: Vec<Figure>,
    failures: Vec<String>,
}

impl Report {
    /// Prints `line` and keeps it.
    pub fn say(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        println!("{line}");
        self.lines.push_str(line);
        self.lines.push('\n');
    }

    /// Records (and prints) a figure.
    pub fn figure(
        &mut self,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: Target,
    ) {
        let f = Figure {
            name: name.into(),
            value,
            unit,
            target,
        };
        self.say(format!(
            "  figure: {} = {} (target {}: {})",
            f.name,
            f.value_text(),
            f.target_text(),
            f.verdict()
        ));
        self.figures.push(f);
    }

    /// Records a failure (a wait that timed out, a part that could not run).
    pub fn failed(&mut self, what: impl Into<String>) {
        let what = what.into();
        self.say(format!("  FAILED: {what}"));
        self.failures.push(what);
    }

    /// The figures so far.
    pub fn figures(&self) -> &[Figure] {
        &self.figures
    }

    /// The failures so far.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// The summary table of every figure and failure.
    pub fn summary(&self) -> String {
        let w = self
            .figures
            .iter()
            .map(|f| f.name.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<w$}  {:>18}  {:>16}  verdict",
            "figure", "value", "target"
        );
        let _ = writeln!(s, "{}", "-".repeat(w + 47));
        for f in &self.figures {
            let _ = writeln!(
                s,
                "{:<w$}  {:>18}  {:>16}  {}",
                f.name,
                f.value_text(),
                f.target_text(),
                f.verdict()
            );
        }
        for e in &self.failures {
            let _ = writeln!(s, "FAILED: {e}");
        }
        s
    }

    /// Everything printed so far.
    pub fn text(&self) -> &str {
        &self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_table() {
        let mut r = Report::default();
        r.figure("takeover", 4.2, "s", Target::AtMost(5.0));
        r.figure("ratio", 2.5, "x", Target::AtMost(2.0));
        r.figure("exactly once", 1.0, "", Target::Holds);
        r.figure("settle", 3.0, "s", Target::None);
        let v: Vec<_> = r.figures().iter().map(Figure::verdict).collect();
        assert_eq!(v, ["met", "missed", "met", "-"]);
        r.failed("wait timed out");
        let t = r.summary();
        assert!(t.contains("takeover") && t.contains("missed") && t.contains("FAILED: wait"));
        assert!(r.text().contains("figure: ratio = 2.500 x"));
    }
}
