//! DHCP options (RFC 2132) that kvip's client sends or reads: the typed [`DhcpOptions`] set, its
//! encoding after the magic cookie, and its decoding (pad and unknown options skipped, known
//! options of the wrong length or an option running past the end rejected).

use std::net::Ipv4Addr;

use super::DhcpDecodeError;

/// Option 0: padding.
pub const OPT_PAD: u8 = 0;
/// Option 1: subnet mask.
pub const OPT_SUBNET_MASK: u8 = 1;
/// Option 3: routers.
pub const OPT_ROUTER: u8 = 3;
/// Option 12: host name.
pub const OPT_HOST_NAME: u8 = 12;
/// Option 50: requested IP address.
pub const OPT_REQUESTED_IP: u8 = 50;
/// Option 51: lease time in seconds.
pub const OPT_LEASE_TIME: u8 = 51;
/// Option 53: DHCP message type.
pub const OPT_MESSAGE_TYPE: u8 = 53;
/// Option 54: server identifier.
pub const OPT_SERVER_ID: u8 = 54;
/// Option 55: parameter request list.
pub const OPT_PARAMETER_REQUEST_LIST: u8 = 55;
/// Option 58: renewal (T1) time in seconds.
pub const OPT_RENEWAL_TIME: u8 = 58;
/// Option 59: rebinding (T2) time in seconds.
pub const OPT_REBINDING_TIME: u8 = 59;
/// Option 61: client identifier.
pub const OPT_CLIENT_ID: u8 = 61;
/// Option 255: end of options.
pub const OPT_END: u8 = 255;

/// Longest value one option can carry; longer values are truncated when encoding.
pub const MAX_OPTION_LEN: usize = 255;

/// The DHCP message type (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// DHCPDISCOVER (1).
    Discover,
    /// DHCPOFFER (2).
    Offer,
    /// DHCPREQUEST (3).
    Request,
    /// DHCPDECLINE (4).
    Decline,
    /// DHCPACK (5).
    Ack,
    /// DHCPNAK (6).
    Nak,
    /// DHCPRELEASE (7).
    Release,
    /// DHCPINFORM (8).
    Inform,
}

impl MessageType {
    /// The option 53 value.
    pub fn code(self) -> u8 {
        match self {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
        }
    }

