//! Durations as the election variables spell them.
//!
//! kube-vip takes whole seconds (`3`). kvip also takes, as an extension, decimal seconds
//! (`0.6`, at most nanosecond precision), an optional `s` suffix (`3s`, `0.6s`) and whole
//! milliseconds (`600ms`). Nothing else: no sign, no exponent, no other unit.

use std::time::Duration;

/// The accepted form, for error messages.
pub(crate) const EXPECTED: &str = "seconds (e.g. 2, 0.2) or milliseconds (e.g. 200ms)";

/// Parses `3`, `0.6`, `3s`, `0.6s` or `600ms` (surrounding whitespace ignored).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return digits(ms).map(Duration::from_millis);
    }
    let text = text.strip_suffix('s').unwrap_or(text);
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (text, None),
    };
    let secs = digits(whole)?;
    let nanos = match frac {
        None => 0,
        Some(frac) => {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let scale = 10u32.pow(9 - u32::try_from(frac.len()).ok()?);
            frac.parse::<u32>().ok()?.checked_mul(scale)?
        }
    };
    Some(Duration::new(secs, nanos))
}

/// Formats a duration in the seconds form [`parse_duration`] reads back exactly: `15`, `0.6`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        return d.as_secs().to_string();
    }
    let frac = format!("{nanos:09}");
    format!("{}.{}", d.as_secs(), frac.trim_end_matches('0'))
}

/// A non-empty run of ASCII digits as a `u64`.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_vip_whole_seconds() {
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration(" 1 "), Some(Duration::from_secs(1)));
    }

    #[test]
    fn sub_second_extensions() {
        assert_eq!(parse_duration("0.6"), Some(Duration::from_millis(600)));
        assert_eq!(parse_duration("0.6s"), Some(Duration::from_millis(600)));
        assert_eq!(parse_duration("600ms"), Some(Duration::from_millis(600)));
        assert_eq!(parse_duration("1.25"), Some(Duration::from_millis(1250)));
        assert_eq!(parse_duration("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "abc",
            "-1",
            "+1",
            "1e3",
            ".5",
            "5.",
            "1.2.3",
            "0.0000000001",
            "1 s",
            "1m",
            "ms",
            "1.5ms",
            "s",
            "99999999999999999999",
            "٣",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_reads_back() {
        for d in [
            Duration::from_secs(15),
            Duration::from_millis(600),
            Duration::from_millis(1250),
            Duration::from_nanos(1),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Some(d), "{d:?}");
        }
        assert_eq!(format_duration(Duration::from_millis(600)), "0.6");
        assert_eq!(format_duration(Duration::from_secs(5)), "5");
    }
}
