//! The LAN: a bridge namespace `<prefix>-lan` holding `br0` (STP off, forward delay 0), and hosts,
//! each a namespace with `lo` up and one veth (`eth0`, or `ens3` for S1) whose other end is a port
//! of `br0`. A host is cut off and reconnected by setting its bridge port down and up (the host
//! itself sees nothing). Also the [`Netns`] handle: `ip -n`, `ip netns exec`, sysctls, PIDs inside.

use super::cmd::Cmd;
use super::run::Run;
use super::{NetnsError, Result};
use std::net::Ipv4Addr;

/// A handle on a namespace by name (creation and deletion belong to [`Run`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// A handle on namespace `name` (does not create it).
    pub fn new(name: &str) -> Netns {
        Netns {
            name: name.to_string(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` to be run inside this namespace.
    pub fn cmd(&self, program: &str) -> Cmd {
        Cmd::in_netns(&self.name, program)
    }

    /// `ip -n NAME args…`, stdout on success.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        Cmd::new("ip")
            .args(["-n", &self.name])
            .args(args.iter().copied())
            .run()
    }

    /// Sets a sysctl inside the namespace (`sysctl -q -w key=value`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.cmd("sysctl")
            .args(["-q", "-w", &format!("{key}={value}")])
            .run()
            .map(|_| ())
    }

    /// Reads a sysctl inside the namespace.
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        Ok(self
            .cmd("sysctl")
            .args(["-n", key])
            .run()?
            .trim()
            .to_string())
    }

    /// PIDs of every process inside the namespace (`ip netns pids`).
    pub fn pids(&self) -> Result<Vec<u32>> {
        let out = Cmd::new("ip").args(["netns", "pids", &self.name]).run()?;
        Ok(out
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }
}

/// A host on the LAN.
#[derive(Debug, Clone)]
pub struct Host {
    /// The host's name in the description (`master01`, `k3s1`, `client`…).
    pub name: String,
    /// Its namespace.
    pub ns: Netns,
    /// Its address on the LAN.
    pub ip: Ipv4Addr,
    /// Its interface name inside its namespace (`eth0`, `ens3`).
    pub ifname: String,
    /// Its port's name inside the bridge namespace.
    pub port: String,
}

/// A bridged LAN of hosts.
#[derive(Debug)]
pub struct Lan {
    bridge: Netns,
    net: Ipv4Addr,
    prefix_len: u8,
    hosts: Vec<Host>,
}

/// Parses `a.b.c.d/len` into (network address, len).
pub fn parse_subnet(s: &str) -> Result<(Ipv4Addr, u8)> {
    let bad = || NetnsError::Spec(format!("subnet {s:?} is not a.b.c.d/len"));
    let (a, l) = s.split_once('/').ok_or_else(bad)?;
    let a: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let l: u8 = l.parse().map_err(|_| bad())?;
    if !(8..=30).contains(&l) {
        return Err(bad());
    }
    Ok((Ipv4Addr::from(u32::from(a) & mask(l)), l))
}

fn mask(len: u8) -> u32 {
    u32::MAX << (32 - u32::from(len))
}

impl Lan {
    /// Creates the bridge namespace `<prefix>-lan` with `br0` for `subnet` (`192.168.66.0/24`).
    pub fn new(run: &mut Run, subnet: &str) -> Result<Lan> {
        Lan::named(run, "lan", subnet)
    }

    /// [`Lan::new`] with bridge namespace `<prefix>-<name>` (a second network).
    pub fn named(run: &mut Run, name: &str, subnet: &str) -> Result<Lan> {
        let (net, prefix_len) = parse_subnet(subnet)?;
        let bridge = run.add_netns(name)?;
        bridge.ip(&["link", "add", "br0", "type", "bridge"])?;
        bridge.ip(&[
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ])?;
        bridge.ip(&["link", "set", "br0", "up"])?;
        Ok(Lan {
            bridge,
            net,
            prefix_len,
            hosts: Vec::new(),
        })
    }

    /// The bridge namespace.
    pub fn bridge(&self) -> &Netns {
        &self.bridge
    }

    /// The prefix length of the LAN (`24`).
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// True when `ip` lies inside the LAN's subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix_len) == u32::from(self.net)
    }

    /// Adds host `name` (namespace `<prefix>-<name>`) at `ip` with interface `ifname`, link up.
    pub fn add_host(
        &mut self,
        run: &mut Run,
        name: &str,
        ip: Ipv4Addr,
        ifname: &str,
    ) -> Result<Host> {
        let ns = self
            .check_new_host(name, ip, ifname)
            .and_then(|()| run.add_netns(name))?;
        self.attach(ns, name, ip, ifname)
    }

    /// Connects the existing namespace `ns` (host `name`, already on another LAN) to this one
    /// with a new interface `ifname` at `ip`, link up.
    pub fn add_interface(
        &mut self,
        ns: &Netns,
        name: &str,
        ip: Ipv4Addr,
        ifname: &str,
    ) -> Result<Host> {
        self.check_new_host(name, ip, ifname)?;
        self.attach(ns.clone(), name, ip, ifname)
    }

    fn check_new_host(&self, name: &str, ip: Ipv4Addr, ifname: &str) -> Result<()> {
        if !self.contains(ip) {
            return Err(NetnsError::Spec(format!(
                "{name}: {ip} is outside {}/{}",
                self.net, self.prefix_len
            )));
        }
        if self.hosts.iter().any(|h| h.name == name || h.ip == ip) {
            return Err(NetnsError::Spec(format!(
                "{name} / {ip}: duplicate host name or address"
            )));
        }
        if ifname.is_empty() || ifname.len() > 15 {
            return Err(NetnsError::Spec(format!(
                "interface name {ifname:?}: 1-15 characters"
            )));
        }
        Ok(())
    }

    fn attach(&mut self, ns: Netns, name: &str, ip: Ipv4Addr, ifname: &str) -> Result<Host> {
        let port = format!("p{}-{}", self.hosts.len(), name)
            .chars()
            .take(15)
            .collect::<String>();
        // Both ends are created directly in their namespaces: nothing appears in the root namespace.
        Cmd::new("ip")
            .args([
                "link",
                "add",
                ifname,
                "netns",
                ns.name(),
                "type",
                "veth",
                "peer",
                "name",
                &port,
            ])
            .args(["netns", self.bridge.name()])
            .run()?;
        self.bridge
            .ip(&["link", "set", &port, "master", "br0", "up"])?;
        ns.ip(&[
            "addr",
            "add",
            &format!("{ip}/{}", self.prefix_len),
            "dev",
            ifname,
        ])?;
        ns.ip(&["link", "set", ifname, "up"])?;
        let host = Host {
            name: name.to_string(),
            ns,
            ip,
            ifname: ifname.to_string(),
            port,
        };
        self.hosts.push(host.clone());
        Ok(host)
    }

    /// Every host, in the order added.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| NetnsError::Spec(format!("no host {name:?}")))
    }

    /// Cuts `name` off the LAN: its bridge port goes down (the host's own link stays up).
    pub fn cut(&self, name: &str) -> Result<()> {
        let h = self.host(name)?;
        self.bridge
            .ip(&["link", "set", &h.port, "down"])
            .map(|_| ())
    }

    /// Reconnects `name` (its bridge port up again).
    pub fn reconnect(&self, name: &str) -> Result<()> {
        let h = self.host(name)?;
        self.bridge.ip(&["link", "set", &h.port, "up"]).map(|_| ())
    }

    /// Sets the host's own interface down or up (a link flap as the host sees it).
    pub fn set_host_link(&self, name: &str, up: bool) -> Result<()> {
        let h = self.host(name)?;
        h.ns.ip(&["link", "set", &h.ifname, if up { "up" } else { "down" }])
            .map(|_| ())
    }
}
