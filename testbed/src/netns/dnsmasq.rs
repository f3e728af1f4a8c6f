//! dnsmasq (Debian's `dnsmasq-base`) as the LAN's DHCP server in a namespace, with PEERS.md §3's
//! flags: DNS off, only the given interface, `--no-ping` (otherwise each new address waits ≥ 3 s),
//! short T1/T2 options so renewals can be watched, and its own lease, pid and log paths under the
//! run's dir (/tmp, /run and /etc are shared between namespaces). It is started through the
//! [`Run`] (which records its PID and stops it on drop, also on panic), in the foreground
//! (`--keep-in-foreground`, which also writes the pid file) with its log on stderr, i.e. in the
//! run's process log. [`read_leases`] parses the lease file.

use super::cmd::poll_until;
use super::lan::Netns;
use super::run::{ProcId, Run};
use super::{io_err, NetnsError, Result};
use kvip_core::wire::MacAddr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The dnsmasq binary.
pub const DNSMASQ: &str = "dnsmasq";
/// How long dnsmasq may take to listen on :67 (PEERS.md: 14–22 ms).
pub const READY_BOUND: Duration = Duration::from_secs(5);

/// What the server hands out.
#[derive(Debug, Clone)]
pub struct DnsmasqConfig {
    /// Interface it serves, inside its namespace (`eth0`).
    pub interface: String,
    /// First address of the pool.
    pub range_start: Ipv4Addr,
    /// Last address of the pool.
    pub range_end: Ipv4Addr,
    /// Subnet mask sent (option 1).
    pub netmask: Ipv4Addr,
    /// Lease time (dnsmasq's minimum is 2 minutes).
    pub lease_time: Duration,
    /// Router sent (option 3), if any.
    pub router: Option<Ipv4Addr>,
    /// T1 sent (option 58), whole seconds.
    pub t1: Option<Duration>,
    /// T2 sent (option 59), whole seconds.
    pub t2: Option<Duration>,
    /// Fixed MAC → address reservations (`--dhcp-host`).
    pub reservations: Vec<(MacAddr, Ipv4Addr)>,
    /// A DHCPv6 pool (first, last) of a /64 the interface has an address in, with the same
    /// lease time (dnsmasq sends T1 = ½ and T2 = ⅞ of it; no setting for them).
    pub range_v6: Option<(Ipv6Addr, Ipv6Addr)>,
}

/// One line of dnsmasq's lease file: `<expiry> <mac> <ip> <host> <client id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLine {
    /// Expiry, seconds since the Unix epoch (0 = infinite).
    pub expiry: u64,
    /// The client's MAC.
    pub mac: MacAddr,
    /// The leased address.
    pub ip: Ipv4Addr,
    /// The host name the client sent (`None` for `*`).
    pub host: Option<String>,
    /// The client identifier as dnsmasq prints it (`01:<mac>`; `None` for `*`).
    pub client_id: Option<String>,
}

/// A running dnsmasq.
#[derive(Debug)]
pub struct Dnsmasq {
    id: ProcId,
    pid: u32,
    ns: Netns,
    lease_file: PathBuf,
}

/// The command-line arguments for `config`, writing its files into `dir`.
pub fn args(config: &DnsmasqConfig, dir: &Path) -> Vec<String> {
    let mut a = vec![
        "--keep-in-foreground".to_string(),
        "--conf-file=/dev/null".into(),
        "--port=0".into(),
        format!("--interface={}", config.interface),
        "--bind-interfaces".into(),
        format!(
            "--dhcp-range={},{},{},{}",
            config.range_start,
            config.range_end,
            config.netmask,
            config.lease_time.as_secs()
        ),
        "--dhcp-authoritative".into(),
        "--no-ping".into(),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        "--log-dhcp".into(),
        "--log-facility=-".into(),
    ];
    if let Some(r) = config.router {
        a.push(format!("--dhcp-option=option:router,{r}"));
    }
    if let Some(t1) = config.t1 {
        a.push(format!("--dhcp-option=option:T1,{}", t1.as_secs()));
    }
    if let Some(t2) = config.t2 {
        a.push(format!("--dhcp-option=option:T2,{}", t2.as_secs()));
    }
    for (mac, ip) in &config.reservations {
        a.push(format!("--dhcp-host={mac},{ip}"));
    }
    if let Some((first, last)) = config.range_v6 {
        a.push(format!(
            "--dhcp-range={first},{last},64,{}",
            config.lease_time.as_secs()
        ));
    }
    a
}

