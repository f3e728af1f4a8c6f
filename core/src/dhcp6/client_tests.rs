//! Exact output sequences of [`Dhcp6Client`] for each transition, against a scripted server.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::client::{Dhcp6Client, Dhcp6Output, Dhcp6State};
use super::config::{Dhcp6ClientConfig, Lease6, Retransmission};
use super::message::{Dhcp6Message, MessageType};
use super::options::{Dhcp6Options, IaAddr, IaNa, StatusCode, OPT_CLIENT_FQDN};
use crate::time::Instant;
use crate::wire::MacAddr;

const MAC: MacAddr = MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0xaa]);
const DUID: [u8; 10] = [0, 3, 0, 1, 0x02, 0x42, 0x0a, 0xfa, 0x00, 0xaa];
const IAID: u32 = 0x0afa_00aa;
const SERVER: [u8; 4] = [0, 1, 0xaa, 0xbb];
const OTHER_SERVER: [u8; 4] = [0, 1, 0xcc, 0xdd];
const ADDRESS: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x156);
const WANTED: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x205, 0, 0, 0, 0, 0, 0x170);
const BACKOFF: Duration = Duration::from_millis(500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

fn retrans(initial: u64, max: u64, count: u32) -> Retransmission {
    Retransmission {
        initial: ms(initial),
        max: ms(max),
        max_count: count,
    }
}

fn config() -> Dhcp6ClientConfig {
    Dhcp6ClientConfig {
        host_name: Some("svc-one".into()),
        requested_address: Some(WANTED),
        solicit: retrans(100, 800, 0),
        request: retrans(100, 800, 4),
        renew: retrans(1000, 4000, 0),
        rebind: retrans(1000, 4000, 0),
        release: retrans(100, 100, 3),
        refused_backoff: BACKOFF,
        seed: 42,
        ..Dhcp6ClientConfig::new(MAC)
    }
}

fn drain(c: &mut Dhcp6Client) -> Vec<Dhcp6Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// The one message `outputs` must consist of, decoded as the server sees it.
fn only_sent(outputs: &[Dhcp6Output]) -> Dhcp6Message {
    match outputs {
        [Dhcp6Output::Send(bytes)] => Dhcp6Message::decode(bytes).expect("valid message"),
        other => panic!("expected exactly one Send, got {other:?}"),
    }
}

fn ia(t1: u32, t2: u32, addresses: &[(Ipv6Addr, u32, u32)]) -> IaNa {
    IaNa {
        iaid: IAID,
        t1,
        t2,
        addresses: addresses
            .iter()
            .map(|&(address, preferred, valid)| IaAddr {
                address,
                preferred,
                valid,
                status: None,
            })
            .collect(),
        status: None,
    }
}

fn status(code: u16) -> Option<StatusCode> {
    Some(StatusCode {
        code,
        message: "from the test".into(),
    })
}

fn answer(kind: MessageType, xid: u32, server: &[u8], ia_na: Vec<IaNa>) -> Vec<u8> {
    Dhcp6Message {
        kind,
        xid,
        options: Dhcp6Options {
            client_id: Some(DUID.to_vec()),
            server_id: Some(server.to_vec()),
            ia_na,
            ..Dhcp6Options::default()
        },
    }
    .encode()
}

fn lease_ia(address: Ipv6Addr) -> IaNa {
    ia(10, 20, &[(address, 60, 120)])
}

/// Drives a fresh client to Bound at 5 ms; returns it and the lease.
fn bound() -> (Dhcp6Client, Lease6) {
    let mut c = Dhcp6Client::new(config(), at(0));
    let solicit = only_sent(&drain(&mut c));
    c.handle_datagram(
        at(2),
        &answer(
            MessageType::Advertise,
            solicit.xid,
            &SERVER,
            vec![lease_ia(ADDRESS)],
        ),
    );
    let request = only_sent(&drain(&mut c));
    c.handle_datagram(
        at(5),
        &answer(
            MessageType::Reply,
            request.xid,
            &SERVER,
            vec![lease_ia(ADDRESS)],
        ),
    );
    let lease = match drain(&mut c).as_slice() {
        [Dhcp6Output::Bound(l)] => l.clone(),
        other => panic!("expected Bound, got {other:?}"),
    };
    (c, lease)
}

/// Advances a bound client to its first RENEW; returns the RENEW.
fn renewing(c: &mut Dhcp6Client) -> Dhcp6Message {
    let t1 = c.poll_timeout().expect("T1 timer");
    c.handle_timeout(t1);
    only_sent(&drain(c))
}

#[test]
fn solicit_carries_duid_ia_with_hint_fqdn_oro_and_no_server() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let m = only_sent(&drain(&mut c));
    assert_eq!(m.kind, MessageType::Solicit);
    assert!(m.xid <= 0x00ff_ffff);
    assert_eq!(m.options.client_id, Some(DUID.to_vec()));
    assert_eq!(m.options.server_id, None);
    assert_eq!(m.options.elapsed_time, Some(0));
    assert_eq!(m.options.oro, vec![OPT_CLIENT_FQDN]);
    assert_eq!(m.options.ia_na, vec![ia(0, 0, &[(WANTED, 0, 0)])]);
    assert_eq!(
        m.options.fqdn.and_then(|f| f.text()).as_deref(),
        Some("svc-one")
    );
    // First SOLICIT timeout: IRT + RAND·IRT with RAND strictly positive (RFC 8415 §15).
    let t = c.poll_timeout().unwrap() - at(0);
    assert!(t > ms(100) && t <= ms(110), "{t:?}");
    assert_eq!(c.state(), Dhcp6State::Soliciting);
}

