//! DHCPv6 options (RFC 8415 §21, RFC 4704) that kvip's client sends or reads: the typed
//! [`Dhcp6Options`] set with its nested IA_NA / IAADDR / status code, their encoding, and their
//! decoding (unknown options skipped, known options of the wrong length or an option running
//! past the end of its container rejected).

use std::net::Ipv6Addr;

use super::Dhcp6DecodeError;

/// Option 1: client identifier (a DUID).
pub const OPT_CLIENTID: u16 = 1;
/// Option 2: server identifier (a DUID).
pub const OPT_SERVERID: u16 = 2;
/// Option 3: identity association for non-temporary addresses.
pub const OPT_IA_NA: u16 = 3;
/// Option 5: an address inside an IA_NA.
pub const OPT_IAADDR: u16 = 5;
/// Option 6: option request option (ORO).
pub const OPT_ORO: u16 = 6;
/// Option 7: server preference.
pub const OPT_PREFERENCE: u16 = 7;
/// Option 8: elapsed time, in hundredths of a second.
pub const OPT_ELAPSED_TIME: u16 = 8;
/// Option 13: status code.
pub const OPT_STATUS_CODE: u16 = 13;
/// Option 39: client FQDN (RFC 4704).
pub const OPT_CLIENT_FQDN: u16 = 39;

/// DUID type 3: link-layer address (RFC 8415 §11.4).
pub const DUID_LL: u16 = 3;
/// Hardware type 1: Ethernet.
pub const HW_TYPE_ETHERNET: u16 = 1;
/// Client FQDN flag S: "the server should perform the AAAA update".
pub const FQDN_FLAG_S: u8 = 0x01;
/// Longest value one option can carry; encoders never produce more.
pub const MAX_OPTION_LEN: usize = u16::MAX as usize;

/// Status codes (RFC 8415 §21.13) the client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// 0: success.
    Success,
    /// 1: failure, reason unspecified.
    UnspecFail,
    /// 2: the server has no addresses for the IA.
    NoAddrsAvail,
    /// 3: the server has no binding for the IA (on Renew / Rebind).
    NoBinding,
    /// 4: the addresses are not appropriate for the link.
    NotOnLink,
    /// 5: the server wants multicast.
    UseMulticast,
    /// Any other code.
    Other(u16),
}

impl StatusKind {
    /// The status kind of wire `code`.
    pub fn from_code(code: u16) -> StatusKind {
        match code {
            0 => StatusKind::Success,
            1 => StatusKind::UnspecFail,
            2 => StatusKind::NoAddrsAvail,
            3 => StatusKind::NoBinding,
            4 => StatusKind::NotOnLink,
            5 => StatusKind::UseMulticast,
            other => StatusKind::Other(other),
        }
    }
}

/// A status code option: its code and the server's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCode {
    /// The numeric code.
    pub code: u16,
    /// The message (decoded lossily when it is not UTF-8).
    pub message: String,
}

impl StatusCode {
    /// What the code means.
    pub fn kind(&self) -> StatusKind {
        StatusKind::from_code(self.code)
    }
}

/// An IAADDR option: one address of an IA_NA and its lifetimes in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaAddr {
    /// The address.
    pub address: Ipv6Addr,
    /// Preferred lifetime (`u32::MAX` = infinite).
    pub preferred: u32,
    /// Valid lifetime (`u32::MAX` = infinite; 0 = withdrawn).
    pub valid: u32,
    /// Status for this address, if the server sent one.
    pub status: Option<StatusCode>,
}

/// An IA_NA option: the identity association and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaNa {
    /// Identity association id chosen by the client.
    pub iaid: u32,
    /// Renew time in seconds (0 = the client chooses).
    pub t1: u32,
    /// Rebind time in seconds (0 = the client chooses).
    pub t2: u32,
    /// The addresses.
    pub addresses: Vec<IaAddr>,
    /// Status for this IA, if the server sent one.
    pub status: Option<StatusCode>,
}

