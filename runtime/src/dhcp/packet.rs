//! A raw AF_PACKET socket on one interface for the DHCP client: whole Ethernet frames out (the
//! core builds them, from 0.0.0.0 before a lease), and in only IPv4/UDP frames to port 68 (a
//! classic BPF filter drops everything else in the kernel). Non-blocking, driven by tokio.
//!
//! Frames from a sender on the same host (a DHCP server in another namespace behind a veth) carry
//! an unfinished UDP checksum left to offload; PACKET_AUXDATA tells which, and the client skips
//! the UDP checksum of those (as udhcpc does).

use std::io;
use std::mem::{size_of, size_of_val, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use kvip_core::dhcp::UdpChecksum;
use nix::libc;
use tokio::io::unix::AsyncFd;

/// BPF: accept unfragmented IPv4/UDP whose destination port is 68, drop the rest. Jump offsets
/// count from the next instruction; 9 accepts, 10 drops.
const FILTER: [libc::sock_filter; 11] = [
    op(0x28, 0, 0, 12),      // 0: ldh [12]            ethertype
    op(0x15, 0, 8, 0x0800),  // 1: jeq IPv4 ? 2 : 10
    op(0x30, 0, 0, 23),      // 2: ldb [23]            IP protocol
    op(0x15, 0, 6, 17),      // 3: jeq UDP ? 4 : 10
    op(0x28, 0, 0, 20),      // 4: ldh [20]            flags + fragment offset
    op(0x45, 4, 0, 0x1fff),  // 5: jset offset ? 10 : 6
    op(0xb1, 0, 0, 14),      // 6: ldxb 4*([14]&0xf)   IP header length
    op(0x48, 0, 0, 16),      // 7: ldh [x+16]          UDP destination port
    op(0x15, 0, 1, 68),      // 8: jeq 68 ? 9 : 10
    op(0x06, 0, 0, 0x40000), // 9: ret 256 KiB         accept
    op(0x06, 0, 0, 0),       // 10: ret 0              drop
];

const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A packet socket bound to one interface.
pub struct PacketSocket {
    fd: AsyncFd<OwnedFd>,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl PacketSocket {
    /// Opens a socket on interface `ifindex` (needs CAP_NET_RAW). The socket is created with
    /// protocol 0 (receiving nothing) and only starts receiving when bound to the interface with
    /// the filter attached, so no frame of another interface slips in.
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        // SAFETY: plain socket(2); the result is checked and owned at once.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut program = FILTER;
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: fprog points at `program`, alive for the call; the kernel copies it.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })?;
        let on: libc::c_int = 1;
        // SAFETY: an int option of the size passed.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_AUXDATA,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = i32::try_from(ifindex).map_err(io::Error::other)?;
        // SAFETY: a valid sockaddr_ll of the size passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        // SAFETY: an OwnedFd is open until dropped, which only the AsyncFd does, and always
        // returns the same descriptor.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(PacketSocket { fd })
    }

    /// Sends one whole Ethernet frame on the interface.
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            let sent = guard.try_io(|fd| {
                // SAFETY: `frame` is valid for `frame.len()` bytes for the call.
                let n =
                    unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match sent {
                Ok(Ok(n)) if n == frame.len() => return Ok(()),
                Ok(Ok(n)) => {
                    return Err(io::Error::other(format!(
                        "sent {n} of {} bytes",
                        frame.len()
                    )))
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one frame into `buf`; returns its length (truncated to `buf`) and whether its
    /// UDP checksum is filled in (the kernel's `TP_STATUS_CSUMNOTREADY` says when it is not).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, UdpChecksum)> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_with_auxdata(fd.as_raw_fd(), buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

/// One `recvmsg` with room for the PACKET_AUXDATA control message.
fn recv_with_auxdata(fd: libc::c_int, buf: &mut [u8]) -> io::Result<(usize, UdpChecksum)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain old data; all-zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control);
    // SAFETY: msg points at `iov` (→ `buf`) and `control`, both alive and writable for the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut checksum = UdpChecksum::Verify;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, within
    // msg_controllen; each PACKET_AUXDATA payload is a tpacket_auxdata (read unaligned).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_PACKET && (*cmsg).cmsg_type == libc::PACKET_AUXDATA {
                let aux: libc::tpacket_auxdata =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                if aux.tp_status & libc::TP_STATUS_CSUMNOTREADY != 0 {
                    checksum = UdpChecksum::NotReady;
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, checksum))
}
