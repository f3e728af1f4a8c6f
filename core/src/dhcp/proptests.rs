//! Property tests of the DHCP codecs: options, messages and whole frames round-trip, decoders
//! never panic, and corrupted frames are refused by their checksums.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::frame::{self, internet_checksum, Addressing, SERVER_PORT};
use super::message::{DhcpMessage, BOOTREPLY, BOOTREQUEST};
use super::options::{DhcpOptions, MessageType};
use super::DhcpDecodeError;
use crate::wire::{MacAddr, ETH_HEADER_LEN};

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn message_type() -> impl Strategy<Value = MessageType> {
    (1u8..=8).prop_map(|c| MessageType::from_code(c).expect("1..=8 are defined"))
}

fn options() -> impl Strategy<Value = DhcpOptions> {
    (
        (
            proptest::option::of(message_type()),
            proptest::option::of(ip()),
            vec(ip(), 0..=63),
            proptest::option::of(vec(any::<u8>(), 1..=255)),
            proptest::option::of(ip()),
        ),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(ip()),
            vec(any::<u8>(), 0..=255),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(vec(any::<u8>(), 2..=255)),
        ),
    )
        .prop_map(
            |((mt, mask, routers, host, req), (lease, sid, prl, t1, t2, cid))| DhcpOptions {
                message_type: mt,
                subnet_mask: mask,
                routers,
                host_name: host,
                requested_ip: req,
                lease_time: lease,
                server_id: sid,
                parameter_request_list: prl,
                renewal_time: t1,
                rebinding_time: t2,
                client_id: cid,
            },
        )
}

fn message() -> impl Strategy<Value = DhcpMessage> {
    (
        prop_oneof![Just(BOOTREQUEST), Just(BOOTREPLY)],
        any::<u32>(),
        any::<u16>(),
        any::<bool>(),
        (ip(), ip(), ip(), ip()),
        any::<[u8; 6]>(),
        options(),
    )
        .prop_map(
            |(op, xid, secs, broadcast, (ciaddr, yiaddr, siaddr, giaddr), mac, options)| {
                DhcpMessage {
                    op,
                    xid,
                    secs,
                    broadcast,
                    ciaddr,
                    yiaddr,
                    siaddr,
                    giaddr,
                    chaddr: MacAddr(mac),
                    options,
                }
            },
        )
}

fn addressing() -> impl Strategy<Value = Addressing> {
    (any::<[u8; 6]>(), any::<[u8; 6]>(), ip(), ip()).prop_map(|(s, d, si, di)| Addressing {
        src_mac: MacAddr(s),
        dst_mac: MacAddr(d),
        src_ip: si,
        dst_ip: di,
    })
}

#[test]
fn checksum_matches_rfc_1071_example() {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
    let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(internet_checksum(0, &[&bytes]), !0xddf2);
    assert_eq!(internet_checksum(0, &[&bytes[..3], &bytes[3..]]), !0xddf2);
}

#[test]
fn options_reject_malformed_and_skip_unknown() {
    use DhcpDecodeError::*;
    assert_eq!(
        DhcpOptions::decode(&[51, 4, 0, 0]),
        Err(OptionOverrun { code: 51 })
    );
    assert_eq!(DhcpOptions::decode(&[1]), Err(OptionOverrun { code: 1 }));
    assert_eq!(
        DhcpOptions::decode(&[1, 3, 255, 255, 0]),
        Err(OptionLength { code: 1, len: 3 })
    );
    assert_eq!(
        DhcpOptions::decode(&[3, 5, 1, 2, 3, 4, 5]),
        Err(OptionLength { code: 3, len: 5 })
    );
    assert_eq!(DhcpOptions::decode(&[53, 1, 9]), Err(UnknownMessageType(9)));
    let opts = DhcpOptions::decode(&[0, 0, 43, 2, 7, 7, 53, 1, 5, 255, 1, 1]).unwrap();
    assert_eq!(
        opts.message_type,
        Some(MessageType::Ack),
        "pads and option 43 skipped"
    );
    assert_eq!(opts.subnet_mask, None, "nothing read after option 255");
}

