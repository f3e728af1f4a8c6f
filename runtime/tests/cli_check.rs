//! The `kvip` binary's surface: `--help`, `--version`, and `kvip manager --check` (S2's static-pod
//! environment verbatim, good and bad), run as a user would run them.

use std::process::{Command, Output};

use kvip_core::config::{Config, ConfigError};
use kvip_runtime::check;

/// S2 (seed 001): the RKE static pod's environment, verbatim.
const S2_ENV: &[(&str, &str)] = &[
    ("vip_arp", "true"),
    ("vip_interface", "eth0"),
    ("port", "6443"),
    ("vip_cidr", "32"),
    ("cp_enable", "true"),
    ("cp_namespace", "kube-system"),
    ("vip_ddns", "false"),
    ("svc_enable", "true"),
    ("vip_leaderelection", "true"),
    ("vip_leaseduration", "5"),
    ("vip_renewdeadline", "3"),
    ("vip_retryperiod", "1"),
    ("vip_address", "192.168.66.101"),
];

fn s2_env() -> Vec<(String, String)> {
    S2_ENV
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Runs the built `kvip` with exactly `env` as its environment.
fn kvip(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvip"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run kvip")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8")
}

#[test]
fn check_s2_static_pod() {
    let loaded = Config::from_sources(s2_env(), &[], "master01").expect("S2 is valid");
    insta::assert_snapshot!(check::render(&loaded));
}

#[test]
fn help() {
    let out = kvip(&["--help"], &[]);
    assert!(out.status.success());
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn manager_help() {
    let out = kvip(&["manager", "--help"], &[]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("Environment\nvariables override flags"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn version_is_the_crate_version() {
    let out = kvip(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        format!("kvip {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_accepts_s2_and_touches_nothing() {
    let out = kvip(&["manager", "--check"], S2_ENV);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "vip_subnet",
        "env vip_cidr",
        "address                             192.168.66.101",
        "vip_cidr is deprecated: use vip_subnet",
        "vip_address is deprecated: use address",
        "configuration is valid",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(stderr(&out), "", "--check logs nothing");
}

#[test]
fn check_refuses_a_bad_retry_period_naming_it() {
    let mut env = S2_ENV.to_vec();
    env.retain(|(k, _)| *k != "vip_retryperiod");
    env.push(("vip_retryperiod", "abc"));
    let out = kvip(&["manager", "--check"], &env);
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("vip_retryperiod"), "{err}");
    assert!(
        err.contains("abc") && err.contains("seconds"),
        "names the accepted form: {err}"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn check_flags_anywhere_env_over_flags() {
    let env = [("vip_interface", "eth0")];
    let args = [
        "manager",
        "--arp",
        "--interface",
        "eth1",
        "--check",
        "--address",
        "10.0.0.40",
        "--controlplane",
        "--nodeName",
        "n1",
    ];
    let out = kvip(&args, &env);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("vip_interface"),
        "vip_interface eth0 env vip_interface"
    );
    assert_eq!(line("address"), "address 10.0.0.40 flag --address");
    assert_eq!(line("vip_arp"), "vip_arp true flag --arp");
    assert_eq!(line("port"), "port 6443 default");
}

#[test]
fn check_flags_unknown_variables() {
    let mut env = S2_ENV.to_vec();
    env.push(("vip_leaseduraton", "9"));
    env.push(("svc_enabel", "true"));
    let out = kvip(&["manager", "--check"], &env);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("vip_leaseduraton is not a kvip or kube-vip setting"),
        "{text}"
    );
    assert!(text.contains("did you mean vip_leaseduration?"), "{text}");
    assert!(text.contains("svc_enabel"), "{text}");
}

#[test]
fn check_refuses_unknown_flags() {
    let out = kvip(&["manager", "--check", "--frobnicate"], S2_ENV);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--frobnicate"));
}

/// Every flag `kvip manager --help` lists is one the configuration accepts.
#[test]
fn manager_help_lists_only_flags_kvip_reads() {
    let help = stdout(&kvip(&["manager", "--help"], &[]));
    let table = help
        .split("overrides each:\n")
        .nth(1)
        .expect("flag table")
        .lines()
        .take_while(|l| l.starts_with("  --"));
    let mut seen = 0;
    for line in table {
        let mut words = line.split_whitespace();
        let flag = words.next().unwrap();
        let takes_value = words
            .next()
            .is_some_and(|w| w.chars().all(|c| c.is_ascii_uppercase()));
        let mut flags = vec![flag.to_string()];
        if takes_value {
            let value = match flag {
                "--port" => "6443",
                "--vipSubnet" => "32",
                "--leaseDuration" => "15",
                "--leaseRenewDuration" => "10",
                "--leaseRetry" => "2",
                "--address" => "10.0.0.40",
                "--prometheusHTTPServer" => ":2112",
                "--k8sConfigPath" => "/etc/kubernetes/admin.conf",
                _ => "eth0",
            };
            flags.push(value.into());
        }
        // Recognised and given a well-formed value; other refusals (a second mode) are fine.
        let result = Config::from_sources(s2_env(), &flags, "n");
        let unread = matches!(
            result,
            Err(ConfigError::UnknownFlag { .. }
                | ConfigError::MissingFlagValue { .. }
                | ConfigError::UnexpectedArgument { .. }
                | ConfigError::Invalid { .. })
        );
        assert!(!unread, "{flags:?}: {result:?}");
        seen += 1;
    }
    assert!(seen >= 15, "parsed {seen} flags from the help");
}

#[test]
fn error_text_names_the_variable() {
    let mut env = s2_env();
    env.push(("vip_leaseduration".into(), "2".into()));
    env.retain(|(k, v)| k != "vip_leaseduration" || v == "2");
    let err = Config::from_sources(env, &[], "n").unwrap_err();
    let text = check::render_error(&err);
    assert!(
        text.starts_with("kvip manager: invalid configuration: "),
        "{text}"
    );
    assert!(text.contains("vip_leaseduration"), "{text}");
}

#[test]
fn log_level_follows_kube_vips_numbers() {
    use kvip_runtime::cli::level_for;
    let levels: Vec<_> = [0, 4, 5, 6, 7, -4, -8, 8].map(level_for).into();
    let want = [
        "info", "info", "debug", "trace", "error", "debug", "debug", "error",
    ];
    assert_eq!(levels, want);
}
