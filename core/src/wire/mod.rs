//! Wire codecs for the frames kvip puts on the link to announce a virtual IP.
//!
//! This module owns the byte layout of those frames and nothing else: the gratuitous ARP
//! request used for IPv4 VIPs ([`arp`]), the unsolicited ICMPv6 neighbour advertisement used
//! for IPv6 VIPs ([`ndp`]), the [`MacAddr`] type they share, and [`DecodeError`]. Encoding and
//! decoding are pure functions over byte slices; sending and receiving is the driver's job.
//! The announcement forms are byte-exact with the frames keepalived sends.

pub mod arp;
pub mod ndp;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Length of an Ethernet II header: destination, source, ethertype.
pub const ETH_HEADER_LEN: usize = 14;
/// Ethertype of ARP frames.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethertype of IPv6 frames.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// A 48-bit Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The Ethernet broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The six address bytes, in transmission order.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Error returned when a string is not a MAC address of the form `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six colon-separated hex bytes")]
pub struct ParseMacError(pub String);

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Parses six colon-separated groups of one or two hex digits, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

/// Why a byte slice could not be decoded as an announcement frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends before the `needed` bytes the frame requires.
    #[error("frame too short: need {needed} bytes, got {got}")]
    TooShort {
        /// Bytes required to decode up to the point of failure.
        needed: usize,
        /// Bytes actually available.
        got: usize,
    },
    /// The Ethernet ethertype is not the one this decoder handles.
    #[error("unexpected ethertype {0:#06x}")]
    WrongEtherType(u16),
    /// The ARP hardware type is not Ethernet (1).
    #[error("ARP hardware type {0} is not Ethernet (1)")]
    ArpHardwareType(u16),
    /// The ARP protocol type is not IPv4 (0x0800).
    #[error("ARP protocol type {0:#06x} is not IPv4 (0x0800)")]
    ArpProtocolType(u16),
    /// The ARP address lengths are not 6 (hardware) and 4 (protocol).
    #[error("ARP address lengths {hlen}/{plen}, expected 6/4")]
    ArpAddressLengths {
        /// Hardware address length field.
        hlen: u8,
        /// Protocol address length field.
        plen: u8,
    },
    /// The IPv6 header's version field is not 6.
    #[error("IP version {0} in an IPv6 frame")]
    NotIpv6(u8),
    /// The IPv6 next header is not ICMPv6 (58).
    #[error("IPv6 next header {0} is not ICMPv6 (58)")]
    NotIcmpv6(u8),
    /// The IPv6 payload length is too small to hold a neighbour advertisement.
    #[error("IPv6 payload length {0} is too small for a neighbour advertisement")]
    PayloadTooShort(u16),
    /// The ICMPv6 message is not a neighbour advertisement (type 136, code 0).
    #[error("ICMPv6 type {icmp_type} code {code} is not a neighbour advertisement")]
    NotNeighborAdvert {
        /// ICMPv6 type field.
        icmp_type: u8,
        /// ICMPv6 code field.
        code: u8,
    },
    /// The ICMPv6 checksum does not match the pseudo-header and message.
    #[error("ICMPv6 checksum {found:#06x}, expected {expected:#06x}")]
    BadChecksum {
        /// Checksum computed over the received bytes.
        expected: u16,
        /// Checksum carried in the packet.
        found: u16,
    },
    /// An NDP option at this offset into the ICMPv6 message is empty, overruns, or malformed.
    #[error("malformed NDP option at ICMPv6 offset {offset}")]
    BadOption {
        /// Byte offset of the option within the ICMPv6 message.
        offset: usize,
    },
}

/// Fails with [`DecodeError::TooShort`] unless `bytes` holds at least `needed` bytes.
fn need(bytes: &[u8], needed: usize) -> Result<(), DecodeError> {
    if bytes.len() < needed {
        Err(DecodeError::TooShort {
            needed,
            got: bytes.len(),
        })
    } else {
        Ok(())
    }
}

/// Reads the big-endian `u16` at `at`; the caller has checked the length.
fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Copies the six bytes at `at` into a [`MacAddr`]; the caller has checked the length.
fn mac_at(bytes: &[u8], at: usize) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&bytes[at..at + 6]);
    MacAddr(m)
}

