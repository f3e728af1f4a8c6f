//! The DHCPv4 / BOOTP message (RFC 2131 §2): the fixed 236-byte header, the magic cookie and the
//! options ([`super::options`]). Encoding pads to BOOTP's 300-byte minimum; decoding rejects
//! anything that is not an Ethernet-hardware DHCP message.

use std::net::Ipv4Addr;

use super::options::DhcpOptions;
use super::DhcpDecodeError;
use crate::wire::MacAddr;

/// BOOTP `op`: a client's request.
pub const BOOTREQUEST: u8 = 1;
/// BOOTP `op`: a server's reply.
pub const BOOTREPLY: u8 = 2;
/// The magic cookie that starts the options area (99.130.83.99).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Length of the fixed BOOTP header (op … file).
pub const HEADER_LEN: usize = 236;
/// Smallest BOOTP message some relays and servers accept; shorter encodings are zero-padded.
pub const MIN_MESSAGE_LEN: usize = 300;
/// The broadcast bit of `flags`: "answer me by broadcast, I have no address yet".
pub const FLAG_BROADCAST: u16 = 0x8000;

/// One DHCP message; `sname` and `file` are sent empty and ignored on receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpMessage {
    /// [`BOOTREQUEST`] or [`BOOTREPLY`].
    pub op: u8,
    /// Transaction id chosen by the client.
    pub xid: u32,
    /// Seconds since the client began this acquisition or renewal.
    pub secs: u16,
    /// Whether the broadcast flag is set.
    pub broadcast: bool,
    /// Client address (set only when bound, renewing or rebinding).
    pub ciaddr: Ipv4Addr,
    /// "Your" address: the one offered or acknowledged.
    pub yiaddr: Ipv4Addr,
    /// Next server address (BOOTP; not used by kvip).
    pub siaddr: Ipv4Addr,
    /// Relay agent address.
    pub giaddr: Ipv4Addr,
    /// Client hardware address.
    pub chaddr: MacAddr,
    /// The options.
    pub options: DhcpOptions,
}

impl DhcpMessage {
    /// A client request with every address zero, from `chaddr`, carrying `options`.
    pub fn request(xid: u32, chaddr: MacAddr, options: DhcpOptions) -> DhcpMessage {
        DhcpMessage {
            op: BOOTREQUEST,
            xid,
            secs: 0,
            broadcast: false,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            options,
        }
    }

    /// Encodes the message (UDP payload), zero-padded to [`MIN_MESSAGE_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_MESSAGE_LEN + 64);
        out.extend_from_slice(&[self.op, 1, 6, 0]); // op, htype Ethernet, hlen 6, hops 0
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        let flags = if self.broadcast { FLAG_BROADCAST } else { 0 };
        out.extend_from_slice(&flags.to_be_bytes());
        for ip in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&ip.octets());
        }
        out.extend_from_slice(&self.chaddr.0);
        out.resize(HEADER_LEN, 0); // chaddr padding (10), sname (64), file (128)
        out.extend_from_slice(&MAGIC_COOKIE);
        self.options.encode(&mut out);
        if out.len() < MIN_MESSAGE_LEN {
            out.resize(MIN_MESSAGE_LEN, 0);
        }
        out
    }

    /// Decodes a UDP payload as a DHCP message with an Ethernet hardware address.
    pub fn decode(bytes: &[u8]) -> Result<DhcpMessage, DhcpDecodeError> {
        let needed = HEADER_LEN + MAGIC_COOKIE.len();
        if bytes.len() < needed {
            return Err(DhcpDecodeError::TooShort {
                needed,
                got: bytes.len(),
            });
        }
        let op = bytes[0];
        if op != BOOTREQUEST && op != BOOTREPLY {
            return Err(DhcpDecodeError::BadOp(op));
        }
        if bytes[1] != 1 || bytes[2] != 6 {
            return Err(DhcpDecodeError::NotEthernet {
                htype: bytes[1],
                hlen: bytes[2],
            });
        }
        if bytes[HEADER_LEN..needed] != MAGIC_COOKIE {
            return Err(DhcpDecodeError::NoMagicCookie);
        }
        let ip_at =
            |at: usize| Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&bytes[28..34]);
        Ok(DhcpMessage {
            op,
            xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            broadcast: u16::from_be_bytes([bytes[10], bytes[11]]) & FLAG_BROADCAST != 0,
            ciaddr: ip_at(12),
            yiaddr: ip_at(16),
            siaddr: ip_at(20),
            giaddr: ip_at(24),
            chaddr: MacAddr(chaddr),
            options: DhcpOptions::decode(&bytes[needed..])?,
        })
    }
}