#[test]
fn solicit_without_hint_has_an_empty_ia_na() {
    let cfg = Dhcp6ClientConfig {
        requested_address: None,
        host_name: None,
        ..config()
    };
    let mut c = Dhcp6Client::new(cfg, at(0));
    let m = only_sent(&drain(&mut c));
    assert_eq!(m.options.ia_na, vec![ia(0, 0, &[])]);
    assert_eq!(m.options.fqdn, None);
}

#[test]
fn solicit_backs_off_doubling_to_mrt_same_xid_and_reports_no_offer_once() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let first = only_sent(&drain(&mut c));
    let (mut prev_at, mut prev_rt) = (at(0), None::<Duration>);
    let mut no_offer = 0;
    for _ in 0..10 {
        let due = c.poll_timeout().unwrap();
        let rt = due - prev_at;
        if let Some(p) = prev_rt {
            let doubled = p * 2;
            let low = (doubled - p / 10).min(ms(720));
            let high = (doubled + p / 10).min(ms(880));
            assert!(rt >= low && rt <= high, "rt {rt:?} after {p:?}");
        }
        assert!(rt <= ms(880), "bounded by MRT + 10%: {rt:?}");
        c.handle_timeout(due);
        let outs = drain(&mut c);
        let sends: Vec<_> = outs
            .iter()
            .filter_map(|o| match o {
                Dhcp6Output::Send(b) => Some(Dhcp6Message::decode(b).unwrap()),
                _ => None,
            })
            .collect();
        no_offer += outs
            .iter()
            .filter(|o| matches!(o, Dhcp6Output::NoOffer { attempts: 3 }))
            .count();
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].xid, first.xid, "retransmissions keep the xid");
        let elapsed = Duration::from_millis(u64::from(sends[0].options.elapsed_time.unwrap()) * 10);
        assert!(due - at(0) - elapsed < ms(10), "elapsed time counts");
        (prev_at, prev_rt) = (due, Some(rt));
    }
    assert_eq!(no_offer, 1, "NoOffer once per round");
}