/// The Client FQDN option: flags and the wire-encoded domain name (RFC 4704 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFqdn {
    /// The N / O / S flags.
    pub flags: u8,
    /// The name as DNS labels; a partial name (a host name) has no terminating zero label.
    pub name: Vec<u8>,
}

impl ClientFqdn {
    /// The option for host name `host` (dots split labels; each label truncated to 63 bytes),
    /// sent as a partial name with the S flag.
    pub fn host(host: &str) -> ClientFqdn {
        let mut name = Vec::new();
        for label in host
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            let bytes = &label.as_bytes()[..label.len().min(63)];
            name.push(bytes.len() as u8);
            name.extend_from_slice(bytes);
        }
        if host.ends_with('.') {
            name.push(0);
        }
        ClientFqdn {
            flags: FQDN_FLAG_S,
            name,
        }
    }

    /// The name as text (labels joined by dots, a trailing dot when fully qualified), `None`
    /// when the labels are malformed.
    pub fn text(&self) -> Option<String> {
        let mut labels = Vec::new();
        let mut rest = self.name.as_slice();
        let mut qualified = false;
        while let Some((&len, tail)) = rest.split_first() {
            if len == 0 {
                qualified = true;
                if !tail.is_empty() {
                    return None;
                }
                break;
            }
            let label = tail.get(..usize::from(len))?;
            labels.push(String::from_utf8_lossy(label).into_owned());
            rest = &tail[usize::from(len)..];
        }
        let mut text = labels.join(".");
        if qualified {
            text.push('.');
        }
        Some(text)
    }
}

/// The options of one message that kvip knows; others are skipped on decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dhcp6Options {
    /// CLIENTID: the client's DUID.
    pub client_id: Option<Vec<u8>>,
    /// SERVERID: the server's DUID.
    pub server_id: Option<Vec<u8>>,
    /// IA_NA options, in order.
    pub ia_na: Vec<IaNa>,
    /// ORO: option codes asked for.
    pub oro: Vec<u16>,
    /// Server preference (ADVERTISE only).
    pub preference: Option<u8>,
    /// Elapsed time in hundredths of a second.
    pub elapsed_time: Option<u16>,
    /// Message-level status.
    pub status: Option<StatusCode>,
    /// Client FQDN.
    pub fqdn: Option<ClientFqdn>,
}

