//! DHCPv6 Service addresses against real dnsmasq (root only): a bridged LAN with a dnsmasq
//! namespace serving `fd00:205::100–1ff` and a node namespace. A [`Dhcp6LeaseTask`], run inside
//! the node's namespace on a thread of this test, leases an address from the range onto a
//! macvlan with the Service's stable MAC (`ip -6 addr`: a /128); the lease file names our IAID,
//! host name and DUID-LL (which carries the MAC); the server reaches the address at that MAC;
//! the renewal at T1 moves the lease file's expiry forward; release removes the line and the
//! macvlan; a restart asking for the address gets it back. Then the operator's check, `kvip
//! dhcp-lease --ipv6` with the same UID, gets that address again (same DUID) and releases it on
//! SIGTERM.
//!
//! dnsmasq (2.90) has no T1/T2 setting for DHCPv6: it sends T1 = 1/2 and T2 = 7/8 of the
//! valid lifetime, and lease times under 2 minutes are raised to 2 minutes (`…,64,60` still
//! gave VL=120 T1=60 T2=105), so the renewal comes after 60 s and the test takes about 62 s.
//!
//! Run: `cargo test -p kvip-testbed --test dhcp6_dnsmasq -- --nocapture`

use kvip_core::dhcp::{macvlan_name, stable_mac};
use kvip_core::dhcp6::{Dhcp6ClientConfig, Lease6};
use kvip_runtime::dhcp6::{Dhcp6Event, Dhcp6LeaseTask};
use kvip_testbed::kvip_bin::kvip_binary;
use kvip_testbed::netns::cmd::poll_until;
use kvip_testbed::netns::dnsmasq::{read_leases_v6, Lease6Line};
use kvip_testbed::netns::{self, Lan, Netns, Run};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const UID: &str = "7a1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e60";
const HOST_NAME: &str = "svc-dhcp6";
const SERVER_ADDRESS: &str = "fd00:205::1/64";
const POOL: (Ipv6Addr, Ipv6Addr) = (
    Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x100),
    Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x1ff),
);
/// dnsmasq's shortest lease; T1 is at most half of it.
const LEASE: Duration = Duration::from_secs(120);

fn skip_reason() -> Option<String> {
    if !netns::is_root() {
        return Some("needs root (network namespaces, macvlans, raw sockets)".into());
    }
    if !netns::dnsmasq::installed() {
        return Some("dnsmasq is not installed; run: sudo testbed/scripts/install-deps.sh".into());
    }
    for tool in ["ip", "ss", "ping"] {
        if netns::which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed; run: sudo testbed/scripts/install-deps.sh"
            ));
        }
    }
    None
}

/// dnsmasq serving DHCPv6 only (DNS off, no DHCPv4 range) on `eth0`, its files in `dir`.
fn dnsmasq_args(dir: &Path) -> Vec<String> {
    vec![
        "--keep-in-foreground".into(),
        "--conf-file=/dev/null".into(),
        "--port=0".into(),
        "--interface=eth0".into(),
        "--bind-interfaces".into(),
        format!("--dhcp-range={},{},64,{}", POOL.0, POOL.1, LEASE.as_secs()),
        "--dhcp-authoritative".into(),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        "--log-dhcp".into(),
        "--log-facility=-".into(),
    ]
}

/// The DHCPv6 lines of the lease file (none while it is missing or unreadable).
fn read_v6_leases(path: &Path) -> Vec<Lease6Line> {
    read_leases_v6(path).unwrap_or_default()
}

