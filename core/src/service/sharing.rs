//! Several Services on one address: allowed while their ports differ (same number and protocol
//! is a clash). When two Services sharing an address clash, exactly one keeps the address:
//! 1. a Service whose stored `status.loadBalancer.ingress` already lists the address (it had it
//!    first: the cluster's own record, the same on every node and across restarts), then
//! 2. the smaller `namespace/name`.
//!
//! The loser does not get that address (it is not announced for it and not written into its
//! status) and the clash is reported for it; its other addresses are unaffected, and the winner
//! never notices. The rule is evaluated per address, in the order above, so an address is kept by
//! a set of Services with pairwise disjoint ports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::model::{ServiceKey, ServicePort};

/// One Service's claim on static addresses.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    /// The Service.
    pub key: &'a ServiceKey,
    /// The static addresses it wants, in its order.
    pub addresses: &'a [IpAddr],
    /// Its ports.
    pub ports: &'a [ServicePort],
    /// The addresses its stored status lists.
    pub status: &'a [IpAddr],
}

/// A Service refused an address because another one holds it on the same port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortClash {
    /// The address.
    pub address: IpAddr,
    /// The Service refused it.
    pub service: ServiceKey,
    /// The Service keeping it.
    pub holder: ServiceKey,
    /// The ports both want.
    pub ports: Vec<ServicePort>,
}

impl fmt::Display for PortClash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_str()))
            .collect();
        write!(
            f,
            "address {} is shared with Service {} on the same port(s) {}; it stays with {} and is not announced for this Service",
            self.address,
            self.holder,
            ports.join(","),
            self.holder
        )
    }
}

/// The outcome: which static addresses each Service keeps, and the clashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    /// Per Service, the addresses it keeps, in its order.
    pub kept: BTreeMap<ServiceKey, Vec<IpAddr>>,
    /// Every clash, by address then losing Service.
    pub clashes: Vec<PortClash>,
}

/// Decides who keeps each shared address.
pub fn share(claimants: &[Claimant<'_>]) -> Sharing {
    let mut by_address: BTreeMap<IpAddr, Vec<&Claimant<'_>>> = BTreeMap::new();
    for c in claimants {
        for &address in c.addresses {
            by_address.entry(address).or_default().push(c);
        }
    }
    let mut refused: BTreeMap<&ServiceKey, Vec<IpAddr>> = BTreeMap::new();
    let mut clashes = vec![];
    for (address, mut users) in by_address {
        users.sort_by_key(|c| (!c.status.contains(&address), c.key));
        let mut holders: Vec<&Claimant<'_>> = vec![];
        for c in users {
            let clash = holders.iter().find_map(|h| {
                let both: Vec<ServicePort> = c
                    .ports
                    .iter()
                    .filter(|p| h.ports.contains(p))
                    .copied()
                    .collect();
                (!both.is_empty()).then(|| (h.key.clone(), both))
            });
            match clash {
                None => holders.push(c),
                Some((holder, ports)) => {
                    refused.entry(c.key).or_default().push(address);
                    clashes.push(PortClash {
                        address,
                        service: c.key.clone(),
                        holder,
                        ports,
                    });
                }
            }
        }
    }
    let kept = claimants
        .iter()
        .map(|c| {
            let lost = refused.get(c.key);
            let kept = c
                .addresses
                .iter()
                .filter(|a| lost.is_none_or(|l| !l.contains(a)))
                .copied()
                .collect();
            (c.key.clone(), kept)
        })
        .collect();
    Sharing { kept, clashes }
}
