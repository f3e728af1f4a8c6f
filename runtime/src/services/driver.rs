//! The Services driver loop: the one task that owns the [`ServicesNode`]. It carries out the
//! node's outputs (Lease requests, addresses, frames, status writes, DHCP clients, Events), feeds
//! back every result and watch event (Services, endpoints, Leases, kernel, DHCP), and on the
//! shutdown signal lets the node withdraw every address and release its Lease before returning.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt};
use kube::Client;
use kvip_core::service::{ServiceEvent, ServicesInput, ServicesNode, ServicesOutput, StatusWrite};
use kvip_core::{Event, LeaseError, OpId};
use tracing::{debug, info, warn};

use super::dhcp_clients::{ServiceDhcp, StartRequest};
use super::events::ServiceEvents;
use super::leases::{named_lease_events, ServiceLeases};
use super::links::LinkPorts;
use super::status::write_status;
use super::watch::{endpoint_events, service_events, EndpointSource};
use crate::manager::clock::CoreClock;
use crate::manager::driver::{sleep_until, Exit, SHUTDOWN_BUDGET};
use crate::manager::ports::{AddressPort, FramePort, KernelEvent, LeasePort};

/// Upper bound on one API request, beyond the core's own timeouts, so no future lingers.
const REQUEST_CAP: Duration = Duration::from_secs(30);

/// Status writes (a GET and up to two PUTs each) in flight at once: after a takeover of a
/// thousand Services the writes queue here instead of opening a thousand requests (memory) and
/// competing with the Lease renewals.
const STATUS_WRITES_IN_FLIGHT: usize = 32;

/// Time a graceful stop may take: the control plane's budget, plus 2 ms for each address to
/// remove (a thousand removals take most of a second), at most 10 s more — the Lease is released
/// only after the last removal, so running out of budget leaves it to expire.
fn shutdown_budget(addresses: usize) -> Duration {
    let per_address = Duration::from_millis(2).saturating_mul(addresses as u32);
    SHUTDOWN_BUDGET + per_address.min(Duration::from_secs(10))
}

/// One status write as a pending future answering [`ServicesInput::StatusWritten`].
fn status_write(
    client: Client,
    op: OpId,
    write: StatusWrite,
) -> BoxFuture<'static, Option<ServicesInput>> {
    Box::pin(async move {
        let result = match tokio::time::timeout(REQUEST_CAP, write_status(client, &write)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {REQUEST_CAP:?}")),
        };
        let result = match result {
            Ok(wrote) => {
                if wrote {
                    debug!(
                        service = %write.key,
                        ingress = ?write.ingress.iter().map(|i| i.ip).collect::<Vec<_>>(),
                        "status written"
                    );
                }
                Ok(())
            }
            Err(e) => {
                warn!(service = %write.key, error = %e, "status write failed");
                Err(e)
            }
        };
        Some(ServicesInput::StatusWritten { op, result })
    })
}

/// The real IO a Services node runs with.
pub struct ServicesPorts<A, F> {
    /// The API server.
    pub client: Client,
    /// Where endpoints are read from.
    pub endpoints: EndpointSource,
    /// Addresses, frames and kernel events of the Services interface and the others in use.
    pub links: LinkPorts<A, F>,
    /// A cue whenever an interface comes, changes or goes.
    pub link_changes: BoxStream<'static, ()>,
    /// DHCP clients on macvlans of the Services interface.
    pub dhcp: ServiceDhcp,
    /// Events of the DHCP clients.
    pub dhcp_events: tokio::sync::mpsc::UnboundedReceiver<(
        super::dhcp_clients::ClientId,
        super::dhcp_clients::LeaseEvent,
    )>,
    /// Warning Events on Services.
    pub events: ServiceEvents,
}

