//! A node host's software: the real `kvip_core::Node` driven by the real `drive` loop of
//! kvip-runtime, with ports backed by turmoil's network (Lease API, LAN) and the simulated
//! kernel. Each start of the host (first boot, restart, bounce after a crash) is a fresh daemon.

use std::time::Duration;

use kvip_core::{Defects, MicroTime, Node, NodeConfig, WallClock};
use kvip_runtime::manager::clock::CoreClock;
use kvip_runtime::manager::driver::{drive, Ports};

use super::kernel::{SimKernel, UdpFrames};
use super::lease::TurmoilLease;
use super::state::{lock, Shared};

/// Largest random delay before a daemon starts, so nodes do not move in lockstep.
const BOOT_JITTER: Duration = Duration::from_millis(50);

/// Runs one daemon on node `node` until it stops (or the host crashes under it).
pub async fn daemon(shared: Shared, node: usize, defects: Defects) -> turmoil::Result {
    let (mut stop, cfg, boot_delay) = {
        let mut s = lock(&shared);
        let opts = s.opts.clone();
        let vip = s.vip;
        let boot_delay = s.node_draw(node, (Duration::ZERO, BOOT_JITTER));
        let n = &mut s.nodes[node];
        n.incarnation += 1;
        n.running = true;
        n.powered_off = false;
        n.watch_synced_since = None;
        let cfg = NodeConfig {
            identity: n.name.clone(),
            timing: opts.profile.timing,
            vips: vec![vip],
            mac: n.mac,
            arp_rate: opts.arp_rate,
            seed: opts.seed ^ (n.incarnation << 32) ^ node as u64,
            wall: WallClock {
                start: kvip_core::Instant::ZERO,
                wall_at_start: MicroTime(0),
            },
            defects,
        };
        let name = n.name.clone();
        let inc = n.incarnation;
        let stop = n.stop.subscribe();
        s.log(|| format!("{name} daemon starts (incarnation {inc})"));
        (stop, cfg, boot_delay)
    };
    tokio::time::sleep(boot_delay).await;
    let clock = CoreClock::start();
    let epoch_us = turmoil::since_epoch().map_or(0, |d| d.as_micros() as i64);
    let cfg = NodeConfig {
        wall: WallClock {
            start: clock.now(),
            wall_at_start: MicroTime(epoch_us),
        },
        ..cfg
    };
    let core = Node::new(cfg, clock.now())?;
    let (addresses, kernel) = SimKernel::open(node, shared.clone());
    let frames = UdpFrames::open(node, shared.clone()).await?;
    let lease = TurmoilLease::new(node, shared.clone());
    let shutdown = async move {
        if stop.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let ports = Ports {
        lease,
        addresses,
        frames,
        kernel,
    };
    let exit = drive(core, clock, ports, shutdown).await;
    let mut s = lock(&shared);
    let n = &mut s.nodes[node];
    n.running = false;
    n.monitor = None;
    n.watch_synced_since = None;
    n.exits.push(exit);
    let name = n.name.clone();
    s.log(|| format!("{name} daemon exits: {exit:?}"));
    Ok(())
}
