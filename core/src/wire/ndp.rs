//! ICMPv6 neighbour advertisements over Ethernet (RFC 4861 §4.4), and the unsolicited
//! advertisement that announces an IPv6 VIP.

use std::net::Ipv6Addr;

use super::{be16, mac_at, need, put_eth, DecodeError, MacAddr, ETHERTYPE_IPV6, ETH_HEADER_LEN};

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// IPv6 next-header value for ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// ICMPv6 type of a neighbour advertisement.
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// Length of a neighbour advertisement without options: type, code, checksum, flags, target.
pub const NA_LEN: usize = 24;
/// NDP option type carrying the target link-layer address.
pub const OPT_TARGET_LINK_ADDR: u8 = 2;
/// The link-local all-nodes multicast address `ff02::1`.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet multicast address of [`ALL_NODES`], `33:33:00:00:00:01`.
pub const ALL_NODES_MAC: MacAddr = MacAddr([0x33, 0x33, 0, 0, 0, 1]);

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;
const ICMP_START: usize = ETH_HEADER_LEN + IPV6_HEADER_LEN;

/// A neighbour advertisement together with its Ethernet and IPv6 header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborAdvert {
    /// Ethernet destination address.
    pub eth_dst: MacAddr,
    /// Ethernet source address.
    pub eth_src: MacAddr,
    /// IPv6 source address.
    pub src_ip: Ipv6Addr,
    /// IPv6 destination address.
    pub dst_ip: Ipv6Addr,
    /// IPv6 hop limit; receivers per RFC 4861 require 255, but the codec keeps it as data.
    pub hop_limit: u8,
    /// Router flag (R): the sender is a router.
    pub router: bool,
    /// Solicited flag (S): the advertisement answers a solicitation.
    pub solicited: bool,
    /// Override flag (O): the advertisement should replace cached link-layer addresses.
    pub override_flag: bool,
    /// The address being advertised.
    pub target: Ipv6Addr,
    /// The target link-layer address option, if present.
    pub target_link_addr: Option<MacAddr>,
}

impl NeighborAdvert {
    /// Encodes the advertisement as an Ethernet frame with a computed ICMPv6 checksum:
    /// 86 bytes with a target link-layer address option, 78 without.
    pub fn encode(&self) -> Vec<u8> {
        let icmp_len = NA_LEN + 8 * usize::from(self.target_link_addr.is_some());
        let mut out = Vec::with_capacity(ICMP_START + icmp_len);
        put_eth(&mut out, self.eth_dst, self.eth_src, ETHERTYPE_IPV6);
        out.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow label 0
        out.extend_from_slice(&(icmp_len as u16).to_be_bytes());
        out.extend_from_slice(&[NEXT_HEADER_ICMPV6, self.hop_limit]);
        out.extend_from_slice(&self.src_ip.octets());
        out.extend_from_slice(&self.dst_ip.octets());
        let flags = (u8::from(self.router) * FLAG_ROUTER)
            | (u8::from(self.solicited) * FLAG_SOLICITED)
            | (u8::from(self.override_flag) * FLAG_OVERRIDE);
        out.extend_from_slice(&[ICMPV6_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0]);
        out.extend_from_slice(&self.target.octets());
        if let Some(mac) = self.target_link_addr {
            out.extend_from_slice(&[OPT_TARGET_LINK_ADDR, 1]);
            out.extend_from_slice(&mac.0);
        }
        let sum = checksum(self.src_ip, self.dst_ip, &out[ICMP_START..]);
        out[ICMP_START + 2..ICMP_START + 4].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// Decodes an Ethernet frame carrying an ICMPv6 neighbour advertisement directly after the
    /// IPv6 header, verifying the checksum. Bytes past the IPv6 payload length are ignored, as
    /// are unknown options; the first target link-layer address option is kept.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        need(bytes, ETH_HEADER_LEN)?;
        let ethertype = be16(bytes, 12);
        if ethertype != ETHERTYPE_IPV6 {
            return Err(DecodeError::WrongEtherType(ethertype));
        }
        need(bytes, ICMP_START)?;
        let ip = &bytes[ETH_HEADER_LEN..ICMP_START];
        if ip[0] >> 4 != 6 {
            return Err(DecodeError::NotIpv6(ip[0] >> 4));
        }
        if ip[6] != NEXT_HEADER_ICMPV6 {
            return Err(DecodeError::NotIcmpv6(ip[6]));
        }
        let payload_len = be16(ip, 4);
        need(bytes, ICMP_START + usize::from(payload_len))?;
        if usize::from(payload_len) < NA_LEN {
            return Err(DecodeError::PayloadTooShort(payload_len));
        }
        let icmp = &bytes[ICMP_START..ICMP_START + usize::from(payload_len)];
        let (icmp_type, code) = (icmp[0], icmp[1]);
        if (icmp_type, code) != (ICMPV6_NEIGHBOR_ADVERT, 0) {
            return Err(DecodeError::NotNeighborAdvert { icmp_type, code });
        }
        let src_ip = ipv6_at(ip, 8);
        let dst_ip = ipv6_at(ip, 24);
        let (expected, found) = (checksum(src_ip, dst_ip, icmp), be16(icmp, 2));
        if expected != found {
            return Err(DecodeError::BadChecksum { expected, found });
        }
        let mut target_link_addr = None;
        let mut off = NA_LEN;
        while off < icmp.len() {
            let bad = DecodeError::BadOption { offset: off };
            let len = 8 * usize::from(*icmp.get(off + 1).ok_or(bad)?);
            if len == 0 || off + len > icmp.len() {
                return Err(bad);
            }
            if icmp[off] == OPT_TARGET_LINK_ADDR {
                if len != 8 {
                    return Err(bad);
                }
                target_link_addr = target_link_addr.or(Some(mac_at(icmp, off + 2)));
            }
            off += len;
        }
        Ok(NeighborAdvert {
            eth_dst: mac_at(bytes, 0),
            eth_src: mac_at(bytes, 6),
            src_ip,
            dst_ip,
            hop_limit: ip[7],
            router: icmp[4] & FLAG_ROUTER != 0,
            solicited: icmp[4] & FLAG_SOLICITED != 0,
            override_flag: icmp[4] & FLAG_OVERRIDE != 0,
            target: ipv6_at(icmp, 8),
            target_link_addr,
        })
    }
}