impl Dnsmasq {
    /// Starts dnsmasq in `ns` as process `dnsmasq` of the run, its files in `<run dir>/dnsmasq/`,
    /// and waits (≤ [`READY_BOUND`]) until it listens on UDP :67 and has written its pid file.
    pub fn start(run: &mut Run, ns: &Netns, config: &DnsmasqConfig) -> Result<Dnsmasq> {
        Dnsmasq::start_named(run, ns, config, "dnsmasq")
    }

    /// [`Dnsmasq::start`] as process `name`, its files in `<run dir>/<name>/` (a second server).
    pub fn start_named(
        run: &mut Run,
        ns: &Netns,
        config: &DnsmasqConfig,
        name: &str,
    ) -> Result<Dnsmasq> {
        let dir = run.dir().join(name);
        std::fs::create_dir_all(&dir).map_err(io_err(dir.display().to_string()))?;
        let id = run.spawn(ns, name, DNSMASQ, &args(config, &dir))?;
        let pid = run.process(id).pid();
        let pid_file = dir.join("dnsmasq.pid");
        poll_until(
            "dnsmasq listening on :67",
            READY_BOUND,
            Duration::from_millis(10),
            || {
                run.process(id).check_alive()?;
                let listening = ns.cmd("ss").args(["-lun"]).run()?.contains(":67 ");
                Ok(listening && pid_file.is_file())
            },
        )?;
        let written = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if written.trim() != pid.to_string() {
            return Err(NetnsError::Spec(format!(
                "dnsmasq pid file says {:?}, spawned pid {pid}",
                written.trim()
            )));
        }
        Ok(Dnsmasq {
            id,
            pid,
            ns: ns.clone(),
            lease_file: dir.join("dnsmasq.leases"),
        })
    }

    /// Its PID (the one spawned, checked against its pid file).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its id in the run.
    pub fn id(&self) -> ProcId {
        self.id
    }

    /// Its namespace.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Its lease file.
    pub fn lease_file(&self) -> &Path {
        &self.lease_file
    }

    /// The current leases (none before the file exists).
    pub fn leases(&self) -> Result<Vec<LeaseLine>> {
        read_leases(&self.lease_file)
    }

    /// The lease of `mac`, if any.
    pub fn lease_of(&self, mac: MacAddr) -> Result<Option<LeaseLine>> {
        Ok(self.leases()?.into_iter().find(|l| l.mac == mac))
    }

    /// Stops it (TERM, bounded wait, KILL; reaped).
    pub fn stop(&self, run: &mut Run) {
        run.stop(self.id);
    }
}

/// One DHCPv6 line of dnsmasq's lease file: `<expiry> <iaid> <address> <host> <client DUID>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease6Line {
    /// Expiry, seconds since the Unix epoch.
    pub expiry: u64,
    /// The IA_NA's IAID, as dnsmasq prints it (decimal).
    pub iaid: String,
    /// The leased address.
    pub address: Ipv6Addr,
    /// The host name the client sent (`None` for `*`).
    pub host: Option<String>,
    /// The client's DUID, colon-separated hex.
    pub duid: String,
}

impl Lease6Line {
    /// The MAC in a DUID-LL (type 3, hardware type 1), as a Service's DHCPv6 client sends it.
    pub fn duid_ll_mac(&self) -> Option<MacAddr> {
        let hex = self.duid.strip_prefix("00:03:00:01:")?;
        hex.parse().ok()
    }
}

/// The DHCPv6 leases of dnsmasq's lease file (IPv4 lines and the server's `duid` line skipped);
/// a missing file has none.
pub fn read_leases_v6(path: &Path) -> Result<Vec<Lease6Line>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path.display().to_string())(e)),
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [expiry, iaid, address, host, duid] = fields.as_slice() else {
            continue;
        };
        let (Ok(expiry), Ok(address)) = (expiry.parse(), address.parse::<Ipv6Addr>()) else {
            continue;
        };
        out.push(Lease6Line {
            expiry,
            iaid: iaid.to_string(),
            address,
            host: (*host != "*").then(|| host.to_string()),
            duid: duid.to_string(),
        });
    }
    Ok(out)
}

