//! ARP over Ethernet for IPv4 (RFC 826), and the gratuitous request that announces an IPv4 VIP.

use std::net::Ipv4Addr;

use super::{be16, mac_at, need, put_eth, DecodeError, MacAddr, ETHERTYPE_ARP, ETH_HEADER_LEN};

/// Length of an encoded ARP frame: Ethernet header plus 28-byte ARP body, without padding.
pub const FRAME_LEN: usize = ETH_HEADER_LEN + 28;
/// ARP hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// ARP protocol type for IPv4.
pub const PTYPE_IPV4: u16 = 0x0800;
/// ARP operation: request.
pub const OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const OP_REPLY: u16 = 2;

/// An Ethernet/IPv4 ARP packet together with its Ethernet addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpPacket {
    /// Ethernet destination address.
    pub eth_dst: MacAddr,
    /// Ethernet source address.
    pub eth_src: MacAddr,
    /// ARP operation code ([`OP_REQUEST`], [`OP_REPLY`], or anything else received).
    pub operation: u16,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    /// Encodes the packet as a 42-byte Ethernet frame (no minimum-size padding).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAME_LEN);
        put_eth(&mut out, self.eth_dst, self.eth_src, ETHERTYPE_ARP);
        out.extend_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        out.extend_from_slice(&PTYPE_IPV4.to_be_bytes());
        out.extend_from_slice(&[6, 4]);
        out.extend_from_slice(&self.operation.to_be_bytes());
        out.extend_from_slice(&self.sender_mac.0);
        out.extend_from_slice(&self.sender_ip.octets());
        out.extend_from_slice(&self.target_mac.0);
        out.extend_from_slice(&self.target_ip.octets());
        debug_assert_eq!(out.len(), FRAME_LEN);
        out
    }

    /// Decodes an Ethernet ARP frame of at least 42 bytes; trailing padding is ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        need(bytes, ETH_HEADER_LEN)?;
        let ethertype = be16(bytes, 12);
        if ethertype != ETHERTYPE_ARP {
            return Err(DecodeError::WrongEtherType(ethertype));
        }
        need(bytes, FRAME_LEN)?;
        let htype = be16(bytes, 14);
        if htype != HTYPE_ETHERNET {
            return Err(DecodeError::ArpHardwareType(htype));
        }
        let ptype = be16(bytes, 16);
        if ptype != PTYPE_IPV4 {
            return Err(DecodeError::ArpProtocolType(ptype));
        }
        let (hlen, plen) = (bytes[18], bytes[19]);
        if (hlen, plen) != (6, 4) {
            return Err(DecodeError::ArpAddressLengths { hlen, plen });
        }
        let ip_at =
            |at: usize| Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
        Ok(ArpPacket {
            eth_dst: mac_at(bytes, 0),
            eth_src: mac_at(bytes, 6),
            operation: be16(bytes, 20),
            sender_mac: mac_at(bytes, 22),
            sender_ip: ip_at(28),
            target_mac: mac_at(bytes, 32),
            target_ip: ip_at(38),
        })
    }

    /// True when the packet announces the sender's own address: a request or reply whose
    /// sender IP equals its target IP.
    pub fn is_gratuitous(&self) -> bool {
        matches!(self.operation, OP_REQUEST | OP_REPLY) && self.sender_ip == self.target_ip
    }
}

