//! `kvip-probe`: the client's view of the VIP. Every interval it opens a fresh TCP connection to
//! the target (kubectl's first step) and, on it, does an HTTPS `GET /readyz` verified against the
//! cluster CA (kubectl's real work), then writes one line per attempt:
//! `<unix-ns> <tcp 0|1> <https 0|1> <elapsed-us>`. Runs for a bounded time, then exits.
//!
//! `kvip-probe --target IP:PORT --ca CA.pem --server-name NAME --out FILE [--interval-ms 10]
//!  [--timeout-ms 50] [--seconds 60]`

use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

struct Args {
    target: SocketAddr,
    ca: String,
    server_name: String,
    out: String,
    interval: Duration,
    timeout: Duration,
    seconds: u64,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut target, mut ca, mut server_name, mut out) = (None, None, None, None);
    let (mut interval, mut timeout, mut seconds) = (10u64, 50u64, 60u64);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: expected a number, got {v:?}"))
        };
        match flag.as_str() {
            "--target" => {
                target = Some(
                    v.parse()
                        .map_err(|_| format!("--target: expected IP:PORT, got {v:?}"))?,
                )
            }
            "--ca" => ca = Some(v),
            "--server-name" => server_name = Some(v),
            "--out" => out = Some(v),
            "--interval-ms" => interval = num(&v)?,
            "--timeout-ms" => timeout = num(&v)?,
            "--seconds" => seconds = num(&v)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let target: SocketAddr = target.ok_or("--target is required")?;
    Ok(Args {
        server_name: server_name.unwrap_or_else(|| target.ip().to_string()),
        target,
        ca: ca.ok_or("--ca is required")?,
        out: out.ok_or("--out is required")?,
        interval: Duration::from_millis(interval),
        timeout: Duration::from_millis(timeout),
        seconds,
    })
}

fn tls_config(ca: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
        roots
            .add(cert.map_err(|e| format!("{ca}: {e}"))?)
            .map_err(|e| format!("{ca}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One attempt: (tcp connected, https answered 200 "ok").
fn attempt(args: &Args, tls: &Arc<ClientConfig>, name: &ServerName<'static>) -> (bool, bool) {
    let Ok(tcp) = TcpStream::connect_timeout(&args.target, args.timeout) else {
        return (false, false);
    };
    let deadline = Some(args.timeout * 4);
    let _ = tcp.set_read_timeout(deadline);
    let _ = tcp.set_write_timeout(deadline);
    let _ = tcp.set_nodelay(true);
    let Ok(conn) = ClientConnection::new(tls.clone(), name.clone()) else {
        return (true, false);
    };
    let mut stream = StreamOwned::new(conn, tcp);
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        args.server_name
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (true, false);
    }
    let mut body = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while body.len() < 4096 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    (
        true,
        text.starts_with("HTTP/1.1 200") && text.ends_with("ok"),
    )
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kvip-probe: {e}");
            std::process::exit(2);
        }
    };
    let tls = tls_config(&args.ca).unwrap_or_else(|e| {
        eprintln!("kvip-probe: {e}");
        std::process::exit(2);
    });
    let name = ServerName::try_from(args.server_name.clone()).unwrap_or_else(|e| {
        eprintln!("kvip-probe: --server-name: {e}");
        std::process::exit(2);
    });
    let file = std::fs::File::create(&args.out).unwrap_or_else(|e| {
        eprintln!("kvip-probe: {}: {e}", args.out);
        std::process::exit(2);
    });
    let mut out = BufWriter::new(file);
    let started = Instant::now();
    let mut next = started;
    let mut count = 0u64;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        let begun = Instant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let (tcp, https) = attempt(&args, &tls, &name);
        let _ = writeln!(
            out,
            "{wall} {} {} {}",
            tcp as u8,
            https as u8,
            begun.elapsed().as_micros()
        );
        count += 1;
        if count.is_multiple_of(50) {
            let _ = out.flush();
        }
        next += args.interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    let _ = out.flush();
}
