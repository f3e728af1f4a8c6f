//! Exact output sequences of [`DhcpClient`] for each transition, against a scripted server.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::client::{DhcpClient, DhcpOutput, DhcpState};
use super::config::{DhcpClientConfig, Lease};
use super::frame::{self, Addressing, ReceivedMessage, UdpChecksum, CLIENT_PORT, SERVER_PORT};
use super::message::{DhcpMessage, BOOTREPLY};
use super::options::{DhcpOptions, MessageType};
use crate::time::Instant;
use crate::wire::MacAddr;

pub(super) const MAC: MacAddr = MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0xaa]);
pub(super) const SERVER_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x13]);
pub(super) const SERVER: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 13);
pub(super) const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 156);
pub(super) const WANTED: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 170);
pub(super) const INITIAL: Duration = Duration::from_millis(100);
pub(super) const MAX: Duration = Duration::from_millis(800);

pub(super) fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

pub(super) fn config() -> DhcpClientConfig {
    DhcpClientConfig {
        host_name: Some("svc-one".into()),
        requested_ip: Some(WANTED),
        retransmit_initial: INITIAL,
        retransmit_max: MAX,
        seed: 42,
        ..DhcpClientConfig::new(MAC)
    }
}

pub(super) fn drain(c: &mut DhcpClient) -> Vec<DhcpOutput> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// The one frame `outputs` must consist of, decoded as the server sees it.
pub(super) fn only_sent(outputs: &[DhcpOutput]) -> ReceivedMessage {
    match outputs {
        [DhcpOutput::Send(bytes)] => {
            frame::decode_for_port(bytes, SERVER_PORT).expect("valid frame")
        }
        other => panic!("expected exactly one Send, got {other:?}"),
    }
}

pub(super) fn assert_broadcast_from(r: &ReceivedMessage, src_ip: Ipv4Addr) {
    let a = Addressing {
        src_mac: MAC,
        dst_mac: MacAddr::BROADCAST,
        src_ip,
        dst_ip: Ipv4Addr::BROADCAST,
    };
    assert_eq!(r.addressing, a);
    assert_eq!(r.src_port, CLIENT_PORT);
    assert_eq!(r.message.chaddr, MAC);
    assert_eq!(
        r.message.options.client_id,
        Some(vec![1, 2, 0x42, 0x0a, 0xfa, 0, 0xaa])
    );
    assert_eq!(
        r.message.options.host_name.as_deref(),
        Some(&b"svc-one"[..])
    );
}

pub(super) fn reply(
    xid: u32,
    kind: MessageType,
    yiaddr: Ipv4Addr,
    options: DhcpOptions,
) -> Vec<u8> {
    let mut m = DhcpMessage::request(xid, MAC, options);
    m.op = BOOTREPLY;
    m.yiaddr = yiaddr;
    m.options.message_type = Some(kind);
    m.options.server_id = Some(SERVER);
    let a = Addressing {
        src_mac: SERVER_MAC,
        dst_mac: MacAddr::BROADCAST,
        src_ip: SERVER,
        dst_ip: Ipv4Addr::BROADCAST,
    };
    frame::encode_udp(a, SERVER_PORT, CLIENT_PORT, &m.encode())
}

pub(super) fn lease_options() -> DhcpOptions {
    DhcpOptions {
        subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
        routers: vec![Ipv4Addr::new(10, 250, 0, 1)],
        lease_time: Some(120),
        renewal_time: Some(10),
        rebinding_time: Some(20),
        ..DhcpOptions::default()
    }
}

/// Drives a fresh client to Bound at 5 ms; returns it, the lease, and the DISCOVER's xid.
pub(super) fn bound() -> (DhcpClient, Lease, u32) {
    let mut c = DhcpClient::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).message.xid;
    c.handle_frame(
        at(2),
        &reply(xid, MessageType::Offer, ADDRESS, DhcpOptions::default()),
    );
    only_sent(&drain(&mut c));
    c.handle_frame(
        at(5),
        &reply(xid, MessageType::Ack, ADDRESS, lease_options()),
    );
    let lease = match drain(&mut c).as_slice() {
        [DhcpOutput::Bound(l)] => l.clone(),
        other => panic!("expected Bound, got {other:?}"),
    };
    (c, lease, xid)
}

