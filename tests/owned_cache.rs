//! The verified-state cache of package-owned files (`init`/`accept --trust-ctime`, used by
//! `check --trust-ctime`), through the binary on real rpm-installed roots. The JSON summary's
//! `owned_files_read` counts the files whose content was read: a cached run must read none,
//! and anything the cache must not vouch for is read again.

mod support;

use std::path::Path;
use std::process::Output;
use support::{assert_lines_eq_sorted, build_packages, qw, text, TestRoot};

/// Files are only recorded once their ctime is over a second old (a write in the same clock
/// tick as the read could otherwise keep the recorded ctime); setup changes are older than that.
fn let_ctimes_settle() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

fn root_with(keys: &[&str]) -> TestRoot {
    let _ = build_packages();
    let root = TestRoot::new();
    root.install(keys);
    root.allow_unsigned("\"qw-*\"");
    root
}

fn run_ok(root: &TestRoot, args: &[&str]) -> Output {
    let out = qw(root, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// `check --owned-only --format json` with `extra`: (summary, exit status, stderr).
fn summary(root: &TestRoot, extra: &[&str]) -> (serde_json::Value, i32, String) {
    let mut args = vec!["check", "--owned-only", "--no-progress", "--format", "json"];
    args.extend_from_slice(extra);
    let out = qw(root, &args);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    (
        doc["summary"].clone(),
        out.status.code().unwrap_or(-1),
        text(&out.stderr),
    )
}

fn counts(s: &serde_json::Value) -> (u64, u64) {
    (
        s["owned_files_read"].as_u64().expect("owned_files_read"),
        s["owned_files_from_cache"]
            .as_u64()
            .expect("owned_files_from_cache"),
    )
}

fn rpm_lines(root: &TestRoot, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["check", "--owned-only", "--no-progress", "--format", "rpm"];
    args.extend_from_slice(extra);
    let out = qw(root, &args);
    text(&out.stdout).lines().map(str::to_owned).collect()
}

fn cache_file(root: &TestRoot) -> std::path::PathBuf {
    root.join("/var/lib/quietwire/baseline.owned-cache")
}

#[test]
fn cached_check_reads_nothing_and_a_content_change_with_restored_mtime_is_read_and_found() {
    let root = root_with(&["qw-files", "qw-special"]);
    let (plain, code, _) = summary(&root, &[]);
    assert_eq!(code, 0);
    let (all, none) = counts(&plain);
    assert!(all > 5, "a plain check reads every file: {plain}");
    assert_eq!(none, 0);

    let_ctimes_settle();
    let init = run_ok(&root, &["init", "--trust-ctime"]);
    assert!(text(&init.stderr).contains("owned-file cache"));
    assert!(cache_file(&root).is_file());

    let (cached, code, _) = summary(&root, &["--trust-ctime"]);
    assert_eq!(code, 0, "{cached}");
    assert_eq!(counts(&cached), (0, all), "every file from the cache");
    // Without the flag the cache is not used.
    assert_eq!(counts(&summary(&root, &[]).0), (all, 0));

    // Same size, mtime put back: only the ctime moved. rpm sees the digest; so must we.
    root.rewrite_keep_mtime("/opt/qw-files/reg", "regulaR\n");
    let (after, code, _) = summary(&root, &["--trust-ctime"]);
    assert_ne!(code, 0);
    assert_eq!(
        counts(&after),
        (1, all - 1),
        "only the changed file is read"
    );
    let (want, _) = root.rpm_va();
    assert_lines_eq_sorted(
        "check --trust-ctime vs rpm -Va",
        &want,
        &rpm_lines(&root, &["--trust-ctime"]),
    );
    assert!(want
        .iter()
        .any(|l| l.contains("..5") && l.ends_with("/opt/qw-files/reg")));

    // Capabilities are vouched for with the content: a changed xattr moves the ctime too.
    let capf = root.join("/opt/qw-special/capf");
    let st = std::process::Command::new("setcap")
        .arg("cap_net_admin=ep")
        .arg(&capf)
        .status()
        .unwrap();
    assert!(st.success());
    let (after, _, _) = summary(&root, &["--trust-ctime"]);
    assert_eq!(counts(&after), (2, all - 2), "{after}");
    let (want, _) = root.rpm_va();
    assert!(
        want.iter().any(|l| l.ends_with("/opt/qw-special/capf")),
        "{want:?}"
    );
    assert_lines_eq_sorted(
        "check --trust-ctime vs rpm -Va after setcap",
        &want,
        &rpm_lines(&root, &["--trust-ctime"]),
    );

    // A full check (baseline comparison too) uses the same cache.
    let out = qw(
        &root,
        &[
            "check",
            "--trust-ctime",
            "--no-progress",
            "--format",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["summary"]["owned_files_read"],
        2,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn package_update_invalidates_and_accept_rebuilds() {
    let root = root_with(&["qw-files", "qw-upgrade-1"]);
    let_ctimes_settle();
    run_ok(&root, &["init", "--trust-ctime"]);
    let (s, _, _) = summary(&root, &["--trust-ctime", "--package", "qw-upgrade"]);
    let (read, cached) = counts(&s);
    assert_eq!(read, 0);
    assert!(cached > 0);

    root.upgrade("qw-upgrade-2");
    let (s, code, _) = summary(&root, &["--trust-ctime", "--package", "qw-upgrade"]);
    assert_eq!(code, 0, "{s}");
    let (read, cached) = counts(&s);
    assert!(read > 0, "the new package's files are read: {s}");
    assert_eq!(cached, 0, "no entry of the old header is used: {s}");
    // Other packages keep their entries.
    let (s, _, _) = summary(&root, &["--trust-ctime", "--package", "qw-files"]);
    assert_eq!(counts(&s).0, 0);

    // `check` writes nothing: the new package is read again until an accept records it.
    let before = std::fs::read(cache_file(&root)).unwrap();
    let (s, _, _) = summary(&root, &["--trust-ctime", "--package", "qw-upgrade"]);
    assert!(counts(&s).0 > 0);
    assert_eq!(std::fs::read(cache_file(&root)).unwrap(), before);

    let_ctimes_settle();
    run_ok(&root, &["accept", "--packages", "--trust-ctime"]);
    let (s, _, _) = summary(&root, &["--trust-ctime"]);
    assert_eq!(counts(&s).0, 0, "{s}");
}

#[test]
fn tampered_cache_is_refused_and_a_baseline_without_one_reads_everything() {
    let root = root_with(&["qw-files"]);
    run_ok(&root, &["init"]);
    let (s, code, err) = summary(&root, &["--trust-ctime"]);
    assert_eq!(code, 0);
    assert_eq!(counts(&s).1, 0);
    assert!(err.contains("records no owned-file cache"), "{err}");

    let_ctimes_settle();
    run_ok(&root, &["init", "--force", "--trust-ctime"]);
    let pin = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(root.join("/var/lib/quietwire/baseline")).unwrap(),
        ))
    };
    // Vouch for a tampered file by rewriting its entry: change one recorded number.
    let f = cache_file(&root);
    let mut bytes = std::fs::read(&f).unwrap();
    let at = bytes.iter().rposition(|b| b.is_ascii_digit()).unwrap();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&f, &bytes).unwrap();
    let out = qw(
        &root,
        &[
            "check",
            "--owned-only",
            "--trust-ctime",
            "--baseline-digest",
            &pin,
        ],
    );
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("baseline.owned-cache") && err.contains("SHA-256"),
        "{err}"
    );
    // Not used without the flag.
    assert_eq!(qw(&root, &["check", "--owned-only"]).status.code(), Some(0));
}

