//! Deterministic spreading of groups over nodes (per-service mode): bounded-load rendezvous
//! hashing. Every node computes the same assignment from the same members and groups, with no
//! coordination beyond the membership Leases.
//!
//! - Each group ranks the members by a rendezvous score `mix(h(group) ^ mix(h(node)))`
//!   (highest first): its *preference order*.
//! - Groups are processed in a fixed order (`mix(h(group) ^ ORDER_SALT)`, then name). Each goes to
//!   the first eligible member in its preference order that still has room: with `n` groups and
//!   `m` members every member has room for `n / m`, and the first `n % m` members to fill up get
//!   one more. So with every member eligible, loads are exactly `n / m` or `n / m + 1`.
//! - A group whose eligible members are all full (Local policy narrows eligibility) goes to the
//!   least loaded eligible member; one with no eligible member is not assigned.
//!
//! Because preferences are per group, a member joining or leaving moves mostly the groups that
//! prefer (or preferred) it; the load bound moves a few more. `h` is FNV-1a 64 and `mix` is
//! SplitMix64's finalizer: both are fixed here, part of the protocol between nodes (two versions
//! of kvip that hash differently would disagree while both run).

use std::collections::{BTreeMap, BTreeSet};

use super::model::ServiceKey;
use super::plan::{Eligibility, Group};

const ORDER_SALT: u64 = 0x6b76_6970_2d73_7663; // "kvip-svc"

/// FNV-1a 64 of `bytes`, finished with [`mix`].
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// SplitMix64's finalizer: a bijective scramble of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of a group's (or Service's) name: `namespace/name`.
pub fn key_hash(key: &ServiceKey) -> u64 {
    stable_hash(format!("{}/{}", key.namespace, key.name).as_bytes())
}

/// `members` ranked for the item with hash `item`: highest rendezvous score first.
pub fn preference<'a>(item: u64, members: impl IntoIterator<Item = &'a String>) -> Vec<&'a String> {
    let mut ranked: Vec<(u64, &String)> = members
        .into_iter()
        .map(|m| (mix(item ^ stable_hash(m.as_bytes())), m))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// Assigns each group to one member; groups without an eligible member are left out.
pub fn assign(groups: &[Group], members: &BTreeSet<String>) -> BTreeMap<ServiceKey, String> {
    let items: Vec<(&ServiceKey, &Eligibility)> =
        groups.iter().map(|g| (&g.id, &g.eligible)).collect();
    assign_items(&items, members)
}

/// [`assign`] on bare (name, eligibility) pairs.
pub fn assign_items(
    items: &[(&ServiceKey, &Eligibility)],
    members: &BTreeSet<String>,
) -> BTreeMap<ServiceKey, String> {
    let mut result = BTreeMap::new();
    if members.is_empty() {
        return result;
    }
    let m = members.len();
    let (base, mut extra) = (items.len() / m, items.len() % m);
    let mut order: Vec<(u64, u64, &ServiceKey, &Eligibility)> = items
        .iter()
        .map(|&(key, eligible)| {
            let h = key_hash(key);
            (mix(h ^ ORDER_SALT), h, key, eligible)
        })
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(b.2)));
    let mut load: BTreeMap<&String, usize> = members.iter().map(|n| (n, 0)).collect();
    for (_, h, key, eligible) in order {
        let prefs = preference(h, members.iter().filter(|n| eligible.allows(n)));
        let with_room = prefs.iter().copied().find(|n| {
            let l = load[n];
            l < base || (l == base && extra > 0)
        });
        let chosen = match with_room {
            Some(n) => {
                if load[n] == base {
                    extra -= 1;
                }
                n
            }
            None => match prefs.iter().copied().min_by_key(|n| load[n]) {
                Some(n) => n,
                None => continue,
            },
        };
        *load.get_mut(chosen).expect("a member") += 1;
        result.insert(key.clone(), chosen.clone());
    }
    result
}

/// The member that speaks for a Service (reports its problems, clears a status it wrote): the
/// first live member in the Service's own preference order.
pub fn speaker<'a>(key: &ServiceKey, members: &'a BTreeSet<String>) -> Option<&'a String> {
    preference(key_hash(key), members).first().copied()
}