#[test]
fn discover_offer_request_ack_binds() {
    let mut c = DhcpClient::new(config(), at(0));
    let discover = only_sent(&drain(&mut c));
    assert_broadcast_from(&discover, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        discover.message.options.message_type,
        Some(MessageType::Discover)
    );
    assert!(
        discover.message.broadcast,
        "no address yet: answer by broadcast"
    );
    assert_eq!(
        discover.message.options.requested_ip,
        Some(WANTED),
        "option 50 from requestedIP"
    );
    assert_eq!(c.state(), DhcpState::Selecting);
    let t = c.poll_timeout().expect("retransmission timer");
    assert!(
        t >= at(0) + INITIAL * 7 / 8 && t <= at(0) + INITIAL * 9 / 8,
        "{t}"
    );

    let xid = discover.message.xid;
    c.handle_frame(
        at(2),
        &reply(xid, MessageType::Offer, ADDRESS, DhcpOptions::default()),
    );
    let request = only_sent(&drain(&mut c));
    assert_broadcast_from(&request, Ipv4Addr::UNSPECIFIED);
    assert_eq!(request.message.xid, xid);
    assert_eq!(
        request.message.options.message_type,
        Some(MessageType::Request)
    );
    assert_eq!(request.message.options.requested_ip, Some(ADDRESS));
    assert_eq!(request.message.options.server_id, Some(SERVER));
    assert_eq!(c.state(), DhcpState::Requesting);

    c.handle_frame(
        at(5),
        &reply(xid, MessageType::Ack, ADDRESS, lease_options()),
    );
    let expected = Lease {
        address: ADDRESS,
        prefix_len: 24,
        router: Some(Ipv4Addr::new(10, 250, 0, 1)),
        server: SERVER,
        server_mac: SERVER_MAC,
        lease_time: Duration::from_secs(120),
        t1: Duration::from_secs(10),
        t2: Duration::from_secs(20),
        start: at(0),
    };
    assert_eq!(drain(&mut c), vec![DhcpOutput::Bound(expected.clone())]);
    assert_eq!(c.state(), DhcpState::Bound);
    assert_eq!(c.lease(), Some(&expected));
    assert_eq!(c.poll_timeout(), Some(at(10_000)), "T1");
}

#[test]
fn replies_for_other_transactions_or_macs_are_ignored() {
    let mut c = DhcpClient::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).message.xid;
    c.handle_frame(
        at(1),
        &reply(xid ^ 1, MessageType::Offer, ADDRESS, DhcpOptions::default()),
    );
    let mut other_mac = reply(xid, MessageType::Offer, ADDRESS, DhcpOptions::default());
    other_mac[14 + 28 + 28 + 5] ^= 1; // chaddr's last byte (the UDP checksum then fails too)
    c.handle_frame(at(1), &other_mac);
    c.handle_frame(
        at(1),
        &reply(xid, MessageType::Ack, ADDRESS, lease_options()),
    );
    assert_eq!(drain(&mut c), vec![]);
    assert_eq!(c.state(), DhcpState::Selecting);
    assert_eq!(c.ignored_frames(), 3);
}

#[test]
fn nak_while_requesting_pauses_then_starts_over() {
    let mut c = DhcpClient::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).message.xid;
    c.handle_frame(
        at(2),
        &reply(xid, MessageType::Offer, ADDRESS, DhcpOptions::default()),
    );
    drain(&mut c);
    c.handle_frame(
        at(4),
        &reply(
            xid,
            MessageType::Nak,
            Ipv4Addr::UNSPECIFIED,
            DhcpOptions::default(),
        ),
    );
    assert_eq!(drain(&mut c), vec![]);
    assert_eq!(c.state(), DhcpState::Init);
    assert_eq!(c.poll_timeout(), Some(at(4) + INITIAL));
    c.handle_timeout(at(104));
    let discover = only_sent(&drain(&mut c));
    assert_eq!(
        discover.message.options.message_type,
        Some(MessageType::Discover)
    );
    assert_ne!(discover.message.xid, xid);
    assert_eq!(c.state(), DhcpState::Selecting);
}

