//! Property tests of election and VIP ownership through `Node`: one or two nodes against a tiny
//! in-memory Lease store (compare-and-swap on a numeric resourceVersion) and fake kernels, under
//! arbitrary delivery, loss, delay and failure of requests, watch events, address drift, crashes
//! and shutdowns. Checked after every step:
//! - `AddAddress` only while `is_leader()` and not stopping;
//! - `SendFrame` only while leading, with the VIP in the kernel, its add completed (or the node
//!   told it is there) and no address operation outstanding; the frame is the exact announcement;
//! - the release (`Replace` with no holder) only while stopping, with the VIP absent and no address
//!   operation outstanding; `Stopped` only then too;
//! - the Lease changes only by a matching compare-and-swap, each writer names only itself, renews
//!   keep acquireTime, leaseTransitions counts takeovers; a takeover of another holder's record
//!   only once the taker has seen that record for leaseDuration;
//! - a leader leads only within renewDeadline of sending its last successful claim, and the Lease
//!   names it; no two nodes announce (or, unless stopping, lead) at once;
//! - `poll_timeout()` at or before the last `now` means there is work at `now`;
//! - nothing panics.
//!
//! Each run ends with a healed network (liveness): 20 s later every stopping node has stopped and
//! exactly one running node leads and announces.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use kvip_core::wire::{announcement, MacAddr};
use kvip_core::{
    AddressError, Defects, ElectionTiming, Input, Instant, LeaseError, LeaseObject, LeaseRecord,
    LeaseRequest, MicroTime, Node, NodeConfig, OpId, Output, ResourceVersion, VipAddress,
    WallClock, WatchEvent,
};
use proptest::prelude::*;

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));
const TIMING: ElectionTiming = ElectionTiming::from_millis(5000, 3000, 1000);

fn vip() -> VipAddress {
    VipAddress {
        address: IP,
        prefix_len: 32,
    }
}

fn mac(i: usize) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, 0x01 + u8::try_from(i).unwrap()])
}

fn name(i: usize) -> String {
    format!("n{}", i + 1)
}

// ---------------------------------------------------------------------------------------------
// The fake API server: one Lease, CAS on a decimal resourceVersion.

#[derive(Debug, Clone, Default)]
struct Store {
    rv: u64,
    lease: Option<LeaseRecord>,
    /// Holder of every resourceVersion ever written.
    holders: HashMap<String, Option<String>>,
}

impl Store {
    fn object(&self) -> Option<LeaseObject> {
        let record = self.lease.clone()?;
        Some(LeaseObject {
            resource_version: ResourceVersion(self.rv.to_string()),
            record,
        })
    }

    /// Applies `request` from `writer` as the API server would: the answer, and the object
    /// written (if any) for the watches. Checks what every write must look like.
    fn apply(
        &mut self,
        writer: &str,
        request: &LeaseRequest,
    ) -> Result<(Result<LeaseObject, LeaseError>, Option<LeaseObject>), String> {
        let new = match request {
            LeaseRequest::Get => return Ok((self.object().ok_or(LeaseError::NotFound), None)),
            LeaseRequest::Create(_) if self.lease.is_some() => {
                return Ok((Err(LeaseError::Conflict), None))
            }
            LeaseRequest::Replace { .. } if self.lease.is_none() => {
                return Ok((Err(LeaseError::NotFound), None))
            }
            LeaseRequest::Replace { expected, .. } if expected.0 != self.rv.to_string() => {
                return Ok((Err(LeaseError::Conflict), None))
            }
            LeaseRequest::Create(record) | LeaseRequest::Replace { record, .. } => record,
        };
        let old = self.lease.as_ref();
        match new.holder() {
            Some(h) if h != writer => return Err(format!("{writer} wrote holder {h}")),
            _ => {}
        }
        if let Some(old) = old {
            // client-go: taking the lease from anyone else (or from a release) is a transition;
            // renewing and releasing are not.
            let bump = new.holder().is_some() && old.holder() != new.holder();
            let want = old.lease_transitions + u32::from(bump);
            if new.lease_transitions != want {
                return Err(format!("{writer}: transitions {old:?} -> {new:?}"));
            }
            if old.holder().is_some()
                && old.holder() == new.holder()
                && old.acquire_time != new.acquire_time
            {
                return Err(format!(
                    "{writer}: renew changed acquireTime {old:?} -> {new:?}"
                ));
            }
        } else if new.lease_transitions != 0 || new.holder().is_none() {
            return Err(format!("{writer}: bad create {new:?}"));
        }
        self.rv += 1;
        self.lease = Some(new.clone());
        self.holders
            .insert(self.rv.to_string(), new.holder_identity.clone());
        let obj = self.object().expect("just written");
        Ok((Ok(obj.clone()), Some(obj)))
    }

