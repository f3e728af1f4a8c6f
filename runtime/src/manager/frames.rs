//! The frame port over pnet's datalink channel: gratuitous ARPs and unsolicited neighbour
//! advertisements leave the VIP interface as raw Ethernet frames. The channel is opened once at
//! start so the first announcement after an add costs microseconds, not a socket setup.

use std::io;

use pnet_datalink::{Channel, DataLinkSender};

use super::ports::FramePort;

/// A raw Ethernet sender on one interface.
pub struct RawFrames {
    tx: Box<dyn DataLinkSender>,
}

impl RawFrames {
    /// Opens the channel on `interface` (needs CAP_NET_RAW).
    pub fn open(interface: &str) -> anyhow::Result<Self> {
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == interface)
            .ok_or_else(|| anyhow::anyhow!("interface {interface:?} not found"))?;
        let config = pnet_datalink::Config {
            read_buffer_size: 4096,
            ..Default::default()
        };
        match pnet_datalink::channel(&iface, config) {
            Ok(Channel::Ethernet(tx, _rx)) => Ok(RawFrames { tx }),
            Ok(_) => anyhow::bail!("interface {interface:?}: not an Ethernet channel"),
            Err(e) => anyhow::bail!("raw socket on {interface:?} (needs NET_RAW): {e}"),
        }
    }
}

impl FramePort for RawFrames {
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        match self.tx.send_to(frame, None) {
            Some(result) => result,
            None => Err(io::Error::other("frame did not fit the send buffer")),
        }
    }
}
