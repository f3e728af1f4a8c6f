//! The real `kvip cloud-provider` process against a real kube-apiserver v1.20 + etcd on loopback,
//! running as ServiceAccount `kube-system/kube-vip-cloud-controller` with the RBAC `kvip manifest
//! cloud-provider` generates. Objects are made with kubectl; every wait is bounded.
//!
//! Checked, in one run (one API server start): it takes Lease `kube-vip-cloud-controller`; S2's
//! `range-global` gives `nginx-lb` 192.168.66.210 (annotation, `spec.loadBalancerIP`, label, no
//! status); a pinned `loadBalancerIP` is left alone and counted as used; S3's CIDR /29 and range
//! pools in their namespaces win over `range-global`; a namespace pool overlapping the global one
//! skips the addresses global Services hold (upstream hands them out again); an exhausted pool
//! warns on the Service while others still get addresses, and a freed address goes to the waiting
//! Service; a malformed key warns on the ConfigMap and on its Service while other keys work;
//! `allow-share` shares an address between disjoint ports only; SIGTERM releases the Lease.
//!
//! Skips, saying why, when the API server, etcd, kubectl or openssl is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvip_testbed::kvip_bin::kvip_binary;
use kvip_testbed::loopback_api::LoopbackApi;
use serde_json::Value;

const BOUND: Duration = Duration::from_secs(15);

/// The `kvip cloud-provider` process, stopped (TERM, then KILL) by its PID on drop.
struct Provider {
    child: Child,
    log: PathBuf,
}

