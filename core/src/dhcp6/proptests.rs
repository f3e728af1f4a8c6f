//! Property tests of the DHCPv6 codec: messages round-trip, decoding arbitrary bytes never
//! panics, and whatever decodes re-encodes to the same message.

use std::net::Ipv6Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::message::{Dhcp6Message, MessageType};
use super::options::{ClientFqdn, Dhcp6Options, IaAddr, IaNa, StatusCode};

fn status() -> impl Strategy<Value = Option<StatusCode>> {
    proptest::option::of(
        (any::<u16>(), "[ -~]{0,40}").prop_map(|(code, message)| StatusCode { code, message }),
    )
}

fn ia_na() -> impl Strategy<Value = IaNa> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        vec(
            (any::<u128>(), any::<u32>(), any::<u32>(), status()).prop_map(|(a, p, v, s)| IaAddr {
                address: Ipv6Addr::from(a),
                preferred: p,
                valid: v,
                status: s,
            }),
            0..4,
        ),
        status(),
    )
        .prop_map(|(iaid, t1, t2, addresses, status)| IaNa {
            iaid,
            t1,
            t2,
            addresses,
            status,
        })
}

fn options() -> impl Strategy<Value = Dhcp6Options> {
    (
        proptest::option::of(vec(any::<u8>(), 0..40)),
        proptest::option::of(vec(any::<u8>(), 0..40)),
        vec(ia_na(), 0..3),
        vec(any::<u16>(), 0..8),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u16>()),
        status(),
        proptest::option::of((any::<u8>(), vec(any::<u8>(), 0..60))),
    )
        .prop_map(
            |(client_id, server_id, ia_na, oro, preference, elapsed, status, fqdn)| Dhcp6Options {
                client_id,
                server_id,
                ia_na,
                oro,
                preference,
                elapsed_time: elapsed,
                status,
                fqdn: fqdn.map(|(flags, name)| ClientFqdn { flags, name }),
            },
        )
}

fn message() -> impl Strategy<Value = Dhcp6Message> {
    (1u8..=11, 0u32..=0x00ff_ffff, options()).prop_map(|(kind, xid, options)| Dhcp6Message {
        kind: MessageType::from_code(kind).expect("1..=11 are defined"),
        xid,
        options,
    })
}

proptest! {
    #[test]
    fn messages_round_trip(m in message()) {
        prop_assert_eq!(Dhcp6Message::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_is_canonical(bytes in vec(any::<u8>(), 0..300)) {
        if let Ok(m) = Dhcp6Message::decode(&bytes) {
            prop_assert_eq!(Dhcp6Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn decoding_mutated_messages_never_panics(m in message(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = m.encode();
        let i = at % bytes.len();
        bytes[i] = byte;
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = Dhcp6Message::decode(&bytes);
    }

    #[test]
    fn host_names_survive_the_fqdn_option(host in "[a-z0-9][a-z0-9-]{0,20}(\\.[a-z0-9-]{1,20}){0,3}") {
        prop_assert_eq!(ClientFqdn::host(&host).text(), Some(host));
    }
}
