//! Random create / delete / pin / pool-change / share / relist / failure sequences against a
//! simulated API server. Checked at every write the controller makes, against the server's truth:
//! the address is used by no other Service unless sharing is legal there (both namespaces allow
//! it, both name ports, ports disjoint), and it belongs to the pool the Service's namespace
//! resolves to (`0.0.0.0` only from a DHCP pool; never `.0`/`.255`). After the run quiesces,
//! every Service still without an address has a reported reason.
//!
//! The watch of the simulated server delivers the users' changes at once but holds back the
//! echoes of the controller's own writes (up to 10 s, below the 30 s echo timeout), and write
//! answers arrive late, fail, or fail after the server stored the write.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use proptest::prelude::*;

use super::addr::is_dot_zero_or_255;
use super::test_support::{at, config_map};
use super::*;
use crate::io::{OpId, WatchEvent};
use crate::rng::SeededRng;
use crate::service::model::{ANNOTATION_LOADBALANCER_IPS, LABEL_IMPLEMENTATION};
use crate::service::{Protocol, ServiceKey, ServicePort, ServiceView};

const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const PORTS: [u16; 3] = [53, 80, 443];
const CIDRS: [&str; 5] = [
    "10.0.0.0/29",
    "10.0.0.4/30",
    "10.0.0.8/29",
    "0.0.0.0/32",
    "10.0.0.0/33",
];
const RANGES: [&str; 4] = [
    "10.0.0.2-10.0.0.9",
    "10.0.0.6-10.0.0.7",
    "10.0.0.12-10.0.0.16,10.0.0.1-10.0.0.3",
    "10.0.0.9-10.0.0.2",
];

#[derive(Debug, Clone)]
enum Op {
    Create {
        ns: usize,
        ports: Vec<u16>,
        pin: Option<u8>,
        class: u8,
    },
    Delete(usize),
    Config(Vec<(String, String)>),
    Echoes(usize),
    Answers(usize),
    Tick(u64),
    Relist,
    Lead(bool),
}

fn config_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    let scopes = ["a", "b", "global"];
    let entry = |scope: &'static str| {
        (
            proptest::option::weighted(0.4, 0..CIDRS.len()),
            proptest::option::weighted(0.5, 0..RANGES.len()),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(move |(cidr, range, share)| {
                let mut kv = Vec::new();
                if let Some(i) = cidr {
                    kv.push((format!("cidr-{scope}"), CIDRS[i].to_string()));
                }
                if let Some(i) = range {
                    kv.push((format!("range-{scope}"), RANGES[i].to_string()));
                }
                if let Some(b) = share {
                    kv.push((format!("allow-share-{scope}"), b.to_string()));
                }
                kv
            })
    };
    (
        entry(scopes[0]),
        entry(scopes[1]),
        entry(scopes[2]),
        any::<bool>(),
    )
        .prop_map(|(a, b, g, desc)| {
            let mut kv: Vec<(String, String)> = a.into_iter().chain(b).chain(g).collect();
            if desc {
                kv.push(("search-order".into(), "desc".into()));
            }
            kv
        })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, proptest::sample::subsequence(PORTS.to_vec(), 0..=2),
              proptest::option::weighted(0.2, 0..18u8), 0..8u8)
            .prop_map(|(ns, ports, pin, class)| Op::Create { ns, ports, pin, class }),
        2 => (0..64usize).prop_map(Op::Delete),
        1 => config_strategy().prop_map(Op::Config),
        3 => (1..4usize).prop_map(Op::Echoes),
        3 => (1..4usize).prop_map(Op::Answers),
        2 => (1..6u64).prop_map(Op::Tick),
        1 => Just(Op::Relist),
        1 => any::<bool>().prop_map(Op::Lead),
    ]
}

struct Sim {
    truth: BTreeMap<ServiceKey, ServiceView>,
    data: BTreeMap<String, String>,
    ctl: IpamController,
    now: u64,
    serial: u64,
    echoes: VecDeque<(u64, ServiceView)>,
    answers: VecDeque<(OpId, Result<ServiceView, WriteError>)>,
    rng: SeededRng,
    failures: bool,
    writes: usize,
}