/// The unsolicited advertisement announcing that `mac` owns `vip`, laid out as keepalived
/// sends it: from the VIP to all nodes, hop limit 255, override set, target link-layer option.
pub fn unsolicited(mac: MacAddr, vip: Ipv6Addr) -> NeighborAdvert {
    NeighborAdvert {
        eth_dst: ALL_NODES_MAC,
        eth_src: mac,
        src_ip: vip,
        dst_ip: ALL_NODES,
        hop_limit: 255,
        router: false,
        solicited: false,
        override_flag: true,
        target: vip,
        target_link_addr: Some(mac),
    }
}

fn ipv6_at(bytes: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&bytes[at..at + 16]);
    Ipv6Addr::from(a)
}

/// ICMPv6 checksum of `msg` over the IPv6 pseudo-header, treating the checksum field
/// (bytes 2..4 of `msg`) as zero.
fn checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    fn add(acc: u32, data: &[u8]) -> u32 {
        data.chunks(2).fold(acc, |acc, c| {
            acc + u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        })
    }
    let mut acc = add(add(0, &src.octets()), &dst.octets());
    acc += (msg.len() as u32 >> 16) + (msg.len() as u32 & 0xffff) + u32::from(NEXT_HEADER_ICMPV6);
    acc = add(add(acc, &msg[..2]), &msg[4..]);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: MacAddr = MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b]);
    const VIP: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x250, 0, 0, 0, 0, 0, 0xc9);

    /// keepalived's unsolicited NA for fd00:250::c9 from 02:42:0a:fa:00:0b.
    #[rustfmt::skip]
    const UNA: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01,             // eth dst: all-nodes multicast
        0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b,             // eth src
        0x86, 0xdd,                                     // ethertype IPv6
        0x60, 0x00, 0x00, 0x00,                         // version 6, tc 0, flow 0
        0x00, 0x20, 0x3a, 0xff,                         // payload 32, ICMPv6, hop limit 255
        0xfd, 0x00, 0x02, 0x50, 0x00, 0x00, 0x00, 0x00, // src fd00:250::c9
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc9,
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dst ff02::1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x88, 0x00, 0x49, 0x25,                         // type 136, code 0, checksum
        0x20, 0x00, 0x00, 0x00,                         // flags R=0 S=0 O=1
        0xfd, 0x00, 0x02, 0x50, 0x00, 0x00, 0x00, 0x00, // target fd00:250::c9
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc9,
        0x02, 0x01, 0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b, // option: target link-layer address
    ];

    /// Textbook RFC 1071 checksum over an explicitly built pseudo-header and message.
    fn reference_checksum(frame: &[u8]) -> u16 {
        let icmp = &frame[54..];
        let mut data = frame[22..54].to_vec(); // src and dst addresses
        data.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
        data.extend_from_slice(&[0, 0, 0, 58]);
        data.extend_from_slice(&icmp[..2]);
        data.extend_from_slice(&[0, 0]);
        data.extend_from_slice(&icmp[4..]);
        if data.len() % 2 == 1 {
            data.push(0);
        }
        let mut sum: u64 = data
            .chunks(2)
            .map(|w| (u64::from(w[0]) << 8) | u64::from(w[1]))
            .sum();
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// Rewrites the payload length and checksum after a test edits the ICMPv6 message.
    fn reseal(mut frame: Vec<u8>) -> Vec<u8> {
        let len = (frame.len() - ICMP_START) as u16;
        frame[18..20].copy_from_slice(&len.to_be_bytes());
        let sum = reference_checksum(&frame);
        frame[56..58].copy_from_slice(&sum.to_be_bytes());
        frame
    }

    #[test]
    fn unsolicited_matches_keepalived_bytes() {
        assert_eq!(reference_checksum(&UNA), 0x4925);
        let na = unsolicited(MAC, VIP);
        assert_eq!(na.encode(), UNA);
        assert_eq!(NeighborAdvert::decode(&UNA), Ok(na));
    }

    #[test]
    fn rejects_truncated_frames() {
        for len in 0..UNA.len() {
            let needed = match len {
                0..14 => 14,
                14..54 => 54,
                _ => 86,
            };
            assert_eq!(
                NeighborAdvert::decode(&UNA[..len]),
                Err(DecodeError::TooShort { needed, got: len })
            );
        }
    }

    #[test]
    fn rejects_wrong_headers_and_corrupted_checksum() {
        use DecodeError::*;
        let not_na = |icmp_type, code| NotNeighborAdvert { icmp_type, code };
        let bad_sum = |expected, found| BadChecksum { expected, found };
        let cases = [
            (13, 0x00, WrongEtherType(0x8600)),
            (14, 0x40, NotIpv6(4)),
            (20, 17, NotIcmpv6(17)),
            (19, 16, PayloadTooShort(16)),
            (54, 135, not_na(135, 0)),
            (55, 1, not_na(136, 1)),
            (57, 0x24, bad_sum(0x4925, 0x4924)),
        ];
        for (at, value, err) in cases {
            let mut f = UNA;
            f[at] = value;
            assert_eq!(NeighborAdvert::decode(&f), Err(err), "byte {at}");
        }
        for at in [25, 60, 85] {
            let mut f = UNA;
            f[at] ^= 0x10;
            let got = NeighborAdvert::decode(&f);
            assert!(
                matches!(got, Err(BadChecksum { found: 0x4925, .. })),
                "byte {at}"
            );
        }
    }

    #[test]
    fn options_are_validated_and_unknown_ones_skipped() {
        let nonce = [14, 1, 1, 2, 3, 4, 5, 6];
        let tlla = [2, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let ok = |target_link_addr| {
            Ok(NeighborAdvert {
                target_link_addr,
                ..unsolicited(MAC, VIP)
            })
        };
        let other = Some(MacAddr([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
        let bad = |offset| Err(DecodeError::BadOption { offset });
        let cases = [
            (vec![], ok(None)),
            ([nonce, tlla].concat(), ok(other)),
            ([&tlla[..], &UNA[78..]].concat(), ok(other)),
            (vec![14, 0, 0, 0, 0, 0, 0, 0], bad(24)),
            ([nonce, [14, 2, 0, 0, 0, 0, 0, 0]].concat(), bad(32)),
            ([[2, 2, 0, 0, 0, 0, 0, 0], [0; 8]].concat(), bad(24)),
            (vec![2], bad(24)),
        ];
        for (opts, want) in cases {
            let mut f = UNA[..ICMP_START + NA_LEN].to_vec();
            f.extend_from_slice(&opts);
            assert_eq!(NeighborAdvert::decode(&reseal(f)), want, "{opts:?}");
        }
    }

    fn arb_advert() -> impl Strategy<Value = NeighborAdvert> {
        let mac = || any::<[u8; 6]>().prop_map(MacAddr);
        let ip = || any::<u128>().prop_map(Ipv6Addr::from);
        let addrs = (mac(), mac(), ip(), ip(), ip(), proptest::option::of(mac()));
        (addrs, any::<u8>(), any::<[bool; 3]>()).prop_map(|(a, hop_limit, flags)| NeighborAdvert {
            eth_dst: a.0,
            eth_src: a.1,
            src_ip: a.2,
            dst_ip: a.3,
            hop_limit,
            router: flags[0],
            solicited: flags[1],
            override_flag: flags[2],
            target: a.4,
            target_link_addr: a.5,
        })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(na in arb_advert(), pad in 0usize..16) {
            let mut bytes = na.encode();
            prop_assert_eq!(bytes.len(), if na.target_link_addr.is_some() { 86 } else { 78 });
            prop_assert_eq!(be16(&bytes, 56), reference_checksum(&bytes));
            bytes.resize(bytes.len() + pad, 0);
            prop_assert_eq!(NeighborAdvert::decode(&bytes), Ok(na));
        }
    }
}
