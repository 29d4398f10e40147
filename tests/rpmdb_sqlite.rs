//! sqlite `rpmdb.sqlite` reader: fixtures against their expected lists, the no-litter guarantee
//! (nothing created, changed or removed next to the database, even transiently), WAL content that
//! only a WAL-aware open sees, a hot rollback journal, schema problems, bad rows, a database written
//! by the real `rpm`, and damaged files (which must give an error naming the file, never a panic).

mod common;

use quietwire::rpmdb::{sqlite, BadRecord, DbError, Record, RecordResult};
use rusqlite::{params, Connection, OpenFlags};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const MARINER: &str = "go-rpmdb-master/cbl-mariner-2.0/rpmdb.sqlite";
const RPM_TESTS: &str = "rpm-tests/rpmdb.sqlite";

fn fixture_path(rel: &str) -> Option<PathBuf> {
    Some(common::rpmdb_fixtures()?.join(rel))
}

/// `(hnum, blob_len)` from `expected/<rel with / -> __>.tsv`.
fn expected(rel: &str) -> Option<Vec<(u32, usize)>> {
    Some(common::expected_hnum_len(&common::rpmdb_fixtures()?, rel))
}

fn ok(records: &[RecordResult]) -> Vec<&Record> {
    records.iter().filter_map(|r| r.as_ref().ok()).collect()
}

fn bad(records: &[RecordResult]) -> Vec<&BadRecord> {
    records.iter().filter_map(|r| r.as_ref().err()).collect()
}

fn hnums(records: &[RecordResult]) -> Vec<u32> {
    ok(records).iter().map(|r| r.hnum).collect()
}

/// Everything observable about a directory: its own mtime (which moves when an entry is created
/// or removed, even transiently) and each entry's size, mtime and mode.
#[derive(Debug, PartialEq, Eq)]
struct DirState {
    mtime: SystemTime,
    entries: BTreeMap<String, (u64, SystemTime, u32)>,
}

fn dir_state(dir: &Path) -> DirState {
    let entries = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (m.len(), m.modified().unwrap(), m.permissions().mode()),
            )
        })
        .collect();
    DirState {
        mtime: std::fs::metadata(dir).unwrap().modified().unwrap(),
        entries,
    }
}

/// Read `db` and check that its directory looks exactly the same afterwards.
fn read_without_litter(db: &Path) -> Result<Vec<RecordResult>, DbError> {
    let dir = db.parent().unwrap();
    let before = dir_state(dir);
    // Make sure a litter file would move the directory mtime to a different value.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let result = sqlite::read(db);
    assert_eq!(
        before,
        dir_state(dir),
        "reading {} changed its directory",
        db.display()
    );
    result
}

/// A private copy of a fixture in a fresh temporary directory.
fn copy_fixture(rel: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let src = fixture_path(rel)?;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rpmdb.sqlite");
    std::fs::copy(&src, &db).unwrap();
    Some((dir, db))
}

/// The `(hnum, blob)` rows of a database, read directly with rusqlite.
fn raw_rows(db: &Path) -> Vec<(i64, Vec<u8>)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

const SCHEMA: &str =
    "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)";

fn assert_sqlite_err(result: Result<Vec<RecordResult>, DbError>, db: &Path, needle: &str) {
    match result {
        Err(e @ DbError::Sqlite { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&db.display().to_string()), "{msg}");
            assert!(msg.contains(needle), "expected {needle:?} in {msg}");
        }
        Err(e) => panic!("expected a sqlite error, got {e}"),
        Ok(r) => panic!("expected an error, got {} records", r.len()),
    }
}

#[test]
fn fixtures_match_expected_lists() {
    for rel in [MARINER, RPM_TESTS] {
        let (Some(path), Some(want)) = (fixture_path(rel), expected(rel)) else {
            return;
        };
        let records = sqlite::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(bad(&records).is_empty(), "{rel}: {:?}", bad(&records));
        let got: Vec<(u32, usize)> = ok(&records)
            .iter()
            .map(|r| (r.hnum, r.blob.len()))
            .collect();
        assert_eq!(got, want, "{rel}");
    }
    let n = |rel| expected(rel).map(|v| v.len());
    assert_eq!(n(MARINER), Some(129));
    assert_eq!(n(RPM_TESTS), Some(3));
}

#[test]
fn reading_leaves_no_litter() {
    for rel in [MARINER, RPM_TESTS] {
        let Some((dir, db)) = copy_fixture(rel) else {
            return;
        };
        let n = ok(&read_without_litter(&db).unwrap()).len();
        assert!(n >= 3, "{rel}: {n} records");

        // Read-only directory (root ignores the mode, so the state check above is what counts).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        let again = ok(&read_without_litter(&db).unwrap()).len();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(n, again);
    }
}

