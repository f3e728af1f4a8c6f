//! The IPAM controller: Services and the ConfigMap in (as watch events), address writes and
//! Kubernetes Events out. Sans-IO; [`super::provider`] ties it to leader election, and
//! [`super::decide`] holds the decisions.
//!
//! Rules:
//! - nothing is decided before both watches finished their first list, nor while the Services
//!   watch re-lists (the in-use map must be complete, or an address could be handed out twice);
//! - only the leader writes and reports ([`IpamController::set_leading`]);
//! - Services are served in key order (namespace, name): deterministic;
//! - an address written is reserved from the moment the write is handed out until the watch
//!   shows the Service carrying it (or the Service is gone, or [`IpamSettings::echo_timeout`]
//!   passed since the answer), so a lagging watch never frees it early; a write whose outcome is
//!   unknown keeps its reservation the same way. Safety assumes the watch shows a write within
//!   that timeout (30 s; watches deliver in milliseconds, and a broken one re-lists); past it,
//!   the driver's re-read still keeps the Service itself from being written twice;
//! - which holders may share is judged with the current ConfigMap, never the one a reservation
//!   was decided under;
//! - a Service that cannot get an address (no pool, broken pool, exhausted) gets one Warning per
//!   distinct problem and is reconsidered on every change (pool edited, address freed);
//! - a failed write is retried after a doubling delay.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::config::{ConfigMapView, IpamConfig};
use super::io::{IpamOutput, Reason};
use super::usage::ClassFilter;
pub(super) use super::writes::{Backoff, Write};
use crate::io::WatchEvent;
use crate::service::{ServiceKey, ServiceView};
use crate::time::Instant;

/// Settings of the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamSettings {
    /// Namespace of the ConfigMap (`KUBEVIP_NAMESPACE`, default kube-system).
    pub config_map_namespace: String,
    /// Name of the ConfigMap (`KUBEVIP_CONFIG_MAP`, default kubevip).
    pub config_map_name: String,
    /// Which load-balancer classes are ours.
    pub classes: ClassFilter,
    /// First delay after a failed write; it doubles per failure.
    pub retry_base: Duration,
    /// Longest delay after failed writes.
    pub retry_max: Duration,
    /// How long a written address stays reserved while the watch has not shown it yet.
    pub echo_timeout: Duration,
}

impl Default for IpamSettings {
    fn default() -> Self {
        IpamSettings {
            config_map_namespace: "kube-system".into(),
            config_map_name: "kubevip".into(),
            classes: ClassFilter::default(),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            echo_timeout: Duration::from_secs(30),
        }
    }
}

/// The IPAM state machine. Methods: `handle_*` take facts, `poll_*` hand out work, getters
/// read, [`IpamController::set_leading`] is the one verb. After any `handle_*` or verb drain
/// [`IpamController::poll_output`], then sleep until [`IpamController::poll_timeout`].
#[derive(Debug, Clone)]
pub struct IpamController {
    pub(super) settings: IpamSettings,
    pub(super) services: BTreeMap<ServiceKey, ServiceView>,
    services_relist: Option<BTreeMap<ServiceKey, ServiceView>>,
    services_synced: bool,
    pub(super) config_map: Option<ConfigMapView>,
    pub(super) config: Option<IpamConfig>,
    config_relist: Option<Vec<ConfigMapView>>,
    config_synced: bool,
    pub(super) writes: BTreeMap<ServiceKey, Write>,
    pub(super) backoff: BTreeMap<ServiceKey, Backoff>,
    pub(super) service_problems: BTreeMap<ServiceKey, (Reason, String)>,
    pub(super) config_reported: BTreeSet<String>,
    pub(super) leading: bool,
    pub(super) next_op: u64,
    pub(super) out: VecDeque<IpamOutput>,
}

impl IpamController {
    /// A controller that knows nothing yet and does not lead.
    pub fn new(settings: IpamSettings) -> Self {
        IpamController {
            settings,
            services: BTreeMap::new(),
            services_relist: None,
            services_synced: false,
            config_map: None,
            config: None,
            config_relist: None,
            config_synced: false,
            writes: BTreeMap::new(),
            backoff: BTreeMap::new(),
            service_problems: BTreeMap::new(),
            config_reported: BTreeSet::new(),
            leading: false,
            next_op: 0,
            out: VecDeque::new(),
        }
    }

    /// Takes one event of the watch on all Services.
    pub fn handle_services(&mut self, now: Instant, event: WatchEvent<ServiceView>) {
        match event {
            WatchEvent::Init => self.services_relist = Some(BTreeMap::new()),
            WatchEvent::InitApply(svc) => {
                let relist = self.services_relist.get_or_insert_with(BTreeMap::new);
                relist.insert(svc.key.clone(), svc);
            }
            WatchEvent::InitDone => {
                self.services = self.services_relist.take().unwrap_or_default();
                self.services_synced = true;
                let known = &self.services;
                self.service_problems.retain(|k, _| known.contains_key(k));
                self.backoff.retain(|k, _| known.contains_key(k));
                let keys: Vec<ServiceKey> = self.writes.keys().cloned().collect();
                keys.iter().for_each(|k| self.settle_write(k));
            }
            WatchEvent::Apply(svc) => self.apply_service(svc),
            WatchEvent::Delete(svc) => self.remove_service(&svc),
        }
        self.reconcile(now);
    }

