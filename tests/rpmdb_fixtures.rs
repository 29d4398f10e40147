//! The rpmdb reader on real databases from distribution images (`../shared/fixtures/rpmdb`):
//! every database lists exactly its expected packages, and per-file metadata agrees with what
//! Debian's real `rpm` reads from the same database.

mod common;
mod filemeta;

use quietwire::rpmdb::{self, Backend, Database, Located};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fixture databases with an expected listing: (path under fixtures/rpmdb, backend).
const LISTED: &[&str] = &[
    "go-rpmdb-master/cbl-mariner-2.0/rpmdb.sqlite",
    "go-rpmdb-master/libuuid/Packages",
    "go-rpmdb-master/sle15-bci/Packages.db",
    "rpm-tests/rpmdb.sqlite",
    "synthetic/sle15-bdb-be-4096/Packages",
    "synthetic/sle15-bdb-le-4096/Packages",
];

fn open_file(file: &Path) -> Database {
    let head = std::fs::read(file).expect("fixture readable");
    let backend =
        rpmdb::sniff(&head).unwrap_or_else(|| panic!("{}: backend not detected", file.display()));
    let db = rpmdb::open_located(Located {
        file: file.to_path_buf(),
        backend,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        db.bad.is_empty(),
        "{}: bad records {:?}",
        file.display(),
        db.bad
    );
    db
}

fn expected_rows(fixtures: &Path, rel: &str) -> Vec<Vec<String>> {
    common::expected_rows(fixtures, rel)
}

#[test]
fn every_fixture_lists_exactly_its_expected_packages() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    for rel in LISTED {
        let db = open_file(&fixtures.join(rel));
        let want = expected_rows(&fixtures, rel);
        let got: Vec<Vec<String>> = db
            .packages
            .iter()
            .map(|p| {
                vec![
                    p.hnum.to_string(),
                    p.epoch.map(|e| e.to_string()).unwrap_or_default(),
                    p.name.clone(),
                    p.version.clone(),
                    p.release.clone(),
                    p.arch.clone().unwrap_or_default(),
                    p.sigmd5.as_ref().map(hex::encode).unwrap_or_default(),
                    p.blob_len.to_string(),
                ]
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{rel}: package count");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{rel}");
        }
        for p in &db.packages {
            assert_eq!(
                p.header_digest,
                rpmdb::HeaderDigest::Ok,
                "{rel}: {} header digest",
                p.nevra()
            );
        }
    }
}

#[test]
fn backends_are_detected_by_content() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let cases = [
        (
            "go-rpmdb-master/cbl-mariner-2.0/rpmdb.sqlite",
            Backend::Sqlite,
        ),
        ("go-rpmdb-master/sle15-bci/Packages.db", Backend::Ndb),
        (
            "synthetic/sle15-bdb-be-4096/Packages",
            Backend::BerkeleyDb(rpmdb::Endian::Big),
        ),
        (
            "go-rpmdb-master/libuuid/Packages",
            Backend::BerkeleyDb(rpmdb::Endian::Little),
        ),
    ];
    for (rel, backend) in cases {
        let head = std::fs::read(fixtures.join(rel)).unwrap();
        assert_eq!(rpmdb::sniff(&head), Some(backend), "{rel}");
    }
}

#[test]
fn empty_berkeley_db_lists_nothing() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let db = open_file(&fixtures.join("snyk-rpm-parser/rpm4_empty/Packages"));
    assert!(db.packages.is_empty());
}

#[test]
fn ndb_and_berkeley_db_copies_of_the_same_headers_agree() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let ndb = open_file(&fixtures.join("go-rpmdb-master/sle15-bci/Packages.db"));
    for rel in [
        "synthetic/sle15-bdb-le-4096/Packages",
        "synthetic/sle15-bdb-be-4096/Packages",
    ] {
        let bdb = open_file(&fixtures.join(rel));
        // Same headers, but each backend has its own order (ndb: by block offset, BDB: by bucket).
        let mut a: Vec<_> = ndb.packages.iter().collect();
        let mut b: Vec<_> = bdb.packages.iter().collect();
        a.sort_by_key(|p| p.hnum);
        b.sort_by_key(|p| p.hnum);
        assert_eq!(a.len(), b.len(), "{rel}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                x == y,
                "{rel}: package {} differs between ndb and BDB",
                x.nevra()
            );
        }
    }
    let not_installed = ndb
        .packages
        .iter()
        .flat_map(|p| &p.files)
        .filter(|f| f.state() == rpmdb::FileState::NotInstalled)
        .count();
    assert_eq!(not_installed, 78, "the SLE image excluded 78 doc files");
}

