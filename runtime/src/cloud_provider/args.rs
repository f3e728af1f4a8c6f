//! `kvip cloud-provider`'s flags and kube-vip-cloud-provider's environment variables, resolved
//! into [`Settings`]: the environment overrides the flags, as kube-vip's does for `kvip manager`.

use std::path::PathBuf;

use kvip_core::config::parse_duration;
use kvip_core::ipam::{ClassFilter, IpamSettings};
use kvip_core::service::model::DEFAULT_LB_CLASS;
use kvip_core::ElectionTiming;

/// Environment variable overriding `--namespace` (kube-vip-cloud-provider's name).
pub const ENV_NAMESPACE: &str = "KUBEVIP_NAMESPACE";
/// Environment variable overriding `--configmap`.
pub const ENV_CONFIG_MAP: &str = "KUBEVIP_CONFIG_MAP";
/// Environment variable: `true` serves only Services of the class (not those without one).
pub const ENV_CLASS_ONLY: &str = "KUBEVIP_ENABLE_LOADBALANCERCLASS";
/// Environment variable overriding `--lb-class`.
pub const ENV_CLASS: &str = "KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME";

/// `kvip cloud-provider`'s flags. kube-vip-cloud-provider's environment variables override
/// them, as kube-vip's do for `kvip manager`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else the Pod's ServiceAccount
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Namespace of the IPAM ConfigMap (env KUBEVIP_NAMESPACE)
    #[arg(long, value_name = "NAMESPACE", default_value = "kube-system")]
    pub namespace: String,

    /// Name of the IPAM ConfigMap (env KUBEVIP_CONFIG_MAP)
    #[arg(long = "configmap", value_name = "NAME", default_value = "kubevip")]
    pub config_map: String,

    /// Load-balancer class served (env KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME)
    #[arg(long = "lb-class", value_name = "CLASS", default_value = DEFAULT_LB_CLASS)]
    pub lb_class: String,

    /// Serve only Services of that class, not those without a class (env KUBEVIP_ENABLE_LOADBALANCERCLASS=true)
    #[arg(long = "lb-class-only")]
    pub lb_class_only: bool,

    /// Name of the election Lease
    #[arg(
        long = "leader-elect-resource-name",
        value_name = "NAME",
        default_value = "kube-vip-cloud-controller"
    )]
    pub lease_name: String,

    /// Namespace of the election Lease
    #[arg(
        long = "leader-elect-resource-namespace",
        value_name = "NAMESPACE",
        default_value = "kube-system"
    )]
    pub lease_namespace: String,

    /// Lease duration (15s; also 15, 1.5s, 1500ms)
    #[arg(
        long = "leader-elect-lease-duration",
        value_name = "DURATION",
        default_value = "15s"
    )]
    pub lease_duration: String,

    /// Renew deadline
    #[arg(
        long = "leader-elect-renew-deadline",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub renew_deadline: String,

    /// Retry period
    #[arg(
        long = "leader-elect-retry-period",
        value_name = "DURATION",
        default_value = "2s"
    )]
    pub retry_period: String,

    /// Lease holder identity (default: the host name, i.e. the Pod name)
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,
}

/// What [`Args`] and the environment resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// kubeconfig flag.
    pub kubeconfig: Option<PathBuf>,
    /// Lease namespace and name.
    pub lease: (String, String),
    /// Holder identity.
    pub identity: String,
    /// Election timing (validated).
    pub timing: ElectionTiming,
    /// IPAM settings.
    pub ipam: IpamSettings,
}

impl Args {
    /// Resolves the flags against `env` (the process environment) and `hostname`.
    pub fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
        hostname: &str,
    ) -> Result<Settings, String> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let duration = |flag: &str, text: &str| {
            parse_duration(text).ok_or_else(|| {
                format!("--{flag} {text:?}: expected a duration such as 15s, 15, 1.5s or 1500ms")
            })
        };
        let timing = ElectionTiming {
            lease_duration: duration("leader-elect-lease-duration", &self.lease_duration)?,
            renew_deadline: duration("leader-elect-renew-deadline", &self.renew_deadline)?,
            retry_period: duration("leader-elect-retry-period", &self.retry_period)?,
        }
        .validate()
        .map_err(|e| format!("leader election timing: {e}"))?;
        let class_only = match env(ENV_CLASS_ONLY).as_deref().map(str::trim) {
            None => self.lb_class_only,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(format!(
                    "{ENV_CLASS_ONLY}={other:?}: expected true or false"
                ))
            }
        };
        let identity = self
            .identity
            .clone()
            .unwrap_or_else(|| hostname.to_string());
        if identity.is_empty() {
            return Err("empty identity: set --identity".into());
        }
        Ok(Settings {
            kubeconfig: self.kubeconfig.clone(),
            lease: (self.lease_namespace.clone(), self.lease_name.clone()),
            identity,
            timing,
            ipam: IpamSettings {
                config_map_namespace: env(ENV_NAMESPACE).unwrap_or_else(|| self.namespace.clone()),
                config_map_name: env(ENV_CONFIG_MAP).unwrap_or_else(|| self.config_map.clone()),
                classes: ClassFilter {
                    class: env(ENV_CLASS).unwrap_or_else(|| self.lb_class.clone()),
                    class_only,
                },
                ..IpamSettings::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }

    fn args(flags: &[&str]) -> Args {
        Cmd::parse_from(std::iter::once("x").chain(flags.iter().copied())).args
    }

    #[test]
    fn defaults_are_kube_vip_cloud_providers() {
        let s = args(&[]).resolve(|_| None, "pod-1").unwrap();
        assert_eq!(
            s.lease,
            ("kube-system".into(), "kube-vip-cloud-controller".into())
        );
        assert_eq!(s.timing, ElectionTiming::KUBE_VIP_DEFAULT);
        assert_eq!(s.identity, "pod-1");
        assert_eq!(s.ipam.config_map_namespace, "kube-system");
        assert_eq!(s.ipam.config_map_name, "kubevip");
        assert_eq!(s.ipam.classes, ClassFilter::default());
    }

    #[test]
    fn environment_overrides_flags() {
        let env = |name: &str| match name {
            ENV_NAMESPACE => Some("ipam".to_string()),
            ENV_CLASS_ONLY => Some("true".to_string()),
            _ => None,
        };
        let s = args(&["--namespace", "flagged", "--configmap", "pools"])
            .resolve(env, "h")
            .unwrap();
        assert_eq!(s.ipam.config_map_namespace, "ipam");
        assert_eq!(s.ipam.config_map_name, "pools");
        assert!(s.ipam.classes.class_only);
    }

    #[test]
    fn bad_timing_is_refused_with_the_flag_or_rule() {
        let err = args(&["--leader-elect-retry-period", "soon"])
            .resolve(|_| None, "h")
            .unwrap_err();
        assert!(err.contains("--leader-elect-retry-period"), "{err}");
        let err = args(&["--leader-elect-renew-deadline", "20s"])
            .resolve(|_| None, "h")
            .unwrap_err();
        assert!(err.contains("must be greater"), "{err}");
        let fast = args(&[
            "--leader-elect-lease-duration=5",
            "--leader-elect-renew-deadline=3",
            "--leader-elect-retry-period=1",
        ]);
        assert_eq!(
            fast.resolve(|_| None, "h")
                .unwrap()
                .timing
                .retry_period
                .as_secs(),
            1
        );
    }
}
