//! Shared helpers of the `service_*` tests: Service/endpoint builders, node configs, output
//! draining, and (in [`cluster`]) a small deterministic world with a compare-and-swap Lease API,
//! instant watches, a kernel address table per node and a Service store that takes status writes.
#![allow(dead_code)]

mod act;
pub mod cluster;
pub mod lease_api;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use kvip_core::config::LeaseRef;
use kvip_core::service::model::ANNOTATION_LOADBALANCER_IPS;
use kvip_core::service::{
    ClassRules, ElectionMode, EndpointsView, NamedLease, Prefixes, Protocol, ServiceKey,
    ServicePort, ServiceView, ServicesConfig, ServicesInput, ServicesNode, ServicesOutput,
    StatusWrite, TrafficPolicy,
};
use kvip_core::wire::MacAddr;
use kvip_core::{
    Defects, ElectionTiming, Instant, LeaseError, LeaseObject, LeaseRecord, LeaseRequest,
    MicroTime, OpId, ResourceVersion, WallClock, WatchEvent,
};

pub const WALL0: i64 = 1_700_000_000_000_000;

pub fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn tcp(port: u16) -> ServicePort {
    ServicePort {
        port,
        protocol: Protocol::Tcp,
    }
}

/// A LoadBalancer Service with port 80/TCP and no address.
pub fn lb(namespace: &str, name: &str) -> ServiceView {
    ServiceView {
        key: ServiceKey::new(namespace, name),
        uid: format!("uid-{namespace}-{name}"),
        is_load_balancer: true,
        ports: vec![tcp(80)],
        ..ServiceView::default()
    }
}

/// `view` with `kube-vip.io/loadbalancerIPs` set to `list`.
pub fn with_ips(mut view: ServiceView, list: &str) -> ServiceView {
    view.annotations
        .insert(ANNOTATION_LOADBALANCER_IPS.to_owned(), list.to_owned());
    view
}

/// `view` with these ports (TCP).
pub fn with_ports(mut view: ServiceView, ports: &[u16]) -> ServiceView {
    view.ports = ports.iter().map(|&p| tcp(p)).collect();
    view
}

/// `view` with `externalTrafficPolicy: Local`.
pub fn local(mut view: ServiceView) -> ServiceView {
    view.traffic_policy = TrafficPolicy::Local;
    view
}

/// Endpoints of `key` ready on `nodes`.
pub fn endpoints(key: &ServiceKey, nodes: &[&str]) -> EndpointsView {
    EndpointsView {
        key: key.clone(),
        ready_nodes: nodes
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<BTreeSet<_>>(),
    }
}

pub fn global_mode() -> ElectionMode {
    ElectionMode::Global {
        lease: LeaseRef {
            namespace: "kube-system".into(),
            name: "plndr-svcs-lock".into(),
        },
    }
}

pub fn per_service_mode() -> ElectionMode {
    ElectionMode::PerService {
        namespace: "kube-system".into(),
    }
}

/// A node config with the 5/3/1 profile, handover 2 s.
pub fn config(node: &str, mode: ElectionMode) -> ServicesConfig {
    let last = node.bytes().last().unwrap_or(0);
    ServicesConfig {
        node_name: node.to_owned(),
        mode,
        timing: ElectionTiming::from_millis(5000, 3000, 1000),
        classes: ClassRules::default(),
        prefixes: Prefixes::default(),
        mac: MacAddr([2, 0, 0, 0, 0, last]),
        interface: "eth0".into(),
        links: Default::default(),
        arp_rate: Duration::from_secs(3),
        write_status: true,
        foreign_addresses: BTreeSet::new(),
        handover_delay: Duration::from_secs(2),
        seed: u64::from(last),
        wall: WallClock {
            start: Instant::ZERO,
            wall_at_start: MicroTime(WALL0),
        },
        defects: Defects::default(),
    }
}

pub fn drain(n: &mut ServicesNode) -> Vec<ServicesOutput> {
    std::iter::from_fn(|| n.poll_output()).collect()
}

pub fn input(n: &mut ServicesNode, now: Instant, i: ServicesInput) -> Vec<ServicesOutput> {
    n.handle_input(now, i);
    drain(n)
}

/// A complete (re)list of `items` as watch events.
pub fn relist<T>(items: Vec<T>) -> Vec<WatchEvent<T>> {
    let mut events = vec![WatchEvent::Init];
    events.extend(items.into_iter().map(WatchEvent::InitApply));
    events.push(WatchEvent::InitDone);
    events
}

