//! Whole Ethernet frames for a raw (AF_PACKET) socket: a [`DhcpMessage`] inside UDP inside IPv4
//! inside Ethernet II, with the IPv4 header checksum and the UDP checksum computed, so a client
//! without an address can send from 0.0.0.0:68 to 255.255.255.255:67. Decoding accepts only
//! unfragmented IPv4/UDP to port 68 with correct checksums.

use std::net::Ipv4Addr;

use super::message::DhcpMessage;
use super::DhcpDecodeError;
use crate::wire::{MacAddr, ETH_HEADER_LEN};

/// Ethertype of IPv4 frames.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// The DHCP server's UDP port.
pub const SERVER_PORT: u16 = 67;
/// The DHCP client's UDP port.
pub const CLIENT_PORT: u16 = 68;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// TTL of the frames kvip sends.
pub const TTL: u8 = 64;

/// Whether the UDP checksum of a received frame can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpChecksum {
    /// Check it (a frame that crossed a wire).
    Verify,
    /// Do not: the kernel says it is not filled in yet (AF_PACKET's `TP_STATUS_CSUMNOTREADY`,
    /// a sender on the same host, e.g. over a veth, left it to checksum offload).
    NotReady,
}

/// Link and network addresses of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressing {
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// IPv4 source.
    pub src_ip: Ipv4Addr,
    /// IPv4 destination.
    pub dst_ip: Ipv4Addr,
}

/// A DHCP message received in a frame, with the frame's addresses (the source is the server, or
/// the relay / router in front of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Ethernet and IPv4 source and destination.
    pub addressing: Addressing,
    /// UDP source port.
    pub src_port: u16,
    /// The message.
    pub message: DhcpMessage,
}

/// The Internet checksum (RFC 1071) of `parts` concatenated, with `initial` folded in.
pub fn internet_checksum(initial: u32, parts: &[&[u8]]) -> u16 {
    let mut sum = initial;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, udp_len: u16) -> u32 {
    let [a, b, c, d] = src.octets();
    let [e, f, g, h] = dst.octets();
    [
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
        u16::from_be_bytes([e, f]),
        u16::from_be_bytes([g, h]),
        u16::from(IPPROTO_UDP),
        udp_len,
    ]
    .iter()
    .map(|&w| u32::from(w))
    .sum()
}

/// Encodes `message` as a frame from port 68 to port 67 with the given addresses.
pub fn encode(addressing: Addressing, message: &DhcpMessage) -> Vec<u8> {
    encode_udp(addressing, CLIENT_PORT, SERVER_PORT, &message.encode())
}

/// Encodes `payload` as an Ethernet/IPv4/UDP frame (also used by tests to play the server).
pub fn encode_udp(addressing: Addressing, src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = (UDP_HEADER_LEN + payload.len()) as u16;
    let total_len = IPV4_HEADER_LEN as u16 + udp_len;
    let mut out = Vec::with_capacity(ETH_HEADER_LEN + usize::from(total_len));
    out.extend_from_slice(&addressing.dst_mac.0);
    out.extend_from_slice(&addressing.src_mac.0);
    out.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip_start = out.len();
    out.extend_from_slice(&[0x45, 0]); // version 4, IHL 5; TOS 0
    out.extend_from_slice(&total_len.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // identification; flags and fragment offset
    out.extend_from_slice(&[TTL, IPPROTO_UDP, 0, 0]); // checksum filled in below
    out.extend_from_slice(&addressing.src_ip.octets());
    out.extend_from_slice(&addressing.dst_ip.octets());
    let ip_sum = internet_checksum(0, &[&out[ip_start..]]);
    out[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
    let udp_start = out.len();
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    let pseudo = pseudo_header_sum(addressing.src_ip, addressing.dst_ip, udp_len);
    let udp_sum = match internet_checksum(pseudo, &[&out[udp_start..], payload]) {
        0 => 0xffff, // 0 means "no checksum" in UDP over IPv4
        sum => sum,
    };
    out[udp_start + 6..udp_start + 8].copy_from_slice(&udp_sum.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decodes a received frame holding a DHCP message sent to UDP port 68. Trailing Ethernet
/// padding is ignored; a UDP checksum of 0 (none) is accepted.
pub fn decode(bytes: &[u8]) -> Result<ReceivedMessage, DhcpDecodeError> {
    decode_for_port(bytes, CLIENT_PORT)
}

/// Like [`decode`] for a message sent to UDP port `port` (67 reads what a client sent).
pub fn decode_for_port(bytes: &[u8], port: u16) -> Result<ReceivedMessage, DhcpDecodeError> {
    decode_received(bytes, port, UdpChecksum::Verify)
}

/// Like [`decode_for_port`], checking the UDP checksum only when `checksum` says it is ready.
/// The IPv4 header checksum is always checked (it is never offloaded on receive).
pub fn decode_received(
    bytes: &[u8],
    port: u16,
    checksum: UdpChecksum,
) -> Result<ReceivedMessage, DhcpDecodeError> {
    let too_short = |needed: usize| DhcpDecodeError::TooShort {
        needed,
        got: bytes.len(),
    };
    if bytes.len() < ETH_HEADER_LEN + IPV4_HEADER_LEN {
        return Err(too_short(ETH_HEADER_LEN + IPV4_HEADER_LEN));
    }
    let ethertype = u16::from_be_bytes([bytes[12], bytes[13]]);
    if ethertype != ETHERTYPE_IPV4 {
        return Err(DhcpDecodeError::NotIpv4(ethertype));
    }
    let ip = &bytes[ETH_HEADER_LEN..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || header_len < IPV4_HEADER_LEN {
        return Err(DhcpDecodeError::BadIpHeader);
    }
    let total_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total_len < header_len + UDP_HEADER_LEN {
        return Err(DhcpDecodeError::BadIpHeader);
    }
    if ip.len() < total_len {
        return Err(too_short(ETH_HEADER_LEN + total_len));
    }
    if internet_checksum(0, &[&ip[..header_len]]) != 0 {
        return Err(DhcpDecodeError::BadIpChecksum);
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return Err(DhcpDecodeError::Fragmented);
    }
    if ip[9] != IPPROTO_UDP {
        return Err(DhcpDecodeError::NotUdp(ip[9]));
    }
    let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = &ip[header_len..total_len];
    let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
    if dst_port != port {
        return Err(DhcpDecodeError::WrongPort(dst_port));
    }
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len < UDP_HEADER_LEN || udp_len > udp.len() {
        return Err(DhcpDecodeError::BadUdpLength(udp_len));
    }
    let udp = &udp[..udp_len];
    if checksum == UdpChecksum::Verify && u16::from_be_bytes([udp[6], udp[7]]) != 0 {
        let pseudo = pseudo_header_sum(src_ip, dst_ip, udp_len as u16);
        if internet_checksum(pseudo, &[udp]) != 0 {
            return Err(DhcpDecodeError::BadUdpChecksum);
        }
    }
    let mac_at = |at: usize| {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&bytes[at..at + 6]);
        MacAddr(mac)
    };
    Ok(ReceivedMessage {
        addressing: Addressing {
            src_mac: mac_at(6),
            dst_mac: mac_at(0),
            src_ip,
            dst_ip,
        },
        src_port: u16::from_be_bytes([udp[0], udp[1]]),
        message: DhcpMessage::decode(&udp[UDP_HEADER_LEN..])?,
    })
}
