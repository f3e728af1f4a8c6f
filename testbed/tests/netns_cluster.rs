//! The namespace testbed against real servers: S2's three masters (a three-member etcd cluster and a
//! kube-apiserver v1.20 each) plus a client, built in network namespaces. Checks from the client:
//! every API server is ready; the `kube-vip` identity is bound by RBAC exactly as kube-vip's
//! ClusterRole says (no secrets; leases get/create/update); losing one master's etcd and API server
//! keeps the other two serving and writable (quorum); the master comes back; and nothing of the run
//! is left afterwards (namespaces, processes, dirs).
//!
//! Needs root and the cached kube-apiserver; skips with the reason (and the build command) otherwise.
//! Run: `cargo test -p kvip-testbed --test netns_cluster -- --nocapture`

use kvip_testbed::netns::{self, list_netns, Cluster, ClusterSpec, Kubectl};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// kube-vip's generated RBAC (COMPAT.md, `system:kube-vip-role`). The real one will come from
/// `deploy/`; this copy keeps the testbed's own test independent of it.
const KUBE_VIP_RBAC: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: kube-vip
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  annotations:
    rbac.authorization.kubernetes.io/autoupdate: "true"
  name: system:kube-vip-role
rules:
  - apiGroups: [""]
    resources: ["services/status"]
    verbs: ["update"]
  - apiGroups: [""]
    resources: ["services", "endpoints"]
    verbs: ["list", "get", "watch", "update"]
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["list", "get", "watch", "update", "patch"]
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["list", "get", "watch", "update", "create"]
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["list", "get", "watch", "update"]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata:
  name: system:kube-vip-binding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:kube-vip-role
subjects:
  - kind: ServiceAccount
    name: kube-vip
    namespace: kube-system
"#;

fn lease(holder: &str) -> String {
    format!(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: plndr-cp-lock\n  namespace: kube-system\n\
         spec:\n  holderIdentity: {holder}\n  leaseDurationSeconds: 5\n"
    )
}

fn holder(k: &Kubectl) -> String {
    k.get(&[
        "lease",
        "-n",
        "kube-system",
        "plndr-cp-lock",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])
    .expect("get lease")
}