    fn holder(&self) -> Option<&str> {
        self.lease.as_ref()?.holder()
    }
}

// ---------------------------------------------------------------------------------------------
// One simulated host: its node, its kernel, the work it has outstanding.

#[derive(Debug, Clone)]
struct PendingLease {
    incarnation: u64,
    op: OpId,
    request: LeaseRequest,
}

#[derive(Debug, Clone)]
struct Peer {
    name: String,
    node: Option<Node>,
    incarnation: u64,
    lease: Vec<PendingLease>,
    /// Outstanding address operations of the live incarnation: (op, is_add).
    addr: Vec<(OpId, bool)>,
    watch: VecDeque<WatchEvent<LeaseObject>>,
    /// Whether the (fake) kernel holds the VIP.
    kernel: bool,
    /// Whether the node was told the VIP is in place (an add completed, a remove failed, or it
    /// was seen to appear) since it last asked for a removal or was told the VIP vanished.
    confirmed: bool,
    stopping: bool,
    /// When this incarnation first saw each resourceVersion.
    first_seen: HashMap<String, Instant>,
    /// Latest send time of a claim this incarnation saw succeed.
    last_ok_claim_sent: Option<Instant>,
    /// Send times of this incarnation's outstanding claims, by op.
    claim_sent: HashMap<OpId, Instant>,
    /// The instant at which its timer last fired without effect.
    idle_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Applied and answered.
    Answer,
    /// Not applied; 409.
    Conflict,
    /// Not applied; 500.
    ServerError,
    /// Not applied; never answered.
    LoseRequest,
    /// Applied; never answered.
    LoseAnswer,
    /// Applied; answered with a transport error.
    ApplyThenFail,
}

#[derive(Debug, Clone, Copy)]
enum WatchFate {
    Deliver,
    Drop,
    Relist,
}

#[derive(Debug, Clone)]
enum Action {
    /// Let time pass by this many milliseconds, firing timers on the way.
    Advance(u64),
    /// Settle one outstanding Lease request of a peer.
    Lease {
        peer: usize,
        pick: usize,
        fate: Fate,
    },
    /// Complete one outstanding address operation of a peer.
    Address {
        peer: usize,
        pick: usize,
        fail: bool,
    },
    /// The next event of a peer's watch.
    Watch { peer: usize, fate: WatchFate },
    /// The VIP vanishes from (or appears on) a peer's interface behind its back.
    Drift { peer: usize },
    /// The link of a peer comes (back) up.
    LinkUp { peer: usize },
    /// Graceful shutdown.
    Shutdown { peer: usize },
    /// The process dies (its kernel keeps the VIP) and starts again.
    Restart { peer: usize },
}

/// Switches for the faults injected and the rules checked.
#[derive(Debug, Clone, Copy, Default)]
struct Rules {
    /// Also check the timer rule for stopping nodes.
    strict_timers: bool,
    /// Let the VIP appear on a stopping node's interface behind its back.
    strays_while_stopping: bool,
}

#[derive(Debug)]
struct World {
    now: Instant,
    store: Store,
    peers: Vec<Peer>,
    /// Which faults are allowed and which rules are checked.
    rules: Rules,
    defects: Defects,
    /// Peers whose API requests [`World::run_quietly`] loses.
    api_down: Vec<usize>,
}

