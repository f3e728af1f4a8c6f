//! Exact output sequences of a bound [`super::DhcpClient`]: renewing at T1 (unicast), rebinding
//! at T2 (broadcast), losing the address at lease end or on a NAK.

use std::net::Ipv4Addr;

use super::client::{DhcpOutput, DhcpState};
use super::client_tests::{
    assert_broadcast_from, at, bound, drain, lease_options, only_sent, reply, ADDRESS, MAC, SERVER,
    SERVER_MAC,
};
use super::config::Lease;
use super::frame::Addressing;
use super::options::{DhcpOptions, MessageType};

#[test]
fn t1_renews_by_unicast_and_the_ack_extends_the_lease() {
    let (mut c, lease, first_xid) = bound();
    c.handle_timeout(at(9_999));
    assert_eq!(drain(&mut c), vec![], "before T1 nothing happens");
    c.handle_timeout(at(10_000));
    let renew = only_sent(&drain(&mut c));
    let unicast = Addressing {
        src_mac: MAC,
        dst_mac: SERVER_MAC,
        src_ip: ADDRESS,
        dst_ip: SERVER,
    };
    assert_eq!(renew.addressing, unicast);
    assert_eq!(renew.message.ciaddr, ADDRESS);
    assert!(!renew.message.broadcast);
    assert_eq!(
        renew.message.options.message_type,
        Some(MessageType::Request)
    );
    assert_eq!(
        renew.message.options.requested_ip, None,
        "RFC 2131: no option 50 when renewing"
    );
    assert_eq!(
        renew.message.options.server_id, None,
        "RFC 2131: no option 54 when renewing"
    );
    assert_ne!(
        renew.message.xid, first_xid,
        "a renewal is a new transaction"
    );
    assert_eq!(c.state(), DhcpState::Renewing);
    // Retry at half the time left until T2 (20 s): at 15 s.
    assert_eq!(c.poll_timeout(), Some(at(15_000)));

    c.handle_frame(
        at(10_003),
        &reply(
            renew.message.xid,
            MessageType::Ack,
            ADDRESS,
            lease_options(),
        ),
    );
    let renewed = Lease {
        start: at(10_000),
        ..lease
    };
    assert_eq!(drain(&mut c), vec![DhcpOutput::Renewed(renewed)]);
    assert_eq!(c.state(), DhcpState::Bound);
    assert_eq!(
        c.poll_timeout(),
        Some(at(20_000)),
        "next T1 counts from the renewal"
    );
}

#[test]
fn t2_rebinds_by_broadcast_then_lease_end_expires_and_rediscovers() {
    let (mut c, _lease, _) = bound();
    c.handle_timeout(at(10_000));
    only_sent(&drain(&mut c));
    c.handle_timeout(at(15_000));
    let retry = only_sent(&drain(&mut c));
    assert_eq!(
        retry.addressing.dst_ip, SERVER,
        "still renewing with the server"
    );
    assert_eq!(c.poll_timeout(), Some(at(17_500)));
    c.handle_timeout(at(17_500));
    only_sent(&drain(&mut c));
    // Retries get closer to T2 but never more often than retransmit_initial; the last lands on T2.
    let mut renew_retries = 0;
    while c.poll_timeout() < Some(at(20_000)) {
        let t = c.poll_timeout().expect("timer");
        c.handle_timeout(t);
        only_sent(&drain(&mut c));
        renew_retries += 1;
        assert!(renew_retries < 20, "bounded");
    }
    assert_eq!(c.poll_timeout(), Some(at(20_000)));

    c.handle_timeout(at(20_000));
    let rebind = only_sent(&drain(&mut c));
    assert_broadcast_from(&rebind, ADDRESS);
    assert_eq!(rebind.message.ciaddr, ADDRESS);
    assert_eq!(rebind.message.options.server_id, None);
    assert_eq!(c.state(), DhcpState::Rebinding);
    assert_eq!(
        c.poll_timeout(),
        Some(at(70_000)),
        "half of the 100 s left until the lease ends"
    );

    let mut sends = 0;
    while c.poll_timeout() < Some(at(120_000)) {
        let t = c.poll_timeout().expect("timer");
        c.handle_timeout(t);
        assert_eq!(drain(&mut c).len(), 1);
        sends += 1;
        assert!(sends < 40, "bounded");
    }
    c.handle_timeout(at(120_000));
    let out = drain(&mut c);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0], DhcpOutput::Expired(ADDRESS));
    let discover = only_sent(&out[1..]);
    assert_eq!(
        discover.message.options.message_type,
        Some(MessageType::Discover)
    );
    assert_eq!(
        discover.message.options.requested_ip,
        Some(ADDRESS),
        "asks for the lost address"
    );
    assert_eq!(c.state(), DhcpState::Selecting);
    assert_eq!(c.lease(), None);
}

#[test]
fn ack_while_rebinding_renews() {
    let (mut c, lease, _) = bound();
    c.handle_timeout(at(10_000));
    drain(&mut c);
    while c.state() != DhcpState::Rebinding {
        let t = c.poll_timeout().expect("timer");
        c.handle_timeout(t);
        drain(&mut c);
    }
    let xid = {
        c.handle_timeout(c.poll_timeout().expect("timer"));
        only_sent(&drain(&mut c)).message.xid
    };
    c.handle_frame(
        at(71_000),
        &reply(xid, MessageType::Ack, ADDRESS, lease_options()),
    );
    let out = drain(&mut c);
    assert_eq!(
        out,
        vec![DhcpOutput::Renewed(Lease {
            start: at(20_000),
            ..lease
        })]
    );
    assert_eq!(c.state(), DhcpState::Bound);
}

#[test]
fn nak_while_renewing_expires_the_address() {
    let (mut c, _, _) = bound();
    c.handle_timeout(at(10_000));
    let xid = only_sent(&drain(&mut c)).message.xid;
    c.handle_frame(
        at(10_001),
        &reply(
            xid,
            MessageType::Nak,
            Ipv4Addr::UNSPECIFIED,
            DhcpOptions::default(),
        ),
    );
    assert_eq!(drain(&mut c), vec![DhcpOutput::Expired(ADDRESS)]);
    assert_eq!(c.state(), DhcpState::Init);
    assert_eq!(c.lease(), None);
}
