//! kvip-scenarios: the articles' stories (../shared/SCENARIOS.md) as runnable scenarios.
//!
//! | module | owns |
//! |---|---|
//! | [`story`] | the stories as data: addresses, interfaces, the daemon's environment (S1, S2) |
//! | [`faults`] | the faults run on the holder: power-off, graceful stop, API server killed, LAN cut, link flap |
//! | [`runner`] | a story running in namespaces with real etcd + kube-apiserver and kvip on each master |
//! | [`trial`] | one fault: timeline, client outage, checks |
//! | [`binaries`] | finding (building) the `kvip` and `kvip-probe` binaries the namespaces run |
//! | [`keepalived`] | keepalived as S4 configures it: the baseline the benchmark compares kvip with |
//! | [`bench`] | the failover benchmark's figures: percentiles, the table, /proc readings |
//! | [`lb`] | the LoadBalancer stories (S2's Services, S3) with node, kube-proxy and DHCP stand-ins |
//! | [`lb_bench`] | the LoadBalancer Services benchmark: global and per-service mode at N Services |

pub mod bench;
pub mod binaries;
pub mod faults;
pub mod keepalived;
pub mod lb;
pub mod lb_bench;
pub mod runner;
pub mod story;
pub mod trial;
