//! Which Services are ours: the `LoadBalancer` type, the `kube-vip.io/ignore` annotation and the
//! `loadBalancerClass` rules, exactly as kube-vip v1.x applies them (`lbClassFilterLegacy` /
//! `lbClassFilter` in its services processor):
//!
//! | `lb_class_legacy_handling` | `spec.loadBalancerClass` | ours when |
//! |---|---|---|
//! | true (default) | set | it equals `lb_class_name` |
//! | true (default) | unset | `lb_class_only` is false |
//! | false | set | it equals `lb_class_name` |
//! | false | unset | `lb_class_name` is empty |
//!
//! With the defaults (`lb_class_name = kube-vip.io/kube-vip-class`, legacy on, not class-only),
//! a Service with no class or with `kube-vip.io/kube-vip-class` is ours. `lb_class_only` is only
//! read by legacy handling (as in kube-vip); without legacy handling a class is always required
//! unless `lb_class_name` is set empty. `kube-vip.io/ignore` skips the Service when its value is
//! exactly `true`, as in kube-vip.

use super::model::{ServiceView, ANNOTATION_IGNORE, DEFAULT_LB_CLASS};
use crate::config::Config;

/// The class settings that decide which Services are ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRules {
    /// `lb_class_name`.
    pub class_name: String,
    /// `lb_class_only`: with legacy handling, Services without a class are not ours.
    pub class_only: bool,
    /// `lb_class_legacy_handling`.
    pub legacy: bool,
}

impl Default for ClassRules {
    /// kube-vip's defaults.
    fn default() -> Self {
        ClassRules {
            class_name: DEFAULT_LB_CLASS.to_owned(),
            class_only: false,
            legacy: true,
        }
    }
}

impl ClassRules {
    /// The rules from kvip's configuration.
    pub fn from_config(cfg: &Config) -> Self {
        ClassRules {
            class_name: cfg.lb_class_name.clone(),
            class_only: cfg.lb_class_only,
            legacy: cfg.lb_class_legacy_handling,
        }
    }
}

/// Why a Service is not ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOurs {
    /// `spec.type` is not `LoadBalancer`.
    NotLoadBalancer,
    /// `kube-vip.io/ignore: "true"`.
    Ignored,
    /// Its `loadBalancerClass` names another implementation.
    OtherClass(String),
    /// It has no class and the rules require one.
    ClassRequired,
}

/// Whether `view` is ours under `rules`, and why not if it is not.
pub fn classify(view: &ServiceView, rules: &ClassRules) -> Result<(), NotOurs> {
    if !view.is_load_balancer {
        return Err(NotOurs::NotLoadBalancer);
    }
    if view.annotation(ANNOTATION_IGNORE) == Some("true") {
        return Err(NotOurs::Ignored);
    }
    match view.load_balancer_class.as_deref() {
        Some(class) if class == rules.class_name => Ok(()),
        Some(class) => Err(NotOurs::OtherClass(class.to_owned())),
        None if rules.legacy && !rules.class_only => Ok(()),
        None if !rules.legacy && rules.class_name.is_empty() => Ok(()),
        None => Err(NotOurs::ClassRequired),
    }
}

/// Whether `view` is ours under `rules`.
pub fn is_ours(view: &ServiceView, rules: &ClassRules) -> bool {
    classify(view, rules).is_ok()
}