/// Waits, sleeping in tokio (the lease task runs on the same thread), until `probe` holds.
async fn wait_for(what: &str, bound: Duration, mut probe: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !probe() {
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next event other than `NoOffer`, within `bound`.
async fn next_event(
    events: &mut mpsc::UnboundedReceiver<Dhcp6Event>,
    bound: Duration,
) -> Dhcp6Event {
    loop {
        let event = tokio::time::timeout(bound, events.recv())
            .await
            .expect("an event in time")
            .expect("the task is running");
        match event {
            Dhcp6Event::NoOffer { .. } => continue,
            Dhcp6Event::Error(e) => panic!("task error: {e}"),
            other => return other,
        }
    }
}

fn bound_lease(event: Dhcp6Event) -> Lease6 {
    match event {
        Dhcp6Event::Bound(lease) => lease,
        other => panic!("expected Bound, got {other:?}"),
    }
}

/// Addresses (without prefix length) `ip -6 addr` shows on `dev` in `ns`.
fn ipv6_addresses(ns: &Netns, dev: &str) -> Vec<String> {
    let out = ns
        .ip(&["-6", "-o", "addr", "show", "dev", dev])
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet6").nth(1))
        .map(str::to_string)
        .collect()
}

/// Runs `scenario` on a thread that has entered namespace `ns` (setns), in a current-thread
/// tokio runtime, so the lease task's macvlan, netlink and sockets live in that namespace.
fn in_netns<F, Fut>(ns: &Netns, scenario: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let path = PathBuf::from("/run/netns").join(ns.name());
    let thread = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        // SAFETY: setns(2) on a namespace file we hold open; affects this thread only.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(scenario());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Waits until no address of `dev` in `ns` is tentative (DAD done), ≤ 5 s.
fn wait_no_tentative(ns: &Netns, dev: &str) {
    poll_until(
        "DAD finished",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || {
            Ok(ns
                .ip(&["-6", "addr", "show", "dev", dev, "tentative"])?
                .trim()
                .is_empty())
        },
    )
    .expect("addresses usable");
}

/// What the part of the test inside the node's namespace needs.
struct Ctx {
    node_ns: Netns,
    server_ns: Netns,
    lease_file: PathBuf,
    dnsmasq_log: PathBuf,
    config: Dhcp6ClientConfig,
}

/// Lease, reach, renew, release and restart, inside the node's namespace.
async fn scenario(ctx: Ctx) {
    let Ctx {
        node_ns,
        server_ns,
        lease_file,
        dnsmasq_log,
        config,
    } = ctx;
    let mac = config.mac;
    let interface = macvlan_name(mac);
    // 1. Lease: an address from the range, on the macvlan as /128, in the lease file with
    //    our IAID, host name and DUID-LL (00:03:00:01:<mac>).
    let (tx, mut events) = mpsc::unbounded_channel();
    let task = Dhcp6LeaseTask::start("eth0", config.clone(), tx)
        .await
        .expect("task starts");
    assert_eq!(task.mac(), mac);
    let lease = bound_lease(next_event(&mut events, Duration::from_secs(15)).await);
    let address = lease.address;
    assert!(
        (POOL.0..=POOL.1).contains(&address),
        "{address} is in the range"
    );
    assert!(
        ipv6_addresses(&node_ns, &interface).contains(&format!("{address}/128")),
        "{address}/128 on {interface}: {:?}",
        ipv6_addresses(&node_ns, &interface)
    );
    let link = node_ns.ip(&["link", "show", &interface]).expect("macvlan");
    assert!(link.contains(&format!("link/ether {mac}")), "{link}");
    eprintln!(
        "dhcp6_dnsmasq: bound {address}: valid {:?} preferred {:?} T1 {:?} T2 {:?}",
        lease.valid, lease.preferred, lease.t1, lease.t2
    );
    eprintln!(
        "dhcp6_dnsmasq: lease file:\n{}",
        std::fs::read_to_string(&lease_file).unwrap_or_default()
    );
    let line = read_v6_leases(&lease_file)
        .into_iter()
        .find(|l| l.address == address)
        .expect("a lease line for the address");
    assert_eq!(
        line.duid,
        format!("00:03:00:01:{mac}"),
        "DUID-LL of our MAC"
    );
    assert_eq!(line.iaid, config.iaid.to_string(), "our IAID");
    assert_eq!(line.host.as_deref(), Some(HOST_NAME));
    assert!(
        lease.t1 > Duration::ZERO && lease.t1 <= LEASE / 2,
        "{:?}",
        lease.t1
    );

    // 2. The server reaches the address, and at the macvlan's MAC.
    let ping = server_ns
        .cmd("ping")
        .args(["-6", "-c", "1", "-W", "3", &address.to_string()])
        .timeout(Duration::from_secs(6))
        .output()
        .expect("ping runs");
    assert!(ping.ok(), "server pings {address}: {ping:?}");
    let neigh = server_ns
        .ip(&["-6", "neigh", "show", &address.to_string()])
        .expect("neigh");
    assert!(neigh.contains(&format!("lladdr {mac}")), "{neigh}");

    // 3. Renewal at T1: Renewed, and dnsmasq moves the expiry forward.
    let renewed = match next_event(&mut events, lease.t1 + Duration::from_secs(10)).await {
        Dhcp6Event::Renewed(l) => l,
        other => panic!("expected Renewed, got {other:?}"),
    };
    assert_eq!(renewed.address, address);
    wait_for("lease expiry moves forward", Duration::from_secs(3), || {
        read_v6_leases(&lease_file)
            .iter()
            .any(|l| l.address == address && l.expiry > line.expiry)
    })
    .await;
    let log = std::fs::read_to_string(&dnsmasq_log).unwrap_or_default();
    assert!(
        log.contains("DHCPRENEW(eth0)"),
        "dnsmasq saw a RENEW:\n{log}"
    );

    // 4. Release: the line goes, the macvlan goes.
    task.release().await.expect("release");
    wait_for("lease line gone", Duration::from_secs(3), || {
        read_v6_leases(&lease_file)
            .iter()
            .all(|l| l.address != address)
    })
    .await;
    assert!(
        node_ns.ip(&["link", "show", &interface]).is_err(),
        "macvlan deleted"
    );

    // 5. Restart asking for the address (kube-vip.io/requestedIP): the same address.
    let (tx, mut events) = mpsc::unbounded_channel();
    let again = Dhcp6ClientConfig {
        requested_address: Some(address),
        ..config
    };
    let task = Dhcp6LeaseTask::start("eth0", again, tx)
        .await
        .expect("restart");
    let lease = bound_lease(next_event(&mut events, Duration::from_secs(15)).await);
    assert_eq!(lease.address, address, "same address after a restart");
    task.abandon().await.expect("abandon");
    assert!(
        node_ns.ip(&["link", "show", &interface]).is_err(),
        "macvlan deleted"
    );
    assert!(
        read_v6_leases(&lease_file)
            .iter()
            .any(|l| l.address == address),
        "abandon keeps the lease with the server"
    );
}

#[test]
fn dhcp6_lease_renew_release_restart_against_dnsmasq() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED dhcp6_dnsmasq: {why}");
        return;
    }
    let started = Instant::now();
    let mut run = Run::new().expect("run");
    let mut lan = Lan::new(&mut run, "10.250.5.0/24").expect("lan");
    let server = lan
        .add_host(&mut run, "dhcp6", Ipv4Addr::new(10, 250, 5, 13), "eth0")
        .expect("dhcp6 host");
    let node = lan
        .add_host(&mut run, "node1", Ipv4Addr::new(10, 250, 5, 11), "eth0")
        .expect("node");
    server
        .ns
        .ip(&["-6", "addr", "add", SERVER_ADDRESS, "dev", "eth0", "nodad"])
        .expect("server address");
    // The node's route to the LAN prefix, as a router advertisement would give it on the
    // parent (the leased /128 brings none), so the node can answer the server's ping.
    node.ns
        .ip(&["-6", "route", "add", "fd00:205::/64", "dev", "eth0"])
        .expect("node route");
    wait_no_tentative(&server.ns, "eth0");
    wait_no_tentative(&node.ns, "eth0");

    let dir = run.dir().join("dnsmasq6");
    std::fs::create_dir_all(&dir).expect("dnsmasq dir");
    let dnsmasq = run
        .spawn(&server.ns, "dnsmasq6", "dnsmasq", &dnsmasq_args(&dir))
        .expect("spawn dnsmasq");
    let server_ns = server.ns.clone();
    poll_until(
        "dnsmasq listening on :547",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            run.process(dnsmasq).check_alive()?;
            Ok(server_ns.ip(&["link"]).is_ok()
                && server_ns.cmd("ss").args(["-lun"]).run()?.contains(":547 "))
        },
    )
    .expect("dnsmasq ready");
    let config = Dhcp6ClientConfig {
        host_name: Some(HOST_NAME.into()),
        ..Dhcp6ClientConfig::new(stable_mac(UID))
    };
    let ctx = Ctx {
        node_ns: node.ns.clone(),
        server_ns: server.ns.clone(),
        lease_file: dir.join("dnsmasq.leases"),
        dnsmasq_log: run.process(dnsmasq).log_path().to_path_buf(),
        config,
    };
    let lease_file = ctx.lease_file.clone();
    in_netns(&node.ns, move || scenario(ctx));
    cli_lease_and_release(&mut run, &node.ns, &lease_file);
    let report = run.cleanup();
    eprintln!(
        "dhcp6_dnsmasq: done in {:?}; cleanup {report:?}",
        started.elapsed()
    );
}

