//! The DHCPv6 client/server message (RFC 8415 §8): message type, 3-byte transaction id and the
//! options ([`super::options`]). Relay messages (12, 13) and unknown types are refused.

use super::options::Dhcp6Options;
use super::Dhcp6DecodeError;

/// The message type (RFC 8415 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1: a client looks for servers.
    Solicit,
    /// 2: a server offers itself.
    Advertise,
    /// 3: a client asks one server for addresses.
    Request,
    /// 4: a client asks whether its addresses still fit the link.
    Confirm,
    /// 5: a client extends its lease with the server that gave it.
    Renew,
    /// 6: a client extends its lease with any server.
    Rebind,
    /// 7: a server answers.
    Reply,
    /// 8: a client gives addresses back.
    Release,
    /// 9: a client says an address is in use elsewhere.
    Decline,
    /// 10: a server asks the client to renew.
    Reconfigure,
    /// 11: a client asks for configuration only.
    InformationRequest,
}

impl MessageType {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            MessageType::Solicit => 1,
            MessageType::Advertise => 2,
            MessageType::Request => 3,
            MessageType::Confirm => 4,
            MessageType::Renew => 5,
            MessageType::Rebind => 6,
            MessageType::Reply => 7,
            MessageType::Release => 8,
            MessageType::Decline => 9,
            MessageType::Reconfigure => 10,
            MessageType::InformationRequest => 11,
        }
    }

    /// The type of wire value `code`, `None` for relay messages and undefined values.
    pub fn from_code(code: u8) -> Option<MessageType> {
        Some(match code {
            1 => MessageType::Solicit,
            2 => MessageType::Advertise,
            3 => MessageType::Request,
            4 => MessageType::Confirm,
            5 => MessageType::Renew,
            6 => MessageType::Rebind,
            7 => MessageType::Reply,
            8 => MessageType::Release,
            9 => MessageType::Decline,
            10 => MessageType::Reconfigure,
            11 => MessageType::InformationRequest,
            _ => return None,
        })
    }
}

/// Largest transaction id (24 bits).
pub const MAX_XID: u32 = 0x00ff_ffff;

/// One DHCPv6 message (a UDP payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp6Message {
    /// The message type.
    pub kind: MessageType,
    /// Transaction id, 24 bits (higher bits are dropped when encoding).
    pub xid: u32,
    /// The options.
    pub options: Dhcp6Options,
}

impl Dhcp6Message {
    /// Encodes the message as a UDP payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(self.kind.code());
        out.extend_from_slice(&(self.xid & MAX_XID).to_be_bytes()[1..]);
        self.options.encode(&mut out);
        out
    }

    /// Decodes a UDP payload.
    pub fn decode(bytes: &[u8]) -> Result<Dhcp6Message, Dhcp6DecodeError> {
        if bytes.len() < 4 {
            return Err(Dhcp6DecodeError::TooShort {
                needed: 4,
                got: bytes.len(),
            });
        }
        let kind = MessageType::from_code(bytes[0])
            .ok_or(Dhcp6DecodeError::UnknownMessageType(bytes[0]))?;
        Ok(Dhcp6Message {
            kind,
            xid: u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]),
            options: Dhcp6Options::decode(&bytes[4..])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_type_and_three_byte_xid() {
        let m = Dhcp6Message {
            kind: MessageType::Solicit,
            xid: 0xff12_3456,
            options: Dhcp6Options {
                elapsed_time: Some(0),
                ..Dhcp6Options::default()
            },
        };
        let bytes = m.encode();
        assert_eq!(bytes, vec![1, 0x12, 0x34, 0x56, 0, 8, 0, 2, 0, 0]);
        let back = Dhcp6Message::decode(&bytes).unwrap();
        assert_eq!(back.xid, 0x12_3456);
        assert_eq!(back.kind, MessageType::Solicit);
    }

    #[test]
    fn relay_and_short_messages_are_refused() {
        assert_eq!(
            Dhcp6Message::decode(&[12, 0, 0, 0]),
            Err(Dhcp6DecodeError::UnknownMessageType(12))
        );
        assert_eq!(
            Dhcp6Message::decode(&[7, 0, 0]),
            Err(Dhcp6DecodeError::TooShort { needed: 4, got: 3 })
        );
    }
}
