//! ConfigMap `kube-system/kubevip` as kube-vip-cloud-provider reads it, parsed key by key.
//!
//! | key | value |
//! |---|---|
//! | `cidr-<namespace>` / `cidr-global` | comma list of CIDRs, IPv4 and IPv6 (`0.0.0.0/32` alone = DHCP) |
//! | `range-<namespace>` / `range-global` | comma list of `start-end` |
//! | `allow-share-<namespace>` / `allow-share-global` | `true`: Services with disjoint ports may share an address |
//! | `interface-<namespace>` / `interface-global` | interface name, written on the Service for the daemon |
//! | `search-order` | `desc`: hand out the last free address first (default `asc`) |
//! | `skip-end-ips-in-cidr` | `true`: leave out the network and broadcast address of IPv4 CIDRs |
//!
//! A malformed key yields a [`ConfigError`] naming the key and the accepted form; it breaks that
//! key only. A Service whose pool key is broken is told so, and does not silently fall back to
//! another pool.

use std::collections::BTreeMap;
use std::fmt;

use super::addr::{merge, parse_range, Cidr, Span};

/// The ConfigMap as the watch delivers it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigMapView {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid` (for Events about it).
    pub uid: String,
    /// `data`.
    pub data: BTreeMap<String, String>,
}

/// Key: allocate from the end of the pools.
pub const KEY_SEARCH_ORDER: &str = "search-order";
/// Key: leave out network and broadcast addresses of IPv4 CIDRs.
pub const KEY_SKIP_END_IPS: &str = "skip-end-ips-in-cidr";

const EXPECT_CIDR: &str =
    "a comma list of CIDRs, e.g. 192.168.0.200/29,fd00::/120 (0.0.0.0/32 alone means DHCP)";
const EXPECT_RANGE: &str =
    "a comma list of start-end ranges, e.g. 192.168.0.200-192.168.0.210,fd00::10-fd00::20";
const EXPECT_BOOL: &str = "true or false";
const EXPECT_ORDER: &str = "desc, or asc (the default)";
const EXPECT_INTERFACE: &str = "an interface name, e.g. eth0";
const EXPECT_KEY: &str = "cidr-, range-, allow-share- or interface- followed by a namespace or \
    `global`, or search-order, or skip-end-ips-in-cidr";

/// Where a setting applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One namespace (`cidr-<namespace>`).
    Namespace(String),
    /// Every namespace without its own setting (`cidr-global`).
    Global,
}

impl Scope {
    fn from_suffix(suffix: &str) -> Scope {
        if suffix == "global" {
            Scope::Global
        } else {
            Scope::Namespace(suffix.to_string())
        }
    }
}

/// In which order free addresses are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchOrder {
    /// Lowest first (the default).
    #[default]
    Ascending,
    /// Highest first (`search-order: desc`).
    Descending,
}

/// A malformed key: which, what was written, what is wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigError {
    /// The ConfigMap key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub problem: String,
    /// The accepted form.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key {:?} = {:?}: {}; expected {}",
            self.key, self.value, self.problem, self.expected
        )
    }
}

/// One address pool: the merged spans of one `cidr-*` or `range-*` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The ConfigMap key it came from (`range-global`).
    pub key: String,
    /// The value as written.
    pub text: String,
    /// `0.0.0.0/32`: the daemon leases an address by DHCP.
    pub dhcp: bool,
    spans: Vec<Span>,
}

impl Pool {
    /// The pool's addresses as sorted, merged spans (IPv4 before IPv6).
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Whether `ip` belongs to the pool (before the `.0`/`.255` rule).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.spans.iter().any(|s| s.contains(ip))
    }
}

/// What the lookup for a namespace found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolLookup<'a> {
    /// The pool to allocate from.
    Found(&'a Pool),
    /// The key that applies is malformed.
    Broken(&'a ConfigError),
    /// No `cidr-` or `range-` key for the namespace nor `global`.
    Missing,
}

/// The parsed ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpamConfig {
    cidr: BTreeMap<Scope, Result<Pool, ConfigError>>,
    range: BTreeMap<Scope, Result<Pool, ConfigError>>,
    allow_share: BTreeMap<Scope, bool>,
    interface: BTreeMap<Scope, String>,
    /// `search-order`.
    pub search_order: SearchOrder,
    /// `skip-end-ips-in-cidr`.
    pub skip_end_ips_in_cidr: bool,
    errors: Vec<ConfigError>,
}

impl IpamConfig {
    /// Parses the ConfigMap's data; every malformed key is recorded in [`IpamConfig::errors`]
    /// and leaves the others working.
    pub fn parse(data: &BTreeMap<String, String>) -> IpamConfig {
        let mut c = IpamConfig::default();
        if let Some(v) = data.get(KEY_SEARCH_ORDER) {
            match v.trim().to_ascii_lowercase().as_str() {
                "desc" => c.search_order = SearchOrder::Descending,
                "asc" | "" => {}
                _ => c.error(KEY_SEARCH_ORDER, v, "is not a search order", EXPECT_ORDER),
            }
        }
        if let Some(v) = data.get(KEY_SKIP_END_IPS) {
            match parse_bool(v) {
                Some(b) => c.skip_end_ips_in_cidr = b,
                None => c.error(KEY_SKIP_END_IPS, v, "is not a boolean", EXPECT_BOOL),
            }
        }
        for (key, value) in data {
            if key == KEY_SEARCH_ORDER || key == KEY_SKIP_END_IPS {
                continue;
            }
            c.parse_key(key, value);
        }
        c.errors.sort();
        c
    }

