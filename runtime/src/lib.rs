//! kvip-runtime: the production driver of `kvip-core`.
//!
//! | module | owns |
//! |---|---|
//! | [`check`] | `kvip manager --check`: the effective configuration as text |
//! | [`cli`] | the `kvip` command line |
//! | [`cloud_provider`] | `kvip cloud-provider`: leader-elected IPAM for LoadBalancer Services (kube-vip-cloud-provider) |
//! | [`dhcp`] | DHCP addresses of `0.0.0.0` Services: macvlan, packet socket, lease task, `kvip dhcp-lease` |
//! | [`manifest`] | `kvip manifest pod\|daemonset\|rbac`: kube-vip's generator |
//! | [`kube_service`] | Kubernetes Service / Endpoints / EndpointSlice objects as the core's views |
//! | [`services`] | LoadBalancer Services: watches, status writes, Events |
//! | [`manager`] | `kvip manager`: the one task that owns a `Node` and runs its outputs with real IO |

pub mod check;
pub mod cli;
pub mod cloud_provider;
pub mod dhcp;
pub mod dhcp6;
pub mod kube_service;
pub mod manager;
pub mod manifest;
pub mod services;