impl Dhcp6Options {
    /// Appends the options in a fixed order (CLIENTID, SERVERID, ELAPSED_TIME, ORO, PREFERENCE,
    /// IA_NA…, STATUS_CODE, CLIENT_FQDN).
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(id) = &self.client_id {
            put_option(out, OPT_CLIENTID, id);
        }
        if let Some(id) = &self.server_id {
            put_option(out, OPT_SERVERID, id);
        }
        if let Some(t) = self.elapsed_time {
            put_option(out, OPT_ELAPSED_TIME, &t.to_be_bytes());
        }
        if !self.oro.is_empty() {
            let codes: Vec<u8> = self.oro.iter().flat_map(|c| c.to_be_bytes()).collect();
            put_option(out, OPT_ORO, &codes);
        }
        if let Some(p) = self.preference {
            put_option(out, OPT_PREFERENCE, &[p]);
        }
        for ia in &self.ia_na {
            let mut body = Vec::with_capacity(12 + 28 * ia.addresses.len());
            for v in [ia.iaid, ia.t1, ia.t2] {
                body.extend_from_slice(&v.to_be_bytes());
            }
            for a in &ia.addresses {
                let mut addr = Vec::with_capacity(24);
                addr.extend_from_slice(&a.address.octets());
                addr.extend_from_slice(&a.preferred.to_be_bytes());
                addr.extend_from_slice(&a.valid.to_be_bytes());
                if let Some(s) = &a.status {
                    put_status(&mut addr, s);
                }
                put_option(&mut body, OPT_IAADDR, &addr);
            }
            if let Some(s) = &ia.status {
                put_status(&mut body, s);
            }
            put_option(out, OPT_IA_NA, &body);
        }
        if let Some(s) = &self.status {
            put_status(out, s);
        }
        if let Some(f) = &self.fqdn {
            let mut body = vec![f.flags];
            body.extend_from_slice(&f.name);
            put_option(out, OPT_CLIENT_FQDN, &body);
        }
    }

    /// Decodes the options area of a message (everything after the 4-byte header).
    pub fn decode(bytes: &[u8]) -> Result<Dhcp6Options, Dhcp6DecodeError> {
        let mut o = Dhcp6Options::default();
        for (code, value) in Options::new(bytes) {
            let value = value?;
            let wrong = || Dhcp6DecodeError::OptionLength {
                code,
                len: value.len(),
            };
            match code {
                OPT_CLIENTID => o.client_id = Some(value.to_vec()),
                OPT_SERVERID => o.server_id = Some(value.to_vec()),
                OPT_IA_NA => o.ia_na.push(decode_ia_na(value)?),
                OPT_ORO if value.len() % 2 == 0 => {
                    o.oro = value
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                }
                OPT_PREFERENCE if value.len() == 1 => o.preference = Some(value[0]),
                OPT_ELAPSED_TIME if value.len() == 2 => {
                    o.elapsed_time = Some(u16::from_be_bytes([value[0], value[1]]));
                }
                OPT_STATUS_CODE => o.status = Some(decode_status(value)?),
                OPT_CLIENT_FQDN if !value.is_empty() => {
                    o.fqdn = Some(ClientFqdn {
                        flags: value[0],
                        name: value[1..].to_vec(),
                    });
                }
                OPT_ORO | OPT_PREFERENCE | OPT_ELAPSED_TIME | OPT_CLIENT_FQDN => {
                    return Err(wrong())
                }
                _ => {}
            }
        }
        Ok(o)
    }
}

fn put_option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = &value[..value.len().min(MAX_OPTION_LEN)];
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

fn put_status(out: &mut Vec<u8>, s: &StatusCode) {
    let mut body = s.code.to_be_bytes().to_vec();
    body.extend_from_slice(s.message.as_bytes());
    put_option(out, OPT_STATUS_CODE, &body);
}

fn decode_status(value: &[u8]) -> Result<StatusCode, Dhcp6DecodeError> {
    if value.len() < 2 {
        return Err(Dhcp6DecodeError::OptionLength {
            code: OPT_STATUS_CODE,
            len: value.len(),
        });
    }
    Ok(StatusCode {
        code: u16::from_be_bytes([value[0], value[1]]),
        message: String::from_utf8_lossy(&value[2..]).into_owned(),
    })
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn decode_ia_na(value: &[u8]) -> Result<IaNa, Dhcp6DecodeError> {
    if value.len() < 12 {
        return Err(Dhcp6DecodeError::OptionLength {
            code: OPT_IA_NA,
            len: value.len(),
        });
    }
    let mut ia = IaNa {
        iaid: be32(&value[0..4]),
        t1: be32(&value[4..8]),
        t2: be32(&value[8..12]),
        addresses: Vec::new(),
        status: None,
    };
    for (code, inner) in Options::new(&value[12..]) {
        let inner = inner?;
        match code {
            OPT_IAADDR => ia.addresses.push(decode_iaaddr(inner)?),
            OPT_STATUS_CODE => ia.status = Some(decode_status(inner)?),
            _ => {}
        }
    }
    Ok(ia)
}

fn decode_iaaddr(value: &[u8]) -> Result<IaAddr, Dhcp6DecodeError> {
    if value.len() < 24 {
        return Err(Dhcp6DecodeError::OptionLength {
            code: OPT_IAADDR,
            len: value.len(),
        });
    }
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&value[..16]);
    let mut a = IaAddr {
        address: Ipv6Addr::from(octets),
        preferred: be32(&value[16..20]),
        valid: be32(&value[20..24]),
        status: None,
    };
    for (code, inner) in Options::new(&value[24..]) {
        let inner = inner?;
        if code == OPT_STATUS_CODE {
            a.status = Some(decode_status(inner)?);
        }
    }
    Ok(a)
}

