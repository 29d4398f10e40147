//! `quietwire check --owned-only` end to end through the binary: rpm-compatible output equals
//! real `rpm -Va`, the JSON and text reports carry the same findings with expected and actual
//! values, and the exit status is the findings bitmask.

mod support;

use std::process::{Command, Output};
use support::{assert_lines_eq_sorted, build_packages, TestRoot, INSTALL_ALL};

fn check(root: &TestRoot, args: &[&str]) -> Output {
    Command::new(support::quietwire_bin())
        .args(["check", "--owned-only", "--no-progress", "--root"])
        .arg(root.path())
        .args(args)
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn tampered_root() -> TestRoot {
    let _ = build_packages();
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
    root.allow_unsigned("\"qw-*\"");
    let out = check(&root, &["--format", "rpm"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "clean root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    // A one-byte change that keeps size and mtime: only the digest can catch it.
    root.rewrite_keep_mtime("/opt/qw-files/reg", "regulaR\n");
    std::fs::remove_file(root.join("/opt/qw-files/doc")).unwrap();
    root
}

#[test]
fn rpm_format_equals_rpm_va_and_exit_status_is_the_bitmask() {
    let root = tampered_root();
    let (want, _) = root.rpm_va();
    let out = check(&root, &["--format", "rpm"]);
    assert_lines_eq_sorted("check --format rpm vs rpm -Va", &want, &lines(&out));
    assert!(
        lines(&out).contains(&"..5......    /opt/qw-files/reg".to_string()),
        "{:?}",
        lines(&out)
    );
    assert_eq!(
        out.status.code(),
        Some((quietwire::exit::CHANGED | quietwire::exit::REMOVED) as i32)
    );

    // Only the named package; an unknown name is an error reported like rpm does.
    let out = check(&root, &["--format", "rpm", "--package", "qw-md5"]);
    assert_eq!(out.status.code(), Some(0));
    let out = check(&root, &["--format", "rpm", "--package", "nosuch"]);
    assert_eq!(
        lines(&out),
        vec!["package nosuch is not installed".to_string()]
    );
    assert_eq!(out.status.code(), Some(quietwire::exit::NOT_FOUND as i32));
}

#[test]
fn json_and_text_reports_carry_package_and_values() {
    let root = tampered_root();
    let out = check(&root, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let reg = findings
        .iter()
        .find(|f| f["path"] == "/opt/qw-files/reg")
        .unwrap();
    assert_eq!(reg["kind"], "changed");
    assert_eq!(reg["source"], "package");
    assert_eq!(reg["package"], "qw-files-1.0-1.noarch");
    assert_eq!(reg["changes"], serde_json::json!(["digest"]));
    let doc = findings
        .iter()
        .find(|f| f["path"] == "/opt/qw-files/doc")
        .unwrap();
    assert_eq!(doc["kind"], "missing");
    assert_eq!(findings.len(), 2, "{findings:#?}");

    let out = check(&root, &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("/opt/qw-files/reg"), "{text}");
    assert!(text.contains("qw-files-1.0-1.noarch"), "{text}");
    assert!(text.contains("digest: "), "{text}");
}

/// `quietwire check | head`: a reader that goes away must neither turn the findings' exit bits
/// into 0 nor stop the other deliveries (the report file here; mail and metrics the same way).
#[test]
fn a_closed_stdout_keeps_the_exit_bits_and_the_report_file() {
    let root = tampered_root();
    let report = root.path().join("report.json");
    for format in ["text", "json", "rpm", "ndjson"] {
        let _ = std::fs::remove_file(&report);
        let mut child = Command::new(support::quietwire_bin())
            .args(["check", "--owned-only", "--no-progress", "--format", format])
            .arg("--report-file")
            .arg(&report)
            .arg("--root")
            .arg(root.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before quietwire has verified anything, so its first write fails (EPIPE).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some((quietwire::exit::CHANGED | quietwire::exit::REMOVED) as i32),
            "--format {format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert!(
            doc.to_string().contains("/opt/qw-files/reg"),
            "--format {format}: {doc}"
        );
    }
}
