//! Bad input at the command line: a missing, truncated, corrupt or hostile database gives a
//! one-line error naming the file, an exit status of 16 or more, and never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn quietwire(args: &[&str], root: &Path) -> Output {
    common::qw(root, args)
}

fn root_with_db(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("var/lib/rpm");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    root
}

fn assert_db_error(out: &Output, must_contain: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(quietwire::exit::RPMDB as i32),
        "stderr: {stderr}, stdout lines: {}",
        out.stdout.split(|&b| b == b'\n').count()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for s in must_contain {
        assert!(stderr.contains(s), "expected {s:?} in {stderr:?}");
    }
}

#[test]
fn missing_database_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let out = quietwire(&["packages"], root.path());
    assert_db_error(
        &out,
        &["no rpm database found under", "var/lib/rpm/rpmdb.sqlite"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn unknown_file_format_is_named() {
    let root = root_with_db("Packages", &[0x42; 4096]);
    let out = quietwire(&["packages"], root.path());
    assert_db_error(&out, &["var/lib/rpm/Packages", "not an rpm database"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn usage_errors_are_outside_the_findings_mask() {
    let out = Command::new(common::quietwire_bin())
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(quietwire::exit::USAGE as i32));
}

#[test]
fn truncated_and_flipped_databases_never_panic() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let cases = [
        ("go-rpmdb-master/libuuid/Packages", "Packages"),
        ("synthetic/sle15-bdb-be-4096/Packages", "Packages"),
        ("go-rpmdb-master/sle15-bci/Packages.db", "Packages.db"),
        ("rpm-tests/rpmdb.sqlite", "rpmdb.sqlite"),
    ];
    for (rel, name) in cases {
        let good = std::fs::read(fixtures.join(rel)).unwrap();
        let len = good.len();
        // Truncations: the file is damaged, so the run must fail with the database status.
        for cut in [len / 2, len - 1, 4096 + 7] {
            let root = root_with_db(name, &good[..cut.min(len)]);
            let out = quietwire(&["packages"], root.path());
            eprintln!("{rel} cut at {cut}");
            assert_db_error(&out, &[name]);
        }
        // Byte flips anywhere: either still readable, or a database error; never a panic.
        for i in (0..len).step_by(len / 23 + 1) {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            let root = root_with_db(name, &bad);
            let out = quietwire(&["packages"], root.path());
            let code = out.status.code();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                code == Some(0) || code == Some(quietwire::exit::RPMDB as i32),
                "{rel} flipped at {i}: status {code:?}, stderr {stderr}"
            );
            if code != Some(0) {
                assert!(
                    stderr.contains(name),
                    "{rel} flipped at {i}: error does not name the file: {stderr}"
                );
            }
        }
    }
}

/// `quietwire packages --format json | head -1`: a reader that stops early is not an error
/// (exit 0, nothing on stderr), as for the text listing. The host's own dpkg database gives
/// far more than a pipe's 64 KiB, so the write after the reader has gone always fails.
#[test]
fn packages_json_into_a_closed_pipe_is_not_an_error() {
    if !Path::new("/var/lib/dpkg/status").is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs on Debian: /var/lib/dpkg/status is missing"
        );
        eprintln!("SKIPPED: no dpkg database on this host");
        return;
    }
    let mut child = Command::new(common::quietwire_bin())
        .args(["packages", "--format", "json", "--root", "/"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run quietwire");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
