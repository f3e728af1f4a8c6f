//! A simulated host: the kvip core running on it (or not, while it is powered off or stopped), its
//! kernel's view of the VIP, its drifting clock, its links to the API server and the LAN, and the
//! state of its Lease watch.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use kvip_core::wire::MacAddr;
use kvip_core::{Defects, Node, NodeConfig, VipAddress};

use super::clock::NodeClock;
use super::options::SimOptions;
use super::rng::{stream, Draw};

/// The VIP every simulated node manages.
pub fn vip(opts: &SimOptions) -> VipAddress {
    if opts.ipv6 {
        let address = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x250, 0, 0, 0, 0, 0, 0xc8));
        VipAddress {
            address,
            prefix_len: 128,
        }
    } else {
        VipAddress {
            address: IpAddr::V4(Ipv4Addr::new(10, 250, 0, 200)),
            prefix_len: 32,
        }
    }
}

/// The name of host `index`: master01, master02, … as in the articles.
pub fn host_name(index: usize) -> String {
    format!("master{:02}", index + 1)
}

/// One host of the simulated cluster.
#[derive(Debug, Clone)]
pub struct Host {
    /// Holder identity.
    pub name: String,
    /// MAC of its LAN interface.
    pub mac: MacAddr,
    /// Its clock.
    pub clock: NodeClock,
    /// The daemon, while it runs.
    pub core: Option<Node>,
    /// Bumped whenever the daemon starts or dies; effects of an older incarnation are dropped.
    pub incarnation: u64,
    /// Whether the kernel has the VIP configured.
    pub kernel_vip: bool,
    /// Whether the VIP was announced since it was last added.
    pub announced: bool,
    /// Since when (true ns) the host has been a holder (kernel + announced).
    pub holder_since: Option<u64>,
    /// Whether the host reaches the API server.
    pub api_up: bool,
    /// Whether frames from the host reach the LAN.
    pub lan_up: bool,
    /// Since when the LAN path has been up.
    pub lan_up_since: u64,
    /// Watch generation; events of older generations are dropped.
    pub watch_gen: u64,
    /// Whether the watch is connected.
    pub watch_connected: bool,
    /// Since when the watch has been connected (true ns).
    pub watch_since: u64,
    /// Last watch delivery time, to keep events in order.
    pub watch_last: u64,
    /// Generation of the scheduled wake-up.
    pub wake_gen: u64,
    /// When the scheduled wake-up fires (true ns).
    pub wake_at: Option<u64>,
    /// A graceful stop is in progress since this time.
    pub stopping_since: Option<u64>,
    /// Restart once the daemon has stopped.
    pub restart_when_stopped: bool,
    /// Powered off (no daemon, no kernel).
    pub powered_off: bool,
}

impl Host {
    /// Host `index` of the world `opts` describes.
    pub fn new(opts: &SimOptions, index: usize) -> Self {
        let mut r = stream(opts.seed, 100 + index as u64);
        let drift = opts.max_drift_ppm;
        let clock = NodeClock {
            offset_ns: r.range(0, 1_000_000_000_000),
            drift_ppm: r.range(0, 2 * drift as u64) as i64 - drift,
            wall_skew_us: r.range(0, 6_000_000) as i64 - 3_000_000,
        };
        Host {
            name: host_name(index),
            mac: MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b + index as u8]),
            clock,
            core: None,
            incarnation: 0,
            kernel_vip: false,
            announced: false,
            holder_since: None,
            api_up: true,
            lan_up: true,
            lan_up_since: 0,
            watch_gen: 0,
            watch_connected: false,
            watch_since: 0,
            watch_last: 0,
            wake_gen: 0,
            wake_at: None,
            stopping_since: None,
            restart_when_stopped: false,
            powered_off: false,
        }
    }

    /// Whether the host holds the VIP: configured in its kernel and announced since.
    pub fn is_holder(&self) -> bool {
        self.kernel_vip && self.announced
    }

    /// Starts a fresh daemon at true time `now`.
    pub fn start_daemon(&mut self, opts: &SimOptions, now: u64, defects: &Defects) {
        self.incarnation += 1;
        self.powered_off = false;
        self.stopping_since = None;
        self.restart_when_stopped = false;
        let cfg = NodeConfig {
            identity: self.name.clone(),
            timing: opts.profile.timing,
            vips: vec![vip(opts)],
            mac: self.mac,
            arp_rate: opts.arp_rate,
            seed: opts.seed ^ (self.incarnation << 32) ^ u64::from(self.mac.0[5]),
            wall: self.clock.wall_clock(now),
            defects: defects.clone(),
        };
        let node = Node::new(cfg, self.clock.local(now)).expect("simulator profiles are valid");
        self.core = Some(node);
    }

    /// Kills the daemon; with `power_off` the kernel loses the VIP and the links go down.
    pub fn kill(&mut self, power_off: bool) {
        self.core = None;
        self.incarnation += 1;
        self.stopping_since = None;
        self.wake_at = None;
        self.watch_connected = false;
        self.watch_gen += 1;
        if power_off {
            self.powered_off = true;
            self.set_kernel_vip(false, 0);
        }
    }

    /// Sets the kernel's VIP state (an add or remove completing, or a reboot).
    pub fn set_kernel_vip(&mut self, present: bool, _now: u64) {
        self.kernel_vip = present;
        if !present {
            self.announced = false;
            self.holder_since = None;
        }
    }

    /// Duration as true nanoseconds.
    pub fn ns(d: Duration) -> u64 {
        d.as_nanos() as u64
    }
}
