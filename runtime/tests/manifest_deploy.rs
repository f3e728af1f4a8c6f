//! `deploy/` is exactly what the generator prints: each file is regenerated with the built
//! `kvip` and compared byte for byte, so deploy/ can never drift from the generator.
//!
//! After a deliberate change, regenerate with the commands in `deploy/README.md`, or run this
//! test with `KVIP_REGENERATE_DEPLOY=1`, and review the diff.

use std::path::Path;
use std::process::Command;

/// Each file in deploy/ and the `kvip` arguments that produce it (README.md lists the same).
const FILES: &[(&str, &[&str])] = &[
    ("rbac.yaml", &["manifest", "rbac"]),
    ("cloud-provider.yaml", &["manifest", "cloud-provider"]),
    (
        "daemonset.yaml",
        &[
            "manifest",
            "daemonset",
            "--interface",
            "ens3",
            "--address",
            "192.168.205.200",
            "--inCluster",
            "--taint",
            "--controlplane",
            "--services",
            "--arp",
            "--leaderElection",
        ],
    ),
    (
        "static-pod.yaml",
        &[
            "manifest",
            "pod",
            "--interface",
            "eth0",
            "--address",
            "192.168.66.101",
            "--controlplane",
            "--services",
            "--arp",
            "--leaderElection",
        ],
    ),
];

fn deploy_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy"))
}

fn generate(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_kvip"))
        .args(args)
        .env_clear()
        .output()
        .expect("run kvip");
    assert!(
        out.status.success(),
        "kvip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn deploy_files_are_byte_identical_to_the_generator() {
    let regenerate = std::env::var_os("KVIP_REGENERATE_DEPLOY").is_some();
    let mut stale = Vec::new();
    for (file, args) in FILES {
        let path = deploy_dir().join(file);
        let want = generate(args);
        if regenerate {
            std::fs::write(&path, &want).expect("write deploy file");
            continue;
        }
        let have = std::fs::read(&path).unwrap_or_default();
        if have != want {
            stale.push(format!(
                "deploy/{file}: regenerate with `cargo run -q -p kvip-runtime --bin kvip -- {} > deploy/{file}`",
                args.join(" ")
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "deploy/ differs from the generator (or run this test with KVIP_REGENERATE_DEPLOY=1):\n{}",
        stale.join("\n")
    );
}

#[test]
fn readme_lists_the_same_commands() {
    let readme = std::fs::read_to_string(deploy_dir().join("README.md")).expect("deploy/README.md");
    for (file, args) in FILES {
        let command = format!("kvip -- {} > deploy/{file}", args.join(" "));
        assert!(readme.contains(&command), "README.md lacks `{command}`");
    }
}
