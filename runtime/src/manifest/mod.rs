//! `kvip manifest pod|daemonset|rbac|cloud-provider`: kube-vip's generator, for kvip.
//!
//! Produces what `kube-vip manifest pod|daemonset` produces (object names `kube-vip` /
//! `kube-vip-ds` in `kube-system`, `args: [manager]`, kube-vip's environment variables in its
//! order, host network, NET_ADMIN + NET_RAW, `--taint` tolerations and control-plane affinity,
//! the `kube-vip` ServiceAccount with `--inCluster`), plus kube-vip's RBAC, with kvip's image.
//! The environment is loaded through [`kvip_core::config`] before anything is printed, so the
//! generator never emits a manifest `kvip manager` would refuse. Only fields that a v1.20 API
//! server knows are set.
//!
//! | module | owns |
//! |---|---|
//! | [`options`] | the flags and their kube-vip defaults |
//! | [`env`](mod@env) | the container's environment and its check |
//! | [`workload`] | the Pod and the DaemonSet |
//! | [`rbac`] | ServiceAccount, ClusterRole, ClusterRoleBinding |
//! | [`cloud_provider`] | kube-vip-cloud-provider's RBAC and Deployment, running `kvip cloud-provider` |

pub mod cloud_provider;
pub mod env;
pub mod options;
pub mod rbac;
pub mod workload;

use kvip_core::config::ConfigError;
use serde::Serialize;
use thiserror::Error;

pub use env::{environment, EnvValue, EnvVar};
pub use options::{default_image, Options};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The static Pod `kube-vip`.
    Pod,
    /// The DaemonSet `kube-vip-ds`.
    Daemonset,
    /// ServiceAccount, ClusterRole and ClusterRoleBinding.
    Rbac,
    /// kube-vip-cloud-provider's RBAC and Deployment, running `kvip cloud-provider`.
    CloudProvider,
}

impl Kind {
    /// The subcommand name (`pod`, `daemonset`, `rbac`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Daemonset => "daemonset",
            Kind::Rbac => "rbac",
            Kind::CloudProvider => "cloud-provider",
        }
    }
}

/// Why no manifest was produced.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// `kvip manager` would refuse the generated environment; names the variable at fault and
    /// the generator flag that set it.
    #[error("kvip manager would refuse this manifest: {source}{}", flag_hint(flag))]
    Refused {
        /// Why kvip would refuse it.
        source: ConfigError,
        /// The generator flag that set the variable at fault, when one did.
        flag: Option<&'static str>,
    },
    /// An object could not be written as YAML (a bug in the generator).
    #[error("cannot write the manifest as YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

/// The manifest for `kind` as YAML (one document per object, a comment header first).
/// `options` are ignored for [`Kind::Rbac`]; [`Kind::CloudProvider`] uses only its image.
pub fn render(kind: Kind, options: &Options) -> Result<String, ManifestError> {
    let mut out = header(kind, options);
    match kind {
        Kind::Rbac => {
            push_doc(&mut out, &rbac::service_account())?;
            push_doc(&mut out, &rbac::cluster_role())?;
            push_doc(&mut out, &rbac::cluster_role_binding())?;
        }
        Kind::CloudProvider => {
            push_doc(&mut out, &cloud_provider::service_account())?;
            push_doc(&mut out, &cloud_provider::cluster_role())?;
            push_doc(&mut out, &cloud_provider::cluster_role_binding())?;
            push_doc(&mut out, &cloud_provider::deployment(&options.image()))?;
        }
        Kind::Pod | Kind::Daemonset => {
            let env = environment(options);
            env::check(&env).map_err(|source| ManifestError::Refused {
                flag: match &source {
                    ConfigError::Invalid { name, .. } => env::flag_for(name),
                    _ => None,
                },
                source,
            })?;
            if kind == Kind::Pod {
                push_doc(&mut out, &workload::pod(options, &env))?;
            } else {
                push_doc(&mut out, &workload::daemonset(options, &env))?;
            }
        }
    }
    Ok(out)
}

fn flag_hint(flag: &Option<&'static str>) -> String {
    flag.map(|f| format!(" (set with {f})")).unwrap_or_default()
}

/// The comment at the top: the command that regenerates the file, and that it runs kvip.
fn header(kind: Kind, options: &Options) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut command = vec!["kvip".to_string(), "manifest".into(), kind.name().into()];
    match kind {
        Kind::Rbac => {}
        Kind::CloudProvider => {
            if let Some(image) = &options.image {
                command.extend(["--image".to_string(), image.clone()]);
            }
        }
        Kind::Pod | Kind::Daemonset => command.extend(options.to_args()),
    }
    let what = match kind {
        Kind::Rbac => {
            "RBAC for kvip, a drop-in replacement for kube-vip\n\
             # (kube-vip's ServiceAccount, ClusterRole and ClusterRoleBinding: same names, same rules,\n\
             # plus creating Events)"
        }
        Kind::CloudProvider => {
            "This runs `kvip cloud-provider`, a drop-in replacement for kube-vip-cloud-provider\n\
             # (its object names, Lease and ConfigMap kube-system/kubevip; kvip's image)"
        }
        Kind::Pod | Kind::Daemonset => {
            "This runs kvip, a drop-in replacement for kube-vip\n\
             # (kube-vip's object names and environment variables; kvip's image)"
        }
    };
    format!(
        "# Generated by kvip v{version}: {}\n# {what}.\n",
        command.join(" ")
    )
}

/// Appends `object` as one YAML document, after a `---` separator unless it is the first.
fn push_doc(out: &mut String, object: &impl Serialize) -> Result<(), serde_yaml::Error> {
    if out.lines().any(|l| !l.starts_with('#')) {
        out.push_str("---\n");
    }
    out.push_str(&serde_yaml::to_string(object)?);
    Ok(())
}
