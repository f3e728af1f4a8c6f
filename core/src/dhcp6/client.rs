//! The RFC 8415 client state machine for one Service address, sans IO.
//!
//! ```text
//!  new ─> Soliciting ─ADVERTISE─> Requesting ─REPLY─> Bound ─T1─> Renewing ─T2─> Rebinding
//!            ^  (SOLICIT,            │ (REQUEST,        ^  ^       (RENEW,      │ (REBIND,
//!            │   backoff)            │  REQ_MAX_RC)     │  │        SERVERID)   │  no SERVERID)
//!            │                       │                  │  └──────REPLY────────┴─────┘
//!  Init <────┴── refused / no answer ┘                  │   NoBinding: REQUEST again
//!  (pause, then SOLICIT)          valid lifetime ends: Expired, SOLICIT
//!                                 release(): Released, RELEASE until REPLY or REL_MAX_RC
//! ```
//!
//! Drive it like every machine of the core: after [`Dhcp6Client::new`],
//! [`Dhcp6Client::handle_datagram`], [`Dhcp6Client::handle_timeout`] or
//! [`Dhcp6Client::release`], drain [`Dhcp6Client::poll_output`], then sleep until
//! [`Dhcp6Client::poll_timeout`]. Messages in and out are UDP payloads: the driver sends them
//! from the interface's link-local address, port 546, to ff02::1:2 port 547.
//!
//! Every retransmission sequence is bounded: SOLICIT backs off to MRT (and reports
//! [`Dhcp6Output::NoOffer`] once per round), REQUEST and RELEASE stop after MRC, RENEW stops at
//! T2 and REBIND when the valid lifetime ends.

use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::config::{Dhcp6ClientConfig, Lease6};
use super::message::{Dhcp6Message, MessageType};
use super::options::{IaNa, StatusKind};
use crate::rng::SeededRng;
use crate::time::Instant;
use crate::wire::MacAddr;

/// Where the client is in RFC 8415's exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dhcp6State {
    /// Waiting (after a refusal or an unanswered REQUEST) before soliciting again.
    Init,
    /// SOLICIT sent, waiting for an ADVERTISE.
    Soliciting,
    /// REQUEST sent to the chosen server, waiting for its REPLY.
    Requesting,
    /// Holding a lease, waiting for T1.
    Bound,
    /// Past T1: RENEW to the server that gave the lease.
    Renewing,
    /// Past T2: REBIND to any server.
    Rebinding,
    /// RELEASE sent, waiting for its REPLY (bounded by REL_MAX_RC).
    Releasing,
    /// Released (or stopped before binding); does nothing more.
    Released,
}

/// Work for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dhcp6Output {
    /// Send this DHCPv6 message (UDP payload) to ff02::1:2 port 547 (once; retransmissions come
    /// again).
    Send(Vec<u8>),
    /// A new address is held: configure it and announce it (once per acquisition).
    Bound(Lease6),
    /// The lease of the held address was extended (once per renewal).
    Renewed(Lease6),
    /// The address is lost (valid lifetime over, withdrawn, or refused): remove it (once).
    Expired(Ipv6Addr),
    /// The address was released by [`Dhcp6Client::release`]: remove it (once).
    Released(Ipv6Addr),
    /// This many SOLICITs went unanswered; soliciting goes on (once per round).
    NoOffer {
        /// SOLICITs of this round that went unanswered.
        attempts: u32,
    },
}

/// One DHCPv6 client: one DUID, one IA_NA, at most one address.
#[derive(Debug)]
pub struct Dhcp6Client {
    pub(super) config: Dhcp6ClientConfig,
    pub(super) duid: Vec<u8>,
    pub(super) rng: SeededRng,
    pub(super) state: Dhcp6State,
    pub(super) xid: u32,
    pub(super) exchange_start: Instant,
    pub(super) attempts: u32,
    pub(super) rt: Duration,
    pub(super) timer: Option<Instant>,
    /// The server (DUID) and address a REQUEST asks for.
    pub(super) selected: Option<(Vec<u8>, Ipv6Addr)>,
    pub(super) lease: Option<Lease6>,
    pub(super) hint: Option<Ipv6Addr>,
    pub(super) outputs: VecDeque<Dhcp6Output>,
    pub(super) ignored: u64,
}

impl Dhcp6Client {
    /// A client that sends its first SOLICIT at once.
    pub fn new(config: Dhcp6ClientConfig, now: Instant) -> Dhcp6Client {
        let mut client = Dhcp6Client {
            duid: config.duid(),
            rng: SeededRng::new(config.seed),
            hint: config.requested_address,
            config,
            state: Dhcp6State::Init,
            xid: 0,
            exchange_start: now,
            attempts: 0,
            rt: Duration::ZERO,
            timer: None,
            selected: None,
            lease: None,
            outputs: VecDeque::new(),
            ignored: 0,
        };
        client.solicit(now);
        client
    }