#[test]
fn message_rejects_bootp_and_foreign_hardware() {
    let mut bytes = DhcpMessage::request(1, MacAddr([2; 6]), DhcpOptions::default()).encode();
    assert_eq!(bytes.len(), 300, "padded to BOOTP's minimum");
    bytes[1] = 6; // IEEE 802 token ring
    assert_eq!(
        DhcpMessage::decode(&bytes),
        Err(DhcpDecodeError::NotEthernet { htype: 6, hlen: 6 })
    );
    bytes[1] = 1;
    bytes[236] = 0;
    assert_eq!(
        DhcpMessage::decode(&bytes),
        Err(DhcpDecodeError::NoMagicCookie)
    );
    assert_eq!(
        DhcpMessage::decode(&bytes[..239]),
        Err(DhcpDecodeError::TooShort {
            needed: 240,
            got: 239
        })
    );
}

proptest! {
    #[test]
    fn options_round_trip(opts in options()) {
        let mut bytes = Vec::new();
        opts.encode(&mut bytes);
        prop_assert_eq!(DhcpOptions::decode(&bytes), Ok(opts));
    }

    #[test]
    fn message_round_trip(m in message()) {
        let bytes = m.encode();
        prop_assert!(bytes.len() >= 300);
        prop_assert_eq!(DhcpMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn frame_round_trip_with_valid_checksums(a in addressing(), m in message()) {
        let bytes = frame::encode(a, &m);
        let ip = &bytes[ETH_HEADER_LEN..ETH_HEADER_LEN + 20];
        prop_assert_eq!(internet_checksum(0, &[ip]), 0, "IPv4 header checksum");
        let r = frame::decode_for_port(&bytes, SERVER_PORT).unwrap();
        prop_assert_eq!(r.addressing, a);
        prop_assert_eq!(r.src_port, frame::CLIENT_PORT);
        prop_assert_eq!(&r.message, &m);
        prop_assert_eq!(frame::decode(&bytes), Err(DhcpDecodeError::WrongPort(SERVER_PORT)));
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0; 18]);
        prop_assert_eq!(frame::decode_for_port(&padded, SERVER_PORT).map(|r| r.message), Ok(m));
    }

    #[test]
    fn corrupted_payload_fails_the_udp_checksum(
        a in addressing(), m in message(), at in any::<prop::sample::Index>(), flip in 1u8..
    ) {
        let mut bytes = frame::encode(a, &m);
        let payload_start = ETH_HEADER_LEN + 28;
        let i = payload_start + at.index(bytes.len() - payload_start);
        bytes[i] ^= flip;
        prop_assert_eq!(
            frame::decode_for_port(&bytes, SERVER_PORT).map(|r| r.message),
            Err(DhcpDecodeError::BadUdpChecksum)
        );
    }

    #[test]
    fn whatever_decodes_re_encodes_to_itself(
        m in message(), junk in vec(any::<u8>(), 0..80), at in any::<prop::sample::Index>()
    ) {
        // Options overwritten by arbitrary bytes: refused, or decoded to a message that the
        // encoder writes back to the same message (nothing half-read slips through).
        let mut bytes = m.encode();
        let start = 240 + at.index(bytes.len() - 240);
        let end = (start + junk.len()).min(bytes.len());
        bytes[start..end].copy_from_slice(&junk[..end - start]);
        if let Ok(decoded) = DhcpMessage::decode(&bytes) {
            prop_assert_eq!(DhcpMessage::decode(&decoded.encode()), Ok(decoded));
        }
        prop_assert!(frame::decode(&junk).is_err(), "too short to be a frame");
    }

    #[test]
    fn truncated_frames_are_errors(a in addressing(), m in message(), cut in any::<prop::sample::Index>()) {
        let bytes = frame::encode(a, &m);
        let len = cut.index(bytes.len());
        prop_assert!(frame::decode_for_port(&bytes[..len], SERVER_PORT).is_err());
    }
}
