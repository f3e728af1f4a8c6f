//! What a [`Dhcp6Client`] puts on the wire: SOLICIT, REQUEST, RENEW, REBIND and RELEASE with
//! the options RFC 8415 §18.2 lists for each, and their retransmission timing (§15).

use std::time::Duration;

use super::client::{Dhcp6Client, Dhcp6Output};
use super::config::{Retransmission, OPTION_REQUEST};
use super::message::{Dhcp6Message, MessageType, MAX_XID};
use super::options::{ClientFqdn, Dhcp6Options, IaAddr, IaNa};
use crate::time::Instant;

impl Dhcp6Client {
    /// Starts a new exchange (new xid, elapsed time from now) with its first message.
    pub(super) fn begin(&mut self, now: Instant, kind: MessageType, deadline: Option<Instant>) {
        self.xid = (self.rng.next_u64() as u32) & MAX_XID;
        self.exchange_start = now;
        self.attempts = 0;
        let p = self.params(kind);
        self.rt = self.first_timeout(p, kind == MessageType::Solicit);
        self.send(now, kind, deadline);
    }

    /// Sends the current exchange's message again after a longer timeout.
    pub(super) fn retransmit(
        &mut self,
        now: Instant,
        kind: MessageType,
        deadline: Option<Instant>,
    ) {
        let p = self.params(kind);
        self.rt = self.next_timeout(p, self.rt);
        self.send(now, kind, deadline);
    }

    fn send(&mut self, now: Instant, kind: MessageType, deadline: Option<Instant>) {
        let m = self.message(now, kind);
        self.outputs.push_back(Dhcp6Output::Send(m.encode()));
        let next = now + self.rt;
        self.timer = Some(deadline.map_or(next, |d| next.min(d)));
    }

    fn params(&self, kind: MessageType) -> Retransmission {
        match kind {
            MessageType::Request => self.config.request,
            MessageType::Renew => self.config.renew,
            MessageType::Rebind => self.config.rebind,
            MessageType::Release => self.config.release,
            _ => self.config.solicit,
        }
    }

    /// The message of `kind` for the current exchange.
    pub(super) fn message(&self, now: Instant, kind: MessageType) -> Dhcp6Message {
        let (server, address) = match kind {
            MessageType::Solicit => (None, self.hint),
            MessageType::Request | MessageType::Release => match &self.selected {
                Some((server, address)) => (Some(server.clone()), Some(*address)),
                None => (None, None),
            },
            MessageType::Renew => match &self.lease {
                Some(l) => (Some(l.server_id.clone()), Some(l.address)),
                None => (None, None),
            },
            _ => (None, self.lease.as_ref().map(|l| l.address)),
        };
        let hundredths = (now - self.exchange_start).as_millis() / 10;
        let releasing = kind == MessageType::Release;
        let options = Dhcp6Options {
            client_id: Some(self.duid.clone()),
            server_id: server,
            elapsed_time: Some(u16::try_from(hundredths).unwrap_or(u16::MAX)),
            oro: if releasing {
                Vec::new()
            } else {
                OPTION_REQUEST.to_vec()
            },
            ia_na: vec![IaNa {
                iaid: self.config.iaid,
                t1: 0,
                t2: 0,
                addresses: address
                    .map(|address| IaAddr {
                        address,
                        preferred: 0,
                        valid: 0,
                        status: None,
                    })
                    .into_iter()
                    .collect(),
                status: None,
            }],
            fqdn: match (&self.config.host_name, releasing) {
                (Some(host), false) => Some(ClientFqdn::host(host)),
                _ => None,
            },
            ..Dhcp6Options::default()
        };
        Dhcp6Message {
            kind,
            xid: self.xid,
            options,
        }
    }

    /// RFC 8415 §15: `IRT + RAND·IRT`, RAND uniform in [-0.1, 0.1]; strictly positive for the
    /// first SOLICIT.
    fn first_timeout(&mut self, p: Retransmission, solicit: bool) -> Duration {
        let permille = if solicit {
            1 + self.rng.below(100) as i64
        } else {
            self.rng.below(201) as i64 - 100
        };
        jitter(p.initial, permille)
    }

    /// RFC 8415 §15: `2·RTprev + RAND·RTprev`, or `MRT + RAND·MRT` once past MRT.
    fn next_timeout(&mut self, p: Retransmission, previous: Duration) -> Duration {
        let permille = self.rng.below(201) as i64 - 100;
        // 2·RTprev + RAND·RTprev = RTprev + (RTprev + RAND·RTprev)
        let rt = previous.saturating_add(jitter(previous, permille));
        if !p.max.is_zero() && rt > p.max {
            jitter(p.max, permille)
        } else {
            rt
        }
    }
}

/// `base + base · permille / 1000`.
fn jitter(base: Duration, permille: i64) -> Duration {
    let delta = base * permille.unsigned_abs() as u32 / 1000;
    if permille < 0 {
        base.saturating_sub(delta)
    } else {
        base.saturating_add(delta)
    }
}
