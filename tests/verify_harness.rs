//! The owned-file engine against rpm on the shared fixture packages (`tests/support`): every
//! package installed together, clean and then tampered, `rpm -Va` lines (sorted) and exit status
//! must equal quietwire's.

mod support;

use quietwire::report;
use quietwire::rpmdb;
use quietwire::rpmdb::verify::{rpm_exit_code, to_findings, verify_packages, VerifyOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::{assert_lines_eq_sorted, build_packages, TestRoot, INSTALL_ALL};

fn quietwire_va(root: &Path) -> (Vec<String>, i32) {
    let db = rpmdb::open(root, Some(Path::new("/var/lib/rpm"))).expect("rpmdb opens");
    assert!(db.bad.is_empty(), "{:?}", db.bad);
    let opts = VerifyOptions {
        jobs: 2,
        ..Default::default()
    };
    let rep = verify_packages(root, &db, &opts).expect("verify runs");
    let mut out = Vec::new();
    report::rpm::render(&mut out, &to_findings(&db, &rep)).unwrap();
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (lines, rpm_exit_code(&rep, &db, &opts))
}

#[track_caller]
fn compare(root: &TestRoot) -> Vec<String> {
    let (want, want_code) = root.rpm_va();
    let (got, got_code) = quietwire_va(root.path());
    assert_lines_eq_sorted("quietwire vs rpm -Va", &want, &got);
    assert_eq!(got_code, want_code, "exit status");
    want
}

#[test]
fn fixture_packages_clean_then_tampered() {
    let _ = build_packages();
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
    assert!(compare(&root).is_empty());

    let p = |s: &str| root.join(s);
    std::fs::write(p("/opt/qw-files/reg"), "tampered\n").unwrap();
    std::fs::write(p("/opt/qw-files/big"), "short").unwrap();
    std::fs::remove_file(p("/opt/qw-files/doc")).unwrap();
    std::fs::set_permissions(
        p("/opt/qw-files/exec"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(p("/opt/qw-files/ghost"), "now present").unwrap();
    std::fs::remove_file(p("/opt/qw-files/missingok")).unwrap();
    std::fs::write(p("/opt/qw-files/v-nomd5"), "other content, longer\n").unwrap();
    std::fs::write(p("/etc/qw-files/noreplace.conf"), "edited\n").unwrap();
    let lines = compare(&root);
    assert!(lines.len() >= 5, "{lines:#?}");
}