/// The gratuitous ARP request announcing that `mac` owns `ip`, laid out as keepalived sends it:
/// broadcast, operation request, sender = target = `ip`, target MAC broadcast.
pub fn gratuitous(mac: MacAddr, ip: Ipv4Addr) -> ArpPacket {
    ArpPacket {
        eth_dst: MacAddr::BROADCAST,
        eth_src: mac,
        operation: OP_REQUEST,
        sender_mac: mac,
        sender_ip: ip,
        target_mac: MacAddr::BROADCAST,
        target_ip: ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: MacAddr = MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b]);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 201);

    /// keepalived's gratuitous ARP for 10.250.0.201 from 02:42:0a:fa:00:0b.
    #[rustfmt::skip]
    const GARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             // eth dst: broadcast
        0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b,             // eth src
        0x08, 0x06,                                     // ethertype ARP
        0x00, 0x01,                                     // htype Ethernet
        0x08, 0x00,                                     // ptype IPv4
        0x06, 0x04,                                     // hlen, plen
        0x00, 0x01,                                     // op request
        0x02, 0x42, 0x0a, 0xfa, 0x00, 0x0b,             // sender MAC
        0x0a, 0xfa, 0x00, 0xc9,                         // sender IP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             // target MAC: broadcast
        0x0a, 0xfa, 0x00, 0xc9,                         // target IP
    ];

    #[test]
    fn gratuitous_matches_keepalived_bytes() {
        let p = gratuitous(MAC, VIP);
        assert_eq!(p.encode(), GARP);
        assert!(p.is_gratuitous());
        assert_eq!(ArpPacket::decode(&GARP), Ok(p));
    }

    #[test]
    fn decodes_frame_padded_to_60_bytes() {
        let mut padded = GARP.to_vec();
        padded.resize(60, 0);
        assert_eq!(ArpPacket::decode(&padded), Ok(gratuitous(MAC, VIP)));
    }

    #[test]
    fn rejects_truncated_frames() {
        for len in 0..FRAME_LEN {
            let needed = if len < ETH_HEADER_LEN {
                ETH_HEADER_LEN
            } else {
                FRAME_LEN
            };
            assert_eq!(
                ArpPacket::decode(&GARP[..len]),
                Err(DecodeError::TooShort { needed, got: len })
            );
        }
    }

    #[test]
    fn rejects_wrong_header_fields() {
        let with = |at: usize, b: &[u8]| {
            let mut f = GARP;
            f[at..at + b.len()].copy_from_slice(b);
            ArpPacket::decode(&f)
        };
        assert_eq!(
            with(12, &[0x86, 0xdd]),
            Err(DecodeError::WrongEtherType(0x86dd))
        );
        assert_eq!(
            with(14, &[0x00, 0x06]),
            Err(DecodeError::ArpHardwareType(6))
        );
        assert_eq!(
            with(16, &[0x86, 0xdd]),
            Err(DecodeError::ArpProtocolType(0x86dd))
        );
        assert_eq!(
            with(18, &[0x06, 0x10]),
            Err(DecodeError::ArpAddressLengths { hlen: 6, plen: 16 })
        );
    }

    #[test]
    fn ordinary_request_is_not_gratuitous() {
        let p = ArpPacket {
            target_ip: Ipv4Addr::new(10, 250, 0, 1),
            ..gratuitous(MAC, VIP)
        };
        assert!(!p.is_gratuitous());
        let reply = ArpPacket {
            operation: OP_REPLY,
            ..gratuitous(MAC, VIP)
        };
        assert!(reply.is_gratuitous());
        let other = ArpPacket {
            operation: 3,
            ..gratuitous(MAC, VIP)
        };
        assert!(!other.is_gratuitous());
    }

    fn mac() -> impl Strategy<Value = MacAddr> {
        any::<[u8; 6]>().prop_map(MacAddr)
    }

    fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(Ipv4Addr::from)
    }

    prop_compose! {
        fn arb_packet()(
            eth_dst in mac(), eth_src in mac(), operation in any::<u16>(),
            sender_mac in mac(), sender_ip in ipv4(), target_mac in mac(), target_ip in ipv4(),
        ) -> ArpPacket {
            ArpPacket { eth_dst, eth_src, operation, sender_mac, sender_ip, target_mac, target_ip }
        }
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(p in arb_packet(), pad in 0usize..32) {
            let mut bytes = p.encode();
            prop_assert_eq!(bytes.len(), FRAME_LEN);
            bytes.resize(FRAME_LEN + pad, 0);
            prop_assert_eq!(ArpPacket::decode(&bytes), Ok(p));
        }
    }
}
