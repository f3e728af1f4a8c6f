//! The controller's decisions: which Services get which address now, and which problems are
//! reported. Runs after every input, only while leading and synced.

use super::alloc::{allocate, Allocation, Request};
use super::config::PoolLookup;
use super::controller::{IpamController, Write};
use super::io::{Assignment, IpamOutput, Reason, Report, ReportTarget};
use super::usage::{addresses_of, classify, port_numbers, Holder, Need, Usage};
use crate::io::OpId;
use crate::service::ServiceKey;
use crate::time::Instant;

/// The outcome of looking for an address for one Service.
type Decision = Result<(Assignment, Write), (Reason, String)>;

impl IpamController {
    /// Hands out every write that is due, and reports what blocks the others.
    pub(super) fn reconcile(&mut self, now: Instant) {
        if !self.leading {
            return;
        }
        self.report_config_errors();
        if !self.is_synced() {
            return;
        }
        for b in self.backoff.values_mut() {
            if b.until.is_some_and(|t| now >= t) {
                b.until = None;
            }
        }
        let mut due = Vec::new();
        let mut invalid = Vec::new();
        let mut settled = Vec::new();
        for (key, svc) in &self.services {
            match classify(svc, &self.settings.classes) {
                Need::Address => {
                    let waiting = self.backoff.get(key).is_some_and(|b| b.until.is_some());
                    if !self.writes.contains_key(key) && !waiting {
                        due.push(key.clone());
                    }
                }
                Need::Invalid(message) => invalid.push((ReportTarget::service(svc), message)),
                Need::NotOurs | Need::HasAddress => settled.push(key.clone()),
            }
        }
        for key in settled {
            self.service_problems.remove(&key);
        }
        for (target, message) in invalid {
            if let ReportTarget::Service { key, .. } = &target {
                let key = key.clone();
                self.problem(&key, target, Reason::InvalidAddress, message);
            }
        }
        if due.is_empty() {
            return;
        }
        let mut usage = self.usage();
        for key in due {
            match self.decide(&key, &mut usage) {
                Ok((assignment, write)) => {
                    self.service_problems.remove(&key);
                    let op = write.op.unwrap_or(OpId(0));
                    self.writes.insert(key, write);
                    self.out.push_back(IpamOutput::Assign { op, assignment });
                }
                Err((reason, message)) => {
                    if let Some(svc) = self.services.get(&key) {
                        let target = ReportTarget::service(svc);
                        self.problem(&key, target, reason, message);
                    }
                }
            }
        }
    }

    /// Every address in use in the cluster, reservations of writes included.
    pub(super) fn usage(&self) -> Usage {
        let share = |ns: &str| self.config.as_ref().is_some_and(|c| c.allow_share(ns));
        let mut usage = Usage::default();
        for svc in self.services.values() {
            let holder = Holder {
                key: svc.key.clone(),
                ports: port_numbers(svc),
                may_share: share(&svc.key.namespace),
            };
            for ip in addresses_of(svc) {
                usage.add(ip, holder.clone());
            }
        }
        for (key, w) in &self.writes {
            let holder = Holder {
                key: key.clone(),
                ports: w.ports.clone(),
                // The current ConfigMap decides, not the one of the decision.
                may_share: share(&key.namespace),
            };
            for ip in &w.addresses {
                usage.add(*ip, holder.clone());
            }
        }
        usage
    }

    /// Looks for an address for `key`; on success the address is added to `usage`.
    fn decide(&mut self, key: &ServiceKey, usage: &mut Usage) -> Decision {
        let cm = format!(
            "{}/{}",
            self.settings.config_map_namespace, self.settings.config_map_name
        );
        let ns = key.namespace.as_str();
        let svc = self
            .services
            .get(key)
            .ok_or((Reason::NoPool, String::new()))?;
        let Some(config) = &self.config else {
            let message = format!("no address pool: ConfigMap {cm} not found");
            return Err((Reason::NoPool, message));
        };
        let pool = match config.pool_for(ns) {
            PoolLookup::Found(pool) => pool,
            PoolLookup::Broken(e) => {
                let message = format!(
                    "the address pool for namespace {ns:?} in ConfigMap {cm} is malformed: {e}"
                );
                return Err((Reason::InvalidPool, message));
            }
            PoolLookup::Missing => {
                let message = format!(
                    "no address pool for namespace {ns:?}: ConfigMap {cm} has none of \
                     cidr-{ns}, range-{ns}, cidr-global, range-global"
                );
                return Err((Reason::NoPool, message));
            }
        };
        let ports = port_numbers(svc);
        let may_share = config.allow_share(ns);
        let request = Request {
            ports: &ports,
            may_share,
            order: config.search_order,
        };
        let Some(allocation) = allocate(pool, usage, &request) else {
            let share = if may_share && !ports.is_empty() {
                " (sharing is allowed, but no address in use has ports disjoint from this Service's)"
            } else {
                ""
            };
            let message = format!(
                "no free address in pool {} = {:?} of ConfigMap {cm}{share}",
                pool.key, pool.text
            );
            return Err((Reason::Exhausted, message));
        };
        let address = allocation.address();
        let holder = Holder {
            key: key.clone(),
            ports: ports.clone(),
            may_share,
        };
        usage.add(address, holder);
        let assignment = Assignment {
            key: key.clone(),
            uid: svc.uid.clone(),
            ports: svc.ports.clone(),
            addresses: vec![address],
            interface: config.interface(ns).map(str::to_string),
            pool_key: pool.key.clone(),
            shared: matches!(allocation, Allocation::Shared(_)),
        };
        let uid = svc.uid.clone();
        self.next_op += 1;
        let write = Write {
            op: Some(OpId(self.next_op)),
            uid,
            addresses: vec![address],
            ports,
            answered_at: None,
        };
        Ok((assignment, write))
    }

    /// Reports a Service's problem once per distinct (reason, message).
    pub(super) fn problem(
        &mut self,
        key: &ServiceKey,
        target: ReportTarget,
        reason: Reason,
        message: String,
    ) {
        let entry = (reason, message);
        if self.service_problems.get(key) == Some(&entry) {
            return;
        }
        self.service_problems.insert(key.clone(), entry.clone());
        self.report(target, reason, entry.1);
    }

    /// Queues an Event, when leading.
    pub(super) fn report(&mut self, target: ReportTarget, reason: Reason, message: String) {
        if self.leading {
            self.out.push_back(IpamOutput::Report(Report {
                target,
                reason,
                message,
            }));
        }
    }

    /// Reports each malformed ConfigMap key once while it stays malformed.
    fn report_config_errors(&mut self) {
        let (Some(cm), Some(config)) = (&self.config_map, &self.config) else {
            return;
        };
        let target = ReportTarget::ConfigMap {
            namespace: self.settings.config_map_namespace.clone(),
            name: cm.name.clone(),
            uid: cm.uid.clone(),
        };
        let fresh: Vec<String> = config
            .errors()
            .iter()
            .map(ToString::to_string)
            .filter(|m| !self.config_reported.contains(m))
            .collect();
        for message in fresh {
            self.config_reported.insert(message.clone());
            self.report(target.clone(), Reason::InvalidConfig, message);
        }
    }
}