/// Step 6, from the test's thread: `kvip dhcp-lease --ipv6 --uid UID` in the node gets the
/// address the abandoned lease left with the server (same MAC, same DUID) onto the macvlan as
/// /128, and on SIGTERM releases it, deletes the macvlan and exits 0.
fn cli_lease_and_release(run: &mut Run, node: &Netns, lease_file: &Path) {
    let mac = stable_mac(UID);
    let duid = format!("00:03:00:01:{mac}");
    let held = read_v6_leases(lease_file)
        .into_iter()
        .find(|l| l.duid == duid)
        .map(|l| l.address)
        .expect("the abandoned lease is still with the server");
    let kvip = kvip_binary().display().to_string();
    let args = [
        "dhcp-lease",
        "--ipv6",
        "--interface",
        "eth0",
        "--uid",
        UID,
        "--hostname",
        HOST_NAME,
    ]
    .map(String::from)
    .to_vec();
    let env = [("RUST_LOG".to_string(), "info".to_string())];
    let id = run
        .spawn_env(node, "kvip-dhcp6-cli", &kvip, &args, &env)
        .expect("spawn kvip");
    let interface = macvlan_name(mac);
    poll_until(
        "dhcp6 bound logged and the address on the macvlan",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || {
            let p = run.process(id);
            p.check_alive()?;
            let log = std::fs::read_to_string(p.log_path()).unwrap_or_default();
            let bound = log
                .lines()
                .any(|l| l.contains("dhcp6 bound") && l.contains(&format!("address={held}")));
            Ok(bound && ipv6_addresses(node, &interface).contains(&format!("{held}/128")))
        },
    )
    .expect("kvip dhcp-lease --ipv6 leases the same address");
    let p = run.process(id);
    assert!(p.signal(libc::SIGTERM), "kvip was running");
    let status = p
        .wait_exit(Duration::from_secs(8))
        .expect("kvip exits after SIGTERM");
    assert!(status.success(), "kvip dhcp-lease --ipv6 exits 0: {status}");
    poll_until(
        "lease line gone",
        Duration::from_secs(3),
        Duration::from_millis(20),
        || Ok(read_v6_leases(lease_file).iter().all(|l| l.address != held)),
    )
    .expect("RELEASE removes the lease line");
    assert!(
        node.ip(&["link", "show", &interface]).is_err(),
        "macvlan deleted"
    );
    eprintln!("dhcp6_dnsmasq: kvip dhcp-lease --ipv6 leased and released {held}");
}