/// Runs `node` until `shutdown` resolves and the node has stopped.
pub async fn drive_services<A, F>(
    mut node: ServicesNode,
    clock: CoreClock,
    ports: ServicesPorts<A, F>,
    shutdown: impl Future<Output = ()>,
) -> Exit
where
    A: AddressPort,
    F: FramePort,
{
    let ServicesPorts {
        client,
        endpoints,
        mut links,
        link_changes,
        mut dhcp,
        mut dhcp_events,
        events,
    } = ports;
    let mut leases = ServiceLeases::new(client.clone());
    let mut pending: FuturesUnordered<BoxFuture<'static, Option<ServicesInput>>> =
        FuturesUnordered::new();
    let mut services = service_events(client.clone()).fuse();
    let mut endpoint_stream = endpoint_events(client.clone(), endpoints).fuse();
    let mut lease_stream = named_lease_events(client.clone(), node.lease_watch()).fuse();
    let mut link_changes = link_changes.fuse();
    let mut shutdown = pin!(shutdown.fuse());
    let mut give_up_at: Option<tokio::time::Instant> = None;
    let mut fresh = BTreeSet::new();
    let mut status_queue: VecDeque<(OpId, StatusWrite)> = VecDeque::new();
    let mut status_in_flight = 0usize;
    loop {
        while let Some(output) = node.poll_output() {
            match output {
                ServicesOutput::Lease { op, lease, request } => {
                    debug!(op = op.0, lease = %lease.name, ?request, "lease request");
                    let call = tokio::time::timeout(REQUEST_CAP, leases.port(&lease).call(request));
                    pending.push(Box::pin(async move {
                        let result = call.await.unwrap_or_else(|_| {
                            Err(LeaseError::Transport("request cap exceeded".into()))
                        });
                        Some(ServicesInput::LeaseResponse { op, result })
                    }));
                }
                ServicesOutput::AddAddress { op, vip, link } => {
                    let add = links.change(link.as_deref(), vip, true).await;
                    pending.push(
                        add.map(move |result| Some(ServicesInput::AddressDone { op, result }))
                            .boxed(),
                    );
                }
                ServicesOutput::RemoveAddress { op, vip, link } => {
                    let remove = links.change(link.as_deref(), vip, false).await;
                    pending.push(
                        remove
                            .map(move |result| Some(ServicesInput::AddressDone { op, result }))
                            .boxed(),
                    );
                }
                ServicesOutput::SendFrame {
                    address,
                    frame,
                    link,
                } => match links.send(link.as_deref(), &frame).await {
                    Ok(()) if fresh.remove(&address) => {
                        info!(%address, "service first announcement")
                    }
                    Ok(()) => debug!(%address, bytes = frame.len(), "announced"),
                    Err(e) => warn!(%address, error = %e, "announcement not sent"),
                },
                ServicesOutput::WriteStatus { op, write } => status_queue.push_back((op, write)),
                ServicesOutput::DhcpStart {
                    key,
                    family,
                    uid,
                    hostname,
                    requested,
                    hwaddr,
                    link,
                } => {
                    let request = StartRequest {
                        id: (key.clone(), family),
                        uid,
                        hostname,
                        requested,
                        hwaddr,
                        link,
                    };
                    if let Err(message) = dhcp.start(request).await {
                        warn!(service = %key, "{message}");
                        let events = events.clone();
                        tokio::spawn(async move {
                            events.warn(&key, "DhcpFailed", &message).await;
                        });
                    }
                }
                ServicesOutput::DhcpStop {
                    key,
                    family,
                    release,
                } => dhcp.stop(&(key, family), release),
                ServicesOutput::Problem(problem) => {
                    warn!(service = %problem.key, kind = ?problem.kind, "{}", problem.message);
                    let events = events.clone();
                    tokio::spawn(async move {
                        let reason = format!("{:?}", problem.kind);
                        events.warn(&problem.key, &reason, &problem.message).await;
                    });
                }
                ServicesOutput::Event(event) => {
                    if let Event::AddressAdded(address) = event {
                        fresh.insert(address);
                    }
                    log_services_event(&event);
                }
                ServicesOutput::ServiceEvent(event) => log_service_event(&event),
                ServicesOutput::Stopped => {
                    let left = give_up_at
                        .map(|t| t.saturating_duration_since(tokio::time::Instant::now()))
                        .unwrap_or(SHUTDOWN_BUDGET);
                    dhcp.finish(left).await;
                    info!("services stopped: addresses withdrawn, lease released");
                    return Exit::Stopped;
                }
            }
        }
        while status_in_flight < STATUS_WRITES_IN_FLIGHT {
            let Some((op, write)) = status_queue.pop_front() else {
                break;
            };
            status_in_flight += 1;
            pending.push(status_write(client.clone(), op, write));
        }
        let deadline = node.poll_timeout().map(|t| clock.to_tokio(t));
        let budget = give_up_at;
        tokio::select! {
            Some(input) = pending.next(), if !pending.is_empty() => {
                if matches!(input, Some(ServicesInput::StatusWritten { .. })) {
                    status_in_flight -= 1;
                }
                if let Some(input) = input {
                    node.handle_input(clock.now(), input);
                }
            }
            Some(event) = services.next() => {
                node.handle_input(clock.now(), ServicesInput::ServiceWatch(event));
            }
            Some(event) = endpoint_stream.next() => {
                node.handle_input(clock.now(), ServicesInput::EndpointsWatch(event));
            }
            Some(event) = lease_stream.next() => {
                node.handle_input(clock.now(), ServicesInput::LeaseWatch(event));
            }
            Some((link, event)) = links.events().next() => {
                let input = match event {
                    KernelEvent::Address { address, present } => {
                        ServicesInput::AddressObserved { address, present, link }
                    }
                    KernelEvent::Link { up } => ServicesInput::LinkChanged { up, link },
                };
                node.handle_input(clock.now(), input);
            }
            Some(()) = link_changes.next() => {
                if let Some(links) = links.refresh() {
                    info!(interfaces = ?links.keys().collect::<Vec<_>>(), "other interfaces changed");
                    node.handle_input(clock.now(), ServicesInput::LinksChanged { links });
                }
            }
            Some((id, event)) = dhcp_events.recv() => {
                if let Some(input) = dhcp.handle_event(id, event) {
                    node.handle_input(clock.now(), input);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                node.handle_timeout(clock.now());
            }
            () = &mut shutdown, if give_up_at.is_none() => {
                info!("shutdown requested: withdrawing Service addresses, then releasing the lease");
                let budget = shutdown_budget(node.configured().len());
                give_up_at = Some(tokio::time::Instant::now() + budget);
                node.shutdown(clock.now());
            }
            () = sleep_until(budget), if budget.is_some() => {
                warn!("shutdown budget exceeded; exiting before the services lease was released");
                dhcp.finish(Duration::from_millis(100)).await;
                return Exit::BudgetExceeded;
            }
        }
    }
}

fn log_service_event(event: &ServiceEvent) {
    match event {
        ServiceEvent::Announcing(group) => info!(service = %group, "announcing"),
        ServiceEvent::HandoverWait(group) => {
            info!(service = %group, "gained from a live node; announcing after the handover delay")
        }
        ServiceEvent::Withdrawn(group) => info!(service = %group, "withdrawn"),
        ServiceEvent::Members(members) => info!(?members, "live members changed"),
        ServiceEvent::ViewStale(stale) => {
            if *stale {
                warn!("membership view stale (lease watch silent): withdrawing until it delivers")
            } else {
                info!("membership view fresh again")
            }
        }
    }
}

/// The Services node's election and address events, worded apart from the control-plane
/// node's (`services lease acquired`, `service address added`, …) so logs and timelines tell
/// the two Leases and their addresses apart.
fn log_services_event(event: &Event) {
    match event {
        Event::Acquired { transitions } => info!(transitions, "services lease acquired: leading"),
        Event::LostLeadership(reason) => warn!(?reason, "services leadership lost"),
        Event::HolderChanged(holder) => info!(
            holder = holder.as_deref().unwrap_or("<none>"),
            "services lease holder changed"
        ),
        Event::Released => info!("services lease released"),
        Event::AddressAdded(a) => info!(address = %a, "service address added"),
        Event::AddressRemoved(a) => info!(address = %a, "service address removed"),
        Event::AddressDrift { address, present } => {
            warn!(%address, present, "service address changed behind our back; correcting")
        }
        Event::AddressFailed { address, error } => {
            warn!(%address, error, "service address operation failed; retrying")
        }
        Event::LeaseRequestFailed(e) => warn!(error = e, "services lease request failed"),
        Event::Ignored(what) => debug!(what, "ignored input"),
    }
}
