//! The LoadBalancer stories' stand-ins in real namespaces (root), and the stories end to end.
//!
//! - `stand_ins_route_a_service_port_to_nginx_and_the_rest_to_the_holder`: the hostname servers
//!   and the kube-proxy stand-in on their own, with an address added by hand: `<addr>:22` lands
//!   on the holder's sshd, a DNAT rule sends it to the holder's nginx, removing it gives sshd back,
//!   a port without a listener or rule is refused, the address moved by hand answers from the
//!   new host, and an address on a macvlan (S3's DHCP shape) is routed too and answered for by
//!   the macvlan's own MAC. Needs no API server and no kvip.
//! - `s2_lb_end_to_end`, `s3_end_to_end`: the whole stories (`scenario s2-lb`, `scenario s3`),
//!   each failing on any failed check of its timeline.
//!
//! Skips with the reason when not root or a tool is missing.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use kvip_scenarios::binaries;
use kvip_scenarios::lb::kube_proxy::KubeProxy;
use kvip_scenarios::lb::stand_in::{
    ask, hosts_with, interface_with, nginx_reply, sshd_reply, start_hostname_servers, Answer,
    NGINX_PORT, SSHD_PORT,
};
use kvip_scenarios::lb::{self, Mode};
use kvip_testbed::netns::{self, Lan, Run};

fn skip_stand_ins() -> bool {
    if !netns::is_root() {
        eprintln!("skipping: needs root (network namespaces, nftables)");
        return true;
    }
    if netns::which("nft").is_none() && !std::path::Path::new("/usr/sbin/nft").is_file() {
        eprintln!("skipping: `nft` is not installed; run: sudo testbed/scripts/install-deps.sh");
        return true;
    }
    false
}

const TIMEOUT: Duration = Duration::from_secs(2);

