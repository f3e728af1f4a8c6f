//! `kvip manager --check`: the effective configuration as text, for an operator to read before
//! kvip touches anything (what `nginx -t` and `keepalived -t` give their users).
//!
//! Pure functions from a loaded configuration (or the error that refused it) to the text printed,
//! so the output can be snapshot-tested.

use std::fmt::Write as _;

use kvip_core::config::{format_duration, Config, ConfigError, Loaded, Source};

/// The report for a valid configuration: every setting with its value and source, the warnings,
/// a short summary, and the verdict.
pub fn render(loaded: &Loaded) -> String {
    let mut out = String::new();
    out.push_str(
        "kvip manager --check: environment variables override flags, which override defaults\n\n",
    );
    let rows: Vec<[String; 3]> = loaded
        .settings
        .iter()
        .map(|s| {
            let value = if s.value.is_empty() {
                "\"\"".to_string()
            } else {
                s.value.clone()
            };
            [s.name.to_string(), value, source(&s.source)]
        })
        .collect();
    let header = ["SETTING", "VALUE", "SOURCE"].map(str::to_string);
    let width = |i: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    for [name, value, source] in std::iter::once(&header).chain(&rows) {
        let line = format!("{name:<w0$}  {value:<w1$}  {source}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push('\n');
    if loaded.warnings.is_empty() {
        out.push_str("warnings: none\n");
    } else {
        let _ = writeln!(out, "warnings ({}):", loaded.warnings.len());
        for warning in &loaded.warnings {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    out.push('\n');
    summary(&mut out, &loaded.config);
    out.push_str(
        "\nconfiguration is valid; nothing was touched (no network, no netlink, no Kubernetes API)\n",
    );
    out
}

/// The report for a refused configuration: the reason, naming the variable or flag at fault
/// and the form it accepts.
pub fn render_error(error: &ConfigError) -> String {
    format!("kvip manager: invalid configuration: {error}\n")
}

fn source(source: &Source) -> String {
    match source {
        Source::Default => "default".into(),
        Source::Flag(flag) => format!("flag {flag}"),
        Source::Env(name) => format!("env {name}"),
    }
}

/// What kvip will do, in a few lines.
fn summary(out: &mut String, c: &Config) {
    let iface = |i: Option<&str>| i.unwrap_or("the default-route interface").to_string();
    let _ = writeln!(out, "summary:");
    let _ = writeln!(
        out,
        "  mode {} on {}; node name {}",
        c.mode,
        iface(c.interface.as_deref()),
        c.node_name
    );
    if c.cp_enable {
        let addresses: Vec<String> = c.addresses.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  control plane: VIP {} (port {}), lease {}",
            addresses.join(","),
            c.port,
            c.cp_lease
        );
    } else {
        let _ = writeln!(out, "  control plane: disabled");
    }
    if c.svc_enable {
        let election = if c.svc_election {
            "one lease per Service".to_string()
        } else {
            format!("lease {}", c.svc_lease)
        };
        let _ = writeln!(
            out,
            "  services: enabled on {}, {election}",
            iface(c.effective_services_interface())
        );
    } else {
        let _ = writeln!(out, "  services: disabled");
    }
    let e = &c.election;
    let _ = writeln!(
        out,
        "  election: {}; lease {}s, renew deadline {}s, retry period {}s",
        if c.leader_election { "on" } else { "off" },
        format_duration(e.lease_duration),
        format_duration(e.renew_deadline),
        format_duration(e.retry_period)
    );
}
