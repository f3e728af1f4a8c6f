//! `kvip-hostname-server`: a stand-in for the services a node runs (sshd on 22, nginx behind
//! kube-proxy on an internal port). On every listening address it answers each connection with
//! its reply line (plus `\n`) and closes it, so a client can tell which host and which service a
//! connection reached. Std only, one thread per listener, runs until killed.
//!
//! `kvip-hostname-server --listen 0.0.0.0:22 --reply "sshd master01"
//!  [--listen 0.0.0.0:8080 --reply "nginx master01"]…`
//!
//! The n-th `--listen` gets the n-th `--reply`. Every address is bound before anything is served;
//! a bind failure exits 1 naming the address. Once all are bound it prints one
//! `listening on ADDR` line per address.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// How long one reply may take to write before the connection is dropped.
const WRITE_BOUND: Duration = Duration::from_secs(2);

fn parse(args: &[String]) -> Result<Vec<(SocketAddr, String)>, String> {
    let mut listens = Vec::new();
    let mut replies = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listens.push(
                value
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("--listen: expected IP:PORT, got {value:?}"))?,
            ),
            "--reply" => {
                if value.contains('\n') {
                    return Err(format!("--reply {value:?}: one line only"));
                }
                replies.push(value.clone());
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if listens.is_empty() {
        return Err("at least one --listen/--reply pair is required".into());
    }
    if listens.len() != replies.len() {
        return Err(format!(
            "{} --listen but {} --reply: give one reply per address",
            listens.len(),
            replies.len()
        ));
    }
    Ok(listens.into_iter().zip(replies).collect())
}

fn answer(mut conn: TcpStream, line: &[u8]) {
    // A client that went away is not our problem: the next one is served regardless.
    let _ = conn.set_write_timeout(Some(WRITE_BOUND));
    let _ = conn.write_all(line);
    let _ = conn.shutdown(std::net::Shutdown::Write);
}

fn serve(listener: TcpListener, reply: String) {
    let line = format!("{reply}\n").into_bytes();
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => answer(conn, &line),
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!(
            "usage: kvip-hostname-server --listen IP:PORT --reply LINE [--listen … --reply …]…"
        );
        return ExitCode::SUCCESS;
    }
    let pairs = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("kvip-hostname-server: {e}");
            return ExitCode::from(2);
        }
    };
    let mut bound = Vec::new();
    for (addr, reply) in pairs {
        match TcpListener::bind(addr) {
            Ok(l) => bound.push((addr, l, reply)),
            Err(e) => {
                eprintln!("kvip-hostname-server: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut threads = Vec::new();
    for (addr, listener, reply) in bound {
        println!("listening on {addr}");
        threads.push(std::thread::spawn(move || serve(listener, reply)));
    }
    for t in threads {
        let _ = t.join();
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_in_order_and_bad_input_is_refused() {
        let p = parse(&strings(&[
            "--listen",
            "0.0.0.0:22",
            "--reply",
            "sshd m1",
            "--listen",
            "0.0.0.0:8080",
            "--reply",
            "nginx m1",
        ]))
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].0.port(), 8080);
        assert_eq!(p[1].1, "nginx m1");
        assert!(parse(&strings(&["--listen", "0.0.0.0:22"])).is_err());
        assert!(parse(&strings(&["--listen", "nowhere", "--reply", "x"])).is_err());
        assert!(parse(&strings(&["--listen", "0.0.0.0:1", "--reply", "a\nb"])).is_err());
        assert!(parse(&strings(&["--reply"])).is_err());
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn each_connection_gets_the_reply_line_then_eof() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener, "sshd test".into()));
        for _ in 0..2 {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut s = String::new();
            std::io::Read::read_to_string(&mut c, &mut s).unwrap();
            assert_eq!(s, "sshd test\n");
        }
    }
}
