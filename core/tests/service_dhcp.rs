//! DHCP-addressed Services (`0.0.0.0`): the announcing node starts a client with the Service's
//! hints, writes the leased address (which the client configures and announces on its macvlan,
//! never the node on its interface) with `hwaddr`/`requestedIP`, follows a renewal to a new
//! address, and stops the client, releasing, when the Service goes. A Service asking for both
//! families runs a client per family and writes both leases (`requestedIP` one per family).

mod service_support;

use std::collections::BTreeMap;

use kvip_core::service::model::{
    ANNOTATION_HWADDR, ANNOTATION_LOADBALANCER_HOSTNAME, ANNOTATION_REQUESTED_IP,
    ANNOTATION_VIP_HOST,
};
use kvip_core::service::{DhcpBinding, DhcpFamily, ServicesInput, ServicesOutput};
use kvip_core::WatchEvent;
use service_support::*;

const MAC: &str = "02:00:00:00:00:65";

fn lease(address: &str) -> ServicesInput {
    ServicesInput::DhcpLease {
        key: kvip_core::service::ServiceKey::new("default", "nginx-dhcp"),
        family: DhcpFamily::V4,
        binding: Some(DhcpBinding {
            address: ip(address),
            hwaddr: MAC.into(),
        }),
    }
}

#[test]
fn a_dhcp_service_is_leased_configured_written_and_stopped_in_order() {
    let mut n = holding("n1", global_mode(), ms(0));
    let mut svc = lb("default", "nginx-dhcp");
    svc.load_balancer_ip = Some("0.0.0.0".into());
    svc.annotations
        .insert(ANNOTATION_LOADBALANCER_HOSTNAME.into(), "web".into());
    svc.annotations
        .insert(ANNOTATION_REQUESTED_IP.into(), "192.168.205.65".into());
    svc.annotations.insert(ANNOTATION_HWADDR.into(), MAC.into());
    let out = list_services(&mut n, ms(0), vec![svc.clone()]);
    assert_eq!(
        effects(&out),
        vec![ServicesOutput::DhcpStart {
            key: svc.key.clone(),
            family: DhcpFamily::V4,
            uid: svc.uid.clone(),
            hostname: Some("web".into()),
            requested: Some(ip("192.168.205.65")),
            hwaddr: Some(MAC.into()),
            link: None,
        }]
    );
    // The client reports its lease once the address is on its macvlan: no address operation
    // or announcement here, the status at once.
    let out = input(&mut n, ms(100), lease("192.168.205.65"));
    assert!(
        out.iter().all(|o| !matches!(
            o,
            ServicesOutput::AddAddress { .. }
                | ServicesOutput::RemoveAddress { .. }
                | ServicesOutput::SendFrame { .. }
        )),
        "{out:?}"
    );
    let writes = status_writes(&out);
    let annotations = BTreeMap::from([
        (ANNOTATION_HWADDR.to_owned(), Some(MAC.to_owned())),
        (
            ANNOTATION_REQUESTED_IP.to_owned(),
            Some("192.168.205.65".to_owned()),
        ),
        (ANNOTATION_VIP_HOST.to_owned(), Some("n1".to_owned())),
    ]);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].1.ingress[0].ip, ip("192.168.205.65"));
    assert_eq!(writes[0].1.annotations, annotations);
    assert_eq!(n.announcing(), [ip("192.168.205.65")].into());
    assert!(n.configured().is_empty(), "{:?}", n.configured());
    let ok = ServicesInput::StatusWritten {
        op: writes[0].0,
        result: Ok(()),
    };
    assert_eq!(input(&mut n, ms(101), ok), vec![]);
    // A renewal to another address: the status follows.
    let out = input(&mut n, ms(200), lease("192.168.205.66"));
    let writes = status_writes(&out);
    assert_eq!(effects(&out).len(), 1, "{out:?}");
    assert_eq!(n.announcing(), [ip("192.168.205.66")].into());
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].1.ingress[0].ip, ip("192.168.205.66"));
    let requested = writes[0].1.annotations[ANNOTATION_REQUESTED_IP].as_deref();
    assert_eq!(requested, Some("192.168.205.66"));
    // Deleted: the client stops (its macvlan and the address go) and releases the lease.
    let out = input(
        &mut n,
        ms(300),
        ServicesInput::ServiceWatch(WatchEvent::Delete(svc)),
    );
    assert_eq!(
        effects(&out),
        vec![ServicesOutput::DhcpStop {
            key: kvip_core::service::ServiceKey::new("default", "nginx-dhcp"),
            family: DhcpFamily::V4,
            release: true,
        }]
    );
    assert!(n.announcing().is_empty());
}

#[test]
fn a_follower_runs_no_dhcp_client() {
    let mut c = service_support::cluster::Cluster::new(global_mode());
    let mut svc = lb("default", "nginx-dhcp");
    svc.load_balancer_ip = Some("0.0.0.0".into());
    c.services.insert(svc.key.clone(), svc);
    c.start("n1");
    c.start("n2");
    c.run_until(ms(3_000));
    assert!(c.hosts["n1"].node.is_holding() && !c.hosts["n2"].node.is_holding());
    assert_eq!(c.dhcp_starts, vec!["n1".to_owned()]);
}

