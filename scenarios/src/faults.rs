//! The faults every scenario runs on the current holder (SCENARIOS.md's "what reproduce means"):
//! power-off, graceful stop, its own API server killed, cut off from the LAN, link flap.

use std::fmt;

/// A fault on the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL of everything in its namespace, link down.
    PowerOff,
    /// SIGTERM to kvip only.
    GracefulStop,
    /// Its own kube-apiserver SIGKILLed while kvip lives: it must lose the lease within
    /// renewDeadline and the VIP must move.
    ApiServerKilled,
    /// Cut off from the LAN, reconnected after another node took over: never two holders.
    LanCut,
    /// Its link goes down for 300 ms and comes back.
    LinkFlap,
}

impl Fault {
    /// Every fault, in the order scenarios run them.
    pub const ALL: [Fault; 5] = [
        Fault::PowerOff,
        Fault::GracefulStop,
        Fault::ApiServerKilled,
        Fault::LanCut,
        Fault::LinkFlap,
    ];

    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::PowerOff => "power-off",
            Fault::GracefulStop => "graceful-stop",
            Fault::ApiServerKilled => "apiserver-killed",
            Fault::LanCut => "lan-cut",
            Fault::LinkFlap => "link-flap",
        }
    }

    /// The fault with this name.
    pub fn from_name(s: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whether the VIP must move to another master.
    pub fn moves_the_vip(self) -> bool {
        self != Fault::LinkFlap
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