fn config(i: usize, incarnation: u64, defects: &Defects) -> NodeConfig {
    NodeConfig {
        identity: name(i),
        timing: TIMING,
        vips: vec![vip()],
        mac: mac(i),
        arp_rate: Duration::from_secs(3),
        seed: 1 + 1000 * incarnation + i as u64,
        wall: WallClock {
            start: Instant::ZERO,
            wall_at_start: MicroTime(1_700_000_000_000_000),
        },
        defects: defects.clone(),
    }
}

impl World {
    fn new(peers: usize, defects: Defects) -> Result<World, String> {
        let mut w = World {
            now: Instant::ZERO,
            store: Store::default(),
            peers: vec![],
            rules: Rules::default(),
            defects,
            api_down: vec![],
        };
        for i in 0..peers {
            w.peers.push(Peer {
                name: name(i),
                node: None,
                incarnation: 0,
                lease: vec![],
                addr: vec![],
                watch: VecDeque::new(),
                kernel: false,
                confirmed: false,
                stopping: false,
                first_seen: HashMap::new(),
                last_ok_claim_sent: None,
                claim_sent: HashMap::new(),
                idle_at: None,
            });
            w.start(i)?;
        }
        Ok(w)
    }

    /// (Re)starts peer `i`'s daemon: a fresh node, a fresh watch; its kernel is left alone.
    fn start(&mut self, i: usize) -> Result<(), String> {
        let p = &mut self.peers[i];
        p.incarnation += 1;
        p.addr.clear();
        p.confirmed = false;
        p.stopping = false;
        p.first_seen.clear();
        p.last_ok_claim_sent = None;
        p.claim_sent.clear();
        p.idle_at = None;
        p.watch = relist(&self.store);
        p.node = Some(
            Node::new(config(i, p.incarnation, &self.defects), self.now)
                .map_err(|e| e.to_string())?,
        );
        self.after(i).map(drop)
    }

    fn step(&mut self, action: &Action) -> Result<(), String> {
        let n = self.peers.len();
        match *action {
            Action::Advance(ms) => self.advance(Duration::from_millis(ms))?,
            Action::Lease { peer, pick, fate } => self.settle_lease(peer % n, pick, fate)?,
            Action::Address { peer, pick, fail } => self.settle_address(peer % n, pick, fail)?,
            Action::Watch { peer, fate } => self.watch(peer % n, fate)?,
            Action::Drift { peer } => {
                let i = peer % n;
                let p = &mut self.peers[i];
                let stray_while_stopping = p.stopping && !p.kernel;
                if p.node.is_some() && (self.rules.strays_while_stopping || !stray_while_stopping) {
                    p.kernel = !p.kernel;
                    // The node is told at once, which is as good as an add completing.
                    p.confirmed = p.kernel;
                    let input = Input::AddressObserved {
                        address: IP,
                        present: p.kernel,
                    };
                    self.input(i, input)?;
                }
            }
            Action::LinkUp { peer } => {
                if self.peers[peer % n].node.is_some() {
                    self.input(peer % n, Input::LinkChanged { up: true })?;
                }
            }
            Action::Shutdown { peer } => {
                let i = peer % n;
                let now = self.now;
                let p = &mut self.peers[i];
                if let Some(node) = &mut p.node {
                    if !p.stopping {
                        p.stopping = true;
                        p.idle_at = None;
                        node.shutdown(now);
                        self.after(i)?;
                    }
                }
            }
            Action::Restart { peer } => self.start(peer % n)?,
        }
        self.check()
    }

    fn input(&mut self, i: usize, input: Input) -> Result<(), String> {
        let now = self.now;
        let p = &mut self.peers[i];
        let Some(node) = &mut p.node else {
            return Ok(());
        };
        p.idle_at = None;
        node.handle_input(now, input);
        self.after(i).map(drop)
    }

