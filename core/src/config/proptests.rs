//! Properties: valid election timings round-trip through their string forms; garbage in any
//! variable or flag is refused or accepted, never a panic.

use proptest::prelude::*;

use super::names::SPECS;
use super::tests::{env, BASE};
use super::*;

/// A valid (lease, renew, retry) in milliseconds: lease whole seconds, lease > renew > 1.2 retry.
fn valid_triple() -> impl Strategy<Value = (u64, u64, u64)> {
    (1u64..=600).prop_flat_map(|lease_s| {
        let lease = lease_s * 1000;
        (Just(lease), 2u64..lease).prop_flat_map(|(lease, renew)| {
            // renew * 10 > retry * 12  <=>  retry < renew * 10 / 12 (rounded up, exclusive)
            let max_retry = (renew * 10).div_ceil(12);
            (Just(lease), Just(renew), 1u64..max_retry.max(2))
        })
    })
}

/// One of the accepted spellings of `ms` milliseconds.
fn spell(ms: u64, style: u8) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    match style % 3 {
        0 => format!("{ms}ms"),
        1 => format_duration(std::time::Duration::from_millis(ms)),
        _ if millis == 0 => format!("{secs}s"),
        _ => format!("{secs}.{millis:03}"),
    }
}

fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SPECS.iter().map(|s| s.name).collect();
    names.extend(SPECS.iter().flat_map(|s| s.aliases.iter().copied()));
    names
}

proptest! {
    #[test]
    fn valid_timing_round_trips((lease, renew, retry) in valid_triple(), styles in any::<(u8, u8)>()) {
        let timing = ElectionTiming::from_millis(lease, renew, retry);
        prop_assume!(timing.validate().is_ok());
        let (lease_s, renew_s, retry_s) =
            ((lease / 1000).to_string(), spell(renew, styles.0), spell(retry, styles.1));
        let mut pairs: Vec<(&str, &str)> = BASE.to_vec();
        pairs.extend([
            ("vip_leaseduration", lease_s.as_str()),
            ("vip_renewdeadline", renew_s.as_str()),
            ("vip_retryperiod", retry_s.as_str()),
        ]);
        let loaded = Config::from_sources(env(&pairs), &[], "node1").unwrap();
        prop_assert_eq!(loaded.config.election, timing);
        // The effective strings shown by --check read back to the same timing.
        let shown = |n: &str| loaded.setting(n).unwrap().value.clone();
        let again = [
            ("vip_leaseduration", shown("vip_leaseduration")),
            ("vip_renewdeadline", shown("vip_renewdeadline")),
            ("vip_retryperiod", shown("vip_retryperiod")),
        ];
        let mut pairs2 = env(BASE);
        pairs2.extend(again.iter().map(|(k, v)| ((*k).to_string(), v.clone())));
        let reloaded = Config::from_sources(pairs2, &[], "node1").unwrap();
        prop_assert_eq!(reloaded.config.election, timing);
    }

    #[test]
    fn garbage_in_any_variable_never_panics(index in any::<prop::sample::Index>(), value in ".{0,40}") {
        let names = names();
        let name = names[index.index(names.len())];
        let mut pairs = env(BASE);
        pairs.push((name.to_string(), value.clone()));
        if let Err(err) = Config::from_sources(pairs, &[], "node1") {
            let _ = err.to_string();
        }
    }

    #[test]
    fn ascii_garbage_in_any_variable_never_panics(
        index in any::<prop::sample::Index>(),
        value in "[-0-9a-z:.,\\[\\]/ ]{0,30}",
    ) {
        let names = names();
        let name = names[index.index(names.len())];
        let mut pairs = env(BASE);
        pairs.push((name.to_string(), value));
        let _ = Config::from_sources(pairs, &[], "node1").map_err(|e| e.to_string());
    }

    #[test]
    fn garbage_flags_never_panic(args in prop::collection::vec("(--?[a-zA-Z]{0,12}(=.{0,8})?|.{0,8})", 0..6)) {
        let _ = Config::from_sources(env(BASE), &args, "node1").map_err(|e| e.to_string());
    }

    #[test]
    fn garbage_env_names_never_panic(name in ".{0,20}", value in ".{0,10}") {
        let mut pairs = env(BASE);
        pairs.push((name, value));
        if let Ok(loaded) = Config::from_sources(pairs, &[], "node1") {
            let _: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        }
    }
}
