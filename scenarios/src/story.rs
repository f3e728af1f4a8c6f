//! The stories as data: the articles' addresses, interface names and the daemon's environment,
//! kept as the articles give them so a reader can hold a scenario next to its article.
//! - S1 (seed 000): K3s, VIP 192.168.205.200 on `ens3`, kvip with exactly the environment that
//!   `kvip manifest daemonset --interface ens3 --address 192.168.205.200 --inCluster --taint
//!   --controlplane --services --arp --leaderElection` generates.
//! - S2 (seed 001): RKE, VIP 192.168.66.101 on `eth0`, the static pod's variables verbatim.

use std::net::Ipv4Addr;

use clap::Parser;
use kvip_core::ElectionTiming;
use kvip_runtime::manifest::env::{environment, EnvValue};
use kvip_runtime::manifest::options::Options;
use kvip_testbed::netns::ClusterSpec;

/// One story's fixed facts.
#[derive(Debug, Clone)]
pub struct Story {
    /// `s1` or `s2`.
    pub name: &'static str,
    /// The cluster to build.
    pub spec: ClusterSpec,
    /// The control-plane VIP.
    pub vip: Ipv4Addr,
    /// The daemon's environment, common to every master (the node name and the kubeconfig path
    /// are added per master).
    pub env: Vec<(String, String)>,
    /// Election timing in force (from `env`).
    pub timing: ElectionTiming,
}

/// S2's static-pod environment, verbatim from the article.
pub const S2_ENV: [(&str, &str); 13] = [
    ("vip_arp", "true"),
    ("vip_interface", "eth0"),
    ("port", "6443"),
    ("vip_cidr", "32"),
    ("cp_enable", "true"),
    ("cp_namespace", "kube-system"),
    ("vip_ddns", "false"),
    ("svc_enable", "true"),
    ("vip_leaderelection", "true"),
    ("vip_leaseduration", "5"),
    ("vip_renewdeadline", "3"),
    ("vip_retryperiod", "1"),
    ("vip_address", "192.168.66.101"),
];

/// S1's generator flags, as the article runs them.
pub const S1_FLAGS: [&str; 10] = [
    "--interface",
    "ens3",
    "--address",
    "192.168.205.200",
    "--inCluster",
    "--taint",
    "--controlplane",
    "--services",
    "--arp",
    "--leaderElection",
];

#[derive(Parser)]
struct GeneratorFlags {
    #[command(flatten)]
    options: Options,
}

/// S2, optionally with another election timing (the benchmark's profiles).
pub fn s2(timing: Option<ElectionTiming>) -> Story {
    let env = S2_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    with_timing(
        Story {
            name: "s2",
            spec: ClusterSpec::s2(),
            vip: Ipv4Addr::new(192, 168, 66, 101),
            env,
            timing: ElectionTiming::from_millis(5_000, 3_000, 1_000),
        },
        timing,
    )
}

/// S1, with the environment the generator writes for S1's flags.
pub fn s1(timing: Option<ElectionTiming>) -> Story {
    let flags = GeneratorFlags::try_parse_from(std::iter::once("manifest").chain(S1_FLAGS))
        .expect("S1's generator flags parse");
    let env = environment(&flags.options)
        .into_iter()
        .filter_map(|(k, v)| match v {
            EnvValue::Literal(v) => Some((k.to_string(), v)),
            EnvValue::NodeName => None,
        })
        .collect();
    with_timing(
        Story {
            name: "s1",
            spec: ClusterSpec::s1(),
            vip: Ipv4Addr::new(192, 168, 205, 200),
            env,
            timing: ElectionTiming::from_millis(5_000, 3_000, 1_000),
        },
        timing,
    )
}

fn with_timing(mut story: Story, timing: Option<ElectionTiming>) -> Story {
    if let Some(t) = timing {
        let secs = |d: std::time::Duration| format!("{}", d.as_secs_f64());
        for (k, v) in &mut story.env {
            match k.as_str() {
                "vip_leaseduration" => *v = t.lease_duration.as_secs().to_string(),
                "vip_renewdeadline" => *v = secs(t.renew_deadline),
                "vip_retryperiod" => *v = secs(t.retry_period),
                _ => {}
            }
        }
        story.timing = t;
    }
    story
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_env_is_the_generators_and_parses() {
        let story = s1(None);
        let get = |k: &str| {
            story
                .env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("vip_interface"), Some("ens3"));
        assert_eq!(get("address"), Some("192.168.205.200"));
        assert_eq!(get("vip_leaseduration"), Some("5"));
        let mut env = story.env.clone();
        env.push(("vip_nodename".into(), "k3s1".into()));
        let loaded = kvip_core::config::Config::from_sources(env, &[], "k3s1").expect("valid");
        assert_eq!(loaded.config.election, story.timing);
    }

    #[test]
    fn s2_env_is_verbatim_and_profiles_override_timing() {
        let story = s2(Some(ElectionTiming::from_millis(1_000, 600, 200)));
        let get = |k: &str| {
            story
                .env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("vip_cidr").as_deref(), Some("32"));
        assert_eq!(get("vip_renewdeadline").as_deref(), Some("0.6"));
        assert_eq!(get("vip_retryperiod").as_deref(), Some("0.2"));
        let loaded = kvip_core::config::Config::from_sources(story.env.clone(), &[], "master01")
            .expect("valid");
        assert_eq!(loaded.config.election, story.timing);
    }
}
