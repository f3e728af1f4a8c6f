//! [`TurmoilLease`]: the driver's Lease port over the simulated API server, shaped like kube-rs
//! over hyper. Requests reuse pooled keep-alive connections (a connection the server closed is
//! noticed and dropped, as hyper does; one that silently died in a partition is not, and the
//! request on it hangs until the driver gives up on it). The watch is kube-runtime's watcher:
//! list then stream, and on any error or end a reconnect with a re-list, after an exponential
//! backoff on errors; a watch that receives nothing for `watch_idle_timeout` is dropped
//! (kube-client's read timeout).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use kvip_core::{LeaseError, LeaseObject, LeaseRequest, WatchEvent};
use kvip_runtime::manager::ports::LeasePort;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use turmoil::net::TcpStream;

use super::state::{lock, Shared};
use super::wire::{line, ClientLine, WireReply, WireWatch, API_PORT};
use crate::sim::rng::Draw;

/// kube-runtime's default watcher backoff: 800 ms doubling up to 30 s, with jitter.
const BACKOFF_MIN: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

type Conn = BufReader<TcpStream>;

/// The Lease API as node `node` reaches it over turmoil's network.
#[derive(Clone)]
pub struct TurmoilLease {
    node: usize,
    shared: Shared,
    pool: Arc<Mutex<Vec<Conn>>>,
}

impl TurmoilLease {
    /// The port of node `node`.
    pub fn new(node: usize, shared: Shared) -> Self {
        TurmoilLease {
            node,
            shared,
            pool: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

fn transport(what: &str, e: impl std::fmt::Display) -> LeaseError {
    LeaseError::Transport(format!("{what}: {e}"))
}

async fn connect() -> std::io::Result<Conn> {
    Ok(BufReader::new(TcpStream::connect(("api", API_PORT)).await?))
}

/// An idle pooled connection that still looks alive (no EOF or stray data waiting).
fn take_idle(pool: &Mutex<Vec<Conn>>) -> Option<Conn> {
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    while let Some(mut conn) = pool.pop() {
        let mut probe = [0u8; 1];
        if conn.buffer().is_empty() && conn.get_mut().peek(&mut probe).now_or_never().is_none() {
            return Some(conn);
        }
    }
    None
}

async fn exchange(conn: &mut Conn, request: &[u8]) -> Result<WireReply, LeaseError> {
    conn.get_mut()
        .write_all(request)
        .await
        .map_err(|e| transport("write", e))?;
    let mut text = String::new();
    let n = conn
        .read_line(&mut text)
        .await
        .map_err(|e| transport("read", e))?;
    if n == 0 {
        return Err(LeaseError::Transport(
            "connection closed before the reply".into(),
        ));
    }
    serde_json::from_str(text.trim_end()).map_err(|e| transport("decode", e))
}

impl LeasePort for TurmoilLease {
    fn call(
        &self,
        request: LeaseRequest,
    ) -> impl std::future::Future<Output = Result<LeaseObject, LeaseError>> + Send + 'static {
        let text = line(&ClientLine::request(self.node, &request));
        let pool = self.pool.clone();
        async move {
            let mut conn = match take_idle(&pool) {
                Some(conn) => conn,
                None => connect().await.map_err(|e| transport("connect", e))?,
            };
            let reply = exchange(&mut conn, &text).await?;
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            reply.into_result()
        }
    }

    fn watch(&self) -> BoxStream<'static, WatchEvent<LeaseObject>> {
        let client = WatchClient {
            node: self.node,
            shared: self.shared.clone(),
            conn: None,
            failures: 0,
        };
        futures::stream::unfold(client, |mut c| async move {
            let event = c.next_event().await;
            Some((event, c))
        })
        .boxed()
    }
}

/// The reconnecting watch of one node.
struct WatchClient {
    node: usize,
    shared: Shared,
    conn: Option<Conn>,
    failures: u32,
}

impl WatchClient {
    fn backoff(&mut self) -> Duration {
        let base = BACKOFF_MIN
            .saturating_mul(1 << self.failures.saturating_sub(1).min(6))
            .min(BACKOFF_MAX);
        let jitter = lock(&self.shared).nodes[self.node].rng.range(500, 1500);
        base * jitter as u32 / 1000
    }

    fn broken(&mut self, error: bool) {
        self.conn = None;
        if error {
            self.failures += 1;
        }
        let mut s = lock(&self.shared);
        s.nodes[self.node].watch_synced_since = None;
        let name = s.nodes[self.node].name.clone();
        s.log(|| format!("{name} watch {}", if error { "failed" } else { "ended" }));
    }

    async fn next_event(&mut self) -> WatchEvent<LeaseObject> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                if self.failures > 0 {
                    tokio::time::sleep(self.backoff()).await;
                }
                let hello = line(&ClientLine::Watch { from: self.node });
                let opened = async {
                    let mut conn = connect().await?;
                    conn.get_mut().write_all(&hello).await?;
                    std::io::Result::Ok(conn)
                };
                match opened.await {
                    Ok(conn) => self.conn = Some(conn),
                    Err(_) => self.broken(true),
                }
                continue;
            };
            let idle = lock(&self.shared).opts.watch_idle_timeout;
            let mut text = String::new();
            let read = tokio::time::timeout(idle, conn.read_line(&mut text)).await;
            let event = match read {
                Ok(Ok(0)) => {
                    self.broken(false);
                    continue;
                }
                Ok(Ok(_)) => match serde_json::from_str::<WireWatch>(text.trim_end()) {
                    Ok(w) => w,
                    Err(_) => {
                        self.broken(true);
                        continue;
                    }
                },
                Ok(Err(_)) | Err(_) => {
                    self.broken(true);
                    continue;
                }
            };
            let mut s = lock(&self.shared);
            let now = s.now();
            let n = &mut s.nodes[self.node];
            n.watch_last_event = now;
            if event == WireWatch::InitDone {
                self.failures = 0;
                n.watch_synced_since = Some(now);
            }
            return event.into_event();
        }
    }
}
