//! Prometheus metrics for node_exporter's textfile collector (`check --metrics-file`), derived
//! from the JSON report document like the NDJSON lines; `ops::metrics` writes them. Written on every run, a failed one too,
//! with what is known: a run that failed before it had findings has no `quietwire_findings`
//! (no data rather than a false zero), and keeps the previous file's last success time.

use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The severities, so each has a `quietwire_findings` series even with no finding.
const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// What one run knows at its end.
pub struct Outcome<'a> {
    pub started: SystemTime,
    pub duration: Duration,
    /// The process's exit status.
    pub exit_status: u8,
    /// The JSON report document, when the run got that far.
    pub doc: Option<&'a J>,
}

fn seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// A label value in the exposition format: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn head(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The metrics text. `previous_success` is the last success time of the previous file, kept
/// when this run failed (exit status 16 and above; findings are a successful check).
pub fn render(o: &Outcome<'_>, previous_success: Option<f64>) -> String {
    let mut out = String::new();
    let now = seconds(o.started + o.duration);
    head(
        &mut out,
        "quietwire_last_run_timestamp_seconds",
        "When the last quietwire check ended, in seconds since the epoch.",
    );
    let _ = writeln!(out, "quietwire_last_run_timestamp_seconds {now:.3}");
    let success = match crate::exit::ExitStatus::new(o.exit_status).is_error() {
        false => Some(now),
        true => previous_success,
    };
    if let Some(s) = success {
        head(
            &mut out,
            "quietwire_last_success_timestamp_seconds",
            "When the last quietwire check without errors (exit status below 16) ended.",
        );
        let _ = writeln!(out, "quietwire_last_success_timestamp_seconds {s:.3}");
    }
    head(
        &mut out,
        "quietwire_run_duration_seconds",
        "How long the last quietwire check took.",
    );
    let _ = writeln!(
        out,
        "quietwire_run_duration_seconds {:.6}",
        o.duration.as_secs_f64()
    );
    head(
        &mut out,
        "quietwire_exit_status",
        "Exit status of the last quietwire check (1-15 findings bitmask, 16 and above errors).",
    );
    let _ = writeln!(out, "quietwire_exit_status {}", o.exit_status);
    if let Some(doc) = o.doc {
        findings(&mut out, doc);
        if let Some(created) = doc
            .get("package_changes")
            .and_then(|c| c.get("baseline_created"))
            .and_then(J::as_i64)
        {
            head(
                &mut out,
                "quietwire_baseline_age_seconds",
                "Age of the baseline the last check compared with.",
            );
            let age = seconds(o.started) - created as f64;
            let _ = writeln!(out, "quietwire_baseline_age_seconds {age:.3}");
        }
    }
    head(
        &mut out,
        "quietwire_info",
        "The quietwire version that wrote these metrics.",
    );
    let _ = writeln!(
        out,
        "quietwire_info{{version=\"{}\"}} 1",
        label(env!("CARGO_PKG_VERSION"))
    );
    out
}

/// `quietwire_findings` for each severity, kind and source seen (and a zero for each severity
/// with none, so `sum by (severity)` always has all five), and `quietwire_untrusted_packages`.
fn findings(out: &mut String, doc: &J) {
    let list = doc
        .get("findings")
        .and_then(J::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let s = |f: &J, k: &str| f.get(k).and_then(J::as_str).unwrap_or_default().to_string();
    let mut counts = BTreeMap::<(String, String, String), u64>::new();
    let mut untrusted = BTreeSet::new();
    for f in list {
        let sev = s(f, "severity");
        if s(f, "kind") == "untrusted" && sev != "info" {
            untrusted.insert(s(f, "package"));
        }
        *counts
            .entry((sev, s(f, "kind"), s(f, "source")))
            .or_default() += 1;
    }
    for sev in SEVERITIES {
        if !counts.keys().any(|(s, _, _)| s == sev) {
            counts.insert((sev.into(), String::new(), String::new()), 0);
        }
    }
    head(
        out,
        "quietwire_findings",
        "Findings of the last quietwire check by severity, kind and source.",
    );
    for ((sev, kind, source), n) in &counts {
        let _ = writeln!(
            out,
            "quietwire_findings{{severity=\"{}\",kind=\"{}\",source=\"{}\"}} {n}",
            label(sev),
            label(kind),
            label(source)
        );
    }
    head(
        out,
        "quietwire_untrusted_packages",
        "Installed packages whose header signature the last check did not trust (above info).",
    );
    let _ = writeln!(out, "quietwire_untrusted_packages {}", untrusted.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failed_run_keeps_the_last_success_and_has_no_findings() {
        let o = Outcome {
            started: UNIX_EPOCH + Duration::from_secs(100),
            duration: Duration::from_millis(1500),
            exit_status: 17,
            doc: None,
        };
        let t = render(&o, Some(42.0));
        assert!(t.contains("quietwire_last_success_timestamp_seconds 42.000\n"));
        assert!(t.contains("quietwire_last_run_timestamp_seconds 101.500\n"));
        assert!(t.contains("quietwire_exit_status 17\n"));
        assert!(!t.contains("quietwire_findings"));
        assert!(!render(&o, None).contains("last_success"));
    }

    #[test]
    fn findings_are_counted_with_a_zero_per_empty_severity() {
        let doc = json!({"findings": [
            {"severity": "high", "kind": "changed", "source": "package", "package": "a"},
            {"severity": "high", "kind": "changed", "source": "package", "package": "a"},
            {"severity": "medium", "kind": "untrusted", "source": "header", "package": "p-1-1.x"},
        ], "package_changes": {"baseline_created": 40}});
        let o = Outcome {
            started: UNIX_EPOCH + Duration::from_secs(100),
            duration: Duration::ZERO,
            exit_status: 12,
            doc: Some(&doc),
        };
        let t = render(&o, Some(1.0));
        assert!(t.contains(
            "quietwire_findings{severity=\"high\",kind=\"changed\",source=\"package\"} 2\n"
        ));
        assert!(t.contains("quietwire_findings{severity=\"low\",kind=\"\",source=\"\"} 0\n"));
        assert!(t.contains("quietwire_untrusted_packages 1\n"));
        assert!(t.contains("quietwire_baseline_age_seconds 60.000\n"));
        assert!(t.contains("quietwire_last_success_timestamp_seconds 100.000\n"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
