//! Choosing an address from a pool: DHCP for `0.0.0.0/32`, else, when sharing is allowed, the
//! first used address of the pool whose users' ports are disjoint from the new Service's, else
//! the first free address (last with `search-order: desc`). IPv4 addresses ending in `.0` or
//! `.255` are never handed out.
//!
//! The search never walks the pool address by address: it steps only over used addresses and
//! `.0`/`.255`, so its cost grows with the number of addresses in use, not with the pool's size
//! (an IPv6 /64 costs what a /29 costs). A hard cap bounds it anyway.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::addr::{from_number, is_dot_zero_or_255, Family, Span};
use super::config::{Pool, SearchOrder};
use super::usage::Usage;

/// Upper bound on candidate addresses examined in one span.
pub const MAX_STEPS: u32 = 1 << 20;

/// What one Service asks of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Its port numbers.
    pub ports: &'a BTreeSet<u16>,
    /// Whether its namespace allows sharing.
    pub may_share: bool,
    /// Search order of the ConfigMap.
    pub order: SearchOrder,
}

/// The address chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// The pool is `0.0.0.0/32`: write `0.0.0.0`, the daemon leases an address by DHCP.
    Dhcp,
    /// An address nobody uses.
    Fresh(IpAddr),
    /// An address used by Services whose ports are disjoint from the new one's.
    Shared(IpAddr),
}

impl Allocation {
    /// The address to write on the Service.
    pub fn address(self) -> IpAddr {
        match self {
            Allocation::Dhcp => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            Allocation::Fresh(ip) | Allocation::Shared(ip) => ip,
        }
    }
}

/// Chooses an address for `request` from `pool` given cluster-wide `usage`; `None` when the
/// pool is exhausted. Single-stack: the pool's IPv4 addresses if it has any, else its IPv6 ones.
pub fn allocate(pool: &Pool, usage: &Usage, request: &Request<'_>) -> Option<Allocation> {
    if pool.dhcp {
        return Some(Allocation::Dhcp);
    }
    let family = if pool.spans().iter().any(|s| s.family == Family::V4) {
        Family::V4
    } else {
        Family::V6
    };
    let mut spans: Vec<&Span> = pool.spans().iter().filter(|s| s.family == family).collect();
    let descending = request.order == SearchOrder::Descending;
    if descending {
        spans.reverse();
    }
    if request.may_share && !request.ports.is_empty() {
        for span in &spans {
            let used: Vec<IpAddr> = usage.used_in(span).map(|(ip, _)| ip).collect();
            let mut candidates: Box<dyn Iterator<Item = &IpAddr>> = if descending {
                Box::new(used.iter().rev())
            } else {
                Box::new(used.iter())
            };
            if let Some(ip) = candidates
                .find(|ip| !is_dot_zero_or_255(**ip) && usage.shareable(**ip, request.ports))
            {
                return Some(Allocation::Shared(*ip));
            }
        }
    }
    spans
        .iter()
        .find_map(|span| first_free(span, usage, descending))
        .map(Allocation::Fresh)
}

/// The first address of `span` (from its end when `descending`) that is neither used nor
/// `.0`/`.255`.
fn first_free(span: &Span, usage: &Usage, descending: bool) -> Option<IpAddr> {
    let (mut n, end) = if descending {
        (span.last, span.first)
    } else {
        (span.first, span.last)
    };
    for _ in 0..MAX_STEPS {
        let ip = from_number(span.family, n);
        if !is_dot_zero_or_255(ip) && !usage.is_used(ip) {
            return Some(ip);
        }
        if n == end {
            return None;
        }
        n = if descending { n - 1 } else { n + 1 };
    }
    None
}
