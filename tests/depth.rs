//! Issue 13 point 6: a tree deeper than the walk descends (`MAX_DEPTH`) is a high finding in
//! every report and in the exit status, present at `init` or not, since nothing below the limit
//! is ever compared. `init` still succeeds and warns.

mod support;

use support::{fake_sendmail, qw, text};

use serde_json::Value;
use support::TestRoot;

const DEPTH: usize = 300;

fn root_watching_srv() -> TestRoot {
    let root = TestRoot::new();
    std::fs::create_dir_all(root.join("/etc/quietwire")).unwrap();
    std::fs::write(
        root.join("/etc/quietwire/policy.toml"),
        "version = 1\nwatch = [\"/srv\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("/srv")).unwrap();
    std::fs::write(root.join("/srv/ok"), "ok\n").unwrap();
    root
}

/// `/srv/deep/d/d/…` (DEPTH levels) with a file at the bottom.
fn deep_tree(root: &TestRoot) {
    let mut p = root.join("/srv/deep");
    for _ in 0..DEPTH {
        p.push("d");
    }
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("shell.php"), "<?php system($_GET['c']); ?>\n").unwrap();
}

fn deep_findings(doc: &Value) -> Vec<Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.to_string().contains("not checked below here"))
        .cloned()
        .collect()
}

fn check_json(root: &TestRoot) -> (Value, i32) {
    let out = qw(root, &["check", "--no-progress", "--format", "json"]);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (doc, out.status.code().unwrap_or(-1))
}

fn assert_deep_reported(root: &TestRoot) {
    let (doc, code) = check_json(root);
    let deep = deep_findings(&doc);
    assert_eq!(deep.len(), 1, "{doc}");
    assert!(deep[0]["path"]
        .as_str()
        .unwrap()
        .starts_with("/srv/deep/d/d/"));
    let sev = deep[0]["severity"].as_str().unwrap();
    assert!(sev == "high" || sev == "critical", "{}", deep[0]);
    assert!(
        deep[0].to_string().contains("deeper than 256 levels"),
        "{}",
        deep[0]
    );
    assert_ne!(code, 0, "{doc}");
    assert!(code < 16, "a finding, not an error: {code}");
}

#[test]
fn a_tree_deeper_than_the_limit_appearing_after_init_is_a_finding() {
    let root = root_watching_srv();
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    let (_, code) = check_json(&root);
    assert_eq!(code, 0);

    deep_tree(&root);
    assert_deep_reported(&root);

    let out = qw(&root, &["check", "--no-progress"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("not checked below here"),
        "text report: {stdout}"
    );

    // The mail goes out for it (a finding, not only a gap).
    let dir = tempfile::tempdir().unwrap();
    let sendmail = fake_sendmail(dir.path(), 0);
    let out = qw(
        &root,
        &[
            "check",
            "--no-progress",
            "--mail-to",
            "admin@example.com",
            "--sendmail",
            sendmail.to_str().unwrap(),
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    let m = std::fs::read_to_string(dir.path().join("message")).expect("mail sent");
    assert!(m.contains("not checked below here"), "{m}");
}

#[test]
fn a_deep_tree_present_at_init_stays_reported_even_after_accept() {
    let root = root_watching_srv();
    deep_tree(&root);
    let out = qw(&root, &["init"]);
    // init records what it can and succeeds, but says what it could not walk.
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("/srv/deep/d/d/"), "init warning: {err}");
    assert!(err.contains("not entered"), "init warning: {err}");
    assert_deep_reported(&root);

    let out = qw(&root, &["accept", "/srv/deep"]);
    assert_eq!(out.status.code(), Some(0), "accept: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not entered"), "accept warning");
    assert_deep_reported(&root);
}

#[test]
fn the_too_deep_finding_takes_its_place_in_path_order() {
    let root = root_watching_srv();
    deep_tree(&root);
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    // Added after init, and after /srv/deep in path order.
    std::fs::write(root.join("/srv/zz"), "new\n").unwrap();
    let (doc, _) = check_json(&root);
    let paths: Vec<std::path::PathBuf> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().into())
        .collect();
    assert_eq!(deep_findings(&doc).len(), 1, "{doc}");
    assert!(paths.iter().any(|p| p.ends_with("zz")), "{doc}");
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "findings in path order");
}