#[test]
fn advertise_leads_to_request_for_the_offered_address_from_that_server() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let solicit = only_sent(&drain(&mut c));
    c.handle_datagram(
        at(3),
        &answer(
            MessageType::Advertise,
            solicit.xid,
            &SERVER,
            vec![lease_ia(ADDRESS)],
        ),
    );
    let r = only_sent(&drain(&mut c));
    assert_eq!(c.state(), Dhcp6State::Requesting);
    assert_eq!(r.kind, MessageType::Request);
    assert_ne!(r.xid, solicit.xid, "a new exchange");
    assert_eq!(r.options.server_id, Some(SERVER.to_vec()));
    assert_eq!(r.options.client_id, Some(DUID.to_vec()));
    assert_eq!(r.options.ia_na, vec![ia(0, 0, &[(ADDRESS, 0, 0)])]);
    assert_eq!(r.options.elapsed_time, Some(0));
    let t = c.poll_timeout().unwrap() - at(3);
    assert!(t >= ms(90) && t <= ms(110), "REQ_TIMEOUT ± 10%: {t:?}");
}

#[test]
fn advertise_of_the_hinted_address_is_preferred() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let solicit = only_sent(&drain(&mut c));
    let offer = ia(10, 20, &[(ADDRESS, 60, 120), (WANTED, 60, 120)]);
    c.handle_datagram(
        at(3),
        &answer(MessageType::Advertise, solicit.xid, &SERVER, vec![offer]),
    );
    let r = only_sent(&drain(&mut c));
    assert_eq!(r.options.ia_na[0].addresses[0].address, WANTED);
}

#[test]
fn advertises_that_are_not_ours_or_offer_nothing_are_ignored() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).xid;
    let mut no_addrs = lease_ia(ADDRESS);
    no_addrs.status = status(2);
    let mut other_client = Dhcp6Message::decode(&answer(
        MessageType::Advertise,
        xid,
        &SERVER,
        vec![lease_ia(ADDRESS)],
    ))
    .unwrap();
    other_client.options.client_id = Some(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9]);
    let mut other_iaid = lease_ia(ADDRESS);
    other_iaid.iaid = 1;
    for bytes in [
        answer(
            MessageType::Advertise,
            xid ^ 1,
            &SERVER,
            vec![lease_ia(ADDRESS)],
        ),
        answer(MessageType::Advertise, xid, &SERVER, vec![no_addrs]),
        answer(MessageType::Advertise, xid, &SERVER, vec![other_iaid]),
        answer(
            MessageType::Advertise,
            xid,
            &SERVER,
            vec![ia(1, 2, &[(ADDRESS, 0, 0)])],
        ),
        answer(MessageType::Reply, xid, &SERVER, vec![lease_ia(ADDRESS)]),
        other_client.encode(),
        vec![2, 0, 0],
    ] {
        c.handle_datagram(at(4), &bytes);
    }
    assert_eq!(drain(&mut c), vec![]);
    assert_eq!(c.state(), Dhcp6State::Soliciting);
    assert_eq!(c.ignored_messages(), 7);
}

#[test]
fn reply_binds_with_the_servers_times_counted_from_the_request() {
    let (c, lease) = bound();
    assert_eq!(c.state(), Dhcp6State::Bound);
    assert_eq!(lease.address, ADDRESS);
    assert_eq!(lease.server_id, SERVER.to_vec());
    assert_eq!(lease.iaid, IAID);
    assert_eq!(
        (lease.t1, lease.t2),
        (Duration::from_secs(10), Duration::from_secs(20))
    );
    assert_eq!(
        (lease.preferred, lease.valid),
        (Duration::from_secs(60), Duration::from_secs(120))
    );
    assert_eq!(lease.start, at(2), "the REQUEST went out at 2 ms");
    assert_eq!(c.poll_timeout(), Some(at(2) + Duration::from_secs(10)));
}