    fn advance(&mut self, by: Duration) -> Result<(), String> {
        let target = self.now + by;
        for _ in 0..100_000 {
            let mut next: Option<(Instant, usize)> = None;
            for (i, p) in self.peers.iter().enumerate() {
                let Some(t) = p.node.as_ref().and_then(Node::poll_timeout) else {
                    continue;
                };
                let t = t.max(self.now);
                if p.idle_at != Some(t) && t <= target && next.is_none_or(|(b, _)| t < b) {
                    next = Some((t, i));
                }
            }
            let Some((t, i)) = next else {
                self.now = target;
                return Ok(());
            };
            self.now = t;
            let node = self.peers[i].node.as_mut().expect("has a timer");
            let before = node.poll_timeout();
            node.handle_timeout(t);
            let emitted = self.after(i)?;
            let p = &mut self.peers[i];
            let after = p.node.as_ref().and_then(Node::poll_timeout);
            p.idle_at = (emitted == 0 && after == before).then_some(t);
        }
        Err(format!("timers did not settle before {target}"))
    }

    fn settle_lease(&mut self, i: usize, pick: usize, fate: Fate) -> Result<(), String> {
        let p = &mut self.peers[i];
        if p.lease.is_empty() {
            return Ok(());
        }
        let req = p.lease.remove(pick % p.lease.len());
        let writer = p.name.clone();
        let answer = match fate {
            Fate::Conflict => Some(Err(LeaseError::Conflict)),
            Fate::ServerError => Some(Err(LeaseError::Server(500))),
            Fate::LoseRequest => None,
            Fate::Answer | Fate::LoseAnswer | Fate::ApplyThenFail => {
                let (result, written) = self.store.apply(&writer, &req.request)?;
                if let Some(obj) = written {
                    for q in &mut self.peers {
                        q.watch.push_back(WatchEvent::Apply(obj.clone()));
                    }
                }
                match fate {
                    Fate::Answer => Some(result),
                    Fate::ApplyThenFail => {
                        Some(Err(LeaseError::Transport("connection reset".into())))
                    }
                    _ => None,
                }
            }
        };
        let now = self.now;
        let p = &mut self.peers[i];
        if req.incarnation != p.incarnation || p.node.is_none() {
            return Ok(());
        }
        let sent = p.claim_sent.remove(&req.op);
        let Some(result) = answer else { return Ok(()) };
        if let Ok(obj) = &result {
            p.first_seen
                .entry(obj.resource_version.0.clone())
                .or_insert(now);
            if let Some(sent) = sent {
                if obj.record.holder() == Some(p.name.as_str()) {
                    p.last_ok_claim_sent = p.last_ok_claim_sent.max(Some(sent));
                }
            }
        }
        self.input(i, Input::LeaseResponse { op: req.op, result })
    }

    fn settle_address(&mut self, i: usize, pick: usize, fail: bool) -> Result<(), String> {
        let p = &mut self.peers[i];
        if p.addr.is_empty() {
            return Ok(());
        }
        let (op, is_add) = p.addr.remove(pick % p.addr.len());
        let result = if fail {
            if !is_add && p.kernel {
                p.confirmed = true;
            }
            Err(AddressError::Failed("EBUSY".into()))
        } else if is_add {
            let was = std::mem::replace(&mut p.kernel, true);
            p.confirmed = true;
            if was {
                Err(AddressError::AlreadyPresent)
            } else {
                Ok(())
            }
        } else {
            let was = std::mem::replace(&mut p.kernel, false);
            if was {
                Ok(())
            } else {
                Err(AddressError::NotPresent)
            }
        };
        self.input(i, Input::AddressDone { op, result })
    }

    fn watch(&mut self, i: usize, fate: WatchFate) -> Result<(), String> {
        let now = self.now;
        let p = &mut self.peers[i];
        match fate {
            WatchFate::Relist => {
                p.watch = relist(&self.store);
                Ok(())
            }
            WatchFate::Drop => {
                p.watch.pop_front();
                Ok(())
            }
            WatchFate::Deliver => {
                let Some(event) = p.watch.pop_front() else {
                    return Ok(());
                };
                if let WatchEvent::InitApply(obj) | WatchEvent::Apply(obj) = &event {
                    p.first_seen
                        .entry(obj.resource_version.0.clone())
                        .or_insert(now);
                }
                self.input(i, Input::LeaseWatch(event))
            }
        }
    }

