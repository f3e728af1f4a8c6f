//! DHCP Service addresses against real dnsmasq (root only): a bridged LAN with a dnsmasq namespace
//! and two node namespaces (arp_ignore=1, arp_announce=2). `kvip dhcp-lease --uid U` in node1
//! leases an address in the pool onto a macvlan with U's stable MAC (lease file: our MAC and host
//! name); ARP for it is answered by the macvlan's MAC; the renewal at T1 moves the lease file's
//! expiry forward; SIGTERM releases it (line gone, macvlan gone); a restart with the requested IP
//! gets it back; after node1 crashes and is cut off, node2 with the same UID gets it too and
//! answers ARP for it.
//!
//! Run: `cargo test -p kvip-testbed --test dhcp_dnsmasq -- --nocapture`

use kvip_core::dhcp::{macvlan_name, stable_mac};
use kvip_core::wire::MacAddr;
use kvip_testbed::kvip_bin::kvip_binary;
use kvip_testbed::netns::cmd::poll_until;
use kvip_testbed::netns::dnsmasq::{self, Dnsmasq, DnsmasqConfig, LeaseLine};
use kvip_testbed::netns::{self, Host, Lan, Netns, ProcId, Run};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const UID: &str = "3f0c2d1e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
const HOST_NAME: &str = "svc-dhcp";
const POOL: (Ipv4Addr, Ipv4Addr) = (
    Ipv4Addr::new(10, 250, 0, 150),
    Ipv4Addr::new(10, 250, 0, 180),
);
const T1: Duration = Duration::from_secs(3);

fn skip_reason() -> Option<String> {
    if !netns::is_root() {
        return Some("needs root (network namespaces, macvlans, raw sockets)".into());
    }
    if !dnsmasq::installed() {
        return Some("dnsmasq is not installed; run: sudo testbed/scripts/install-deps.sh".into());
    }
    for tool in ["ip", "ss", "arping"] {
        if netns::which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed; run: sudo testbed/scripts/install-deps.sh"
            ));
        }
    }
    None
}

struct Bed {
    run: Run,
    lan: Lan,
    server: Dnsmasq,
    kvip: PathBuf,
    starts: usize,
}

impl Bed {
    fn new() -> Bed {
        let build = Instant::now();
        let kvip = kvip_binary();
        eprintln!("dhcp_dnsmasq: kvip ready in {:?}", build.elapsed());
        let mut run = Run::new().expect("run");
        let mut lan = Lan::new(&mut run, "10.250.0.0/24").expect("lan");
        let server_host = lan
            .add_host(&mut run, "dhcp", Ipv4Addr::new(10, 250, 0, 13), "eth0")
            .expect("dhcp host");
        for (name, last) in [("node1", 11), ("node2", 12)] {
            let h = lan
                .add_host(&mut run, name, Ipv4Addr::new(10, 250, 0, last), "eth0")
                .expect("node");
            h.ns.sysctl("net.ipv4.conf.all.arp_ignore", "1")
                .expect("sysctl");
            h.ns.sysctl("net.ipv4.conf.all.arp_announce", "2")
                .expect("sysctl");
        }
        let config = DnsmasqConfig {
            interface: "eth0".into(),
            range_start: POOL.0,
            range_end: POOL.1,
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            lease_time: Duration::from_secs(120),
            router: None,
            t1: Some(T1),
            t2: Some(Duration::from_secs(6)),
            reservations: Vec::new(),
            range_v6: None,
        };
        let server = Dnsmasq::start(&mut run, &server_host.ns, &config).expect("dnsmasq ready");
        Bed {
            run,
            lan,
            server,
            kvip,
            starts: 0,
        }
    }

    fn host(&self, name: &str) -> Host {
        self.lan.host(name).expect("host").clone()
    }