impl Sim {
    fn new(config: Vec<(String, String)>, seed: u64) -> Sim {
        let mut sim = Sim {
            truth: BTreeMap::new(),
            data: config.into_iter().collect(),
            ctl: IpamController::new(IpamSettings::default()),
            now: 0,
            serial: 0,
            echoes: VecDeque::new(),
            answers: VecDeque::new(),
            rng: SeededRng::new(seed),
            failures: true,
            writes: 0,
        };
        sim.ctl.set_leading(at(0), true);
        let cm = sim.config_map();
        for event in [
            WatchEvent::Init,
            WatchEvent::InitApply(cm),
            WatchEvent::InitDone,
        ] {
            sim.ctl.handle_config_map(at(0), event);
        }
        sim.relist();
        sim
    }

    fn config_map(&self) -> ConfigMapView {
        let pairs: Vec<(&str, &str)> = self
            .data
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        config_map(&pairs)
    }

    fn relist(&mut self) {
        self.echoes.clear();
        self.ctl.handle_services(at(self.now), WatchEvent::Init);
        for svc in self.truth.values() {
            self.ctl
                .handle_services(at(self.now), WatchEvent::InitApply(svc.clone()));
        }
        self.ctl.handle_services(at(self.now), WatchEvent::InitDone);
    }

    fn step(&mut self, op: Op) {
        let now = at(self.now);
        match op {
            Op::Create {
                ns,
                ports,
                pin,
                class,
            } => {
                self.serial += 1;
                let svc = ServiceView {
                    key: ServiceKey::new(NAMESPACES[ns], format!("s{}", self.serial)),
                    uid: format!("uid-{}", self.serial),
                    is_load_balancer: class != 7,
                    load_balancer_class: match class {
                        5 => Some("kube-vip.io/kube-vip-class".into()),
                        6 => Some("other.io/class".into()),
                        _ => None,
                    },
                    load_balancer_ip: pin.map(|i| format!("10.0.0.{i}")),
                    ports: ports
                        .iter()
                        .map(|&port| ServicePort {
                            port,
                            protocol: Protocol::Tcp,
                        })
                        .collect(),
                    ..ServiceView::default()
                };
                self.truth.insert(svc.key.clone(), svc.clone());
                self.ctl.handle_services(now, WatchEvent::Apply(svc));
            }
            Op::Delete(i) => {
                let Some(key) = self.truth.keys().nth(i % self.truth.len().max(1)).cloned() else {
                    return;
                };
                let svc = self.truth.remove(&key).expect("listed");
                self.echoes.retain(|(_, e)| e.key != key);
                self.ctl.handle_services(now, WatchEvent::Delete(svc));
            }
            Op::Config(kv) => {
                self.data = kv.into_iter().collect();
                let cm = self.config_map();
                self.ctl.handle_config_map(now, WatchEvent::Apply(cm));
            }
            Op::Echoes(n) => self.deliver_echoes(n, u64::MAX),
            Op::Answers(n) => self.answer(n),
            Op::Tick(secs) => {
                self.deliver_echoes(usize::MAX, self.now.saturating_sub(10));
                self.now += secs;
                self.ctl.handle_timeout(at(self.now));
            }
            Op::Relist => self.relist(),
            Op::Lead(leading) => self.ctl.set_leading(now, leading),
        }
        self.pump();
    }

    fn deliver_echoes(&mut self, n: usize, queued_before: u64) {
        for _ in 0..n {
            match self.echoes.front() {
                Some((t, _)) if *t <= queued_before => {
                    let (_, svc) = self.echoes.pop_front().expect("front");
                    self.ctl
                        .handle_services(at(self.now), WatchEvent::Apply(svc));
                }
                _ => break,
            }
        }
    }

    /// Takes every Assign out of the controller and carries it out against the truth at once
    /// (a user's change after the decision would race any controller); the answer waits in
    /// `answers`.
    fn pump(&mut self) {
        while let Some(out) = self.ctl.poll_output() {
            if let IpamOutput::Assign { op, assignment } = out {
                let outcome = if self.failures { self.rng.below(10) } else { 9 };
                let result = self.carry_out(&assignment, outcome);
                self.answers.push_back((op, result));
            }
        }
    }

    fn answer(&mut self, n: usize) {
        for _ in 0..n {
            let Some((op, result)) = self.answers.pop_front() else {
                return;
            };
            self.ctl.handle_write_done(at(self.now), op, result);
            self.pump();
        }
    }