fn lease_of(family: DhcpFamily, address: &str) -> ServicesInput {
    ServicesInput::DhcpLease {
        key: kvip_core::service::ServiceKey::new("default", "nginx-dual"),
        family,
        binding: Some(DhcpBinding {
            address: ip(address),
            hwaddr: MAC.into(),
        }),
    }
}

#[test]
fn a_service_asking_for_both_families_runs_both_clients_and_writes_both_leases() {
    let mut n = holding("n1", global_mode(), ms(0));
    let mut svc = with_ips(lb("default", "nginx-dual"), "0.0.0.0,::");
    // What an earlier holder wrote: one address per family.
    svc.annotations.insert(
        ANNOTATION_REQUESTED_IP.into(),
        "192.168.205.65,fd00:205::1a0".into(),
    );
    svc.annotations.insert(ANNOTATION_HWADDR.into(), MAC.into());
    let out = list_services(&mut n, ms(0), vec![svc.clone()]);
    let start = |family, requested: &str| ServicesOutput::DhcpStart {
        key: svc.key.clone(),
        family,
        uid: svc.uid.clone(),
        hostname: None,
        requested: Some(ip(requested)),
        hwaddr: Some(MAC.into()),
        link: None,
    };
    assert_eq!(
        effects(&out),
        vec![
            start(DhcpFamily::V4, "192.168.205.65"),
            start(DhcpFamily::V6, "fd00:205::1a0"),
        ]
    );
    // The v6 lease first: written alone; then the v4 one: both, v4 first in requestedIP.
    let out = input(&mut n, ms(100), lease_of(DhcpFamily::V6, "fd00:205::1a0"));
    let writes = status_writes(&out);
    assert_eq!(writes.len(), 1, "{out:?}");
    let requested = writes[0].1.annotations[ANNOTATION_REQUESTED_IP].as_deref();
    assert_eq!(requested, Some("fd00:205::1a0"));
    let ok = ServicesInput::StatusWritten {
        op: writes[0].0,
        result: Ok(()),
    };
    input(&mut n, ms(101), ok);
    let out = input(&mut n, ms(200), lease_of(DhcpFamily::V4, "192.168.205.65"));
    let writes = status_writes(&out);
    assert_eq!(writes.len(), 1, "{out:?}");
    let write = &writes[0].1;
    let ingress: Vec<_> = write.ingress.iter().map(|i| i.ip).collect();
    assert!(
        ingress.contains(&ip("192.168.205.65")) && ingress.contains(&ip("fd00:205::1a0")),
        "{ingress:?}"
    );
    assert_eq!(ingress.len(), 2);
    let requested = write.annotations[ANNOTATION_REQUESTED_IP].as_deref();
    assert_eq!(requested, Some("192.168.205.65,fd00:205::1a0"));
    assert_eq!(
        write.annotations[ANNOTATION_HWADDR].as_deref(),
        Some(MAC),
        "one MAC for both families"
    );
    assert_eq!(
        n.announcing(),
        [ip("192.168.205.65"), ip("fd00:205::1a0")].into()
    );
    input(
        &mut n,
        ms(201),
        ServicesInput::StatusWritten {
            op: writes[0].0,
            result: Ok(()),
        },
    );
    let svc = after_write(svc, write);
    // Down to `0.0.0.0`: only the v6 client stops, releasing; the v4 lease stays written.
    let v4_only = with_ips(svc.clone(), "0.0.0.0");
    let out = input(
        &mut n,
        ms(300),
        ServicesInput::ServiceWatch(WatchEvent::Apply(v4_only.clone())),
    );
    let stops: Vec<_> = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                ServicesOutput::DhcpStop { .. } | ServicesOutput::DhcpStart { .. }
            )
        })
        .collect();
    assert_eq!(
        stops,
        vec![&ServicesOutput::DhcpStop {
            key: svc.key.clone(),
            family: DhcpFamily::V6,
            release: true,
        }]
    );
    let writes = status_writes(&out);
    assert_eq!(writes.len(), 1, "{out:?}");
    let ingress: Vec<_> = writes[0].1.ingress.iter().map(|i| i.ip).collect();
    assert_eq!(ingress, vec![ip("192.168.205.65")]);
    let requested = writes[0].1.annotations[ANNOTATION_REQUESTED_IP].as_deref();
    assert_eq!(requested, Some("192.168.205.65"));
    assert_eq!(n.announcing(), [ip("192.168.205.65")].into());
}

#[test]
fn requested_ip_is_read_per_family() {
    use kvip_core::service::dhcp::requested_for;
    let both = Some("192.168.205.65, fd00:205::1a0");
    assert_eq!(
        requested_for(both, DhcpFamily::V4),
        Some(ip("192.168.205.65"))
    );
    assert_eq!(
        requested_for(both, DhcpFamily::V6),
        Some(ip("fd00:205::1a0"))
    );
    assert_eq!(requested_for(Some("192.168.205.65"), DhcpFamily::V6), None);
    assert_eq!(requested_for(Some("banana"), DhcpFamily::V4), None);
    assert_eq!(requested_for(None, DhcpFamily::V4), None);
}