    fn parse_key(&mut self, key: &str, value: &str) {
        let known = ["allow-share-", "interface-", "cidr-", "range-"]
            .into_iter()
            .find_map(|p| Some((p, key.strip_prefix(p).filter(|s| !s.is_empty())?)));
        let Some((prefix, suffix)) = known else {
            self.error(key, value, "is not a key kvip knows", EXPECT_KEY);
            return;
        };
        let scope = Scope::from_suffix(suffix);
        match prefix {
            "allow-share-" => match parse_bool(value) {
                Some(b) => {
                    self.allow_share.insert(scope, b);
                }
                None => self.error(key, value, "is not a boolean", EXPECT_BOOL),
            },
            "interface-" => {
                let name = value.trim();
                let bad = name.is_empty()
                    || name.len() > 15
                    || name.chars().any(|c| c.is_whitespace() || c == '/');
                if bad {
                    self.error(key, value, "is not an interface name", EXPECT_INTERFACE);
                } else {
                    self.interface.insert(scope, name.to_string());
                }
            }
            "cidr-" => {
                let pool = self.parse_cidrs(key, value);
                self.record_pool(true, scope, pool);
            }
            _ => {
                let pool = parse_ranges(key, value);
                self.record_pool(false, scope, pool);
            }
        }
    }

    fn record_pool(&mut self, cidr: bool, scope: Scope, pool: Result<Pool, ConfigError>) {
        if let Err(e) = &pool {
            self.errors.push(e.clone());
        }
        let map = if cidr {
            &mut self.cidr
        } else {
            &mut self.range
        };
        map.insert(scope, pool);
    }

    fn parse_cidrs(&self, key: &str, value: &str) -> Result<Pool, ConfigError> {
        let err = |problem: String| ConfigError {
            key: key.to_string(),
            value: value.to_string(),
            problem,
            expected: EXPECT_CIDR,
        };
        let mut spans = Vec::new();
        for entry in value.split(',') {
            if entry.trim().is_empty() {
                return Err(err("has an empty entry".into()));
            }
            let cidr = Cidr::parse(entry)
                .ok_or_else(|| err(format!("{:?} is not a CIDR", entry.trim())))?;
            spans.push(if self.skip_end_ips_in_cidr {
                cidr.span_without_ends()
            } else {
                cidr.span()
            });
        }
        Ok(Pool {
            key: key.to_string(),
            text: value.to_string(),
            dhcp: value.trim() == "0.0.0.0/32",
            spans: merge(spans),
        })
    }

    fn error(&mut self, key: &str, value: &str, problem: &str, expected: &'static str) {
        self.errors.push(ConfigError {
            key: key.to_string(),
            value: value.to_string(),
            problem: problem.to_string(),
            expected,
        });
    }

    /// Every malformed key, sorted.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// The pool for Services of `namespace`: `cidr-<ns>`, `range-<ns>`, `cidr-global`,
    /// `range-global`, the first key present (namespace before global, CIDR before range).
    pub fn pool_for(&self, namespace: &str) -> PoolLookup<'_> {
        let ns = Scope::Namespace(namespace.to_string());
        let candidates = [
            self.cidr.get(&ns),
            self.range.get(&ns),
            self.cidr.get(&Scope::Global),
            self.range.get(&Scope::Global),
        ];
        match candidates.into_iter().flatten().next() {
            Some(Ok(pool)) => PoolLookup::Found(pool),
            Some(Err(e)) => PoolLookup::Broken(e),
            None => PoolLookup::Missing,
        }
    }

    /// Whether Services of `namespace` may share an address (`allow-share-<ns>`, else
    /// `allow-share-global`, else no).
    pub fn allow_share(&self, namespace: &str) -> bool {
        let ns = Scope::Namespace(namespace.to_string());
        self.allow_share
            .get(&ns)
            .or_else(|| self.allow_share.get(&Scope::Global))
            .copied()
            .unwrap_or(false)
    }

    /// The interface for Services of `namespace` (`interface-<ns>`, else `interface-global`).
    pub fn interface(&self, namespace: &str) -> Option<&str> {
        let ns = Scope::Namespace(namespace.to_string());
        self.interface
            .get(&ns)
            .or_else(|| self.interface.get(&Scope::Global))
            .map(String::as_str)
    }
}

fn parse_ranges(key: &str, value: &str) -> Result<Pool, ConfigError> {
    let mut spans = Vec::new();
    for entry in value.split(',') {
        let problem = if entry.trim().is_empty() {
            Err("has an empty entry".to_string())
        } else {
            parse_range(entry).map_err(|why| format!("{:?} {why}", entry.trim()))
        };
        spans.push(problem.map_err(|problem| ConfigError {
            key: key.to_string(),
            value: value.to_string(),
            problem,
            expected: EXPECT_RANGE,
        })?);
    }
    Ok(Pool {
        key: key.to_string(),
        text: value.to_string(),
        dhcp: false,
        spans: merge(spans),
    })
}

/// Go's `strconv.ParseBool`, which kube-vip-cloud-provider uses for `allow-share-*`.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