/// Writes an Ethernet II header.
fn put_eth(out: &mut Vec<u8>, dst: MacAddr, src: MacAddr, ethertype: u16) {
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// A decoded announcement frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An ARP packet (IPv4).
    Arp(arp::ArpPacket),
    /// An ICMPv6 neighbour advertisement (IPv6).
    NeighborAdvert(ndp::NeighborAdvert),
}

impl Frame {
    /// Encodes the frame to its Ethernet bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Frame::Arp(p) => p.encode(),
            Frame::NeighborAdvert(p) => p.encode(),
        }
    }
}

/// Decodes an Ethernet frame, dispatching on its ethertype to ARP or neighbour advertisement.
pub fn decode(bytes: &[u8]) -> Result<Frame, DecodeError> {
    need(bytes, ETH_HEADER_LEN)?;
    match be16(bytes, 12) {
        ETHERTYPE_ARP => arp::ArpPacket::decode(bytes).map(Frame::Arp),
        ETHERTYPE_IPV6 => ndp::NeighborAdvert::decode(bytes).map(Frame::NeighborAdvert),
        other => Err(DecodeError::WrongEtherType(other)),
    }
}

/// The frame announcing that `mac` now owns `ip`: a gratuitous ARP request for IPv4, an
/// unsolicited neighbour advertisement for IPv6.
pub fn announcement(mac: MacAddr, ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => arp::gratuitous(mac, v4).encode(),
        IpAddr::V6(v6) => ndp::unsolicited(mac, v6).encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn mac_display_and_parse() {
        let mac = MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b]);
        assert_eq!(mac.to_string(), "02:42:0a:fa:00:0b");
        assert_eq!("02:42:0A:FA:0:b".parse::<MacAddr>(), Ok(mac));
        assert_eq!(MacAddr::BROADCAST.to_string(), "ff:ff:ff:ff:ff:ff");
        for bad in [
            "",
            "02:42:0a:fa:00",
            "02:42:0a:fa:00:0b:01",
            "02:42:0a:fa:00:+b",
            "02-42-0a-fa-00-0b",
            "02:42:0a:fa::0b",
            "002:42:0a:fa:00:0b",
        ] {
            assert_eq!(
                bad.parse::<MacAddr>(),
                Err(ParseMacError(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn decode_rejects_short_and_unknown_ethertype() {
        assert_eq!(
            decode(&[0u8; 13]),
            Err(DecodeError::TooShort {
                needed: 14,
                got: 13
            })
        );
        let mut frame = announcement(
            MacAddr([2, 0, 0, 0, 0, 1]),
            Ipv4Addr::new(10, 0, 0, 1).into(),
        );
        frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(decode(&frame), Err(DecodeError::WrongEtherType(0x0800)));
    }

    proptest! {
        #[test]
        fn mac_string_round_trip(bytes in any::<[u8; 6]>()) {
            let mac = MacAddr(bytes);
            prop_assert_eq!(mac.to_string().parse::<MacAddr>(), Ok(mac));
        }

        #[test]
        fn announcement_decodes_to_gratuitous_arp(mac in any::<[u8; 6]>(), ip in any::<u32>()) {
            let (mac, ip) = (MacAddr(mac), Ipv4Addr::from(ip));
            let frame = decode(&announcement(mac, ip.into())).unwrap();
            prop_assert_eq!(&frame, &Frame::Arp(arp::gratuitous(mac, ip)));
            let Frame::Arp(p) = frame else { unreachable!() };
            prop_assert!(p.is_gratuitous());
        }

        #[test]
        fn announcement_decodes_to_unsolicited_na(mac in any::<[u8; 6]>(), ip in any::<u128>()) {
            let (mac, ip) = (MacAddr(mac), Ipv6Addr::from(ip));
            let frame = decode(&announcement(mac, ip.into())).unwrap();
            prop_assert_eq!(&frame, &Frame::NeighborAdvert(ndp::unsolicited(mac, ip)));
            prop_assert_eq!(frame.encode(), announcement(mac, ip.into()));
        }
    }
}