    /// Takes one event of the watch on the ConfigMap (selected by name).
    pub fn handle_config_map(&mut self, now: Instant, event: WatchEvent<ConfigMapView>) {
        match event {
            WatchEvent::Init => self.config_relist = Some(Vec::new()),
            WatchEvent::InitApply(cm) => self.config_relist.get_or_insert_with(Vec::new).push(cm),
            WatchEvent::InitDone => {
                let listed = self.config_relist.take().unwrap_or_default();
                let ours = listed.into_iter().find(|cm| self.is_our_config_map(cm));
                self.set_config_map(ours);
                self.config_synced = true;
            }
            WatchEvent::Apply(cm) if self.is_our_config_map(&cm) => self.set_config_map(Some(cm)),
            WatchEvent::Delete(cm) if self.is_our_config_map(&cm) => self.set_config_map(None),
            WatchEvent::Apply(_) | WatchEvent::Delete(_) => {}
        }
        self.reconcile(now);
    }

    /// Runs what is due at `now`: retries and expired reservations.
    pub fn handle_timeout(&mut self, now: Instant) {
        let echo = self.settings.echo_timeout;
        self.writes
            .retain(|_, w| w.answered_at.is_none_or(|t| now < t + echo));
        self.reconcile(now);
    }

    /// Sets whether this instance leads. A new leader reports current problems afresh.
    pub fn set_leading(&mut self, now: Instant, leading: bool) {
        if leading == self.leading {
            return;
        }
        self.leading = leading;
        self.service_problems.clear();
        self.config_reported.clear();
        self.reconcile(now);
    }

    /// The next piece of work.
    pub fn poll_output(&mut self) -> Option<IpamOutput> {
        self.out.pop_front()
    }

    /// When [`IpamController::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let echo = self.settings.echo_timeout;
        let expiries = self
            .writes
            .values()
            .filter_map(|w| w.answered_at.map(|t| t + echo));
        let retries = self.backoff.values().filter_map(|b| b.until);
        expiries.chain(retries).min()
    }

    /// The Services as last seen.
    pub fn services(&self) -> &BTreeMap<ServiceKey, ServiceView> {
        &self.services
    }

    /// The parsed ConfigMap (`None`: absent or not listed yet).
    pub fn config(&self) -> Option<&IpamConfig> {
        self.config.as_ref()
    }

    /// Whether both watches finished their first list and no re-list is under way.
    pub fn is_synced(&self) -> bool {
        self.services_synced && self.config_synced && self.services_relist.is_none()
    }

    /// Whether this instance leads.
    pub fn is_leading(&self) -> bool {
        self.leading
    }

    /// Services waiting for an address and why (as last reported while leading).
    pub fn problems(&self) -> impl Iterator<Item = (&ServiceKey, Reason, &str)> {
        self.service_problems
            .iter()
            .map(|(k, (r, m))| (k, *r, m.as_str()))
    }

    /// Writes handed out and not yet answered.
    pub fn writes_in_flight(&self) -> usize {
        self.writes.values().filter(|w| w.op.is_some()).count()
    }

    fn is_our_config_map(&self, cm: &ConfigMapView) -> bool {
        cm.name == self.settings.config_map_name
            && (cm.namespace.is_empty() || cm.namespace == self.settings.config_map_namespace)
    }

    fn set_config_map(&mut self, cm: Option<ConfigMapView>) {
        self.config = cm.as_ref().map(|cm| IpamConfig::parse(&cm.data));
        self.config_map = cm;
        let current: BTreeSet<String> = self
            .config
            .iter()
            .flat_map(|c| c.errors().iter().map(ToString::to_string))
            .collect();
        self.config_reported.retain(|m| current.contains(m));
    }

    pub(super) fn apply_service(&mut self, svc: ServiceView) {
        if let Some(relist) = &mut self.services_relist {
            relist.insert(svc.key.clone(), svc.clone());
        }
        let key = svc.key.clone();
        if self
            .services
            .get(&key)
            .is_some_and(|old| old.uid != svc.uid)
        {
            self.service_problems.remove(&key);
            self.backoff.remove(&key);
        }
        self.services.insert(key.clone(), svc);
        self.settle_write(&key);
    }

    fn remove_service(&mut self, svc: &ServiceView) {
        if let Some(relist) = &mut self.services_relist {
            relist.remove(&svc.key);
        }
        let key = &svc.key;
        if self.services.get(key).is_some_and(|s| s.uid == svc.uid) {
            self.services.remove(key);
            self.service_problems.remove(key);
            self.backoff.remove(key);
        }
        self.settle_write(key);
    }
}