    /// Drains peer `i`'s outputs, checking each; returns how many there were.
    fn after(&mut self, i: usize) -> Result<usize, String> {
        let now = self.now;
        let holders = &self.store.holders;
        let p = &mut self.peers[i];
        let Some(node) = &mut p.node else {
            return Ok(0);
        };
        let who = format!("{} (incarnation {}) at {now}", p.name, p.incarnation);
        let mut count = 0;
        while let Some(out) = node.poll_output() {
            count += 1;
            match out {
                Output::Lease { op, request } => {
                    if let LeaseRequest::Replace { expected, record } = &request {
                        if record.holder().is_none() {
                            if !p.stopping {
                                return Err(format!("{who}: release while not stopping"));
                            }
                            if p.kernel || !p.addr.is_empty() {
                                return Err(format!(
                                    "{who}: release while the VIP is present ({}) or an address op is outstanding ({:?})",
                                    p.kernel, p.addr
                                ));
                            }
                        } else if record.holder() != Some(p.name.as_str()) {
                            return Err(format!("{who}: claims for another holder {record:?}"));
                        } else if let Some(Some(h)) = holders.get(&expected.0) {
                            if *h != p.name {
                                let seen = p.first_seen.get(&expected.0).copied();
                                let expired =
                                    seen.is_some_and(|s| now >= s + TIMING.lease_duration);
                                if !expired {
                                    return Err(format!(
                                        "{who}: takes over {h}'s rv {} first seen at {seen:?} before it expired",
                                        expected.0
                                    ));
                                }
                            }
                        }
                    }
                    if !matches!(request, LeaseRequest::Get) {
                        p.claim_sent.insert(op, now);
                    }
                    p.lease.push(PendingLease {
                        incarnation: p.incarnation,
                        op,
                        request,
                    });
                }
                Output::AddAddress { op, vip: v } => {
                    if !node.is_leader() || p.stopping {
                        return Err(format!(
                            "{who}: AddAddress while not leading (stopping {})",
                            p.stopping
                        ));
                    }
                    assert_eq!(v, vip());
                    p.addr.push((op, true));
                }
                Output::RemoveAddress { op, vip: v } => {
                    assert_eq!(v, vip());
                    p.confirmed = false;
                    p.addr.push((op, false));
                }
                Output::SendFrame { address, frame } => {
                    if !p.kernel || !p.confirmed || !p.addr.is_empty() {
                        return Err(format!(
                            "{who}: SendFrame with kernel {} confirmed {} outstanding {:?}",
                            p.kernel, p.confirmed, p.addr
                        ));
                    }
                    if !node.is_leader() || p.stopping {
                        return Err(format!("{who}: SendFrame while not leading"));
                    }
                    let index = p.name[1..].parse::<usize>().unwrap() - 1;
                    if address != IP || frame != announcement(mac(index), IP) {
                        return Err(format!("{who}: wrong frame {address} {frame:?}"));
                    }
                }
                Output::Stopped => {
                    if !p.stopping || p.kernel || !p.addr.is_empty() {
                        return Err(format!(
                            "{who}: Stopped with kernel {} ops {:?}",
                            p.kernel, p.addr
                        ));
                    }
                    if node.poll_output().is_some() {
                        return Err(format!("{who}: output after Stopped"));
                    }
                    p.node = None;
                    return Ok(count);
                }
                Output::Event(_) => {}
            }
        }
        // The timer rule: a deadline at or before `now` must mean there is work to do now.
        if self.rules.strict_timers || !p.stopping {
            if let Some(t) = node.poll_timeout().filter(|&t| t <= now) {
                let mut probe = node.clone();
                probe.handle_timeout(now);
                if probe.poll_output().is_none() && probe.poll_timeout() == Some(t) {
                    return Err(format!(
                        "{who}: poll_timeout {t} is not after now, with nothing to do"
                    ));
                }
            }
        }
        Ok(count)
    }