/// Retries `f` every 100 ms for at most `bound` (RBAC changes reach each server's cache shortly
/// after the write; etcd elects a new leader within about a second).
fn eventually<T>(what: &str, bound: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if start.elapsed() >= bound => {
                panic!("{what}: still failing after {bound:?}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn s2_masters_serve_with_rbac_and_survive_one_loss() {
    if let Some(why) = netns::skip_reason() {
        eprintln!("SKIPPED netns_cluster: {why}");
        return;
    }
    let t0 = Instant::now();
    let mut c = Cluster::start(ClusterSpec::s2()).expect("start S2 cluster");
    eprintln!(
        "[netns_cluster] run {}: S2 cluster (3 etcd + 3 kube-apiserver) up in {:.2} s",
        c.run().prefix(),
        c.up_in().as_secs_f64()
    );
    let prefix = c.run().prefix().to_string();
    let dirs: Vec<PathBuf> = vec![c.run().dir().to_path_buf(), c.run().shm_dir().to_path_buf()];

    // Every master's API server answers /readyz to the admin token, seen from the client.
    let admin = c.admin().clone();
    for m in ["master01", "master02", "master03"] {
        let url = c.server_url(m).unwrap();
        let (code, body) = c.get("client", &url, &admin, "/readyz").unwrap();
        assert_eq!(
            (code, body.trim()),
            (200, "ok"),
            "{m} /readyz from the client"
        );
    }
    // A pretty-printed JSON answer to curl's default User-Agent: what the vendored reflect2 v1.0.1
    // crashed on (DESIGN.md). The build must have replaced it.
    let url1 = c.server_url("master01").unwrap();
    let (code, body) = c
        .get(
            "client",
            &url1,
            &admin,
            "/api/v1/namespaces/kube-system?pretty=true",
        )
        .unwrap();
    assert_eq!(code, 200, "pretty JSON: {body}");
    assert!(body.contains("\"name\": \"kube-system\""), "{body}");

    // kubeconfigs pointing at master01's own address, as S2's static pod uses.
    let admin_kc = c
        .write_kubeconfig("admin-master01.conf", &admin, &url1)
        .unwrap();
    let kv = c.kube_vip().clone();
    let kv_kc = c
        .write_kubeconfig("kube-vip-master01.conf", &kv, &url1)
        .unwrap();
    let k_admin = c.kubectl("client", &admin_kc).unwrap();
    let k_vip = c.kubectl("client", &kv_kc).unwrap();

    // Before the binding the kube-vip identity may do nothing with leases: RBAC is really on.
    let o = k_vip
        .output(&["get", "lease", "-n", "kube-system"])
        .unwrap();
    assert!(
        !o.ok() && o.stderr.to_lowercase().contains("forbidden"),
        "unbound kube-vip read leases: {o:?}"
    );

    let t = Instant::now();
    k_admin.apply(KUBE_VIP_RBAC).expect("apply kube-vip RBAC");
    eventually(
        "kube-vip may create the lease",
        Duration::from_secs(10),
        || k_vip.create(&lease("master01")).map_err(|e| e.to_string()),
    );
    eprintln!(
        "[netns_cluster] RBAC applied and effective in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(holder(&k_vip), "master01");
    k_vip
        .replace(&lease("master02"))
        .expect("kube-vip updates the lease");
    assert_eq!(holder(&k_vip), "master02");
    let o = k_vip
        .output(&["get", "secrets", "-n", "kube-system"])
        .unwrap();
    assert!(
        !o.ok() && o.stderr.to_lowercase().contains("forbidden"),
        "kube-vip listed secrets: {o:?}"
    );
    assert!(!k_vip.can_i("list", "secrets", "kube-system").unwrap());
    assert!(!k_vip.can_i("delete", "leases", "kube-system").unwrap());
    assert!(k_vip.can_i("update", "leases", "kube-system").unwrap());

    // Lose master01's control plane: the other two keep serving and writing (2 of 3 etcd members).
    let t = Instant::now();
    c.kill_control_plane("master01").unwrap();
    let (code, _) = c.get("client", &url1, &admin, "/readyz").unwrap();
    assert_eq!(code, 0, "master01 still answers after SIGKILL");
    let mut writers = Vec::new();
    for m in ["master02", "master03"] {
        let url = c.server_url(m).unwrap();
        eventually(
            &format!("{m} ready after master01's loss"),
            Duration::from_secs(15),
            || match c.get("client", &url, &admin, "/readyz") {
                Ok((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
        let kc = c
            .write_kubeconfig(&format!("kube-vip-{m}.conf"), &kv, &url)
            .unwrap();
        writers.push((m, c.kubectl("client", &kc).unwrap()));
    }
    for (m, k) in &writers {
        eventually(
            &format!("lease write through {m}"),
            Duration::from_secs(15),
            || k.replace(&lease(m)).map_err(|e| e.to_string()),
        );
        assert_eq!(holder(k), *m);
    }
    eprintln!(
        "[netns_cluster] master01 killed: master02/03 ready and writable after {:.2} s",
        t.elapsed().as_secs_f64()
    );

    // master01 comes back and rejoins with its data.
    let back = c
        .restart_control_plane("master01")
        .expect("restart master01");
    eprintln!(
        "[netns_cluster] master01 restarted and ready in {:.2} s",
        back.as_secs_f64()
    );
    assert_eq!(
        holder(&k_vip),
        "master03",
        "master01 sees the writes made while it was down"
    );

    // Cleanup: nothing of the run is left.
    let pids = c.run().pids().to_vec();
    assert!(pids.len() >= 8, "recorded pids: {pids:?}");
    let t = Instant::now();
    let report = c.run_mut().cleanup();
    drop(c);
    eprintln!(
        "[netns_cluster] cleanup in {:.2} s: {} processes, {} namespaces",
        t.elapsed().as_secs_f64(),
        report.stopped.len(),
        report.namespaces.len()
    );
    for (name, pid, took) in &report.stopped {
        eprintln!(
            "[netns_cluster]   {name} (pid {pid}) exited {:.0} ms after SIGTERM",
            took.as_secs_f64() * 1e3
        );
    }
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(
        report.stragglers.is_empty(),
        "processes not started by the run: {report:?}"
    );
    let left: Vec<String> = list_netns()
        .into_iter()
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    for pid in pids {
        // SAFETY: signal 0 only checks existence.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        assert!(!alive, "pid {pid} still alive");
    }
    for d in dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
    eprintln!("[netns_cluster] total {:.2} s", t0.elapsed().as_secs_f64());
}

/// S1's layout (interface `ens3`, 192.168.205.0/24, VIP 192.168.205.200 in the certificates). Runs in
/// parallel with the S2 test: the two runs share nothing (own prefix, namespaces, ports, dirs).
#[test]
fn s1_masters_serve_on_ens3_with_the_vip_in_their_certificates() {
    if let Some(why) = netns::skip_reason() {
        eprintln!("SKIPPED netns_cluster: {why}");
        return;
    }
    let c = Cluster::start(ClusterSpec::s1()).expect("start S1 cluster");
    eprintln!(
        "[netns_cluster] run {}: S1 cluster up in {:.2} s",
        c.run().prefix(),
        c.up_in().as_secs_f64()
    );
    let admin = c.admin().clone();
    for m in c.masters() {
        let h = &m.host;
        assert_eq!(h.ifname, "ens3");
        assert!(h
            .ns
            .ip(&["-br", "addr", "show", "dev", "ens3"])
            .unwrap()
            .contains(&format!("{}/24", h.ip)));
        let url = c.server_url(&h.name).unwrap();
        let (code, _) = c.get("client", &url, &admin, "/readyz").unwrap();
        assert_eq!(code, 200, "{} /readyz", h.name);
        let text = netns::Cmd::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(m.cert.crt.display().to_string())
            .run()
            .unwrap();
        for san in [
            "IP Address:192.168.205.200",
            "IP Address:127.0.0.1",
            &format!("IP Address:{}", h.ip),
        ] {
            assert!(text.contains(san), "{san} missing in {}", text.trim());
        }
    }
}