    /// The driver's write: re-read, check, then store (unless `outcome` says it fails first).
    fn carry_out(&mut self, a: &Assignment, outcome: u64) -> Result<ServiceView, WriteError> {
        let Some(fresh) = self.truth.get(&a.key).cloned() else {
            return Err(WriteError::Stale(None));
        };
        let same_ports = port_numbers(&fresh) == a.ports.iter().map(|p| p.port).collect();
        let due = classify(&fresh, &ClassFilter::default()) == Need::Address;
        if fresh.uid != a.uid || !due || !same_ports {
            return Err(WriteError::Stale(Some(Box::new(fresh))));
        }
        if outcome == 0 {
            let message = "refused".to_string();
            return Err(WriteError::Failed {
                message,
                maybe_applied: false,
            });
        }
        self.check_write(&fresh, a.addresses[0]);
        let mut stored = fresh;
        stored
            .annotations
            .insert(ANNOTATION_LOADBALANCER_IPS.into(), a.annotation_value());
        stored.load_balancer_ip = Some(a.addresses[0].to_string());
        stored
            .labels
            .insert(LABEL_IMPLEMENTATION.into(), "kube-vip".into());
        self.truth.insert(a.key.clone(), stored.clone());
        self.echoes.push_back((self.now, stored.clone()));
        self.writes += 1;
        match outcome {
            1 => Err(WriteError::Failed {
                message: "timeout".into(),
                maybe_applied: true,
            }),
            _ => Ok(stored),
        }
    }

    /// The two safety properties, against the truth and the ConfigMap as they are now.
    fn check_write(&self, svc: &ServiceView, address: IpAddr) {
        let config = IpamConfig::parse(&self.data);
        let ns = &svc.key.namespace;
        let PoolLookup::Found(pool) = config.pool_for(ns) else {
            panic!("{} written {address} without a pool", svc.key);
        };
        if address.is_unspecified() {
            assert!(
                pool.dhcp,
                "{} got 0.0.0.0 from non-DHCP pool {}",
                svc.key, pool.key
            );
            return;
        }
        assert!(
            pool.contains(address) && !is_dot_zero_or_255(address),
            "{} got {address}, not in pool {} = {}",
            svc.key,
            pool.key,
            pool.text
        );
        let mut usage = Usage::default();
        for other in self.truth.values().filter(|o| o.key != svc.key) {
            let holder = Holder {
                key: other.key.clone(),
                ports: port_numbers(other),
                may_share: config.allow_share(&other.key.namespace),
            };
            for ip in addresses_of(other) {
                usage.add(ip, holder.clone());
            }
        }
        if usage.is_used(address) {
            let legal = config.allow_share(ns) && usage.shareable(address, &port_numbers(svc));
            assert!(
                legal,
                "{} got {address}, used by {:?}",
                svc.key,
                usage.holders(address)
            );
        }
    }

    /// Lets everything settle (all echoes and answers, writes succeed, timers run out) and
    /// checks that each Service still without an address has a reported reason.
    fn quiesce(&mut self) {
        self.failures = false;
        self.ctl.set_leading(at(self.now), true);
        self.pump();
        for _ in 0..40 {
            for _ in 0..100 {
                if self.answers.is_empty() && self.echoes.is_empty() {
                    break;
                }
                self.answer(usize::MAX);
                self.deliver_echoes(usize::MAX, u64::MAX);
            }
            self.now += 61;
            self.ctl.handle_timeout(at(self.now));
            self.pump();
        }
        let problems: Vec<ServiceKey> = self.ctl.problems().map(|(k, _, _)| k.clone()).collect();
        for svc in self.truth.values() {
            if classify(svc, &ClassFilter::default()) == Need::Address {
                assert!(
                    problems.contains(&svc.key),
                    "{} waits without a reason",
                    svc.key
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn no_address_is_handed_out_twice_and_every_one_is_from_the_pool(
        config in config_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..80),
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new(config, seed);
        for op in ops {
            sim.step(op);
        }
        sim.quiesce();
    }
}

#[test]
fn the_simulation_does_write_and_share() {
    let config = vec![
        ("range-global".to_string(), "10.0.0.1-10.0.0.2".to_string()),
        ("allow-share-global".to_string(), "true".to_string()),
    ];
    let mut sim = Sim::new(config, 3);
    for (i, port) in [80u16, 443, 80, 443, 53].into_iter().enumerate() {
        sim.step(Op::Create {
            ns: i % 2,
            ports: vec![port],
            pin: None,
            class: 0,
        });
        sim.step(Op::Answers(1));
        sim.step(Op::Echoes(1));
    }
    sim.quiesce();
    assert_eq!(
        sim.writes, 5,
        "two addresses, five Services with disjoint ports"
    );
    let on_first = sim
        .truth
        .values()
        .filter(|s| s.load_balancer_ip.as_deref() == Some("10.0.0.1"))
        .count();
    assert_eq!(on_first, 3, "80, 443 and 53 share the first address");
}