#[test]
fn deliberately_broken_blob_is_rejected_cleanly() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let blob = std::fs::read(fixtures.join("go-rpmdb-master/blob.bin")).unwrap();
    match rpmdb::Package::from_blob(1, &blob) {
        Ok(p) => {
            assert_eq!(p.header_digest, rpmdb::HeaderDigest::Mismatch);
            let err = p.file_error.expect("file list must not load");
            assert!(err.contains("directory index"), "{err}");
        }
        Err(e) => panic!("blob.bin should import (rpm imports it), got {e}"),
    }
}

/// Copy a fixture database directory so that `rpm` (which writes -shm/-wal files even for
/// queries) cannot touch the shared fixtures.
fn private_copy(file: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let name = file.file_name().unwrap();
    std::fs::copy(file, dir.path().join(name)).unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn rpm_query(dbdir: &Path, bdb: bool, qf: &str) -> String {
    let mut cmd = Command::new("rpm");
    cmd.env("LC_ALL", "C").arg("--dbpath").arg(dbdir);
    if bdb {
        cmd.args(["--define", "_db_backend bdb_ro"]);
    }
    let out = cmd.args(["-qa", "--qf", qf]).output().expect("run rpm");
    assert!(
        out.status.success(),
        "rpm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 rpm output")
}

fn assert_files_match_rpm(rel: &str, bdb: bool) {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    common::require_rpm_tools();
    let file = fixtures.join(rel);
    let db = open_file(&file);
    let (_keep, dir) = private_copy(&file);
    let want = filemeta::normalise_rpm(&rpm_query(&dir, bdb, filemeta::FILE_QF));
    let got = filemeta::our_file_lines(&db);
    assert_eq!(got.len(), want.len(), "{rel}: number of files");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{rel}");
    }
}

#[test]
fn file_metadata_matches_rpm_on_mariner_sqlite() {
    assert_files_match_rpm("go-rpmdb-master/cbl-mariner-2.0/rpmdb.sqlite", false);
}

#[test]
fn file_metadata_matches_rpm_on_rpm_test_sqlite() {
    assert_files_match_rpm("rpm-tests/rpmdb.sqlite", false);
}

#[test]
fn file_metadata_matches_rpm_on_berkeley_db() {
    assert_files_match_rpm("go-rpmdb-master/libuuid/Packages", true);
    assert_files_match_rpm("synthetic/sle15-bdb-be-4096/Packages", true);
}

#[test]
fn packages_command_prints_rpm_qa_and_json() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    common::require_rpm_tools();
    let file = fixtures.join("go-rpmdb-master/cbl-mariner-2.0/rpmdb.sqlite");
    let root = tempfile::tempdir().unwrap();
    let dbdir = root.path().join("var/lib/rpm");
    std::fs::create_dir_all(&dbdir).unwrap();
    std::fs::copy(&file, dbdir.join("rpmdb.sqlite")).unwrap();
    let (_keep, rpmdir) = private_copy(&file);

    let out = common::qw(root.path(), &["packages"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = rpm_query(&rpmdir, false, "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);

    let out = common::qw(root.path(), &["packages", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 129);
    let curl = list.iter().find(|p| p["name"] == "curl").unwrap();
    assert_eq!(curl["version"], "7.76.0");
    assert_eq!(curl["header_digest"], "ok");
    assert!(curl["epoch"].is_null());
    assert!(curl["files"].as_u64().unwrap() > 0);
    assert!(curl["install_time"].as_u64().unwrap() > 1_600_000_000);
    let with_epoch = list.iter().filter(|p| p["epoch"].is_number()).count();
    assert_eq!(with_epoch, 3);

    // Owner lookups, including a path that no package owns.
    let out = common::qw(root.path(), &["owner", "/usr/bin/curl", "/no/such/file"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("curl-7.76.0-"), "{text}");
    assert!(
        text.contains("file /no/such/file is not owned by any package"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(quietwire::exit::NOT_FOUND as i32));
}
