//! Bounded polling that can say what was missing: a probe answers `Ok(value)` when its condition
//! holds or `Err(what is missing)`; a wait that runs out of time returns the last such text, so a
//! timeout prints a clear failure line. Errors of the probe itself (a busy API server) count as
//! "not yet" and are reported the same way.

use std::time::{Duration, Instant};

/// A finished wait: the value and how long it took from the wait's own start.
pub type Waited<T> = std::result::Result<(T, Duration), String>;

/// Calls `probe` every `every` until it returns `Ok(Ok(v))` or `bound` passes; the time is
/// measured from this call.
pub fn until<T>(
    bound: Duration,
    every: Duration,
    probe: impl FnMut() -> anyhow::Result<std::result::Result<T, String>>,
) -> Waited<T> {
    until_since(Instant::now(), bound, every, probe)
}

/// Like [`until`], the time (and the bound) measured from `t` (an event that came before).
pub fn until_since<T>(
    t: Instant,
    bound: Duration,
    every: Duration,
    mut probe: impl FnMut() -> anyhow::Result<std::result::Result<T, String>>,
) -> Waited<T> {
    loop {
        let last = match probe() {
            Ok(Ok(v)) => return Ok((v, t.elapsed())),
            Ok(Err(missing)) => missing,
            Err(e) => format!("probe failed: {e:#}"),
        };
        if t.elapsed() > bound {
            return Err(format!("after {bound:?}: {last}"));
        }
        std::thread::sleep(every);
    }
}

/// A short list of items for a failure line: the first few, and how many in all.
pub fn some<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let all: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    let head: Vec<&str> = all.iter().take(5).map(String::as_str).collect();
    if all.len() > head.len() {
        format!("{} … ({} in all)", head.join(", "), all.len())
    } else {
        head.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_reports_what_was_missing() {
        let r: Waited<()> = until(Duration::from_millis(30), Duration::from_millis(5), || {
            Ok(Err("3 addresses".to_string()))
        });
        assert!(r.unwrap_err().ends_with("3 addresses"));
        let mut n = 0;
        let r = until(Duration::from_secs(1), Duration::from_millis(1), || {
            n += 1;
            Ok(if n == 3 { Ok(n) } else { Err("no".into()) })
        });
        assert_eq!(r.unwrap().0, 3);
        assert_eq!(some(1..=7), "1, 2, 3, 4, 5 … (7 in all)");
    }
}