    /// Starts `kvip dhcp-lease` in `node` for the test's Service.
    fn lease(&mut self, node: &str, requested: Option<Ipv4Addr>) -> ProcId {
        self.starts += 1;
        let mut args: Vec<String> = [
            "dhcp-lease",
            "--interface",
            "eth0",
            "--uid",
            UID,
            "--hostname",
            HOST_NAME,
        ]
        .map(String::from)
        .to_vec();
        args.extend(["--retransmit-ms".into(), "500".into()]);
        if let Some(ip) = requested {
            args.extend(["--requested-ip".into(), ip.to_string()]);
        }
        let ns = self.host(node).ns;
        let kvip = self.kvip.display().to_string();
        let name = format!("kvip-{node}-{}", self.starts);
        self.run
            .spawn_env(
                &ns,
                &name,
                &kvip,
                &args,
                &[("RUST_LOG".into(), "info".into())],
            )
            .expect("spawn kvip")
    }

    fn log(&mut self, id: ProcId) -> String {
        std::fs::read_to_string(self.run.process(id).log_path()).unwrap_or_default()
    }

    /// Waits until kvip in `node` logged `dhcp bound … address=A` and the macvlan holds A;
    /// returns A.
    fn wait_bound(&mut self, node: &str, id: ProcId) -> Ipv4Addr {
        let ns = self.host(node).ns;
        let mut found = None;
        let run = &mut self.run;
        poll_until(
            "bound logged and address on the macvlan",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || {
                let p = run.process(id);
                p.check_alive()?;
                let log = std::fs::read_to_string(p.log_path()).unwrap_or_default();
                let logged = log
                    .lines()
                    .filter(|l| l.contains("dhcp bound"))
                    .find_map(logged_address);
                found = logged.filter(|a| macvlan_address(&ns) == Some(*a));
                Ok(found.is_some())
            },
        )
        .expect("kvip gets a lease");
        found.expect("found")
    }

    fn lease_line(&self) -> Option<LeaseLine> {
        self.server
            .lease_of(stable_mac(UID))
            .expect("lease file parses")
    }

    /// Waits (≤ 3 s) until dnsmasq has no lease for the Service's MAC.
    fn wait_released(&self) {
        let server = &self.server;
        poll_until(
            "lease line gone",
            Duration::from_secs(3),
            Duration::from_millis(20),
            || Ok(server.lease_of(stable_mac(UID))?.is_none()),
        )
        .expect("DHCPRELEASE removes the lease line");
    }

    /// SIGTERM; expects exit 0 within 8 s.
    fn terminate(&mut self, id: ProcId) {
        let p = self.run.process(id);
        assert!(p.signal(libc::SIGTERM), "kvip was running");
        let status = p
            .wait_exit(Duration::from_secs(8))
            .expect("kvip exits after SIGTERM");
        assert!(
            status.success(),
            "kvip dhcp-lease exits 0 after SIGTERM: {status}"
        );
    }
}

/// The `address=` field of a kvip log line.
fn logged_address(line: &str) -> Option<Ipv4Addr> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("address="))?
        .parse()
        .ok()
}

/// The IPv4 address on the Service's macvlan in `ns`, if any.
fn macvlan_address(ns: &Netns) -> Option<Ipv4Addr> {
    let name = macvlan_name(stable_mac(UID));
    let out = ns.ip(&["-4", "-o", "addr", "show", "dev", &name]).ok()?;
    let word = out.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
    word.split('/').next()?.parse().ok()
}

fn macvlan_exists(ns: &Netns) -> bool {
    ns.ip(&["link", "show", &macvlan_name(stable_mac(UID))])
        .is_ok()
}

/// MACs that answered an ARP request for `ip` sent from `ns` (`arping` output).
fn arp_owners(ns: &Netns, ip: Ipv4Addr) -> Vec<MacAddr> {
    let out = ns
        .cmd("arping")
        .args(["-c", "2", "-w", "3", "-I", "eth0", &ip.to_string()])
        .timeout(Duration::from_secs(6))
        .output()
        .expect("arping runs");
    out.stdout
        .lines()
        .filter(|l| l.contains("reply from"))
        .filter_map(|l| {
            let mac = l.split('[').nth(1)?.split(']').next()?;
            mac.to_ascii_lowercase().parse().ok()
        })
        .collect()
}

