//! The cloud provider's loop: the one task that owns the [`CloudProvider`]. It carries out the
//! provider's outputs (Lease requests, address writes, Events), feeds every answer, watch event
//! and timer back in, and on the shutdown signal releases the Lease before returning.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt};
use kube::Client;
use kvip_core::ipam::{
    ClassFilter, CloudProvider, ConfigMapView, ProviderInput, ProviderOutput, WriteError,
};
use kvip_core::service::ServiceView;
use kvip_core::{Event, LeaseError, WatchEvent};
use tracing::{debug, info, warn};

use super::kube_io;
use crate::manager::clock::CoreClock;
use crate::manager::driver::sleep_until;
use crate::manager::kube_lease::KubeLease;
use crate::manager::ports::LeasePort;

/// How long a graceful stop may wait for the Lease release.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);
/// Upper bound on one request, beyond the core's own timeouts, so no future lingers.
const REQUEST_CAP: Duration = Duration::from_secs(30);

/// Everything the loop talks to.
pub struct Io {
    /// The API client (writes and Events).
    pub client: Client,
    /// The Lease.
    pub lease: KubeLease,
    /// Watch on all Services.
    pub services: BoxStream<'static, WatchEvent<ServiceView>>,
    /// Watch on the ConfigMap.
    pub config_map: BoxStream<'static, WatchEvent<ConfigMapView>>,
    /// Which classes are ours (the write re-checks with it).
    pub classes: ClassFilter,
    /// Our identity (`reportingInstance` of Events).
    pub identity: String,
}

/// Runs `provider` until `shutdown` resolves and the Lease is released.
pub async fn drive(
    mut provider: CloudProvider,
    clock: CoreClock,
    io: Io,
    shutdown: impl Future<Output = ()>,
) {
    let Io {
        client,
        lease,
        services,
        config_map,
        classes,
        identity,
    } = io;
    let mut pending: FuturesUnordered<BoxFuture<'static, ProviderInput>> = FuturesUnordered::new();
    let mut lease_watch = lease.watch().fuse();
    let mut services = services.fuse();
    let mut config_map = config_map.fuse();
    let mut shutdown = pin!(shutdown.fuse());
    let mut give_up_at: Option<tokio::time::Instant> = None;
    loop {
        while let Some(output) = provider.poll_output() {
            match output {
                ProviderOutput::Lease { op, request } => {
                    debug!(op = op.0, ?request, "lease request");
                    let call = tokio::time::timeout(REQUEST_CAP, lease.call(request));
                    pending.push(Box::pin(async move {
                        let result = call.await.unwrap_or_else(|_| {
                            Err(LeaseError::Transport("request cap exceeded".into()))
                        });
                        ProviderInput::LeaseResponse { op, result }
                    }));
                }
                ProviderOutput::Assign { op, assignment } => {
                    info!(
                        service = %assignment.key,
                        addresses = %assignment.annotation_value(),
                        pool = %assignment.pool_key,
                        shared = assignment.shared,
                        interface = assignment.interface.as_deref().unwrap_or(""),
                        "assigning"
                    );
                    let write =
                        kube_io::write_assignment(client.clone(), assignment, classes.clone());
                    let write = tokio::time::timeout(REQUEST_CAP, write);
                    pending.push(Box::pin(async move {
                        let result = write.await.unwrap_or_else(|_| {
                            Err(WriteError::Failed {
                                message: "write timed out".into(),
                                maybe_applied: true,
                            })
                        });
                        log_write(&result);
                        ProviderInput::WriteDone { op, result }
                    }));
                }
                ProviderOutput::Report(report) => {
                    let target = format!("{:?}", report.target);
                    if report.reason.is_warning() {
                        warn!(reason = %report.reason, %target, message = %report.message, "event");
                    } else {
                        info!(reason = %report.reason, %target, message = %report.message, "event");
                    }
                    let publish = kube_io::publish(client.clone(), report, identity.clone());
                    tokio::spawn(async move {
                        if let Err(e) = publish.await {
                            warn!(error = %e, "publishing an Event failed");
                        }
                    });
                }
                ProviderOutput::Election(event) => log_election(&event),
                ProviderOutput::Stopped => {
                    info!("stopped: lease released");
                    return;
                }
            }
        }
        let deadline = provider.poll_timeout().map(|t| clock.to_tokio(t));
        let budget = give_up_at;
        tokio::select! {
            Some(input) = pending.next(), if !pending.is_empty() => {
                provider.handle_input(clock.now(), input);
            }
            Some(event) = lease_watch.next() => {
                provider.handle_input(clock.now(), ProviderInput::LeaseWatch(event));
            }
            Some(event) = services.next() => {
                provider.handle_input(clock.now(), ProviderInput::Services(event));
            }
            Some(event) = config_map.next() => {
                provider.handle_input(clock.now(), ProviderInput::ConfigMap(event));
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                provider.handle_timeout(clock.now());
            }
            () = &mut shutdown, if give_up_at.is_none() => {
                info!("shutdown requested: releasing the lease");
                give_up_at = Some(tokio::time::Instant::now() + SHUTDOWN_BUDGET);
                provider.shutdown(clock.now());
            }
            () = sleep_until(budget), if budget.is_some() => {
                warn!("shutdown budget exceeded; exiting before the release was confirmed");
                return;
            }
        }
    }
}

fn log_write(result: &Result<ServiceView, WriteError>) {
    match result {
        Ok(view) => info!(
            service = %view.key,
            addresses = view.annotation(kvip_core::service::model::ANNOTATION_LOADBALANCER_IPS).unwrap_or(""),
            "assigned"
        ),
        Err(WriteError::Stale(Some(view))) => {
            info!(service = %view.key, "not written: the Service changed meanwhile")
        }
        Err(WriteError::Stale(None)) => info!("not written: the Service is gone"),
        Err(WriteError::Failed {
            message,
            maybe_applied,
        }) => warn!(error = %message, maybe_applied, "writing the address failed; retrying"),
    }
}

fn log_election(event: &Event) {
    match event {
        Event::Acquired { transitions } => info!(transitions, "lease acquired: leading"),
        Event::LostLeadership(reason) => warn!(?reason, "leadership lost"),
        Event::HolderChanged(holder) => info!(
            holder = holder.as_deref().unwrap_or("<none>"),
            "lease holder changed"
        ),
        Event::Released => info!("lease released"),
        Event::LeaseRequestFailed(e) => warn!(error = e, "lease request failed"),
        other => debug!(?other, "election event"),
    }
}
