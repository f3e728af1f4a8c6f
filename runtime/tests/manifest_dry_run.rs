//! Every file in `deploy/` passes `kubectl apply --dry-run=server` against a real v1.20
//! kube-apiserver (the testbed's cached build) backed by a real etcd, both on loopback.
//!
//! kubectl validates against the server's own OpenAPI schema, so a field newer than 1.20 fails
//! here. Skips, saying why, when the API server, etcd, kubectl or openssl is missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const APISERVER: &str = "/var/cache/kvip/kube-apiserver";
const TOKEN: &str = "kvip-dry-run-token";

/// etcd and kube-apiserver of this test, killed (by PID) and their directory removed on drop.
struct Server {
    dir: PathBuf,
    children: Vec<Child>,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run")
}

fn spawn(command: &mut Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    command
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn")
}

impl Server {
    fn kubectl(&self) -> Command {
        let mut c = Command::new("kubectl");
        c.args([
            "--server",
            &self.url,
            "--token",
            TOKEN,
            "--insecure-skip-tls-verify",
        ]);
        c.env("KUBECONFIG", self.dir.join("no-kubeconfig"));
        c
    }

    /// Starts etcd and kube-apiserver and waits (at most 60 s) for /readyz.
    fn start() -> Server {
        let dir = std::env::temp_dir().join(format!("kvip-dry-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = |name: &str| dir.join(name).display().to_string();
        let key = run(Command::new("openssl").args(["genrsa", "-out", &p("sa.key"), "2048"]));
        assert!(key.status.success(), "openssl genrsa: {key:?}");
        let args = ["rsa", "-in", &p("sa.key"), "-pubout", "-out", &p("sa.pub")];
        assert!(run(Command::new("openssl").args(args)).status.success());
        std::fs::write(
            dir.join("tokens.csv"),
            format!("{TOKEN},admin,admin,system:masters\n"),
        )
        .expect("tokens");
        let (client, peer, secure) = (free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{client}");
        let mut server = Server {
            url: format!("https://127.0.0.1:{secure}"),
            dir: dir.clone(),
            children: Vec::new(),
        };
        let etcd = spawn(
            Command::new("etcd").args([
                "--data-dir",
                &p("etcd"),
                "--listen-client-urls",
                &etcd_url,
                "--advertise-client-urls",
                &etcd_url,
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-cluster",
                &format!("default=http://127.0.0.1:{peer}"),
            ]),
            &dir.join("etcd.log"),
        );
        server.children.push(etcd);
        let apiserver = spawn(
            Command::new(APISERVER).args([
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={secure}"),
                "--insecure-port=0".into(),
                format!("--cert-dir={}", p("certs")),
                "--authorization-mode=RBAC".into(),
                format!("--token-auth-file={}", p("tokens.csv")),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-account-issuer=https://kvip.dry-run".into(),
                "--api-audiences=https://kvip.dry-run".into(),
                "--service-cluster-ip-range=10.96.0.0/12".into(),
                "--allow-privileged=true".into(),
                // A static Pod never goes through the API (the kubelet creates a mirror Pod,
                // which this admission plugin skips); no token controller runs here either.
                "--disable-admission-plugins=ServiceAccount".into(),
            ]),
            &dir.join("apiserver.log"),
        );
        server.children.push(apiserver);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = run(server.kubectl().args(["get", "--raw", "/readyz"]));
            if ready.status.success() {
                return server;
            }
            let log = std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join("\n");
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready in 60 s:\n{tail}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

#[test]
fn deploy_files_pass_server_side_dry_run_on_v1_20() {
    let missing: Vec<&str> = [
        (APISERVER, Path::new(APISERVER).exists()),
        ("etcd", on_path("etcd")),
        ("kubectl", on_path("kubectl")),
        ("openssl", on_path("openssl")),
    ]
    .into_iter()
    .filter_map(|(name, there)| (!there).then_some(name))
    .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: {} missing (build the API server with testbed/scripts/build-kube-apiserver.sh)",
            missing.join(", ")
        );
        return;
    }
    let server = Server::start();
    let version = run(server.kubectl().args(["get", "--raw", "/version"]));
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(
        version.contains("\"minor\": \"20\""),
        "expected a v1.20 server: {version}"
    );
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    for file in [
        "rbac.yaml",
        "daemonset.yaml",
        "static-pod.yaml",
        "cloud-provider.yaml",
    ] {
        let path = deploy.join(file);
        let out = run(server
            .kubectl()
            .args(["apply", "--dry-run=server", "-f"])
            .arg(&path));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file}: {stdout}\n{stderr}");
        assert!(stdout.contains("(server dry run)"), "{file}: {stdout}");
    }
}