impl Provider {
    fn start(kvip: &Path, kubeconfig: &Path, log: PathBuf) -> Provider {
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(kvip)
            .args(["cloud-provider", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--identity", "kvip-test-provider"])
            .args([
                "--leader-elect-lease-duration=5s",
                "--leader-elect-renew-deadline=3s",
            ])
            .arg("--leader-elect-retry-period=1s")
            .env_clear()
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start kvip cloud-provider");
        Provider { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait (bounded); the exit status.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill on the PID of our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 100 ms until it gives `Some`, at most [`BOUND`].
fn wait_for<T>(what: &str, provider: &Provider, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            start.elapsed() < BOUND,
            "{what}: not within {BOUND:?}; cloud-provider log:\n{}",
            provider.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn service_yaml(
    ns: &str,
    name: &str,
    ports: &[(u16, &str)],
    load_balancer_ip: Option<&str>,
) -> String {
    let ports: String = ports
        .iter()
        .map(|(p, proto)| format!("  - name: p{p}\n    port: {p}\n    protocol: {proto}\n"))
        .collect();
    let ip = load_balancer_ip.map_or(String::new(), |ip| format!("  loadBalancerIP: {ip}\n"));
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  \
         type: LoadBalancer\n{ip}  selector:\n    app: {name}\n  ports:\n{ports}"
    )
}

struct Cluster {
    api: LoopbackApi,
}

impl Cluster {
    fn create(&self, yaml: &str) {
        self.api
            .kubectl_stdin("create", yaml)
            .expect("kubectl create");
    }

    fn service(&self, ns: &str, name: &str) -> Value {
        self.api
            .get_json(&["service", "-n", ns, name])
            .expect("kubectl get")
            .expect("the Service exists")
    }

    /// The address annotation once the cloud provider wrote it.
    fn assigned(&self, p: &Provider, ns: &str, name: &str) -> String {
        wait_for(&format!("address on {ns}/{name}"), p, || {
            let svc = self.service(ns, name);
            svc["metadata"]["annotations"]["kube-vip.io/loadbalancerIPs"]
                .as_str()
                .map(str::to_string)
        })
    }

    /// The first Event with `reason` about `kind` `ns/name`.
    fn event(&self, p: &Provider, ns: &str, kind: &str, name: &str, reason: &str) -> Value {
        let selector =
            format!("involvedObject.name={name},involvedObject.kind={kind},reason={reason}");
        wait_for(&format!("{reason} Event on {ns}/{name}"), p, || {
            let list = self
                .api
                .get_json(&["events", "-n", ns, "--field-selector", &selector])
                .expect("kubectl get events")?;
            list["items"].as_array()?.first().cloned()
        })
    }
}

#[test]
fn kvip_cloud_provider_assigns_from_the_pools_of_a_real_api_server() {
    if let Some(why) = LoopbackApi::skip_reason() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let t0 = Instant::now();
    let kvip = kvip_binary();
    eprintln!("kvip built: {:?}", t0.elapsed());
    let api = LoopbackApi::start(
        "cloud-provider",
        &[("kube-system", "kube-vip-cloud-controller")],
    )
    .expect("loopback API server");
    let c = Cluster { api };
    eprintln!("API server ready: {:?}", t0.elapsed());

    // RBAC and Deployment exactly as generated; the process then runs as that ServiceAccount.
    let manifest = Command::new(&kvip)
        .args(["manifest", "cloud-provider"])
        .output()
        .expect("kvip manifest");
    assert!(manifest.status.success());
    c.api
        .kubectl_stdin("apply", &String::from_utf8_lossy(&manifest.stdout))
        .expect("apply the generated manifest");
    for ns in ["team", "s3", "s3r", "broken", "share"] {
        c.api
            .kubectl(&["create", "namespace", ns])
            .expect("namespace");
    }
    // Taken before the pools exist: pinned addresses count as used, whatever pool they are in.
    c.create(&service_yaml(
        "default",
        "pinned",
        &[(80, "TCP")],
        Some("192.168.66.211"),
    ));
    c.create(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubevip\n  namespace: kube-system\ndata:\n  \
         range-global: 192.168.66.210-192.168.66.219\n  \
         range-team: 192.168.66.210-192.168.66.213\n  \
         cidr-s3: 192.168.205.216/29\n  \
         range-s3r: 192.168.205.220-192.168.205.230\n  \
         cidr-broken: 10.0.0.0/33\n  \
         range-share: 10.1.0.1-10.1.0.2\n  \
         allow-share-share: \"true\"\n",
    );
    let kubeconfig = c
        .api
        .account_kubeconfig("kube-system", "kube-vip-cloud-controller")
        .expect("kubeconfig");
    let mut p = Provider::start(&kvip, &kubeconfig, c.api.dir().join("cloud-provider.log"));
    wait_for("the Lease", &p, || {
        let lease = c
            .api
            .get_json(&["lease", "-n", "kube-system", "kube-vip-cloud-controller"])
            .ok()??;
        (lease["spec"]["holderIdentity"] == "kvip-test-provider").then_some(())
    });

    eprintln!("leading: {:?}", t0.elapsed());
    // S2: the first Service of range-global gets .210, written as upstream writes it.
    c.create(&service_yaml("default", "nginx-lb", &[(80, "TCP")], None));
    assert_eq!(c.assigned(&p, "default", "nginx-lb"), "192.168.66.210");
    let svc = c.service("default", "nginx-lb");
    assert_eq!(svc["spec"]["loadBalancerIP"], "192.168.66.210");
    assert_eq!(svc["metadata"]["labels"]["implementation"], "kube-vip");
    assert!(
        svc["status"]["loadBalancer"]["ingress"].is_null(),
        "status is the daemon's: {svc}"
    );
    c.event(&p, "default", "Service", "nginx-lb", "AddressAssigned");
    // The pinned Service is left alone, and its .211 is skipped.
    c.create(&service_yaml("default", "second", &[(80, "TCP")], None));
    assert_eq!(c.assigned(&p, "default", "second"), "192.168.66.212");
    let pinned = c.service("default", "pinned");
    assert!(pinned["metadata"]["annotations"]["kube-vip.io/loadbalancerIPs"].is_null());
    assert!(pinned["metadata"]["labels"]["implementation"].is_null());
    assert_eq!(pinned["spec"]["loadBalancerIP"], "192.168.66.211");

    // S3: per-namespace CIDR /29 and range pools win over range-global.
    c.create(&service_yaml("s3", "nginx-cidr", &[(80, "TCP")], None));
    assert_eq!(c.assigned(&p, "s3", "nginx-cidr"), "192.168.205.216");
    c.create(&service_yaml("s3r", "nginx-range", &[(80, "TCP")], None));
    assert_eq!(c.assigned(&p, "s3r", "nginx-range"), "192.168.205.220");

    // range-team (.210-.213) overlaps range-global: .210 (nginx-lb), .211 (pinned) and .212
    // (second) are held in namespace default, so team gets .213 and then the pool is exhausted.
    c.create(&service_yaml("team", "api", &[(80, "TCP")], None));
    assert_eq!(c.assigned(&p, "team", "api"), "192.168.66.213");
    c.create(&service_yaml("team", "api2", &[(80, "TCP")], None));
    let warning = c.event(&p, "team", "Service", "api2", "AddressPoolExhausted");
    assert_eq!(warning["type"], "Warning");
    assert!(
        warning["message"]
            .as_str()
            .unwrap_or("")
            .contains("range-team"),
        "{warning}"
    );
    c.create(&service_yaml("default", "third", &[(80, "TCP")], None));
    assert_eq!(c.assigned(&p, "default", "third"), "192.168.66.214");

    // A malformed key: a Warning on the ConfigMap naming it, and on the Service that needs it.
    let bad = c.event(
        &p,
        "kube-system",
        "ConfigMap",
        "kubevip",
        "InvalidIPAMConfig",
    );
    let message = bad["message"].as_str().unwrap_or("");
    assert!(
        message.contains("cidr-broken") && message.contains("expected"),
        "{bad}"
    );
    c.create(&service_yaml("broken", "svc", &[(80, "TCP")], None));
    let warning = c.event(&p, "broken", "Service", "svc", "InvalidAddressPool");
    assert!(warning["message"]
        .as_str()
        .unwrap_or("")
        .contains("cidr-broken"));

    // allow-share: disjoint ports share .1; an overlapping port gets the next address.
    c.create(&service_yaml(
        "share",
        "web",
        &[(80, "TCP"), (443, "TCP")],
        None,
    ));
    assert_eq!(c.assigned(&p, "share", "web"), "10.1.0.1");
    c.create(&service_yaml("share", "dns", &[(53, "UDP")], None));
    assert_eq!(c.assigned(&p, "share", "dns"), "10.1.0.1");
    c.create(&service_yaml("share", "web2", &[(443, "TCP")], None));
    assert_eq!(c.assigned(&p, "share", "web2"), "10.1.0.2");

    // Freeing .213 serves the waiting Service.
    c.api
        .kubectl(&["delete", "service", "-n", "team", "api"])
        .expect("delete");
    assert_eq!(c.assigned(&p, "team", "api2"), "192.168.66.213");

    eprintln!("all assigned: {:?}", t0.elapsed());
    // Still running after all that; SIGTERM releases the Lease.
    let status = p.stop().expect("kvip cloud-provider stops on SIGTERM");
    assert!(status.success(), "exit {status}; log:\n{}", p.log());
    let lease = c
        .api
        .get_json(&["lease", "-n", "kube-system", "kube-vip-cloud-controller"])
        .expect("get lease")
        .expect("lease");
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or("");
    assert_eq!(holder, "", "released on shutdown: {lease}");
    let log = p.log();
    assert!(
        log.contains("assigning") && log.contains("192.168.66.210"),
        "{log}"
    );
}