    /// The message type for an option 53 value, `None` for values RFC 2132 does not define.
    pub fn from_code(code: u8) -> Option<MessageType> {
        Some(match code {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
}

/// The options kvip understands; every field is absent unless the message carried it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpOptions {
    /// 53: message type (every DHCP message has one; BOOTP messages do not).
    pub message_type: Option<MessageType>,
    /// 1: subnet mask.
    pub subnet_mask: Option<Ipv4Addr>,
    /// 3: routers, in order of preference.
    pub routers: Vec<Ipv4Addr>,
    /// 12: host name (bytes as sent; usually ASCII).
    pub host_name: Option<Vec<u8>>,
    /// 50: requested IP address.
    pub requested_ip: Option<Ipv4Addr>,
    /// 51: lease time in seconds (`u32::MAX` = infinite).
    pub lease_time: Option<u32>,
    /// 54: server identifier.
    pub server_id: Option<Ipv4Addr>,
    /// 55: option codes the client asks for.
    pub parameter_request_list: Vec<u8>,
    /// 58: T1, seconds from the lease start until renewing.
    pub renewal_time: Option<u32>,
    /// 59: T2, seconds from the lease start until rebinding.
    pub rebinding_time: Option<u32>,
    /// 61: client identifier (type byte then identifier).
    pub client_id: Option<Vec<u8>>,
}

fn put(out: &mut Vec<u8>, code: u8, value: &[u8]) {
    let value = &value[..value.len().min(MAX_OPTION_LEN)];
    out.push(code);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

fn ip4(bytes: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
}

impl DhcpOptions {
    /// Appends the options in a fixed order (53 first, as servers expect), then option 255.
    /// Empty lists are left out; values longer than [`MAX_OPTION_LEN`] are truncated.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(t) = self.message_type {
            put(out, OPT_MESSAGE_TYPE, &[t.code()]);
        }
        if let Some(id) = &self.client_id {
            put(out, OPT_CLIENT_ID, id);
        }
        if let Some(ip) = self.requested_ip {
            put(out, OPT_REQUESTED_IP, &ip.octets());
        }
        if let Some(ip) = self.server_id {
            put(out, OPT_SERVER_ID, &ip.octets());
        }
        if let Some(name) = &self.host_name {
            put(out, OPT_HOST_NAME, name);
        }
        if let Some(mask) = self.subnet_mask {
            put(out, OPT_SUBNET_MASK, &mask.octets());
        }
        if !self.routers.is_empty() {
            let bytes: Vec<u8> = self.routers.iter().flat_map(|r| r.octets()).collect();
            put(out, OPT_ROUTER, &bytes[..bytes.len().min(252)]);
        }
        for (code, value) in [
            (OPT_LEASE_TIME, self.lease_time),
            (OPT_RENEWAL_TIME, self.renewal_time),
            (OPT_REBINDING_TIME, self.rebinding_time),
        ] {
            if let Some(v) = value {
                put(out, code, &v.to_be_bytes());
            }
        }
        if !self.parameter_request_list.is_empty() {
            put(
                out,
                OPT_PARAMETER_REQUEST_LIST,
                &self.parameter_request_list,
            );
        }
        out.push(OPT_END);
    }

    /// Decodes the options area (after the magic cookie). Stops at option 255 or at the end of
    /// the bytes; skips pads and options it does not know; a later copy of an option wins.
    pub fn decode(bytes: &[u8]) -> Result<DhcpOptions, DhcpDecodeError> {
        let mut opts = DhcpOptions::default();
        let mut at = 0;
        while at < bytes.len() {
            let code = bytes[at];
            if code == OPT_END {
                break;
            }
            if code == OPT_PAD {
                at += 1;
                continue;
            }
            let Some(&len) = bytes.get(at + 1) else {
                return Err(DhcpDecodeError::OptionOverrun { code });
            };
            let start = at + 2;
            let end = start + usize::from(len);
            let Some(value) = bytes.get(start..end) else {
                return Err(DhcpDecodeError::OptionOverrun { code });
            };
            opts.set(code, value)?;
            at = end;
        }
        Ok(opts)
    }

    fn set(&mut self, code: u8, value: &[u8]) -> Result<(), DhcpDecodeError> {
        let bad = || DhcpDecodeError::OptionLength {
            code,
            len: value.len(),
        };
        let exact = |n: usize| if value.len() == n { Ok(()) } else { Err(bad()) };
        let secs = |v: &[u8]| u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        match code {
            OPT_MESSAGE_TYPE => {
                exact(1)?;
                self.message_type = Some(
                    MessageType::from_code(value[0])
                        .ok_or(DhcpDecodeError::UnknownMessageType(value[0]))?,
                );
            }
            OPT_SUBNET_MASK => {
                exact(4)?;
                self.subnet_mask = Some(ip4(value));
            }
            OPT_ROUTER => {
                let chunks = value.chunks_exact(4);
                if value.is_empty() || !chunks.remainder().is_empty() {
                    return Err(bad());
                }
                self.routers = chunks.map(ip4).collect();
            }
            OPT_HOST_NAME => {
                if value.is_empty() {
                    return Err(bad());
                }
                self.host_name = Some(value.to_vec());
            }
            OPT_REQUESTED_IP => {
                exact(4)?;
                self.requested_ip = Some(ip4(value));
            }
            OPT_SERVER_ID => {
                exact(4)?;
                self.server_id = Some(ip4(value));
            }
            OPT_LEASE_TIME => {
                exact(4)?;
                self.lease_time = Some(secs(value));
            }
            OPT_RENEWAL_TIME => {
                exact(4)?;
                self.renewal_time = Some(secs(value));
            }
            OPT_REBINDING_TIME => {
                exact(4)?;
                self.rebinding_time = Some(secs(value));
            }
            OPT_PARAMETER_REQUEST_LIST => self.parameter_request_list = value.to_vec(),
            OPT_CLIENT_ID => {
                if value.len() < 2 {
                    return Err(bad());
                }
                self.client_id = Some(value.to_vec());
            }
            _ => {}
        }
        Ok(())
    }
}

/// The prefix length of a subnet mask: its leading one bits (a non-contiguous mask counts only
/// up to its first zero bit).
pub fn prefix_len(mask: Ipv4Addr) -> u8 {
    u32::from(mask).leading_ones() as u8
}
