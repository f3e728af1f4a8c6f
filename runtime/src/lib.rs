//! kvip-runtime: the production driver of `kvip-core`.
//!
//! | module | owns |
//! |---|---|
//! | [`check`] | `kvip manager --check`: the effective configuration as text |
//! | [`cli`] | the `kvip` command line |
//! | [`manifest`] | `kvip manifest pod\|daemonset\|rbac`: kube-vip's generator |
//! | [`manager`] | `kvip manager`: the one task that owns a `Node` and runs its outputs with real IO |

pub mod check;
pub mod cli;
pub mod manager;
pub mod manifest;