#[test]
fn path_with_uri_special_characters() {
    let Some(src) = fixture_path(RPM_TESTS) else {
        return;
    };
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("a b?mode=rw&x=%41#frag");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("rpm db?.sqlite");
    std::fs::copy(src, &db).unwrap();
    assert_eq!(hnums(&read_without_litter(&db).unwrap()), [1, 2, 3]);
}

/// A WAL-mode database whose last row lives only in the `-wal` file, with the writer still open.
fn wal_db(dir: &Path) -> Option<(Connection, PathBuf, Vec<Vec<u8>>)> {
    let blobs: Vec<Vec<u8>> = raw_rows(&fixture_path(RPM_TESTS)?)
        .into_iter()
        .map(|r| r.1)
        .collect();
    let db = dir.join("rpmdb.sqlite");
    let w = Connection::open(&db).unwrap();
    let mode: String = w
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    w.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    w.execute(SCHEMA, []).unwrap();
    for b in &blobs[..2] {
        w.execute("INSERT INTO Packages (blob) VALUES (?1)", params![b])
            .unwrap();
    }
    w.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    assert_eq!(
        std::fs::metadata(dir.join("rpmdb.sqlite-wal"))
            .unwrap()
            .len(),
        0
    );
    w.execute("INSERT INTO Packages (blob) VALUES (?1)", params![blobs[2]])
        .unwrap();
    assert!(
        std::fs::metadata(dir.join("rpmdb.sqlite-wal"))
            .unwrap()
            .len()
            > 0
    );
    Some((w, db, blobs))
}

#[test]
fn wal_only_row_is_seen_while_writer_is_open() {
    let top = tempfile::tempdir().unwrap();
    let Some((writer, db, blobs)) = wal_db(top.path()) else {
        return;
    };
    // The live case: rpm (the writer) still has the database open, with -wal and -shm.
    let records = read_without_litter(&db).unwrap();
    assert_eq!(hnums(&records), [1, 2, 3]);
    assert_eq!(ok(&records)[2].blob, blobs[2]);
    // The writer can still commit afterwards, and the reader sees that too.
    writer
        .execute("INSERT INTO Packages (blob) VALUES (?1)", params![blobs[0]])
        .unwrap();
    assert_eq!(hnums(&read_without_litter(&db).unwrap()), [1, 2, 3, 4]);
    drop(writer);
}

