//! Planted defects: test-only switches that break one guarantee on purpose, so the simulator's
//! invariants can be shown to catch exactly the bug each one guards against. Without the
//! `planted-defects` feature the switch cannot be turned on and every check is `false`.

/// A bug that can be planted in the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Defect {
    /// Time the fence from the renew *response* instead of the request's send time.
    FenceFromResponse,
    /// Release the lease on shutdown before the address is removed.
    ReleaseBeforeRemove,
    /// Send the announcement when the add is issued, not when it completed.
    AnnounceBeforeAdd,
    /// Announce once per takeover: no burst, no refresh.
    AnnounceOnce,
    /// Ignore a release seen on the watch; wait for the next retry tick.
    NoWatchTakeover,
    /// Stop trying after a 409 Conflict (the "election wedged until restart" bug).
    StopAfterConflict,
    /// Services, per-service mode: announce a group gained from a live member at once instead
    /// of after the handover delay.
    ServicesNoHandoverDelay,
    /// Services: take endpoints only from a (re)list, ignoring changes between lists.
    ServicesIgnoreEndpointChanges,
    /// Services, per-service mode: a member never leaves the view once counted live.
    ServicesStickyMembers,
    /// Services: a deadline counts only when its own timer is served; an input handled after it
    /// (a busy runtime) reschedules past it and the work due then is forgotten.
    ServicesForwardOnlyWake,
    /// Services: an address stays on the interface it was first put on when its Service names
    /// another in `kube-vip.io/serviceInterface`.
    ServicesStaleInterface,
}

impl Defect {
    /// Every defect, for listings.
    pub const ALL: [Defect; 11] = [
        Defect::FenceFromResponse,
        Defect::ReleaseBeforeRemove,
        Defect::AnnounceBeforeAdd,
        Defect::AnnounceOnce,
        Defect::NoWatchTakeover,
        Defect::StopAfterConflict,
        Defect::ServicesNoHandoverDelay,
        Defect::ServicesIgnoreEndpointChanges,
        Defect::ServicesStickyMembers,
        Defect::ServicesForwardOnlyWake,
        Defect::ServicesStaleInterface,
    ];

    /// The defects planted in the control-plane [`crate::Node`] (the others are Services-only).
    pub const CONTROL_PLANE: [Defect; 6] = [
        Defect::FenceFromResponse,
        Defect::ReleaseBeforeRemove,
        Defect::AnnounceBeforeAdd,
        Defect::AnnounceOnce,
        Defect::NoWatchTakeover,
        Defect::StopAfterConflict,
    ];

    /// Kebab-case name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Defect::FenceFromResponse => "fence-from-response",
            Defect::ReleaseBeforeRemove => "release-before-remove",
            Defect::AnnounceBeforeAdd => "announce-before-add",
            Defect::AnnounceOnce => "announce-once",
            Defect::NoWatchTakeover => "no-watch-takeover",
            Defect::StopAfterConflict => "stop-after-conflict",
            Defect::ServicesNoHandoverDelay => "services-no-handover-delay",
            Defect::ServicesIgnoreEndpointChanges => "services-ignore-endpoint-changes",
            Defect::ServicesStickyMembers => "services-sticky-members",
            Defect::ServicesForwardOnlyWake => "services-forward-only-wake",
            Defect::ServicesStaleInterface => "services-stale-interface",
        }
    }

    /// The defect with this kebab-case name.
    pub fn from_name(name: &str) -> Option<Defect> {
        Defect::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// The set of planted defects (always empty unless built with `planted-defects`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects {
    #[cfg(feature = "planted-defects")]
    planted: Vec<Defect>,
}

impl Defects {
    /// A set with `defect` planted.
    #[cfg(feature = "planted-defects")]
    pub fn planted(defect: Defect) -> Self {
        Defects {
            planted: vec![defect],
        }
    }

    /// Whether `defect` is planted.
    pub fn has(&self, defect: Defect) -> bool {
        #[cfg(feature = "planted-defects")]
        return self.planted.contains(&defect);
        #[cfg(not(feature = "planted-defects"))]
        {
            let _ = defect;
            false
        }
    }
}