/// Parses dnsmasq's lease file; a missing file has no leases. DHCPv6 lines (`duid …` and
/// IPv6 leases) are skipped; any other line that does not parse is an error.
pub fn read_leases(path: &Path) -> Result<Vec<LeaseLine>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path.display().to_string())(e)),
    };
    parse_leases(&text)
}

/// Parses the text of a lease file (see [`read_leases`]).
pub fn parse_leases(text: &str) -> Result<Vec<LeaseLine>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"duid") || fields.get(2).is_some_and(|ip| ip.contains(':')) {
            continue;
        }
        let bad = || NetnsError::Spec(format!("dnsmasq lease line {line:?}"));
        let [expiry, mac, ip, host, client_id] = fields.as_slice() else {
            return Err(bad());
        };
        let star = |s: &str| (s != "*").then(|| s.to_string());
        out.push(LeaseLine {
            expiry: expiry.parse().map_err(|_| bad())?,
            mac: mac.parse().map_err(|_| bad())?,
            ip: ip.parse().map_err(|_| bad())?,
            host: star(host),
            client_id: star(client_id),
        });
    }
    Ok(out)
}

/// True when `dnsmasq` is on `PATH`.
pub fn installed() -> bool {
    super::which(DNSMASQ).is_some() || Path::new("/usr/sbin/dnsmasq").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_file_lines_parse_and_v6_lines_are_skipped() {
        let text = "1764000120 02:42:0a:fa:00:aa 10.250.0.170 svc-one 01:02:42:0a:fa:00:aa\n\
                    1764000100 6e:1f:a2:19:05:41 10.250.0.156 * *\n\
                    duid 00:01:00:01:2c:aa:bb:cc\n\
                    1764000200 1234 fd00::5 * 00:01\n";
        let leases = parse_leases(text).unwrap();
        assert_eq!(leases.len(), 2);
        assert_eq!(leases[0].expiry, 1_764_000_120);
        assert_eq!(leases[0].mac, "02:42:0a:fa:00:aa".parse().unwrap());
        assert_eq!(leases[0].ip, Ipv4Addr::new(10, 250, 0, 170));
        assert_eq!(leases[0].host.as_deref(), Some("svc-one"));
        assert_eq!(leases[0].client_id.as_deref(), Some("01:02:42:0a:fa:00:aa"));
        assert_eq!(
            (leases[1].host.clone(), leases[1].client_id.clone()),
            (None, None)
        );
        assert!(parse_leases("1764000120 02:42:0a:fa:00:aa 10.250.0.170 svc\n").is_err());
        assert!(parse_leases("soon 02:42:0a:fa:00:aa 10.250.0.170 svc *\n").is_err());
    }

    #[test]
    fn args_carry_the_peers_flags() {
        let config = DnsmasqConfig {
            interface: "eth0".into(),
            range_start: Ipv4Addr::new(10, 250, 0, 150),
            range_end: Ipv4Addr::new(10, 250, 0, 180),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            lease_time: Duration::from_secs(120),
            router: Some(Ipv4Addr::new(10, 250, 0, 1)),
            t1: Some(Duration::from_secs(3)),
            t2: Some(Duration::from_secs(6)),
            reservations: vec![(
                MacAddr([2, 0x42, 10, 0xfa, 0, 0xaa]),
                Ipv4Addr::new(10, 250, 0, 170),
            )],
            range_v6: Some(("fd00::100".parse().unwrap(), "fd00::1ff".parse().unwrap())),
        };
        let a = args(&config, Path::new("/tmp/x"));
        for want in [
            "--keep-in-foreground",
            "--no-ping",
            "--port=0",
            "--dhcp-range=10.250.0.150,10.250.0.180,255.255.255.0,120",
            "--dhcp-option=option:T1,3",
            "--dhcp-option=option:T2,6",
            "--dhcp-option=option:router,10.250.0.1",
            "--dhcp-host=02:42:0a:fa:00:aa,10.250.0.170",
            "--dhcp-range=fd00::100,fd00::1ff,64,120",
            "--dhcp-leasefile=/tmp/x/dnsmasq.leases",
            "--pid-file=/tmp/x/dnsmasq.pid",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
        }
    }
}
