//! Issue 13 fault injection: a disk that fails with EIO while quietwire writes its state.
//!
//! A device-mapper "error" target or a failing loop device cannot be made inside a CI
//! container, so `tests/fault/eio.c` is compiled here into a small LD_PRELOAD library that makes
//! `write`, `fsync` or `rename` fail with EIO for paths under one directory, exactly where a
//! failing disk would make them fail. The final rename of a temporary file into place is made by
//! `tempfile` through raw system calls (rustix), which no preloaded library sees: `rename` faults
//! here hit the rename that keeps the previous baseline (`<baseline>.prev`), made through libc. After each fault: the run fails with a one-line error that
//! names the file and says "Input/output error", the previous baseline is intact byte for byte,
//! no temporary file is left, and the next run without the fault accepts the change.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{qw_cmd, text, TestRoot};

/// The EIO library, built once per test run with the system's C compiler.
fn eio_library() -> Option<PathBuf> {
    static LIB: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let lib = out_dir.join("qw-eio.so");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fault/eio.c");
        let built = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&lib)
            .arg(&source)
            .arg("-ldl")
            .status();
        match built {
            Ok(s) if s.success() => Some(lib),
            _ => None,
        }
    })
    .clone()
}

/// The library, or None with a visible message (a failure under CI=true, where `cc` is
/// installed by .ci/run).
fn eio_or_skip() -> Option<PathBuf> {
    let lib = eio_library();
    if lib.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cc could not build tests/fault/eio.c (install build-essential)"
        );
        eprintln!("SKIPPED: no C compiler to build the EIO fault library (tests/fault/eio.c)");
    }
    lib
}

fn write(root: &TestRoot, path: &str, content: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn run_with_eio(root: &TestRoot, args: &[&str], lib: &Path, dir: &Path, ops: &str) -> Output {
    let mut match_dir = dir.as_os_str().to_os_string();
    match_dir.push("/");
    qw_cmd(root, args)
        .env("LD_PRELOAD", lib)
        .env("QW_EIO_MATCH", match_dir)
        .env("QW_EIO_OPS", ops)
        .output()
        .unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `accept` while the baseline's disk fails each step of an atomic replace in turn.
#[test]
fn eio_while_accept_writes_the_baseline_keeps_the_previous_one() {
    let Some(lib) = eio_or_skip() else { return };
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let file = dir.join("baseline");
    let f = file.to_str().unwrap();

    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    let out = qw_cmd(&root, &["init", "--baseline", f]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    write(&root, "/etc/b.conf", "b=1\n");

    for ops in ["write", "fsync", "rename"] {
        let before = std::fs::read(&file).unwrap();
        let listing = files_in(dir);
        let out = run_with_eio(&root, &["accept", "--all", "--baseline", f], &lib, dir, ops);
        let err = text(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(0),
            "accept with EIO on {ops}: {err}"
        );
        assert!(
            err.contains("Input/output error"),
            "EIO on {ops}: the error says so: {err}"
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "EIO on {ops}: one line: {err}"
        );
        assert!(
            err.contains(dir.to_str().unwrap()),
            "EIO on {ops}: the error names the file: {err}"
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "EIO on {ops}: the previous baseline is intact"
        );
        assert_eq!(
            files_in(dir),
            listing,
            "EIO on {ops}: no temporary file is left"
        );
        // The baseline still reads: the new file is still reported as added.
        let out = qw_cmd(&root, &["check", "--unowned-only", "--baseline", f])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code().map(|c| c & 1),
            Some(1),
            "EIO on {ops}: check against the previous baseline: {}",
            text(&out.stderr)
        );
    }

    // Once the disk is healthy again the change is accepted and nothing is found.
    let out = qw_cmd(&root, &["accept", "--all", "--baseline", f])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = qw_cmd(&root, &["check", "--unowned-only", "--baseline", f])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `init` on a failing disk never leaves a half-written baseline that a later check would trust.
#[test]
fn eio_while_init_writes_leaves_no_baseline() {
    let Some(lib) = eio_or_skip() else { return };
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let file = dir.join("baseline");
    let f = file.to_str().unwrap();
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    for ops in ["write", "fsync"] {
        let out = run_with_eio(&root, &["init", "--baseline", f], &lib, dir, ops);
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "init with EIO on {ops}: {err}");
        assert!(err.contains("Input/output error"), "{ops}: {err}");
        assert!(
            !file.exists(),
            "EIO on {ops}: no baseline was left behind ({:?})",
            files_in(dir)
        );
        let leftovers: Vec<String> = files_in(dir)
            .into_iter()
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "EIO on {ops}: {leftovers:?}");
    }
}

/// A report file on a failing disk: the check says so (exit 20) and the previous report stays.
#[test]
fn eio_while_writing_the_report_file_keeps_the_previous_report() {
    let Some(lib) = eio_or_skip() else { return };
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let baseline = tempfile::tempdir().unwrap();
    let b = baseline.path().join("baseline");
    let b = b.to_str().unwrap();
    let report = dir.join("report.json");
    let r = report.to_str().unwrap();
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    let out = qw_cmd(&root, &["init", "--baseline", b]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let args = ["check", "--baseline", b, "--report-file", r];
    let out = qw_cmd(&root, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before = std::fs::read(&report).unwrap();
    write(&root, "/etc/b.conf", "b=1\n");
    for ops in ["write", "fsync"] {
        let out = run_with_eio(&root, &args, &lib, dir, ops);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(20), "EIO on {ops}: {err}");
        assert!(err.contains("Input/output error"), "{ops}: {err}");
        assert_eq!(std::fs::read(&report).unwrap(), before, "{ops}");
        assert_eq!(files_in(dir), vec!["report.json".to_string()], "{ops}");
    }
}
