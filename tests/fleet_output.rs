//! Issue 17, points 2 and 3, through the binary on a real RPM root: `check --format ndjson` and
//! `--report-file X.ndjson` (every line one JSON object, summary last, one run id, a hostile
//! file name kept on its line), and `--metrics-file` checked by the real `promtool check
//! metrics` (Debian package `prometheus`), its values against the JSON report, written
//! atomically, and the last success time kept across a failed run.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use support::{build_packages, qw, text, TestRoot, INSTALL_ALL};

/// A file name with a newline, a quote, an escape character and a byte that is not UTF-8.
const HOSTILE: &[u8] = b"/etc/evil\nname\"\x1b[2J\xff.conf";

/// The fixture packages baselined (all unsigned), then attacked: an unsigned package installed,
/// a package file trojaned, an unowned config changed, the hostile name added.
fn attacked() -> TestRoot {
    let _ = build_packages();
    let root = TestRoot::new();
    let before: Vec<&str> = INSTALL_ALL
        .iter()
        .copied()
        .filter(|k| *k != "qw-md5")
        .collect();
    root.install(&before);
    std::fs::write(root.join("/etc/app.conf"), "a=1\n").unwrap();
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    // Installed after the baseline, unsigned: an untrusted package above info.
    root.install(&["qw-md5"]);
    root.rewrite_keep_mtime("/opt/qw-files/reg", "trojaned\n");
    std::fs::write(root.join("/etc/app.conf"), "a=2\n").unwrap();
    let hostile = root.path().join(std::ffi::OsStr::from_bytes(&HOSTILE[1..]));
    std::fs::write(hostile, "x\n").unwrap();
    root
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    let t = text(bytes);
    assert!(t.ends_with('\n'), "no final newline: {t}");
    t.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not one JSON object: {l}"))
        })
        .collect()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    } as u32;
    let mut out = Vec::new();
    for chunk in s.trim_end_matches('=').as_bytes().chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | val(c) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn ndjson_lines_carry_every_finding_then_the_summary() {
    let root = attacked();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.ndjson");
    let json_report = dir.path().join("report.json");
    let out = qw(
        &root,
        &[
            "check",
            "--no-progress",
            "--format",
            "ndjson",
            "--report-file",
            report.to_str().unwrap(),
            "--report-file",
            json_report.to_str().unwrap(),
        ],
    );
    let code = out.status.code().unwrap();
    assert!((1..16).contains(&code), "{code}: {}", text(&out.stderr));
    let got = lines(&out.stdout);
    let reference = json(&qw(&root, &["check", "--no-progress", "--format", "json"]));
    let findings = reference["findings"].as_array().unwrap();

    let (summary, body) = got.split_last().unwrap();
    assert_eq!(summary["quietwire"]["type"], "summary");
    assert_eq!(summary["event"]["action"], "check-summary");
    assert_eq!(summary["quietwire"]["summary"]["total"], findings.len());
    assert!(body.iter().all(|l| l["quietwire"]["type"] != "summary"));
    let finding_lines: Vec<&Value> = body
        .iter()
        .filter(|l| l["quietwire"]["type"] == "finding")
        .collect();
    assert_eq!(finding_lines.len(), findings.len());

    let run_id = summary["quietwire"]["run_id"].as_str().unwrap();
    assert_eq!(run_id.len(), 32);
    let mut event_ids = std::collections::HashSet::new();
    for l in &got {
        assert_eq!(l["quietwire"]["run_id"], run_id, "{l}");
        assert_eq!(l["quietwire"]["schema"], 1);
        assert!(l["host"]["name"].is_string());
        assert!(event_ids.insert(l["event"]["id"].as_str().unwrap().to_string()));
        let ts = l["@timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
            "{ts}"
        );
        assert_eq!(l["@timestamp"], summary["@timestamp"]);
    }

    // The trojaned package file, in ECS names beside quietwire's own.
    let reg = finding_lines
        .iter()
        .find(|l| l["file"]["path"] == "/opt/qw-files/reg")
        .expect("the trojaned file");
    assert_eq!(reg["event"]["action"], "file-changed");
    assert_eq!(reg["event"]["category"], serde_json::json!(["file"]));
    assert_eq!(reg["package"]["name"], "qw-files");
    assert_eq!(reg["package"]["version"], "1.0-1");
    assert_eq!(reg["quietwire"]["rpm_verify"], "S.5......");
    let attrs = reg["quietwire"]["changed_attributes"].as_array().unwrap();
    assert!(attrs.contains(&"digest".into()), "{reg}");
    let sha = reg["file"]["hash"]["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);

    // The changed unowned file: its current state from the baseline walk.
    let app = finding_lines
        .iter()
        .find(|l| l["file"]["path"] == "/etc/app.conf")
        .expect("the changed config");
    assert_eq!(app["quietwire"]["source"], "baseline");
    assert_eq!(app["file"]["mode"], "0644");
    assert!(app["file"]["hash"]["sha256"].is_string(), "{app}");

    // The hostile name: one line, its exact bytes recoverable.
    let hostile = finding_lines
        .iter()
        .find(|l| {
            l["quietwire"]["path_bytes"]
                .as_str()
                .is_some_and(|b| decode_base64(b) == HOSTILE)
        })
        .expect("the hostile name, with its bytes");
    assert_eq!(hostile["quietwire"]["kind"], "added");
    assert!(hostile["file"]["path"].as_str().unwrap().contains('\n'));

    // No line holds an array of objects (Wazuh's JSON decoder rejects them).
    fn no_object_arrays(v: &Value) -> bool {
        match v {
            Value::Array(a) => a.iter().all(|x| !x.is_object() && no_object_arrays(x)),
            Value::Object(o) => o.values().all(no_object_arrays),
            _ => true,
        }
    }
    assert!(got.iter().all(no_object_arrays));

    // The report file named *.ndjson: the same lines (same run), mode 0600; beside it the JSON
    // report of the same run; no temporary file left.
    let file = lines(&std::fs::read(&report).unwrap());
    assert_eq!(file, got);
    let mode = std::fs::metadata(&report).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let doc: Value = serde_json::from_slice(&std::fs::read(&json_report).unwrap()).unwrap();
    assert_eq!(doc["summary"]["total"], findings.len());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    // accept reads only the JSON report; an NDJSON one is refused by name.
    let out = qw(&root, &["accept", "--report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(quietwire::exit::USAGE as i32));
    let err = text(&out.stderr);
    assert!(
        err.contains("report.ndjson") && err.contains("NDJSON"),
        "{err}"
    );
}

/// `promtool check metrics` on the file: exit 0 and no lint complaint.
fn promtool(file: &Path) {
    support::require_tool("promtool", "prometheus");
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{}",
        text(&out.stdout),
        text(&out.stderr),
        std::fs::read_to_string(file).unwrap()
    );
}

/// `name{labels}` → value, comments left out.
fn samples(file: &Path) -> BTreeMap<String, f64> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn metrics_file_is_valid_correct_atomic_and_keeps_the_last_success() {
    let root = attacked();
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("quietwire.prom");
    let m = metrics.to_str().unwrap();
    let out = qw(
        &root,
        &[
            "check",
            "--no-progress",
            "--format",
            "json",
            "--metrics-file",
            m,
        ],
    );
    let code = out.status.code().unwrap();
    assert!((1..16).contains(&code), "{code}: {}", text(&out.stderr));
    let doc = json(&out);
    promtool(&metrics);
    let mode = std::fs::metadata(&metrics).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    let s = samples(&metrics);
    assert_eq!(s["quietwire_exit_status"], f64::from(code));
    assert_eq!(
        s[&format!(
            "quietwire_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )],
        1.0
    );
    let last_run = s["quietwire_last_run_timestamp_seconds"];
    assert_eq!(s["quietwire_last_success_timestamp_seconds"], last_run);
    assert!(s["quietwire_run_duration_seconds"] > 0.0);
    let age = s["quietwire_baseline_age_seconds"];
    assert!((0.0..3600.0).contains(&age), "{age}");

    // Finding counts: the JSON report's, by severity, kind and source.
    let mut want = BTreeMap::<String, f64>::new();
    let mut untrusted = std::collections::BTreeSet::new();
    for f in doc["findings"].as_array().unwrap() {
        let key = format!(
            "quietwire_findings{{severity={},kind={},source={}}}",
            f["severity"], f["kind"], f["source"]
        );
        *want.entry(key).or_default() += 1.0;
        if f["kind"] == "untrusted" && f["severity"] != "info" {
            untrusted.insert(f["package"].to_string());
        }
    }
    let got: BTreeMap<String, f64> = s
        .iter()
        .filter(|(k, v)| k.starts_with("quietwire_findings{") && **v > 0.0)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(got, want);
    assert!(want.len() >= 3, "{want:?}");
    assert!(!untrusted.is_empty(), "the fixtures are unsigned");
    assert_eq!(s["quietwire_untrusted_packages"], untrusted.len() as f64);
    for sev in ["info", "low", "medium", "high", "critical"] {
        assert!(
            s.keys()
                .any(|k| k.starts_with(&format!("quietwire_findings{{severity=\"{sev}\","))),
            "no series for {sev}"
        );
    }

    // A failed run (a broken policy: exit 19) still writes its metrics; the last success stays.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bad = dir.path().join("bad-policy.toml");
    std::fs::write(&bad, "version = [").unwrap();
    let out = qw(
        &root,
        &[
            "check",
            "--no-progress",
            "--policy",
            bad.to_str().unwrap(),
            "--metrics-file",
            m,
        ],
    );
    assert_eq!(out.status.code(), Some(quietwire::exit::POLICY as i32));
    promtool(&metrics);
    let after = samples(&metrics);
    assert_eq!(after["quietwire_exit_status"], 19.0);
    assert_eq!(
        after["quietwire_last_success_timestamp_seconds"],
        s["quietwire_last_success_timestamp_seconds"]
    );
    assert!(after["quietwire_last_run_timestamp_seconds"] > last_run);
    assert!(
        !after.keys().any(|k| k.starts_with("quietwire_findings")),
        "a run that found nothing out has no finding counts: {after:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// The sysconfig example that turns both on runs as the daily unit would run it (its paths
/// moved into a temporary directory): the JSON report for `accept`, the NDJSON file and the
/// metrics, all from one run.
#[test]
fn sysconfig_example_writes_all_three() {
    let sysconfig = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/sysconfig/quietwire"
    ))
    .unwrap();
    let example = sysconfig
        .lines()
        .filter_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix("QUIETWIRE_CHECK_ARGS=\"")
        })
        .find(|l| l.contains("--metrics-file"))
        .expect("the sysconfig example with --metrics-file")
        .trim_end_matches('"');
    let root = attacked();
    let dir = tempfile::tempdir().unwrap();
    let moved = |a: &str| match Path::new(a).file_name() {
        Some(name) if a.starts_with('/') => dir.path().join(name).display().to_string(),
        _ => a.to_string(),
    };
    let mut args = vec![
        "check".to_string(),
        "--no-progress".into(),
        "--report-file".into(),
        moved("/var/log/quietwire/report.json"),
    ];
    args.extend(example.split_whitespace().map(moved));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = qw(&root, &args);
    let code = out.status.code().unwrap();
    assert!((1..16).contains(&code), "{code}: {}", text(&out.stderr));
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let nd = lines(&std::fs::read(dir.path().join("report.ndjson")).unwrap());
    assert_eq!(nd.len(), doc["findings"].as_array().unwrap().len() + 1);
    let prom = dir.path().join("quietwire.prom");
    promtool(&prom);
    assert_eq!(samples(&prom)["quietwire_exit_status"], f64::from(code));
}