    /// A UDP payload received on port 546. Anything that is not an answer to the current
    /// transaction (other xid or client DUID, no server DUID, malformed, unexpected in the
    /// current state) is counted and dropped.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(m) = Dhcp6Message::decode(bytes) else {
            self.ignored += 1;
            return;
        };
        let ours = m.xid == self.xid
            && m.options.client_id.as_deref() == Some(self.duid.as_slice())
            && m.options.server_id.is_some();
        match (ours, self.state, m.kind) {
            (true, Dhcp6State::Soliciting, MessageType::Advertise) => self.on_advertise(now, &m),
            (true, Dhcp6State::Requesting, MessageType::Reply) => self.on_request_reply(now, &m),
            (true, Dhcp6State::Renewing | Dhcp6State::Rebinding, MessageType::Reply) => {
                self.on_renew_reply(now, &m)
            }
            (true, Dhcp6State::Releasing, MessageType::Reply) => {
                self.state = Dhcp6State::Released;
                self.timer = None;
            }
            _ => self.ignored += 1,
        }
    }

    /// The timer returned by [`poll_timeout`](Self::poll_timeout) is due (early calls do nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.timer {
            Some(t) if t <= now => {}
            _ => return,
        }
        self.timer = None;
        match self.state {
            Dhcp6State::Init => self.solicit(now),
            Dhcp6State::Soliciting => {
                self.attempts += 1;
                if self.attempts == self.config.report_after_attempts {
                    self.outputs.push_back(Dhcp6Output::NoOffer {
                        attempts: self.attempts,
                    });
                }
                self.retransmit(now, MessageType::Solicit, None);
            }
            Dhcp6State::Requesting => self.request_timeout(now),
            Dhcp6State::Bound | Dhcp6State::Renewing | Dhcp6State::Rebinding => {
                self.lease_timer(now)
            }
            Dhcp6State::Releasing => {
                self.attempts += 1;
                if self.attempts >= self.config.release.max_count.max(1) {
                    self.state = Dhcp6State::Released;
                } else {
                    self.retransmit(now, MessageType::Release, None);
                }
            }
            Dhcp6State::Released => {}
        }
    }

    /// Gives the address back when one is held: [`Dhcp6Output::Released`] (remove it), then
    /// RELEASE to the server until it answers or REL_MAX_RC is reached
    /// ([`state`](Self::state) is then [`Dhcp6State::Released`]). Without a lease the client
    /// is `Released` at once. Nothing else happens afterwards.
    pub fn release(&mut self, now: Instant) {
        self.timer = None;
        let Some(lease) = self.lease.take() else {
            self.state = Dhcp6State::Released;
            return;
        };
        // Stop using the address before the server may hand it to someone else.
        self.outputs.push_back(Dhcp6Output::Released(lease.address));
        self.selected = Some((lease.server_id, lease.address));
        self.state = Dhcp6State::Releasing;
        self.begin(now, MessageType::Release, None);
    }

    /// The next piece of work, `None` when there is none.
    pub fn poll_output(&mut self) -> Option<Dhcp6Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// The current state.
    pub fn state(&self) -> Dhcp6State {
        self.state
    }

    /// The lease held, if any.
    pub fn lease(&self) -> Option<&Lease6> {
        self.lease.as_ref()
    }

    /// The MAC the client's DUID names.
    pub fn mac(&self) -> MacAddr {
        self.config.mac
    }

    /// The client's DUID (DUID-LL of the MAC).
    pub fn duid(&self) -> &[u8] {
        &self.duid
    }

    /// Messages dropped so far (not ours, malformed, or unexpected in the current state).
    pub fn ignored_messages(&self) -> u64 {
        self.ignored
    }

    fn solicit(&mut self, now: Instant) {
        self.state = Dhcp6State::Soliciting;
        self.selected = None;
        self.begin(now, MessageType::Solicit, None);
    }

    fn restart_later(&mut self, now: Instant) {
        self.state = Dhcp6State::Init;
        self.selected = None;
        self.timer = Some(now + self.config.refused_backoff);
    }

    fn lose_lease(&mut self) {
        if let Some(lease) = self.lease.take() {
            self.hint = Some(lease.address);
            self.outputs.push_back(Dhcp6Output::Expired(lease.address));
        }
    }

    /// Our IA_NA in `m`, unless the message or the IA carries a status other than success.
    fn our_ia<'m>(&self, m: &'m Dhcp6Message) -> Result<&'m IaNa, Option<StatusKind>> {
        if let Some(s) = m.options.status.as_ref().filter(|s| s.code != 0) {
            return Err(Some(s.kind()));
        }
        let ia = m
            .options
            .ia_na
            .iter()
            .find(|ia| ia.iaid == self.config.iaid)
            .ok_or(None)?;
        match ia.status.as_ref().filter(|s| s.code != 0) {
            Some(s) => Err(Some(s.kind())),
            None => Ok(ia),
        }
    }

    /// The address of `ia` to take: `preferred` when offered with a valid lifetime, else the
    /// first such address.
    fn pick(ia: &IaNa, preferred: Option<Ipv6Addr>) -> Option<Ipv6Addr> {
        let usable = || ia.addresses.iter().filter(|a| a.valid > 0);
        usable()
            .find(|a| Some(a.address) == preferred)
            .or_else(|| usable().next())
            .map(|a| a.address)
    }

    fn on_advertise(&mut self, now: Instant, m: &Dhcp6Message) {
        let picked = self.our_ia(m).ok().and_then(|ia| Self::pick(ia, self.hint));
        let (Some(address), Some(server)) = (picked, m.options.server_id.clone()) else {
            self.ignored += 1; // NoAddrsAvail or no address: wait for another server
            return;
        };
        self.selected = Some((server, address));
        self.state = Dhcp6State::Requesting;
        self.begin(now, MessageType::Request, self.lease_end());
    }

    fn on_request_reply(&mut self, now: Instant, m: &Dhcp6Message) {
        let wanted = self.selected.as_ref().map(|(_, a)| *a);
        match self.our_ia(m) {
            Ok(ia) => match Self::pick(ia, wanted) {
                Some(address) => self.bind(now, ia, address, m),
                None => self.refused(now, None),
            },
            Err(kind) => self.refused(now, kind),
        }
    }

    /// The server would not give an address: drop any lease, pause, solicit again.
    fn refused(&mut self, now: Instant, kind: Option<StatusKind>) {
        self.lose_lease();
        if kind == Some(StatusKind::NotOnLink) {
            self.hint = None;
        }
        self.restart_later(now);
    }

    fn on_renew_reply(&mut self, now: Instant, m: &Dhcp6Message) {
        let Some(held) = self.lease.as_ref().map(|l| l.address) else {
            self.ignored += 1;
            return;
        };
        match self.our_ia(m) {
            Err(Some(StatusKind::NoBinding)) => {
                // The server forgot us (restart, lost lease file): ask for the address again.
                let server = m.options.server_id.clone().unwrap_or_default();
                self.selected = Some((server, held));
                self.state = Dhcp6State::Requesting;
                self.begin(now, MessageType::Request, self.lease_end());
            }
            Err(Some(StatusKind::NotOnLink)) => {
                self.lose_lease();
                self.hint = None;
                self.solicit(now);
            }
            Err(_) => self.ignored += 1, // keep retransmitting until T2 / the end of the lease
            Ok(ia) => match Self::pick(ia, Some(held)) {
                Some(address) => self.bind(now, ia, address, m),
                None if ia.addresses.iter().any(|a| a.address == held) => {
                    self.lose_lease(); // withdrawn: valid lifetime 0
                    self.solicit(now);
                }
                None => self.ignored += 1,
            },
        }
    }

    fn bind(&mut self, now: Instant, ia: &IaNa, address: Ipv6Addr, m: &Dhcp6Message) {
        let server = m.options.server_id.clone().unwrap_or_default();
        let Some(lease) = Lease6::from_ia(ia, address, server, self.exchange_start) else {
            self.ignored += 1;
            return;
        };
        let renewed = self.lease.as_ref().is_some_and(|l| l.address == address);
        if !renewed {
            self.lose_lease();
        }
        self.hint = Some(address);
        self.selected = None;
        self.state = Dhcp6State::Bound;
        self.timer = Some(lease.renew_at().max(now));
        self.lease = Some(lease.clone());
        self.outputs.push_back(if renewed {
            Dhcp6Output::Renewed(lease)
        } else {
            Dhcp6Output::Bound(lease)
        });
    }

    fn lease_end(&self) -> Option<Instant> {
        self.lease.as_ref().map(Lease6::expires_at)
    }

    fn request_timeout(&mut self, now: Instant) {
        if self.lease.is_some() {
            let bounded = self.attempts + 1 >= self.config.request.max_count.max(1);
            if bounded || self.lease_end().is_some_and(|end| now >= end) {
                return self.lease_timer(now); // back to renewing / rebinding, or expired
            }
        } else if self.attempts + 1 >= self.config.request.max_count.max(1) {
            return self.restart_later(now);
        }
        self.attempts += 1;
        self.retransmit(now, MessageType::Request, self.lease_end());
    }

    fn lease_timer(&mut self, now: Instant) {
        let Some(lease) = self.lease.clone() else {
            return self.solicit(now);
        };
        if now >= lease.expires_at() {
            self.lose_lease();
            self.solicit(now);
        } else if now >= lease.rebind_at() {
            self.renew_step(
                now,
                Dhcp6State::Rebinding,
                MessageType::Rebind,
                lease.expires_at(),
            );
        } else if now >= lease.renew_at() {
            self.renew_step(
                now,
                Dhcp6State::Renewing,
                MessageType::Renew,
                lease.rebind_at(),
            );
        } else {
            self.state = Dhcp6State::Bound;
            self.timer = Some(lease.renew_at());
        }
    }

    /// The first RENEW / REBIND of a new exchange, or a retransmission of the current one.
    fn renew_step(&mut self, now: Instant, state: Dhcp6State, kind: MessageType, until: Instant) {
        if self.state == state {
            self.attempts += 1;
            self.retransmit(now, kind, Some(until));
        } else {
            self.state = state;
            self.begin(now, kind, Some(until));
        }
    }
}