#[test]
fn reply_with_no_addrs_avail_backs_off_then_solicits_again() {
    for refusal in ["message", "ia"] {
        let mut c = Dhcp6Client::new(config(), at(0));
        let xid = only_sent(&drain(&mut c)).xid;
        c.handle_datagram(
            at(2),
            &answer(
                MessageType::Advertise,
                xid,
                &SERVER,
                vec![lease_ia(ADDRESS)],
            ),
        );
        let request = only_sent(&drain(&mut c));
        let mut m = Dhcp6Message::decode(&answer(MessageType::Reply, request.xid, &SERVER, vec![]))
            .unwrap();
        if refusal == "message" {
            m.options.status = status(2);
        } else {
            let mut refused = ia(0, 0, &[]);
            refused.status = status(2);
            m.options.ia_na = vec![refused];
        }
        c.handle_datagram(at(5), &m.encode());
        assert_eq!(drain(&mut c), vec![], "{refusal}");
        assert_eq!(c.state(), Dhcp6State::Init);
        assert_eq!(c.poll_timeout(), Some(at(5) + BACKOFF));
        c.handle_timeout(at(5) + BACKOFF);
        let s = only_sent(&drain(&mut c));
        assert_eq!(s.kind, MessageType::Solicit);
        assert_eq!(s.options.ia_na[0].addresses[0].address, WANTED, "hint kept");
    }
}

#[test]
fn unanswered_request_gives_up_after_mrc_and_solicits_later() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).xid;
    c.handle_datagram(
        at(2),
        &answer(
            MessageType::Advertise,
            xid,
            &SERVER,
            vec![lease_ia(ADDRESS)],
        ),
    );
    let request = only_sent(&drain(&mut c));
    let mut requests = 1;
    let mut now = at(2);
    while c.state() == Dhcp6State::Requesting {
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        for o in drain(&mut c) {
            let Dhcp6Output::Send(b) = o else {
                panic!("{o:?}")
            };
            let m = Dhcp6Message::decode(&b).unwrap();
            assert_eq!((m.kind, m.xid), (MessageType::Request, request.xid));
            requests += 1;
        }
        assert!(requests <= 4);
    }
    assert_eq!(requests, 4, "REQ_MAX_RC");
    assert_eq!(c.state(), Dhcp6State::Init);
    assert_eq!(c.poll_timeout(), Some(now + BACKOFF));
}

#[test]
fn renew_at_t1_goes_to_the_server_and_its_reply_extends_the_lease() {
    let (mut c, lease) = bound();
    let t1 = lease.renew_at();
    c.handle_timeout(at(2) + Duration::from_millis(9_999));
    assert_eq!(drain(&mut c), vec![], "early timeouts do nothing");
    let renew = renewing(&mut c);
    assert_eq!(c.state(), Dhcp6State::Renewing);
    assert_eq!(renew.kind, MessageType::Renew);
    assert_eq!(renew.options.server_id, Some(SERVER.to_vec()));
    assert_eq!(renew.options.ia_na, vec![ia(0, 0, &[(ADDRESS, 0, 0)])]);
    assert_eq!(
        renew.options.fqdn.and_then(|f| f.text()).as_deref(),
        Some("svc-one")
    );
    c.handle_datagram(
        t1 + ms(3),
        &answer(
            MessageType::Reply,
            renew.xid,
            &SERVER,
            vec![lease_ia(ADDRESS)],
        ),
    );
    let renewed = match drain(&mut c).as_slice() {
        [Dhcp6Output::Renewed(l)] => l.clone(),
        other => panic!("expected Renewed, got {other:?}"),
    };
    assert_eq!(renewed.start, t1);
    assert_eq!(c.state(), Dhcp6State::Bound);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(10)));
}

