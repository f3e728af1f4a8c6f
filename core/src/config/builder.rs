//! [`Builder`]: reads settings one at a time, recording each value and its source, and the
//! election timing, which is read as three settings and checked as one.

use std::time::Duration;

use super::duration::{self, format_duration, parse_duration};
use super::parse::{self, Parsed};
use super::sources::Resolved;
use super::{bgp, ConfigError, Setting, Source};
use crate::election::timing::ElectionTiming;

/// Longest election duration accepted: anything longer is a mistake, not a tuning.
const MAX_TIMING: Duration = Duration::from_secs(3600);

/// Reads settings one by one, recording each one's effective value and source.
pub(crate) struct Builder<'a> {
    pub(crate) raw: &'a Resolved,
    pub(crate) settings: Vec<Setting>,
}

impl Builder<'_> {
    /// Reads `name`: its raw value through `parse`, or `default` when unset.
    pub(crate) fn take<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Parsed<T>,
        show: impl FnOnce(&T) -> String,
    ) -> Result<T, ConfigError> {
        let (value, source) = match self.raw.get(name) {
            None => (default, Source::Default),
            Some((text, source)) => match parse(text) {
                Ok(value) => (value, source.clone()),
                Err(expected) => return Err(self.refuse(name, expected)),
            },
        };
        self.settings.push(Setting {
            name,
            value: show(&value),
            source,
        });
        Ok(value)
    }

    /// Reads a boolean.
    pub(crate) fn flag(&mut self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.take(name, default, parse::boolean, bool::to_string)
    }

    /// Reads an optional interface name.
    pub(crate) fn interface(&mut self, name: &'static str) -> Result<Option<String>, ConfigError> {
        self.take(name, None, |t| parse::interface(t).map(Some), show_opt)
    }

    /// The variable or flag, as written, that set `name` (else `name` itself).
    pub(crate) fn written(&self, name: &str) -> String {
        match self.raw.get(name) {
            Some((_, Source::Env(env))) => env.clone(),
            Some((_, Source::Flag(flag))) => flag.clone(),
            _ => name.to_string(),
        }
    }

    /// An error naming `name` as written, with its raw value and the accepted form.
    pub(crate) fn refuse(&self, name: &str, expected: impl Into<String>) -> ConfigError {
        let text = self.raw.get(name).map_or("", |(text, _)| text);
        let value = match name {
            "bgp_peers" => bgp::redact_peers(text),
            "bgp_peerpass" => "<redacted>".to_string(),
            _ => text.to_string(),
        };
        ConfigError::Invalid {
            name: self.written(name),
            value,
            expected: expected.into(),
        }
    }

    /// `name=value (source)` of the named settings already read, for error context.
    fn describe(&self, names: &[&str]) -> String {
        let found = self.settings.iter().filter(|s| names.contains(&s.name));
        found
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Shows an optional value, empty when unset.
pub(crate) fn show_opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

pub(crate) fn timing(b: &mut Builder<'_>) -> Result<ElectionTiming, ConfigError> {
    let d = ElectionTiming::KUBE_VIP_DEFAULT;
    let within = |expected: &str, ok: fn(Duration) -> bool| {
        let expected = expected.to_string();
        move |text: &str| match parse_duration(text) {
            Some(v) if v > MAX_TIMING => Err(format!("{expected}, at most 3600 seconds")),
            Some(v) if ok(v) => Ok(v),
            _ => Err(expected),
        }
    };
    let lease_form = "a whole number of seconds (e.g. 15): the Lease field is an integer";
    let whole = |v: Duration| v.subsec_nanos() == 0;
    let lease = b.take(
        "vip_leaseduration",
        d.lease_duration,
        within(lease_form, whole),
        |v| format_duration(*v),
    )?;
    let any = |_: Duration| true;
    let renew = b.take(
        "vip_renewdeadline",
        d.renew_deadline,
        within(duration::EXPECTED, any),
        |v| format_duration(*v),
    )?;
    let retry = b.take(
        "vip_retryperiod",
        d.retry_period,
        within(duration::EXPECTED, any),
        |v| format_duration(*v),
    )?;
    let timing = ElectionTiming {
        lease_duration: lease,
        renew_deadline: renew,
        retry_period: retry,
    };
    timing.validate().map_err(|source| ConfigError::Timing {
        source,
        origin: b.describe(&["vip_leaseduration", "vip_renewdeadline", "vip_retryperiod"]),
    })
}