#[test]
fn cache_is_not_trusted_on_another_root_or_file_system() {
    let parent = tempfile::tempdir().unwrap();
    let _ = build_packages();
    let root = TestRoot::new_in(parent.path(), "r1");
    root.install(&["qw-files"]);
    root.allow_unsigned("\"qw-*\"");
    let_ctimes_settle();
    run_ok(&root, &["init", "--trust-ctime"]);
    let (all, _) = counts(&summary(&root, &[]).0);

    // The same tree under another path (a copy, or a snapshot mounted elsewhere).
    let other = parent.path().join("r2");
    copy_tree(root.path(), &other);
    let out = std::process::Command::new(support::quietwire_bin())
        .args([
            "check",
            "--owned-only",
            "--trust-ctime",
            "--format",
            "json",
            "--root",
        ])
        .arg(&other)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["owned_files_read"], all);
    assert!(
        text(&out.stderr).contains("taken on root"),
        "{}",
        text(&out.stderr)
    );

    // The same path, another file system object: the copy moved into the original's place.
    let moved = parent.path().join("r1.orig");
    std::fs::rename(root.path(), &moved).unwrap();
    std::fs::rename(&other, root.path()).unwrap();
    let (s, _, err) = summary(&root, &["--trust-ctime"]);
    assert_eq!(counts(&s), (all, 0), "{err}");
    assert!(err.contains("another device or file system"), "{err}");
    std::fs::rename(root.path(), &other).unwrap();
    std::fs::rename(&moved, root.path()).unwrap();
    assert_eq!(counts(&summary(&root, &["--trust-ctime"]).0), (0, all));
}

fn copy_tree(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}