#[test]
fn renew_retransmits_until_t2_then_rebinds_without_server_id() {
    let (mut c, lease) = bound();
    let renew = renewing(&mut c);
    let mut renews = 1;
    loop {
        let due = c.poll_timeout().unwrap();
        assert!(due <= lease.rebind_at(), "RENEW's MRD is T2");
        c.handle_timeout(due);
        let m = only_sent(&drain(&mut c));
        if m.kind == MessageType::Rebind {
            assert_eq!(due, lease.rebind_at());
            assert_ne!(m.xid, renew.xid);
            assert_eq!(m.options.server_id, None);
            assert_eq!(m.options.ia_na, vec![ia(0, 0, &[(ADDRESS, 0, 0)])]);
            break;
        }
        assert_eq!((m.kind, m.xid), (MessageType::Renew, renew.xid));
        renews += 1;
        assert!(renews < 20);
    }
    assert!(renews >= 3, "1 s, 2 s, 4 s… fit in 10 s: {renews}");
    assert_eq!(c.state(), Dhcp6State::Rebinding);
    let rebind_xid = c.xid;
    c.handle_datagram(
        lease.rebind_at() + ms(1),
        &answer(
            MessageType::Reply,
            rebind_xid,
            &OTHER_SERVER,
            vec![lease_ia(ADDRESS)],
        ),
    );
    match drain(&mut c).as_slice() {
        [Dhcp6Output::Renewed(l)] => assert_eq!(l.server_id, OTHER_SERVER.to_vec()),
        other => panic!("expected Renewed, got {other:?}"),
    }
}

#[test]
fn the_valid_lifetime_ending_removes_the_address_and_solicits_with_it_as_hint() {
    let (mut c, lease) = bound();
    let mut now = lease.start;
    let mut sends = 0;
    while c.state() != Dhcp6State::Soliciting {
        now = c.poll_timeout().unwrap();
        assert!(now <= lease.expires_at());
        c.handle_timeout(now);
        let outs = drain(&mut c);
        if c.state() == Dhcp6State::Soliciting {
            assert_eq!(outs[0], Dhcp6Output::Expired(ADDRESS));
            let s = only_sent(&outs[1..]);
            assert_eq!(s.kind, MessageType::Solicit);
            assert_eq!(s.options.ia_na[0].addresses[0].address, ADDRESS);
        }
        sends += 1;
        assert!(sends < 100, "bounded");
    }
    assert_eq!(now, lease.expires_at());
    assert_eq!(c.lease(), None);
}

#[test]
fn no_binding_on_renew_requests_the_address_again() {
    let (mut c, lease) = bound();
    let renew = renewing(&mut c);
    let mut forgot = ia(0, 0, &[]);
    forgot.status = status(3);
    let now = lease.renew_at() + ms(2);
    c.handle_datagram(
        now,
        &answer(MessageType::Reply, renew.xid, &SERVER, vec![forgot]),
    );
    let r = only_sent(&drain(&mut c));
    assert_eq!(c.state(), Dhcp6State::Requesting);
    assert_eq!(r.kind, MessageType::Request);
    assert_eq!(r.options.server_id, Some(SERVER.to_vec()));
    assert_eq!(r.options.ia_na, vec![ia(0, 0, &[(ADDRESS, 0, 0)])]);
    assert_eq!(
        c.lease().map(|l| l.address),
        Some(ADDRESS),
        "still held meanwhile"
    );
    c.handle_datagram(
        now + ms(2),
        &answer(MessageType::Reply, r.xid, &SERVER, vec![lease_ia(ADDRESS)]),
    );
    assert!(matches!(drain(&mut c).as_slice(), [Dhcp6Output::Renewed(l)] if l.start == now));
    assert_eq!(c.state(), Dhcp6State::Bound);
}

#[test]
fn unspecified_failure_on_renew_keeps_retransmitting() {
    let (mut c, lease) = bound();
    let renew = renewing(&mut c);
    let mut m =
        Dhcp6Message::decode(&answer(MessageType::Reply, renew.xid, &SERVER, vec![])).unwrap();
    m.options.status = status(1);
    c.handle_datagram(lease.renew_at() + ms(1), &m.encode());
    assert_eq!(drain(&mut c), vec![]);
    assert_eq!(c.state(), Dhcp6State::Renewing);
    assert_eq!(c.ignored_messages(), 1);
}