#[test]
fn wal_only_row_is_seen_in_a_copied_image() {
    let top = tempfile::tempdir().unwrap();
    let Some((writer, db, blobs)) = wal_db(top.path()) else {
        return;
    };
    // An image: db and -wal copied while the writer was open, no -shm.
    let img = tempfile::tempdir().unwrap();
    let idb = img.path().join("rpmdb.sqlite");
    std::fs::copy(&db, &idb).unwrap();
    std::fs::copy(
        top.path().join("rpmdb.sqlite-wal"),
        img.path().join("rpmdb.sqlite-wal"),
    )
    .unwrap();
    drop(writer);

    // The trap this avoids: immutable=1 ignores the WAL and misses the last row.
    let uri = format!("file:{}?mode=ro&immutable=1", idb.display());
    let conn = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM Packages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(conn);

    let records = read_without_litter(&idb).unwrap();
    assert_eq!(hnums(&records), [1, 2, 3]);
    assert_eq!(ok(&records)[2].blob, blobs[2]);
    std::fs::set_permissions(img.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let again = read_without_litter(&idb);
    std::fs::set_permissions(img.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(hnums(&again.unwrap()), [1, 2, 3]);
}

/// A `-wal` planted as a symlink (here to the real WAL, outside the image) is refused with an
/// error naming it: the private copy never reads through a link, which could lead to a file or
/// a device of the host.
#[test]
fn a_symlinked_wal_is_refused_not_followed() {
    let top = tempfile::tempdir().unwrap();
    let Some((writer, db, _)) = wal_db(top.path()) else {
        return;
    };
    let img = tempfile::tempdir().unwrap();
    let idb = img.path().join("rpmdb.sqlite");
    std::fs::copy(&db, &idb).unwrap();
    let wal = img.path().join("rpmdb.sqlite-wal");
    std::os::unix::fs::symlink(top.path().join("rpmdb.sqlite-wal"), &wal).unwrap();
    let result = read_without_litter(&idb);
    drop(writer);
    assert_sqlite_err(result, &wal, "not a regular file");
}

#[test]
fn wal_mode_database_with_empty_or_missing_wal() {
    let top = tempfile::tempdir().unwrap();
    let Some((writer, db, _)) = wal_db(top.path()) else {
        return;
    };
    writer
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    // rpm's state after a transaction: WAL header bytes, an empty -wal and a -shm (PERSIST_WAL).
    let img = tempfile::tempdir().unwrap();
    let idb = img.path().join("rpmdb.sqlite");
    std::fs::copy(&db, &idb).unwrap();
    drop(writer);
    assert_eq!(std::fs::read(&idb).unwrap()[18..20], [2, 2]);
    assert_eq!(hnums(&read_without_litter(&idb).unwrap()), [1, 2, 3]);
    std::fs::write(img.path().join("rpmdb.sqlite-wal"), b"").unwrap();
    std::fs::write(img.path().join("rpmdb.sqlite-shm"), vec![0u8; 32768]).unwrap();
    assert_eq!(hnums(&read_without_litter(&idb).unwrap()), [1, 2, 3]);
}

#[test]
fn hot_rollback_journal_is_rolled_back_in_a_copy_only() {
    let Some(fx) = fixture_path(RPM_TESTS) else {
        return;
    };
    let blobs: Vec<Vec<u8>> = raw_rows(&fx).into_iter().map(|r| r.1).collect();
    let top = tempfile::tempdir().unwrap();
    let db = top.path().join("rpmdb.sqlite");
    let w = Connection::open(&db).unwrap();
    w.pragma_update(None, "journal_mode", "DELETE").unwrap();
    w.execute(SCHEMA, []).unwrap();
    for b in &blobs {
        w.execute("INSERT INTO Packages (blob) VALUES (?1)", params![b])
            .unwrap();
    }
    let committed_len = std::fs::metadata(&db).unwrap().len();
    // An uncommitted transaction large enough to spill dirty pages into the database file.
    w.pragma_update(None, "cache_size", 2).unwrap();
    w.execute_batch("BEGIN IMMEDIATE; DELETE FROM Packages WHERE hnum = 1;")
        .unwrap();
    for _ in 0..50 {
        w.execute("INSERT INTO Packages (blob) VALUES (?1)", params![blobs[1]])
            .unwrap();
    }
    assert!(
        std::fs::metadata(&db).unwrap().len() > committed_len,
        "no spill"
    );
    // A crash now leaves a hot journal: copy both files as an image would hold them.
    let img = tempfile::tempdir().unwrap();
    let idb = img.path().join("rpmdb.sqlite");
    std::fs::copy(&db, &idb).unwrap();
    std::fs::copy(
        top.path().join("rpmdb.sqlite-journal"),
        img.path().join("rpmdb.sqlite-journal"),
    )
    .unwrap();
    // The trap this avoids: immutable=1 reads the half-written file as it is.
    let uri = format!("file:{}?mode=ro&immutable=1", idb.display());
    let torn = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap()
    .prepare("SELECT hnum FROM Packages")
    .and_then(|mut s| {
        s.query_map([], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()
    });
    eprintln!("immutable read of the torn file: {torn:?}");
    assert!(
        torn.map_or(true, |h| h != [1, 2, 3]),
        "uncommitted data was not spilled"
    );
    // Also read the live database while the writer holds its lock and journal.
    assert_eq!(hnums(&read_without_litter(&db).unwrap()), [1, 2, 3]);
    drop(w); // rolls back the live transaction

    let records = read_without_litter(&idb).unwrap();
    assert_eq!(hnums(&records), [1, 2, 3]);
    assert!(bad(&records).is_empty());
}

#[test]
fn schema_problems_are_clear_errors() {
    let top = tempfile::tempdir().unwrap();
    let cases = [
        ("CREATE TABLE Other (x)", "no Packages table"),
        (
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, data BLOB)",
            "no blob column",
        ),
        (
            "CREATE TABLE Packages (id INTEGER PRIMARY KEY, blob BLOB)",
            "no hnum column",
        ),
    ];
    for (i, (sql, needle)) in cases.iter().enumerate() {
        let db = top.path().join(format!("db{i}.sqlite"));
        Connection::open(&db).unwrap().execute(sql, []).unwrap();
        assert_sqlite_err(read_without_litter(&db), &db, needle);
    }
}

#[test]
fn bad_rows_are_bad_records() {
    let top = tempfile::tempdir().unwrap();
    let db = top.path().join("rpmdb.sqlite");
    let c = Connection::open(&db).unwrap();
    // No type affinity on either column, so anything can be stored.
    c.execute_batch(
        "CREATE TABLE Packages (hnum, blob);
         INSERT INTO Packages VALUES (1, x'0102');
         INSERT INTO Packages VALUES (2, 'text');
         INSERT INTO Packages VALUES (3, NULL);
         INSERT INTO Packages VALUES (4294967296, x'00');
         INSERT INTO Packages VALUES (-1, x'00');
         INSERT INTO Packages VALUES ('x', x'00');
         INSERT INTO Packages VALUES (4294967295, x'03');",
    )
    .unwrap();
    drop(c);
    let records = read_without_litter(&db).unwrap();
    assert_eq!(records.len(), 7);
    assert_eq!(hnums(&records), [1, 4294967295]);
    let b = bad(&records);
    let b_hnums: Vec<Option<u32>> = b.iter().map(|b| b.hnum).collect();
    assert_eq!(b_hnums, [Some(2), Some(3), None, None, None]);
    assert!(b[0].reason.contains("TEXT"), "{}", b[0]);
    assert!(b[1].reason.contains("NULL"), "{}", b[1]);
    assert!(b[2].reason.contains("4294967296"), "{}", b[2]);
}

#[test]
fn damaged_files_give_errors_naming_the_file() {
    let top = tempfile::tempdir().unwrap();
    let db = top.path().join("rpmdb.sqlite");
    std::fs::write(&db, b"").unwrap();
    assert_sqlite_err(read_without_litter(&db), &db, "empty");
    let mut junk = b"SQLite format 3\0".to_vec();
    junk.extend((0..8192u32).map(|i| (i * 7 + 3) as u8));
    std::fs::write(&db, &junk).unwrap();
    assert_sqlite_err(read_without_litter(&db), &db, "");
    std::fs::write(&db, vec![0xffu8; 4096]).unwrap();
    assert_sqlite_err(read_without_litter(&db), &db, "not a database");
    let missing = top.path().join("missing.sqlite");
    assert!(matches!(sqlite::read(&missing), Err(DbError::Io { .. })));
}

/// Every outcome is fine except a panic; an error must name the file.
fn read_damaged(db: &Path) -> usize {
    match read_without_litter(db) {
        Ok(records) => records.len(),
        Err(e) => {
            assert!(e.to_string().contains(&db.display().to_string()), "{e}");
            0
        }
    }
}

#[test]
fn truncated_and_flipped_fixtures_never_panic() {
    for (rel, stride) in [(RPM_TESTS, 4093usize), (MARINER, 65521)] {
        let Some(src) = fixture_path(rel) else {
            return;
        };
        let data = std::fs::read(src).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rpmdb.sqlite");
        let mut lengths: Vec<usize> = vec![1, 15, 16, 99, 100, 101, 512, 1024, 4095, 4096];
        lengths.extend((0..data.len()).step_by(stride * 3).skip(1));
        lengths.push(data.len() - 1);
        for len in lengths {
            std::fs::write(&db, &data[..len]).unwrap();
            read_damaged(&db);
        }
        for pos in (0..data.len()).step_by(stride).chain(16..32).chain(96..112) {
            let mut d = data.clone();
            d[pos] ^= 0xa5;
            std::fs::write(&db, &d).unwrap();
            read_damaged(&db);
        }
    }
}

/// Build a no-files noarch package with `rpmbuild`.
fn build_rpm(top: &Path, name: &str) -> PathBuf {
    let spec = top.join(format!("{name}.spec"));
    std::fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
             %description\nt\n%files\n"
        ),
    )
    .unwrap();
    let out = Command::new("rpmbuild")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", top.join("build").display()))
        .arg("-bb")
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    top.join(format!("build/RPMS/noarch/{name}-1.0-1.noarch.rpm"))
}

#[test]
fn database_written_by_real_rpm() {
    common::require_rpm_tools();
    let top = tempfile::tempdir().unwrap();
    let dbpath = top.path().join("db");
    let rpm = |args: &[&str]| {
        let out = Command::new("rpm")
            .arg("--dbpath")
            .arg(&dbpath)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    rpm(&["--initdb"]);
    let pkgs = [
        build_rpm(top.path(), "qwalpha"),
        build_rpm(top.path(), "qwbeta"),
    ];
    for p in &pkgs {
        let p = p.to_str().unwrap();
        rpm(&[
            "-i",
            "--justdb",
            "--nodeps",
            "--noscripts",
            "--nosignature",
            "--nodigest",
            p,
        ]);
    }
    let db = dbpath.join("rpmdb.sqlite");
    let wal = std::fs::metadata(dbpath.join("rpmdb.sqlite-wal")).map(|m| m.len());
    eprintln!("rpm left rpmdb.sqlite-wal: {wal:?}");
    let want: Vec<u32> = rpm(&["-qa", "--qf", "%{DBINSTANCE}\n"])
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(want.len(), 2);
    let records = read_without_litter(&db).unwrap();
    assert_eq!(hnums(&records), want);
    assert!(bad(&records).is_empty());
}