/// Iterator over `(code, value)` of an options area; an option running past the end yields an
/// error and ends the iteration.
struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    fn new(bytes: &'a [u8]) -> Options<'a> {
        Options { rest: bytes }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, Result<&'a [u8], Dhcp6DecodeError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < 4 {
            let code = u16::from(self.rest[0]) << 8 | u16::from(*self.rest.get(1).unwrap_or(&0));
            self.rest = &[];
            return Some((code, Err(Dhcp6DecodeError::OptionOverrun { code })));
        }
        let code = u16::from_be_bytes([self.rest[0], self.rest[1]]);
        let len = usize::from(u16::from_be_bytes([self.rest[2], self.rest[3]]));
        let Some(value) = self.rest.get(4..4 + len) else {
            self.rest = &[];
            return Some((code, Err(Dhcp6DecodeError::OptionOverrun { code })));
        };
        self.rest = &self.rest[4 + len..];
        Some((code, Ok(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_of_a_host_name_is_a_partial_name() {
        let f = ClientFqdn::host("svc-one");
        assert_eq!(f.flags, FQDN_FLAG_S);
        assert_eq!(f.name, b"\x07svc-one".to_vec());
        assert_eq!(f.text().as_deref(), Some("svc-one"));
        let q = ClientFqdn::host("svc.example.");
        assert_eq!(q.name, b"\x03svc\x07example\x00".to_vec());
        assert_eq!(q.text().as_deref(), Some("svc.example."));
        let broken = ClientFqdn {
            flags: 0,
            name: vec![9, b'a'],
        };
        assert_eq!(broken.text(), None);
    }

    #[test]
    fn ia_na_with_address_and_status_encodes_byte_exact() {
        let o = Dhcp6Options {
            ia_na: vec![IaNa {
                iaid: 0x0a0b0c0d,
                t1: 60,
                t2: 96,
                addresses: vec![IaAddr {
                    address: "fd00::5".parse().unwrap(),
                    preferred: 120,
                    valid: 240,
                    status: None,
                }],
                status: Some(StatusCode {
                    code: 0,
                    message: "ok".into(),
                }),
            }],
            ..Dhcp6Options::default()
        };
        let mut out = Vec::new();
        o.encode(&mut out);
        let mut want = vec![0, 3, 0, 12 + 28 + 8];
        want.extend_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 0, 60, 0, 0, 0, 96]);
        want.extend_from_slice(&[0, 5, 0, 24]);
        want.extend_from_slice(&"fd00::5".parse::<Ipv6Addr>().unwrap().octets());
        want.extend_from_slice(&[0, 0, 0, 120, 0, 0, 0, 240]);
        want.extend_from_slice(&[0, 13, 0, 4, 0, 0, b'o', b'k']);
        assert_eq!(out, want);
        assert_eq!(Dhcp6Options::decode(&out).unwrap(), o);
    }

    #[test]
    fn unknown_options_are_skipped_and_bad_lengths_rejected() {
        let bytes = [0, 99, 0, 2, 1, 2, 0, 8, 0, 2, 0, 7];
        let o = Dhcp6Options::decode(&bytes).unwrap();
        assert_eq!(o.elapsed_time, Some(7));
        assert_eq!(
            Dhcp6Options::decode(&[0, 8, 0, 1, 5]),
            Err(Dhcp6DecodeError::OptionLength {
                code: OPT_ELAPSED_TIME,
                len: 1
            })
        );
        assert_eq!(
            Dhcp6Options::decode(&[0, 1, 0, 9, 5]),
            Err(Dhcp6DecodeError::OptionOverrun { code: OPT_CLIENTID })
        );
        assert_eq!(
            Dhcp6Options::decode(&[0, 3, 0, 4, 0, 0, 0, 1]),
            Err(Dhcp6DecodeError::OptionLength {
                code: OPT_IA_NA,
                len: 4
            })
        );
    }
}