#[test]
fn a_withdrawn_address_is_removed_and_a_new_one_replaces_it() {
    let (mut c, lease) = bound();
    let renew = renewing(&mut c);
    let now = lease.renew_at() + ms(1);
    let swap = ia(10, 20, &[(ADDRESS, 0, 0), (WANTED, 60, 120)]);
    c.handle_datagram(
        now,
        &answer(MessageType::Reply, renew.xid, &SERVER, vec![swap]),
    );
    match drain(&mut c).as_slice() {
        [Dhcp6Output::Expired(old), Dhcp6Output::Bound(new)] => {
            assert_eq!((*old, new.address), (ADDRESS, WANTED));
        }
        other => panic!("expected Expired then Bound, got {other:?}"),
    }

    let (mut c, lease) = bound();
    let renew = renewing(&mut c);
    let gone = ia(10, 20, &[(ADDRESS, 0, 0)]);
    c.handle_datagram(
        lease.renew_at() + ms(1),
        &answer(MessageType::Reply, renew.xid, &SERVER, vec![gone]),
    );
    let outs = drain(&mut c);
    assert_eq!(outs[0], Dhcp6Output::Expired(ADDRESS));
    assert_eq!(only_sent(&outs[1..]).kind, MessageType::Solicit);
}

#[test]
fn zero_t1_t2_from_the_server_mean_half_and_four_fifths_of_preferred() {
    let mut c = Dhcp6Client::new(config(), at(0));
    let xid = only_sent(&drain(&mut c)).xid;
    let zero = ia(0, 0, &[(ADDRESS, 100, 200)]);
    c.handle_datagram(
        at(1),
        &answer(MessageType::Advertise, xid, &SERVER, vec![zero.clone()]),
    );
    let r = only_sent(&drain(&mut c));
    c.handle_datagram(
        at(2),
        &answer(MessageType::Reply, r.xid, &SERVER, vec![zero]),
    );
    let Some(lease) = c.lease().cloned() else {
        panic!("bound")
    };
    assert_eq!(
        (lease.t1, lease.t2),
        (Duration::from_secs(50), Duration::from_secs(80))
    );
    assert_eq!(c.poll_timeout(), Some(at(1) + Duration::from_secs(50)));
}

#[test]
fn release_removes_first_then_sends_release_until_the_reply() {
    let (mut c, lease) = bound();
    c.release(at(100));
    let outs = drain(&mut c);
    assert_eq!(outs[0], Dhcp6Output::Released(ADDRESS));
    let m = only_sent(&outs[1..]);
    assert_eq!(m.kind, MessageType::Release);
    assert_eq!(m.options.server_id, Some(lease.server_id.clone()));
    assert_eq!(m.options.ia_na, vec![ia(0, 0, &[(ADDRESS, 0, 0)])]);
    assert!(m.options.oro.is_empty() && m.options.fqdn.is_none());
    assert_eq!(c.state(), Dhcp6State::Releasing);
    c.handle_datagram(at(101), &answer(MessageType::Reply, m.xid, &SERVER, vec![]));
    assert_eq!(c.state(), Dhcp6State::Released);
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.lease(), None);
}

#[test]
fn unanswered_release_stops_after_rel_max_rc() {
    let (mut c, _) = bound();
    c.release(at(100));
    let mut releases = drain(&mut c).len() - 1;
    while let Some(due) = c.poll_timeout() {
        c.handle_timeout(due);
        releases += drain(&mut c).len();
        assert!(releases <= 3);
    }
    assert_eq!(releases, 3);
    assert_eq!(c.state(), Dhcp6State::Released);
}

#[test]
fn release_before_a_lease_just_stops() {
    let mut c = Dhcp6Client::new(config(), at(0));
    drain(&mut c);
    c.release(at(1));
    assert_eq!(drain(&mut c), vec![]);
    assert_eq!((c.state(), c.poll_timeout()), (Dhcp6State::Released, None));
    c.handle_timeout(at(10_000));
    assert_eq!(drain(&mut c), vec![]);
}