#[test]
fn stand_ins_route_a_service_port_to_nginx_and_the_rest_to_the_holder() {
    if skip_stand_ins() {
        return;
    }
    let server = binaries::hostname_server().expect("kvip-hostname-server builds");
    let mut run = Run::new().expect("run");
    let mut lan = Lan::new(&mut run, "10.77.0.0/24").expect("lan");
    let node1 = lan
        .add_host(&mut run, "node1", Ipv4Addr::new(10, 77, 0, 11), "eth0")
        .unwrap();
    let node2 = lan
        .add_host(&mut run, "node2", Ipv4Addr::new(10, 77, 0, 12), "eth0")
        .unwrap();
    let client = lan
        .add_host(&mut run, "client", Ipv4Addr::new(10, 77, 0, 100), "eth0")
        .unwrap();
    let nodes = vec![node1.clone(), node2.clone()];
    start_hostname_servers(&mut run, &server, &nodes).expect("hostname servers");

    let addr = Ipv4Addr::new(10, 77, 0, 210);
    node1
        .ns
        .ip(&["addr", "add", "10.77.0.210/32", "dev", "eth0"])
        .unwrap();
    assert_eq!(hosts_with(lan.hosts(), addr), vec!["node1".to_string()]);
    assert_eq!(
        interface_with(&node1, addr).unwrap().as_deref(),
        Some("eth0")
    );
    let at = |port| SocketAddrV4::new(addr, port);
    let from_client = |port| ask(&client.ns, at(port), TIMEOUT);

    // No rule: 22 is the holder's own sshd; 80 has nobody.
    assert_eq!(from_client(SSHD_PORT), Answer::Reply(sshd_reply("node1")));
    assert_eq!(from_client(80), Answer::Refused);

    let mut proxy = KubeProxy::new(&nodes, NGINX_PORT);
    proxy.add((addr, 80)).unwrap();
    assert!(proxy.listing("node2").contains("dnat to 10.77.0.12:8080"));
    assert_eq!(from_client(80), Answer::Reply(nginx_reply("node1")));
    assert_eq!(from_client(SSHD_PORT), Answer::Reply(sshd_reply("node1")));

    // The Service's port becomes 22: nginx there, nobody on 80.
    proxy.set([(addr, SSHD_PORT)]).unwrap();
    assert_eq!(from_client(SSHD_PORT), Answer::Reply(nginx_reply("node1")));
    assert_eq!(from_client(80), Answer::Refused);

    // The address moves (by hand; the client forgets the old MAC): the new host answers.
    node1
        .ns
        .ip(&["addr", "del", "10.77.0.210/32", "dev", "eth0"])
        .unwrap();
    node2
        .ns
        .ip(&["addr", "add", "10.77.0.210/32", "dev", "eth0"])
        .unwrap();
    client.ns.ip(&["neigh", "flush", "dev", "eth0"]).unwrap();
    assert_eq!(hosts_with(lan.hosts(), addr), vec!["node2".to_string()]);
    assert_eq!(from_client(SSHD_PORT), Answer::Reply(nginx_reply("node2")));

    // S3's DHCP shape: an address on a macvlan of node1 (arp_ignore=1, arp_announce=2, so the
    // macvlan's own MAC answers for it) is routed to node1's nginx too.
    let dhcp = Ipv4Addr::new(10, 77, 0, 65);
    node1
        .ns
        .sysctl("net.ipv4.conf.all.arp_ignore", "1")
        .unwrap();
    node1
        .ns
        .sysctl("net.ipv4.conf.all.arp_announce", "2")
        .unwrap();
    for args in [
        &[
            "link", "add", "link", "eth0", "name", "vip-dhcp", "type", "macvlan", "mode", "bridge",
        ][..],
        &["addr", "add", "10.77.0.65/24", "dev", "vip-dhcp"],
        &["link", "set", "vip-dhcp", "up"],
    ] {
        node1.ns.ip(args).unwrap();
    }
    assert_eq!(
        interface_with(&node1, dhcp).unwrap().as_deref(),
        Some("vip-dhcp")
    );
    proxy.set([(addr, SSHD_PORT), (dhcp, 80)]).unwrap();
    let to_dhcp = SocketAddrV4::new(dhcp, 80);
    assert_eq!(
        ask(&client.ns, to_dhcp, TIMEOUT),
        Answer::Reply(nginx_reply("node1"))
    );
    let mac_of = |dev: &str| {
        let out = node1.ns.ip(&["-o", "link", "show", "dev", dev]).unwrap();
        let mac = out
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1);
        mac.unwrap().to_string()
    };
    let neigh = client.ns.ip(&["neigh", "show", "10.77.0.65"]).unwrap();
    assert!(neigh.contains(&mac_of("vip-dhcp")), "{neigh}");
    assert!(!neigh.contains(&mac_of("eth0")), "{neigh}");

    // Rules removed: sshd again, and the table is gone.
    proxy.clear().unwrap();
    assert_eq!(from_client(SSHD_PORT), Answer::Reply(sshd_reply("node2")));
    assert_eq!(ask(&client.ns, to_dhcp, TIMEOUT), Answer::Refused);
    assert_eq!(proxy.listing("node1"), "");
    assert!(proxy.rules().is_empty());

    // The root namespace's ruleset was never touched.
    let root = netns::Cmd::new("nft")
        .args(["list", "tables"])
        .run()
        .unwrap_or_default();
    assert!(!root.contains(lb::kube_proxy::TABLE), "{root}");
    let report = run.cleanup();
    assert!(report.errors.is_empty(), "{report:?}");
}

/// The two stories run one after the other: each is a whole cluster (three etcd members and API
/// servers), and the machine has two cores.
static ONE_STORY_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn skip_story() -> bool {
    if let Some(reason) = lb::skip_reason() {
        eprintln!("skipping LoadBalancer story: {reason}");
        return true;
    }
    false
}

#[test]
fn s2_lb_end_to_end() {
    if skip_story() {
        return;
    }
    let _turn = ONE_STORY_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let timeline = lb::run("s2-lb", Mode::Full).expect("S2's LoadBalancer part runs");
    assert!(timeline.failures.is_empty(), "{:#?}", timeline.failures);
}

#[test]
fn s3_end_to_end() {
    if skip_story() {
        return;
    }
    let _turn = ONE_STORY_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let timeline = lb::run("s3", Mode::Full).expect("S3 runs");
    assert!(timeline.failures.is_empty(), "{:#?}", timeline.failures);
}
