//! The simulated API server host ("api"): one Lease with resourceVersion compare-and-swap (the
//! store of `sim::api`, which lives in the shared state and so survives a crash of this host, as
//! etcd would), served as JSON lines over turmoil TCP. Request connections are kept alive; a
//! watch connection gets a list (`Init`, `InitApply`, `InitDone`) and then every write, and is
//! closed by the server after a random `timeoutSeconds`, as kube-apiserver does.

use std::time::Duration;

use kvip_core::LeaseRequest;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::broadcast::error::RecvError;
use turmoil::net::{TcpListener, TcpStream};

use super::state::{lock, Shared};
use super::wire::{line, ClientLine, WireLease, WireReply, WireWatch, API_PORT};

/// The API host's software: accept connections until the host crashes.
pub async fn serve(shared: Shared) -> turmoil::Result {
    let listener = TcpListener::bind(("0.0.0.0", API_PORT)).await?;
    lock(&shared).log(|| "api server up".to_string());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::task::spawn_local(connection(shared.clone(), stream));
    }
}

async fn connection(shared: Shared, stream: TcpStream) {
    let mut stream = BufReader::new(stream);
    let mut text = String::new();
    loop {
        text.clear();
        match stream.read_line(&mut text).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        let Ok(msg) = serde_json::from_str::<ClientLine>(text.trim_end()) else {
            return;
        };
        let (from, request) = match msg {
            ClientLine::Watch { .. } => return watch(shared, stream).await,
            ClientLine::Get { from } => (from, LeaseRequest::Get),
            ClientLine::Create { from, record } => (from, LeaseRequest::Create((&record).into())),
            ClientLine::Replace {
                from,
                expected,
                record,
            } => (
                from,
                LeaseRequest::Replace {
                    expected: kvip_core::ResourceVersion(expected),
                    record: (&record).into(),
                },
            ),
        };
        let applied = lock(&shared).api_apply(from, request);
        let Some(reply) = applied.reply else {
            // An injected lost answer: the connection dies without one.
            return;
        };
        let reply = match reply {
            Ok(l) => WireReply::Ok(WireLease::from(&l)),
            Err(kvip_core::LeaseError::NotFound) => WireReply::NotFound,
            Err(kvip_core::LeaseError::Conflict) => WireReply::Conflict,
            Err(kvip_core::LeaseError::Server(code)) => WireReply::Status(code),
            Err(kvip_core::LeaseError::Transport(_)) => return,
        };
        if stream.get_mut().write_all(&line(&reply)).await.is_err() {
            return;
        }
    }
}

/// Serves one watch: subscribe first (so no write falls between the list and the stream), list,
/// then forward writes newer than the list until the server's timeout closes it.
async fn watch(shared: Shared, mut stream: BufReader<TcpStream>) {
    let (mut writes, listed, timeout) = {
        let mut s = lock(&shared);
        let writes = s.writes.subscribe();
        let listed = s.api.lease().cloned();
        let range = s.opts.watch_timeout;
        let ns = crate::sim::rng::Draw::range(
            &mut s.api_rng,
            range.0.as_nanos() as u64,
            range.1.as_nanos() as u64,
        );
        (writes, listed, Duration::from_nanos(ns))
    };
    let mut out = line(&WireWatch::Init);
    if let Some(l) = &listed {
        out.extend(line(&WireWatch::InitApply(WireLease::from(l))));
    }
    out.extend(line(&WireWatch::InitDone));
    if stream.get_mut().write_all(&out).await.is_err() {
        return;
    }
    let listed_rv = listed.map(|l| l.resource_version);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return,
            write = writes.recv() => match write {
                Ok(lease) => {
                    if listed_rv.as_ref().is_some_and(|rv| !lease.resource_version.is_newer_than(rv)) {
                        continue;
                    }
                    let text = line(&WireWatch::Apply(WireLease::from(&lease)));
                    if stream.get_mut().write_all(&text).await.is_err() {
                        return;
                    }
                }
                // Too far behind (410 Gone in Kubernetes): close; the client re-lists.
                Err(RecvError::Lagged(_) | RecvError::Closed) => return,
            },
        }
    }
}