    /// Properties of the whole world after every step.
    fn check(&self) -> Result<(), String> {
        let live: Vec<(&Peer, &Node)> = self
            .peers
            .iter()
            .filter_map(|p| Some((p, p.node.as_ref()?)))
            .collect();
        for (p, n) in &live {
            if n.is_announcing() && !(p.kernel && p.confirmed) {
                return Err(format!(
                    "{} announces without the VIP in place at {}",
                    p.name, self.now
                ));
            }
            if n.is_leader() && !p.stopping {
                let fence = p.last_ok_claim_sent.map(|s| s + TIMING.renew_deadline);
                if fence.is_none_or(|f| self.now >= f) {
                    return Err(format!(
                        "{} leads at {} past its fence {fence:?}",
                        p.name, self.now
                    ));
                }
                if self.store.holder() != Some(p.name.as_str()) {
                    return Err(format!(
                        "{} leads at {} but the store names {:?}",
                        p.name,
                        self.now,
                        self.store.holder()
                    ));
                }
            }
        }
        for (a, (pa, na)) in live.iter().enumerate() {
            for (pb, nb) in &live[a + 1..] {
                if na.is_announcing() && nb.is_announcing() {
                    return Err(format!(
                        "{} and {} both announce at {}",
                        pa.name, pb.name, self.now
                    ));
                }
                if na.is_leader() && nb.is_leader() && !pa.stopping && !pb.stopping {
                    return Err(format!(
                        "{} and {} both lead at {}",
                        pa.name, pb.name, self.now
                    ));
                }
            }
        }
        Ok(())
    }

    fn leader(&self) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.node.as_ref().is_some_and(Node::is_leader) && !p.stopping)
    }

    /// A quiet network: answers every request (of peers not in `api_down`; theirs are lost),
    /// completes every address operation and delivers every watch event, then lets `ms`
    /// milliseconds pass in steps of 10 ms.
    fn run_quietly(&mut self, ms: u64) -> Result<(), String> {
        for _ in 0..ms.div_ceil(10) {
            self.deliver_all()?;
            self.step(&Action::Advance(10))?;
        }
        self.deliver_all()
    }

    /// Settles everything outstanding as a quiet network would, until nothing is left.
    fn deliver_all(&mut self) -> Result<(), String> {
        for _ in 0..100 {
            let mut acted = false;
            for i in 0..self.peers.len() {
                let p = &self.peers[i];
                // Watch events first, so no relist is older than what the node saw since.
                let action = if !p.watch.is_empty() {
                    Action::Watch {
                        peer: i,
                        fate: WatchFate::Deliver,
                    }
                } else if !p.addr.is_empty() {
                    Action::Address {
                        peer: i,
                        pick: 0,
                        fail: false,
                    }
                } else if !p.lease.is_empty() {
                    let lost = self.api_down.contains(&i);
                    let fate = if lost {
                        Fate::LoseRequest
                    } else {
                        Fate::Answer
                    };
                    Action::Lease {
                        peer: i,
                        pick: 0,
                        fate,
                    }
                } else {
                    continue;
                };
                self.step(&action)?;
                acted = true;
            }
            if !acted {
                return Ok(());
            }
        }
        Err("the quiet network did not settle".into())
    }
}

fn relist(store: &Store) -> VecDeque<WatchEvent<LeaseObject>> {
    let mut events = VecDeque::from([WatchEvent::Init]);
    events.extend(store.object().map(WatchEvent::InitApply));
    events.push_back(WatchEvent::InitDone);
    events
}

fn run(peers: usize, actions: &[Action], rules: Rules) -> Result<(), String> {
    run_with(peers, actions, rules, Defects::default())
}