/// Hands a whole Service relist to `n`, collecting outputs.
pub fn list_services(
    n: &mut ServicesNode,
    now: Instant,
    items: Vec<ServiceView>,
) -> Vec<ServicesOutput> {
    relist(items)
        .into_iter()
        .flat_map(|e| input(n, now, ServicesInput::ServiceWatch(e)))
        .collect()
}

/// Keeps only the outputs that are not frames or plain events (the work that has effects).
pub fn effects(outputs: &[ServicesOutput]) -> Vec<ServicesOutput> {
    outputs
        .iter()
        .filter(|o| {
            !matches!(
                o,
                ServicesOutput::SendFrame { .. }
                    | ServicesOutput::Event(_)
                    | ServicesOutput::ServiceEvent(_)
            )
        })
        .cloned()
        .collect()
}

pub fn record(holder: Option<&str>, secs: u32) -> LeaseRecord {
    LeaseRecord {
        holder_identity: holder.map(str::to_owned),
        lease_duration_seconds: secs,
        ..LeaseRecord::default()
    }
}

pub fn lease_obj(rv: &str, record: LeaseRecord) -> LeaseObject {
    LeaseObject {
        resource_version: ResourceVersion(rv.into()),
        record,
    }
}

pub fn named(name: &str, rv: &str, record: LeaseRecord) -> NamedLease {
    NamedLease {
        name: name.into(),
        lease: lease_obj(rv, record),
    }
}

/// The op id and request of the single Lease output in `outputs`.
pub fn lease_request(outputs: &[ServicesOutput]) -> (OpId, LeaseRequest) {
    let leases: Vec<(OpId, LeaseRequest)> = outputs
        .iter()
        .filter_map(|o| match o {
            ServicesOutput::Lease { op, request, .. } => Some((*op, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(leases.len(), 1, "expected one lease request in {outputs:?}");
    leases[0].clone()
}

/// A node in `mode` whose first request is answered so that it holds its Lease at `now`
/// (created fresh), and whose Lease watch is synced.
pub fn holding(name: &str, mode: ElectionMode, now: Instant) -> ServicesNode {
    holding_with(config(name, mode), now)
}

/// [`holding`] with a given config.
pub fn holding_with(cfg: ServicesConfig, now: Instant) -> ServicesNode {
    let mut n = ServicesNode::new(cfg, now).expect("config");
    let lease_name = n.lease().name.clone();
    let (op, request) = lease_request(&drain(&mut n));
    assert_eq!(request, LeaseRequest::Get);
    let (op, request) = lease_request(&input(
        &mut n,
        now,
        ServicesInput::LeaseResponse {
            op,
            result: Err(LeaseError::NotFound),
        },
    ));
    let LeaseRequest::Create(rec) = request else {
        panic!("expected a create, got {request:?}");
    };
    let stored = lease_obj("1", rec);
    input(
        &mut n,
        now,
        ServicesInput::LeaseResponse {
            op,
            result: Ok(stored.clone()),
        },
    );
    for e in relist(vec![NamedLease {
        name: lease_name,
        lease: stored,
    }]) {
        input(&mut n, now, ServicesInput::LeaseWatch(e));
    }
    assert!(n.is_holding());
    n
}

/// Answers every address operation in `outputs` with success; returns what that produced.
pub fn complete_addresses(
    n: &mut ServicesNode,
    now: Instant,
    outputs: &[ServicesOutput],
) -> Vec<ServicesOutput> {
    let ops: Vec<OpId> = outputs
        .iter()
        .filter_map(|o| match o {
            ServicesOutput::AddAddress { op, .. } | ServicesOutput::RemoveAddress { op, .. } => {
                Some(*op)
            }
            _ => None,
        })
        .collect();
    ops.into_iter()
        .flat_map(|op| input(n, now, ServicesInput::AddressDone { op, result: Ok(()) }))
        .collect()
}

/// The status writes in `outputs`.
pub fn status_writes(outputs: &[ServicesOutput]) -> Vec<(OpId, StatusWrite)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            ServicesOutput::WriteStatus { op, write } => Some((*op, write.clone())),
            _ => None,
        })
        .collect()
}

/// `view` as stored after `write` (the watch echo of a status write).
pub fn after_write(mut view: ServiceView, write: &StatusWrite) -> ServiceView {
    view.status_ingress = write.ingress.iter().map(|i| i.ip).collect();
    for (k, v) in &write.annotations {
        match v {
            Some(v) => view.annotations.insert(k.clone(), v.clone()),
            None => view.annotations.remove(k),
        };
    }
    view
}