#[test]
fn discover_backoff_doubles_up_to_the_bound_and_reports_once() {
    let mut c = DhcpClient::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).message.xid;
    let mut now = at(0);
    let mut reports = Vec::new();
    for attempt in 1..=8u32 {
        let due = c.poll_timeout().expect("timer");
        let base = (INITIAL * (1 << (attempt - 1))).min(MAX);
        let gap = due - now;
        assert!(
            gap >= base * 7 / 8 && gap <= base * 9 / 8,
            "attempt {attempt}: {gap:?} vs {base:?}"
        );
        now = due;
        c.handle_timeout(now);
        let out = drain(&mut c);
        let (sends, others): (Vec<_>, Vec<_>) = out
            .into_iter()
            .partition(|o| matches!(o, DhcpOutput::Send(_)));
        let sent = only_sent(&sends);
        assert_eq!(
            sent.message.xid, xid,
            "retransmissions keep the transaction"
        );
        assert_eq!(
            sent.message.secs,
            u16::try_from((now - at(0)).as_secs()).unwrap()
        );
        reports.extend(others.into_iter().map(|o| (attempt, o)));
    }
    assert_eq!(reports, vec![(3, DhcpOutput::NoOffer { attempts: 3 })]);
}

#[test]
fn unanswered_requests_go_back_to_discover() {
    let mut c = DhcpClient::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).message.xid;
    c.handle_frame(
        at(1),
        &reply(xid, MessageType::Offer, ADDRESS, DhcpOptions::default()),
    );
    drain(&mut c);
    for _ in 1..4 {
        c.handle_timeout(c.poll_timeout().expect("timer"));
        let r = only_sent(&drain(&mut c));
        assert_eq!(r.message.options.message_type, Some(MessageType::Request));
    }
    c.handle_timeout(c.poll_timeout().expect("timer"));
    let d = only_sent(&drain(&mut c));
    assert_eq!(d.message.options.message_type, Some(MessageType::Discover));
    assert_ne!(d.message.xid, xid);
}

#[test]
fn release_sends_release_when_bound_and_stops() {
    let (mut c, _, _) = bound();
    c.release(at(6_000));
    let out = drain(&mut c);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(
        out[0],
        DhcpOutput::Released(ADDRESS),
        "the address goes before the lease"
    );
    let release = only_sent(&out[1..]);
    assert_eq!(
        release.message.options.message_type,
        Some(MessageType::Release)
    );
    assert_eq!(release.message.ciaddr, ADDRESS);
    assert_eq!(release.message.options.server_id, Some(SERVER));
    assert_eq!(release.addressing.dst_mac, SERVER_MAC);
    assert_eq!(release.addressing.dst_ip, SERVER);
    assert_eq!((c.state(), c.poll_timeout()), (DhcpState::Released, None));

    let mut unbound = DhcpClient::new(config(), at(0));
    drain(&mut unbound);
    unbound.release(at(1));
    assert_eq!(drain(&mut unbound), vec![]);
    assert_eq!(unbound.state(), DhcpState::Released);
}

#[test]
fn same_seed_same_frames() {
    let run = |seed| {
        let mut c = DhcpClient::new(DhcpClientConfig { seed, ..config() }, at(0));
        let mut frames = drain(&mut c);
        for _ in 0..3 {
            c.handle_timeout(c.poll_timeout().expect("timer"));
            frames.extend(drain(&mut c));
        }
        (frames, c.poll_timeout())
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn checksum_not_ready_frames_are_taken_only_when_the_kernel_says_so() {
    let mut c = DhcpClient::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).message.xid;
    let mut offer = reply(xid, MessageType::Offer, ADDRESS, DhcpOptions::default());
    offer[14 + 20 + 6] ^= 0x5a; // as a sender relying on checksum offload leaves it
    c.handle_frame(at(1), &offer);
    assert_eq!((drain(&mut c), c.state()), (vec![], DhcpState::Selecting));
    c.handle_frame_with(at(1), &offer, UdpChecksum::NotReady);
    let request = only_sent(&drain(&mut c));
    assert_eq!(request.message.options.requested_ip, Some(ADDRESS));
    assert_eq!(c.state(), DhcpState::Requesting);
}