/// Runs `actions` (the safety phase), then heals the network: every watch reconnects and every
/// request is answered for 20 s (the liveness phase). Then every stopping node has stopped and,
/// if any node still runs, exactly one leads, announces and is named by the Lease.
fn run_with(
    peers: usize,
    actions: &[Action],
    rules: Rules,
    defects: Defects,
) -> Result<(), String> {
    let mut w = World::new(peers, defects)?;
    w.rules = rules;
    for (k, a) in actions.iter().enumerate() {
        w.step(a).map_err(|e| format!("step {k} {a:?}: {e}"))?;
    }
    for i in 0..w.peers.len() {
        w.step(&Action::Watch {
            peer: i,
            fate: WatchFate::Relist,
        })?;
    }
    w.run_quietly(20_000)
        .map_err(|e| format!("after healing: {e}"))?;
    let running: Vec<&Peer> = w.peers.iter().filter(|p| p.node.is_some()).collect();
    if let Some(p) = running.iter().find(|p| p.stopping) {
        return Err(format!("{} has not stopped 20 s after healing", p.name));
    }
    if running.is_empty() {
        return Ok(());
    }
    let leaders: Vec<&str> = running
        .iter()
        .filter(|p| {
            p.node
                .as_ref()
                .is_some_and(|n| n.is_leader() && n.is_announcing())
        })
        .map(|p| p.name.as_str())
        .collect();
    if leaders.len() != 1 || w.store.holder() != Some(leaders[0]) {
        return Err(format!(
            "20 s after healing: announcing leaders {leaders:?}, Lease holder {:?}",
            w.store.holder()
        ));
    }
    Ok(())
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Answer),
        1 => Just(Fate::Conflict),
        1 => Just(Fate::ServerError),
        1 => Just(Fate::LoseRequest),
        1 => Just(Fate::LoseAnswer),
        1 => Just(Fate::ApplyThenFail),
    ]
}

fn watch_fate() -> impl Strategy<Value = WatchFate> {
    prop_oneof![
        8 => Just(WatchFate::Deliver),
        1 => Just(WatchFate::Drop),
        1 => Just(WatchFate::Relist),
    ]
}

