//! The RFC 2131 client state machine for one Service address, sans IO.
//!
//! ```text
//!  new ─> Selecting ──OFFER──> Requesting ──ACK──> Bound ──T1──> Renewing ──T2──> Rebinding
//!            ^  (DISCOVER,        │ (REQUEST,        ^  ^  (unicast REQUEST)  │ (broadcast REQUEST)
//!            │   backoff)         │  backoff)        │  └───────ACK─────────┴──────────┘
//!            │                    NAK / no answer    │
//!  Init <────┴────────────────────┘                  │     NAK or lease end: Expired, Init
//!  (pause, then DISCOVER)                            release(): RELEASE, Released (final)
//! ```
//!
//! Drive it like every machine of the core: after [`DhcpClient::new`], [`DhcpClient::handle_frame`],
//! [`DhcpClient::handle_timeout`] or [`DhcpClient::release`], drain [`DhcpClient::poll_output`],
//! then sleep until [`DhcpClient::poll_timeout`].

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::config::{DhcpClientConfig, Lease};
use super::frame::{self, ReceivedMessage, UdpChecksum};
use super::message::BOOTREPLY;
use super::options::MessageType;
use crate::rng::SeededRng;
use crate::time::Instant;
use crate::wire::MacAddr;

/// Where the client is in RFC 2131's diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpState {
    /// Waiting (after a NAK or a lost lease) before discovering again.
    Init,
    /// DISCOVER sent, waiting for an OFFER.
    Selecting,
    /// REQUEST for an offer sent, waiting for ACK / NAK.
    Requesting,
    /// Holding a lease, waiting for T1.
    Bound,
    /// Past T1: unicast REQUESTs to the server that gave the lease.
    Renewing,
    /// Past T2: broadcast REQUESTs to any server.
    Rebinding,
    /// Released (or stopped before binding); does nothing more.
    Released,
}

/// Work for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpOutput {
    /// Send this Ethernet frame on the client's interface (once; retransmissions come again).
    Send(Vec<u8>),
    /// A new address is held: configure it and announce it (once per acquisition).
    Bound(Lease),
    /// The lease of the held address was extended (once per renewal).
    Renewed(Lease),
    /// The address is lost (lease end or NAK): remove it (once).
    Expired(Ipv4Addr),
    /// The address was released by [`DhcpClient::release`]: remove it (once).
    Released(Ipv4Addr),
    /// This many DISCOVERs went unanswered; discovery goes on (once per acquisition round).
    NoOffer {
        /// DISCOVERs of this round that went unanswered.
        attempts: u32,
    },
}

/// One DHCP client: one MAC, at most one address.
#[derive(Debug)]
pub struct DhcpClient {
    pub(super) config: DhcpClientConfig,
    pub(super) rng: SeededRng,
    pub(super) state: DhcpState,
    pub(super) xid: u32,
    pub(super) exchange_start: Instant,
    pub(super) attempts: u32,
    pub(super) timer: Option<Instant>,
    pub(super) offer: Option<(Ipv4Addr, Ipv4Addr)>,
    pub(super) lease: Option<Lease>,
    pub(super) hint: Option<Ipv4Addr>,
    pub(super) outputs: VecDeque<DhcpOutput>,
    pub(super) ignored: u64,
}

impl DhcpClient {
    /// A client that sends its first DISCOVER at once.
    pub fn new(config: DhcpClientConfig, now: Instant) -> DhcpClient {
        let mut client = DhcpClient {
            rng: SeededRng::new(config.seed),
            hint: config.requested_ip,
            config,
            state: DhcpState::Init,
            xid: 0,
            exchange_start: now,
            attempts: 0,
            timer: None,
            offer: None,
            lease: None,
            outputs: VecDeque::new(),
            ignored: 0,
        };
        client.discover(now);
        client
    }

    /// A frame received on the interface. Anything that is not a reply to our current
    /// transaction (other xid or chaddr, bad checksum, not for port 68) is counted and dropped.
    pub fn handle_frame(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_frame_with(now, bytes, UdpChecksum::Verify);
    }

