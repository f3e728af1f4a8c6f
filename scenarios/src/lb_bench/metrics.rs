//! Write requests from an API server's `/metrics`: the counters `apiserver_request_total`
//! (`apiserver_request_count` on servers that predate it) with a write verb (POST, PUT, PATCH,
//! DELETE, DELETECOLLECTION, APPLY), summed by resource (`resource/subresource` when there is one).
//! Two readings give the writes over a window; the cluster's API servers share etcd, so the
//! benchmark sums them.

use std::collections::BTreeMap;

/// The request counters, newest name first.
const COUNTERS: [&str; 2] = ["apiserver_request_total{", "apiserver_request_count{"];
/// The verbs that write.
const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "DELETECOLLECTION",
    "APPLY",
];

/// Write requests so far, by resource.
pub type Writes = BTreeMap<String, f64>;

/// The value of label `name` in a `{…}` label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = labels
        .match_indices(&key)
        .find(|(i, _)| *i == 0 || labels.as_bytes()[i - 1] == b',')?
        .0
        + key.len();
    let rest = &labels[start..];
    Some(&rest[..rest.find('"')?])
}

/// Write requests by resource in one `/metrics` text.
pub fn writes(text: &str) -> Writes {
    let counter = COUNTERS
        .iter()
        .find(|c| text.lines().any(|l| l.starts_with(**c)))
        .copied()
        .unwrap_or(COUNTERS[0]);
    let mut out = Writes::new();
    for line in text.lines().filter(|l| l.starts_with(counter)) {
        let Some(close) = line.rfind('}') else {
            continue;
        };
        let labels = &line[counter.len()..close];
        let Some(verb) = label(labels, "verb") else {
            continue;
        };
        if !WRITE_VERBS.contains(&verb) {
            continue;
        }
        let Some(value) = line[close + 1..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        let resource = label(labels, "resource").unwrap_or("");
        let key = match label(labels, "subresource").unwrap_or("") {
            "" => resource.to_string(),
            sub => format!("{resource}/{sub}"),
        };
        *out.entry(key).or_default() += value;
    }
    out
}

/// `after - before`, by resource (resources only in `after` count from zero).
pub fn delta(before: &Writes, after: &Writes) -> Writes {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

/// Adds `b` into `a`.
pub fn add(a: &mut Writes, b: &Writes) {
    for (k, v) in b {
        *a.entry(k.clone()).or_default() += v;
    }
}

/// Total over every resource.
pub fn total(w: &Writes) -> f64 {
    w.values().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP apiserver_request_total [STABLE] Counter
apiserver_request_total{code="200",component="apiserver",contentType="application/json",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 120
apiserver_request_total{code="200",component="apiserver",contentType="application/json",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="PUT",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",contentType="application/json",dry_run="",group="",resource="services",scope="resource",subresource="",verb="PATCH",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",contentType="application/json",dry_run="",group="",resource="services",scope="namespace",subresource="",verb="LIST",version="v1"} 99
apiserver_request_total{code="201",component="apiserver",contentType="application/json",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 2
"#;

    #[test]
    fn write_verbs_are_summed_by_resource() {
        let w = writes(TEXT);
        assert_eq!(w["leases"], 120.0);
        assert_eq!(w["services/status"], 7.0);
        assert_eq!(w["services"], 3.0);
        assert_eq!(w["events"], 2.0);
        assert_eq!(total(&w), 132.0);
    }

    #[test]
    fn deltas_and_sums() {
        let before = writes(TEXT);
        let after = writes(&TEXT.replace("} 120", "} 150"));
        let d = delta(&before, &after);
        assert_eq!(d.len(), 1);
        assert_eq!(d["leases"], 30.0);
        let mut sum = d.clone();
        add(&mut sum, &d);
        assert_eq!(total(&sum), 60.0);
    }
}