/// Rare events: drift, link flaps, shutdowns and restarts.
fn rare(peer: impl Strategy<Value = usize> + Clone) -> impl Strategy<Value = Action> {
    prop_oneof![
        peer.clone().prop_map(|peer| Action::Drift { peer }),
        peer.clone().prop_map(|peer| Action::LinkUp { peer }),
        peer.clone().prop_map(|peer| Action::Shutdown { peer }),
        peer.prop_map(|peer| Action::Restart { peer }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    let peer = 0..2usize;
    let lease = (peer.clone(), 0..4usize, fate());
    let address = (peer.clone(), 0..2usize, prop::bool::weighted(0.15));
    prop_oneof![
        4 => (0u64..60).prop_map(Action::Advance),
        4 => (0u64..3000).prop_map(Action::Advance),
        10 => lease.prop_map(|(peer, pick, fate)| Action::Lease { peer, pick, fate }),
        5 => address.prop_map(|(peer, pick, fail)| Action::Address { peer, pick, fail }),
        5 => (peer.clone(), watch_fate()).prop_map(|(peer, fate)| Action::Watch { peer, fate }),
        1 => rare(peer),
    ]
}

fn actions() -> impl Strategy<Value = Vec<Action>> {
    prop::collection::vec(action(), 1..300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every safety rule holds after every step, whatever the network and the kernel do.
    #[test]
    fn safety_holds_under_arbitrary_faults(
        peers in 1..=2usize,
        actions in actions(),
    ) {
        if let Err(e) = run(peers, &actions, Rules::default()) {
            return Err(TestCaseError::fail(e));
        }
    }

    /// The timer rule also holds for stopping nodes: `poll_timeout()` at or before the last
    /// `now` means `handle_timeout(now)` has work.
    #[test]
    fn stopping_nodes_never_ask_to_be_woken_in_the_past(
        peers in 1..=2usize,
        actions in actions(),
    ) {
        if let Err(e) = run(peers, &actions, Rules { strict_timers: true, ..Rules::default() }) {
            return Err(TestCaseError::fail(e));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The release also waits for a VIP that reappears (another tool, a lagging monitor) after the
    /// release was first wanted.
    #[test]
    fn release_waits_for_a_vip_that_reappears_during_shutdown(
        peers in 1..=2usize,
        actions in actions(),
    ) {
        let rules = Rules { strays_while_stopping: true, ..Rules::default() };
        if let Err(e) = run(peers, &actions, rules) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn quiet_network_elects_one_leader_that_keeps_the_lease_and_hands_over_on_shutdown() {
    let mut w = World::new(2, Defects::default()).unwrap();
    w.run_quietly(1_000).unwrap();
    let first = w.leader().expect("a leader within 1 s");
    assert!(w.peers[first].node.as_ref().unwrap().is_announcing());
    assert_eq!(w.store.holder(), Some(w.peers[first].name.as_str()));
    w.run_quietly(30_000).unwrap();
    assert_eq!(
        w.leader(),
        Some(first),
        "leadership is stable on a quiet network"
    );
    assert_eq!(w.store.lease.as_ref().unwrap().lease_transitions, 0);

    w.step(&Action::Shutdown { peer: first }).unwrap();
    w.run_quietly(100).unwrap();
    assert!(w.peers[first].node.is_none(), "the old leader stopped");
    assert!(!w.peers[first].kernel);
    let second = w
        .leader()
        .expect("the follower took over the release within 100 ms");
    assert_ne!(second, first);
    assert!(w.peers[second].node.as_ref().unwrap().is_announcing());
}

#[test]
fn quiet_network_follower_takes_over_from_a_leader_cut_off_the_api_after_expiry() {
    let mut w = World::new(2, Defects::default()).unwrap();
    w.run_quietly(1_000).unwrap();
    let first = w.leader().unwrap();
    let other = 1 - first;
    // The leader loses the API server: its requests are lost from now on.
    let crash_at = w.now;
    w.api_down.push(first);
    for _ in 0..1000 {
        w.run_quietly(10).unwrap();
        if w.leader() == Some(other) {
            break;
        }
    }
    assert_eq!(w.leader(), Some(other));
    let waited = w.now - crash_at;
    assert!(
        waited >= Duration::from_secs(4),
        "took over after {waited:?}"
    );
    assert!(
        waited <= Duration::from_secs(6) + Duration::from_millis(100),
        "took over after {waited:?}"
    );
    assert!(!w.peers[first].node.as_ref().unwrap().is_announcing());
}

/// The checker must be able to fail: each planted defect is found by the same random search.
#[cfg(feature = "planted-defects")]
mod planted {
    use super::*;
    use kvip_core::Defect;
    use proptest::test_runner::{RngAlgorithm, TestError, TestRng, TestRunner};

    fn quiet_run_with(defect: Defect) -> Result<(), String> {
        let mut w = World::new(2, Defects::planted(defect))?;
        w.run_quietly(2_000)?;
        let leader = w.leader().ok_or("no leader")?;
        w.step(&Action::Shutdown { peer: leader })?;
        w.run_quietly(2_000)
    }

    /// The first violation a seeded search of `cases` runs finds with `defect` planted.
    fn search(defect: Defect, cases: u32) -> Option<String> {
        let config = ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let strategy = (1..=2usize, actions());
        let result = runner.run(&strategy, |(peers, actions)| {
            run_with(peers, &actions, Rules::default(), Defects::planted(defect))
                .map_err(TestCaseError::fail)
        });
        match result {
            Err(TestError::Fail(reason, _)) => Some(reason.to_string()),
            _ => None,
        }
    }

    #[test]
    fn quiet_run_catches_announce_before_add() {
        let err = quiet_run_with(Defect::AnnounceBeforeAdd).unwrap_err();
        assert!(err.contains("SendFrame"), "{err}");
    }

    #[test]
    fn quiet_run_catches_release_before_remove() {
        let err = quiet_run_with(Defect::ReleaseBeforeRemove).unwrap_err();
        assert!(err.contains("release while the VIP is present"), "{err}");
    }

    #[test]
    fn search_catches_each_planted_defect() {
        for (defect, expect) in [
            (Defect::AnnounceBeforeAdd, "SendFrame"),
            (Defect::ReleaseBeforeRemove, "release while"),
            (Defect::FenceFromResponse, "past its fence"),
            (Defect::StopAfterConflict, "after healing"),
        ] {
            let found =
                search(defect, 2_000).unwrap_or_else(|| panic!("{} not found", defect.name()));
            assert!(found.contains(expect), "{}: {found}", defect.name());
        }
    }
}