    /// Like [`handle_frame`](Self::handle_frame) for a frame whose UDP checksum the kernel says
    /// is not filled in yet ([`UdpChecksum::NotReady`]: a server on the same host).
    pub fn handle_frame_with(&mut self, now: Instant, bytes: &[u8], checksum: UdpChecksum) {
        let Ok(received) = frame::decode_received(bytes, frame::CLIENT_PORT, checksum) else {
            self.ignored += 1;
            return;
        };
        let m = &received.message;
        if m.op != BOOTREPLY || m.xid != self.xid || m.chaddr != self.config.mac {
            self.ignored += 1;
            return;
        }
        match (self.state, m.options.message_type) {
            (DhcpState::Selecting, Some(MessageType::Offer)) => self.on_offer(now, &received),
            (DhcpState::Requesting, Some(MessageType::Ack)) => self.on_ack(now, &received),
            (DhcpState::Requesting, Some(MessageType::Nak)) => {
                let from = m.options.server_id;
                if from.is_none() || from == self.offer.map(|(_, server)| server) {
                    self.restart_later(now);
                } else {
                    self.ignored += 1;
                }
            }
            (DhcpState::Renewing | DhcpState::Rebinding, Some(MessageType::Ack)) => {
                self.on_ack(now, &received)
            }
            (DhcpState::Renewing | DhcpState::Rebinding, Some(MessageType::Nak)) => {
                self.lose_lease();
                self.restart_later(now);
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
            DhcpState::Init => self.discover(now),
            DhcpState::Selecting => {
                self.attempts += 1;
                if self.attempts == self.config.report_after_attempts {
                    self.outputs.push_back(DhcpOutput::NoOffer {
                        attempts: self.attempts,
                    });
                }
                self.send_discover(now);
            }
            DhcpState::Requesting => {
                self.attempts += 1;
                if self.attempts >= self.config.request_attempts {
                    self.discover(now);
                } else {
                    self.send_selecting_request(now);
                }
            }
            DhcpState::Bound | DhcpState::Renewing | DhcpState::Rebinding => self.lease_timer(now),
            DhcpState::Released => {}
        }
    }

    /// Gives the address back when one is held: [`DhcpOutput::Released`] (remove it), then a
    /// DHCPRELEASE to the server. The client does nothing afterwards.
    pub fn release(&mut self, now: Instant) {
        if let Some(lease) = self.lease.take() {
            // Stop using the address before the server may hand it to someone else.
            self.outputs.push_back(DhcpOutput::Released(lease.address));
            self.send_release(&lease);
        }
        let _ = now; // sent at once; `now` keeps the shape of the other commands
        self.state = DhcpState::Released;
        self.timer = None;
    }

    /// The next piece of work, `None` when there is none.
    pub fn poll_output(&mut self) -> Option<DhcpOutput> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// The current state.
    pub fn state(&self) -> DhcpState {
        self.state
    }

    /// The lease held, if any.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// The MAC the client uses.
    pub fn mac(&self) -> MacAddr {
        self.config.mac
    }

    /// Frames dropped so far (not ours, malformed, or unexpected in the current state).
    pub fn ignored_frames(&self) -> u64 {
        self.ignored
    }

    fn discover(&mut self, now: Instant) {
        self.state = DhcpState::Selecting;
        self.new_exchange(now);
        self.offer = None;
        self.send_discover(now);
    }

    fn new_exchange(&mut self, now: Instant) {
        self.xid = self.rng.next_u64() as u32;
        self.exchange_start = now;
        self.attempts = 0;
    }

    fn restart_later(&mut self, now: Instant) {
        self.state = DhcpState::Init;
        self.offer = None;
        self.timer = Some(now + self.config.retransmit_initial);
    }

    fn lose_lease(&mut self) {
        if let Some(lease) = self.lease.take() {
            self.hint = Some(lease.address);
            self.outputs.push_back(DhcpOutput::Expired(lease.address));
        }
    }

    fn on_offer(&mut self, now: Instant, r: &ReceivedMessage) {
        let server = r.message.options.server_id.unwrap_or(r.addressing.src_ip);
        if r.message.yiaddr.is_unspecified() || server.is_unspecified() {
            self.ignored += 1;
            return;
        }
        self.offer = Some((r.message.yiaddr, server));
        self.state = DhcpState::Requesting;
        self.attempts = 0;
        self.send_selecting_request(now);
    }

    fn on_ack(&mut self, now: Instant, r: &ReceivedMessage) {
        let previous = self.lease.as_ref().map(|l| (l.address, l.server));
        let Some(lease) = Lease::from_ack(r, self.exchange_start, previous.map(|(_, s)| s)) else {
            self.ignored += 1;
            return;
        };
        let renewed = previous.is_some_and(|(address, _)| address == lease.address);
        if !renewed {
            self.lose_lease();
        }
        self.hint = Some(lease.address);
        self.state = DhcpState::Bound;
        self.timer = Some(lease.renew_at().max(now));
        self.lease = Some(lease.clone());
        self.outputs.push_back(if renewed {
            DhcpOutput::Renewed(lease)
        } else {
            DhcpOutput::Bound(lease)
        });
    }

    fn lease_timer(&mut self, now: Instant) {
        let Some(lease) = self.lease.clone() else {
            self.discover(now);
            return;
        };
        if now >= lease.expires_at() {
            self.lose_lease();
            self.discover(now);
        } else if now >= lease.rebind_at() {
            if self.state != DhcpState::Rebinding {
                self.state = DhcpState::Rebinding;
                self.new_exchange(now);
            }
            self.send_lease_request(now, &lease, lease.expires_at());
        } else if now >= lease.renew_at() {
            if self.state != DhcpState::Renewing {
                self.state = DhcpState::Renewing;
                self.new_exchange(now);
            }
            self.send_lease_request(now, &lease, lease.rebind_at());
        } else {
            self.timer = Some(lease.renew_at());
        }
    }
}
