//! What a [`DhcpClient`] puts on the wire: DISCOVER, REQUEST (selecting, renewing, rebinding)
//! and RELEASE, each addressed as RFC 2131 §4.4 says, and the retransmission backoff.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::client::{DhcpClient, DhcpOutput, DhcpState};
use super::config::{Lease, PARAMETER_REQUEST_LIST};
use super::frame::{self, Addressing};
use super::message::DhcpMessage;
use super::options::{DhcpOptions, MessageType};
use crate::time::Instant;
use crate::wire::MacAddr;

impl DhcpClient {
    pub(super) fn send_release(&mut self, lease: &Lease) {
        let mut options = self.base_options(MessageType::Release);
        options.parameter_request_list.clear();
        options.host_name = None;
        options.server_id = Some(lease.server);
        let mut m = DhcpMessage::request(self.rng.next_u64() as u32, self.config.mac, options);
        m.ciaddr = lease.address;
        self.send(m, lease.address, lease.server, lease.server_mac);
    }

    pub(super) fn base_options(&self, message_type: MessageType) -> DhcpOptions {
        DhcpOptions {
            message_type: Some(message_type),
            client_id: Some(self.config.client_identifier()),
            host_name: self.config.host_name.clone().map(String::into_bytes),
            parameter_request_list: PARAMETER_REQUEST_LIST.to_vec(),
            ..DhcpOptions::default()
        }
    }

    pub(super) fn send_discover(&mut self, now: Instant) {
        let mut options = self.base_options(MessageType::Discover);
        options.requested_ip = self.hint;
        self.broadcast(now, options, Ipv4Addr::UNSPECIFIED);
        self.timer = Some(now + self.backoff());
    }

    pub(super) fn send_selecting_request(&mut self, now: Instant) {
        let Some((address, server)) = self.offer else {
            return;
        };
        let mut options = self.base_options(MessageType::Request);
        options.requested_ip = Some(address);
        options.server_id = Some(server);
        self.broadcast(now, options, Ipv4Addr::UNSPECIFIED);
        self.timer = Some(now + self.backoff());
    }

    /// A REQUEST while renewing (unicast to the server) or rebinding (broadcast), retried at half
    /// the time left until `deadline` but not more often than `retransmit_initial`.
    pub(super) fn send_lease_request(&mut self, now: Instant, lease: &Lease, deadline: Instant) {
        let options = self.base_options(MessageType::Request);
        if self.state == DhcpState::Renewing {
            let mut m = self.message(now, options);
            m.ciaddr = lease.address;
            self.send(m, lease.address, lease.server, lease.server_mac);
        } else {
            self.broadcast(now, options, lease.address);
        }
        let wait = ((deadline - now) / 2).max(self.config.retransmit_initial);
        self.timer = Some((now + wait).min(deadline));
    }

    pub(super) fn message(&self, now: Instant, options: DhcpOptions) -> DhcpMessage {
        let mut m = DhcpMessage::request(self.xid, self.config.mac, options);
        m.secs = u16::try_from((now - self.exchange_start).as_secs()).unwrap_or(u16::MAX);
        m
    }

    /// Broadcast from `ciaddr` (0.0.0.0 before a lease, with the broadcast flag).
    pub(super) fn broadcast(&mut self, now: Instant, options: DhcpOptions, ciaddr: Ipv4Addr) {
        let mut m = self.message(now, options);
        m.ciaddr = ciaddr;
        m.broadcast = ciaddr.is_unspecified();
        self.send(m, ciaddr, Ipv4Addr::BROADCAST, MacAddr::BROADCAST);
    }

    pub(super) fn send(
        &mut self,
        m: DhcpMessage,
        src_ip: Ipv4Addr,
        dst_ip: Ipv4Addr,
        dst_mac: MacAddr,
    ) {
        let addressing = Addressing {
            src_mac: self.config.mac,
            dst_mac,
            src_ip,
            dst_ip,
        };
        self.outputs
            .push_back(DhcpOutput::Send(frame::encode(addressing, &m)));
    }

    /// `min(initial · 2^attempts, max)`, moved by up to ±1/8 of itself from the seeded jitter.
    pub(super) fn backoff(&mut self) -> Duration {
        let shift = self.attempts.min(20);
        let base = self
            .config
            .retransmit_initial
            .saturating_mul(1 << shift)
            .min(self.config.retransmit_max);
        let spread = u64::try_from((base / 8).as_nanos()).unwrap_or(u64::MAX);
        let offset = self.rng.below(spread.saturating_mul(2).saturating_add(1));
        (base + Duration::from_nanos(offset)).saturating_sub(Duration::from_nanos(spread))
    }
}
