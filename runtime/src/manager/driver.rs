//! The driver loop: the one task that owns the [`Node`]. It carries out the node's outputs with the
//! ports, feeds every result, watch event, kernel event and timer back in, and on the shutdown
//! signal lets the node withdraw its address and release the lease before returning.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt};
use kvip_core::{Event, Input, Node, Output};
use tracing::{debug, info, warn};

use super::clock::CoreClock;
use super::ports::{AddressPort, FramePort, KernelEvent, LeasePort};

/// How long a graceful stop may take before the driver gives up waiting for the release.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(900);

/// Upper bound on one Lease request, beyond the core's own timeout, so no future lingers.
const REQUEST_CAP: Duration = Duration::from_secs(30);

/// The ports a driver runs a node with.
pub struct Ports<L, A, F> {
    /// The Lease API.
    pub lease: L,
    /// The VIP interface's addresses.
    pub addresses: A,
    /// Raw frames.
    pub frames: F,
    /// Kernel events about the VIP interface.
    pub kernel: BoxStream<'static, KernelEvent>,
}

/// How a driver run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The node withdrew its addresses and released the lease.
    Stopped,
    /// The shutdown budget ran out first.
    BudgetExceeded,
}

/// Runs `node` with `ports` until `shutdown` resolves and the node has stopped.
pub async fn drive<L, A, F>(
    mut node: Node,
    clock: CoreClock,
    ports: Ports<L, A, F>,
    shutdown: impl Future<Output = ()>,
) -> Exit
where
    L: LeasePort,
    A: AddressPort,
    F: FramePort,
{
    let Ports {
        lease,
        addresses,
        mut frames,
        kernel,
    } = ports;
    let mut pending: FuturesUnordered<BoxFuture<'static, Input>> = FuturesUnordered::new();
    let mut watch = lease.watch().fuse();
    let mut kernel = kernel.fuse();
    let mut shutdown = pin!(shutdown.fuse());
    let mut give_up_at: Option<tokio::time::Instant> = None;
    let mut fresh = std::collections::BTreeSet::new();
    loop {
        while let Some(output) = node.poll_output() {
            match output {
                Output::Lease { op, request } => {
                    debug!(op = op.0, ?request, "lease request");
                    let call = tokio::time::timeout(REQUEST_CAP, lease.call(request));
                    pending.push(Box::pin(async move {
                        let result = call.await.unwrap_or_else(|_| {
                            Err(kvip_core::LeaseError::Transport(
                                "request cap exceeded".into(),
                            ))
                        });
                        Input::LeaseResponse { op, result }
                    }));
                }
                Output::AddAddress { op, vip } => {
                    let add = addresses.add(vip);
                    pending.push(
                        add.map(move |result| Input::AddressDone { op, result })
                            .boxed(),
                    );
                }
                Output::RemoveAddress { op, vip } => {
                    let remove = addresses.remove(vip);
                    pending.push(
                        remove
                            .map(move |result| Input::AddressDone { op, result })
                            .boxed(),
                    );
                }
                Output::SendFrame { address, frame } => match frames.send(&frame) {
                    Ok(()) if fresh.remove(&address) => info!(%address, "first announcement"),
                    Ok(()) => debug!(%address, bytes = frame.len(), "announced"),
                    Err(e) => warn!(%address, error = %e, "announcement not sent"),
                },
                Output::Event(event) => {
                    if let Event::AddressAdded(address) = event {
                        fresh.insert(address);
                    }
                    log_event(&event)
                }
                Output::Stopped => {
                    info!("stopped: addresses withdrawn, lease released");
                    return Exit::Stopped;
                }
            }
        }
        let deadline = node.poll_timeout().map(|t| clock.to_tokio(t));
        let budget = give_up_at;
        tokio::select! {
            Some(input) = pending.next(), if !pending.is_empty() => {
                node.handle_input(clock.now(), input);
            }
            Some(event) = watch.next() => {
                node.handle_input(clock.now(), Input::LeaseWatch(event));
            }
            Some(event) = kernel.next() => {
                let input = match event {
                    KernelEvent::Address { address, present } => Input::AddressObserved { address, present },
                    KernelEvent::Link { up } => Input::LinkChanged { up },
                };
                node.handle_input(clock.now(), input);
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                node.handle_timeout(clock.now());
            }
            () = &mut shutdown, if give_up_at.is_none() => {
                info!("shutdown requested: withdrawing addresses, then releasing the lease");
                give_up_at = Some(tokio::time::Instant::now() + SHUTDOWN_BUDGET);
                node.shutdown(clock.now());
            }
            () = sleep_until(budget), if budget.is_some() => {
                warn!("shutdown budget exceeded; exiting before the release was confirmed");
                return Exit::BudgetExceeded;
            }
        }
    }
}

/// Sleeps until `at`, or forever without one (a disabled `select!` timer arm).
pub(crate) async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

fn log_event(event: &Event) {
    match event {
        Event::Acquired { transitions } => info!(transitions, "lease acquired: leading"),
        Event::LostLeadership(reason) => warn!(?reason, "leadership lost"),
        Event::HolderChanged(holder) => info!(
            holder = holder.as_deref().unwrap_or("<none>"),
            "lease holder changed"
        ),
        Event::Released => info!("lease released"),
        Event::AddressAdded(a) => info!(address = %a, "address added"),
        Event::AddressRemoved(a) => info!(address = %a, "address removed"),
        Event::AddressDrift { address, present } => {
            warn!(%address, present, "address changed behind our back; correcting")
        }
        Event::AddressFailed { address, error } => {
            warn!(%address, error, "address operation failed; retrying")
        }
        Event::LeaseRequestFailed(e) => warn!(error = e, "lease request failed"),
        Event::Ignored(what) => debug!(what, "ignored input"),
    }
}