fn in_pool(ip: Ipv4Addr) -> bool {
    (u32::from(POOL.0)..=u32::from(POOL.1)).contains(&u32::from(ip))
}

#[test]
fn dhcp_lease_renew_release_restart_failover_against_dnsmasq() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED dhcp_dnsmasq: {why}");
        return;
    }
    let mut bed = Bed::new();
    let started = Instant::now();
    let mac = stable_mac(UID);
    let (node1, node2, server_ns) = (
        bed.host("node1"),
        bed.host("node2"),
        bed.server.netns().clone(),
    );

    // 1. Lease: an address from the pool on the macvlan, which carries the Service's MAC.
    let first = bed.lease("node1", None);
    let address = bed.wait_bound("node1", first);
    assert!(in_pool(address), "{address} is in the pool");
    let link = node1
        .ns
        .ip(&["link", "show", &macvlan_name(mac)])
        .expect("macvlan");
    assert!(
        link.contains(&format!("link/ether {mac}")),
        "macvlan MAC: {link}"
    );
    let line = bed.lease_line().expect("lease file line for our MAC");
    assert_eq!((line.ip, line.host.as_deref()), (address, Some(HOST_NAME)));
    assert_eq!(line.client_id, Some(format!("01:{mac}")));
    let log = bed.log(first);
    assert!(
        !log.contains("arp_ignore"),
        "the node's ARP sysctls are seen as set: {log}"
    );

    // 2. ARP for the address is answered by the macvlan's MAC only (not node1's eth0).
    let owners = arp_owners(&server_ns, address);
    assert!(!owners.is_empty(), "someone answers ARP for {address}");
    assert!(
        owners.iter().all(|m| *m == mac),
        "only the macvlan answers: {owners:?}"
    );

    // 3. Renewal at T1: dnsmasq moves the expiry forward, kvip logs it.
    let expiry = line.expiry;
    let (server, run) = (&bed.server, &mut bed.run);
    poll_until(
        "lease expiry moves forward and the renewal is logged",
        T1 * 3,
        Duration::from_millis(50),
        || {
            let moved = server
                .lease_of(mac)?
                .is_some_and(|l| l.expiry > expiry && l.ip == address);
            let log = std::fs::read_to_string(run.process(first).log_path()).unwrap_or_default();
            Ok(moved && log.contains("dhcp renewed"))
        },
    )
    .expect("renewed at T1");

    // 4. SIGTERM: DHCPRELEASE (line gone), macvlan deleted, exit 0.
    bed.terminate(first);
    bed.wait_released();
    assert!(!macvlan_exists(&node1.ns), "macvlan deleted");

    // 5. Restart with the requested IP (kube-vip.io/requestedIP): the same address.
    let second = bed.lease("node1", Some(address));
    assert_eq!(
        bed.wait_bound("node1", second),
        address,
        "same address after a restart"
    );

    // 6. Failover: node1 crashes (SIGKILL: no release) and is cut off; node2 with the same UID
    //    and requested IP gets the same address, and now node2's macvlan answers ARP for it.
    bed.run.kill(second);
    bed.lan.cut("node1").expect("cut node1");
    let third = bed.lease("node2", Some(address));
    assert_eq!(
        bed.wait_bound("node2", third),
        address,
        "same address on the other node"
    );
    assert_eq!(bed.lease_line().map(|l| l.ip), Some(address));
    let owners = arp_owners(&server_ns, address);
    assert!(
        !owners.is_empty() && owners.iter().all(|m| *m == mac),
        "node2 answers: {owners:?}"
    );
    bed.terminate(third);
    bed.wait_released();
    assert!(!macvlan_exists(&node2.ns));

    eprintln!(
        "dhcp_dnsmasq: address {address}, done in {:?}",
        started.elapsed()
    );
}
