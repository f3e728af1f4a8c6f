//! Reading the environment and `kvip manager` flags into one raw value per setting, with its
//! [`Source`]: environment over flags over defaults (kube-vip's precedence).

use std::collections::{BTreeMap, HashMap};

use super::names::{Kind, Spec, DEPRECATED_FLAGS, IGNORED_ENV, IGNORED_FLAGS, OUR_PREFIXES, SPECS};
use super::{ConfigError, Source, Warning};

/// The raw value chosen for each setting that was set, and where it came from.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    values: HashMap<&'static str, (String, Source)>,
}

impl Resolved {
    /// The raw value of `name` and its source, if it was set.
    pub fn get(&self, name: &str) -> Option<(&str, &Source)> {
        self.values.get(name).map(|(v, s)| (v.as_str(), s))
    }
}

/// Reads flags, then the environment over them.
pub(crate) fn resolve(
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[String],
    warnings: &mut Vec<Warning>,
) -> Result<Resolved, ConfigError> {
    let mut resolved = Resolved::default();
    read_flags(flags, &mut resolved, warnings)?;
    let env: BTreeMap<String, String> = env.into_iter().collect();
    for spec in SPECS.iter().filter(|s| s.env) {
        let set = |name: &str| {
            env.get(name)
                .filter(|v| spec.empty_is_value || !v.is_empty())
        };
        let mut chosen = set(spec.name).map(|v| (spec.name.to_string(), v));
        for alias in spec.aliases {
            if let Some(value) = set(alias) {
                let shadowed = chosen.is_some();
                warnings.push(Warning::DeprecatedAlias {
                    used: (*alias).to_string(),
                    replacement: spec.name,
                    shadowed,
                });
                chosen.get_or_insert(((*alias).to_string(), value));
            }
        }
        if let Some((name, value)) = chosen {
            resolved
                .values
                .insert(spec.name, (value.clone(), Source::Env(name)));
        }
    }
    for (name, value) in &env {
        if is_known_env(name) || value.is_empty() {
            continue;
        }
        if IGNORED_ENV.contains(&name.as_str()) {
            warnings.push(Warning::Ignored { name: name.clone() });
        } else if let Some(warning) = typo(name) {
            warnings.push(warning);
        }
    }
    Ok(resolved)
}

fn is_known_env(name: &str) -> bool {
    SPECS
        .iter()
        .any(|s| s.env && (s.name == name || s.aliases.contains(&name)))
}

/// A warning for `name` if it looks meant for kvip: one of our prefixes, or a known name in the
/// wrong case.
fn typo(name: &str) -> Option<Warning> {
    let lower = name.to_ascii_lowercase();
    let known = SPECS.iter().filter(|s| s.env).map(|s| s.name);
    let mut best: Option<(usize, &'static str)> = None;
    for candidate in known {
        let d = distance(&lower, &candidate.to_ascii_lowercase());
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    let ours = OUR_PREFIXES.iter().any(|p| name.starts_with(p));
    let wrong_case = best.is_some_and(|(d, _)| d == 0);
    (ours || wrong_case).then(|| Warning::UnknownVariable {
        name: name.to_string(),
        suggestion: best.map(|(_, s)| s),
    })
}

/// Levenshtein distance, stopping early past small inputs (names are short).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 || a.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// What a flag name refers to.
enum Target {
    Setting(&'static Spec),
    Deprecated(&'static Spec, &'static str),
    Ignored(bool),
}

fn lookup(name: &str) -> Option<Target> {
    let eq = |f: &&str| f.eq_ignore_ascii_case(name);
    if let Some(spec) = SPECS.iter().find(|s| s.flags.iter().any(eq)) {
        return Some(Target::Setting(spec));
    }
    if let Some((_, canonical, replacement)) = DEPRECATED_FLAGS.iter().find(|d| eq(&d.0)) {
        let spec = SPECS.iter().find(|s| s.name == *canonical)?;
        return Some(Target::Deprecated(spec, replacement));
    }
    IGNORED_FLAGS
        .iter()
        .find(|i| eq(&i.0))
        .map(|i| Target::Ignored(i.1))
}

/// Reads `--flag value`, `--flag=value`, bare `--switch` and `-n value`; the last occurrence wins.
fn read_flags(
    args: &[String],
    resolved: &mut Resolved,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (written, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (arg.as_str(), None),
        };
        let target = if written == "--" {
            return match rest.next() {
                Some(extra) => Err(ConfigError::UnexpectedArgument { arg: extra.clone() }),
                None => Ok(()),
            };
        } else if let Some(name) = written.strip_prefix("--") {
            lookup(name)
        } else if written == "-n" {
            lookup("namespace")
        } else if written.starts_with('-') {
            None
        } else {
            return Err(ConfigError::UnexpectedArgument { arg: arg.clone() });
        };
        let target = target.ok_or_else(|| ConfigError::UnknownFlag {
            flag: written.to_string(),
        })?;
        let takes_value = match &target {
            Target::Setting(spec) | Target::Deprecated(spec, _) => spec.kind == Kind::Value,
            Target::Ignored(takes_value) => *takes_value,
        };
        let value = match inline {
            Some(value) => value.to_string(),
            None if !takes_value => "true".to_string(),
            None => match rest.next() {
                Some(next) if !next.starts_with("--") => next.clone(),
                _ => {
                    return Err(ConfigError::MissingFlagValue {
                        flag: written.to_string(),
                    })
                }
            },
        };
        let source = Source::Flag(written.to_string());
        let empty_unset = |spec: &Spec| value.is_empty() && !spec.empty_is_value;
        match target {
            // As with the environment, an empty value counts as unset.
            Target::Setting(spec) | Target::Deprecated(spec, _) if empty_unset(spec) => {}
            Target::Setting(spec) => {
                resolved.values.insert(spec.name, (value, source));
            }
            Target::Deprecated(spec, replacement) => {
                warnings.push(Warning::DeprecatedAlias {
                    used: written.to_string(),
                    replacement,
                    shadowed: false,
                });
                resolved.values.insert(spec.name, (value, source));
            }
            Target::Ignored(_) => warnings.push(Warning::Ignored {
                name: written.to_string(),
            }),
        }
    }
    Ok(())
}
