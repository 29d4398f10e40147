//! The rpmdb reader on databases built here with Debian's real `rpm` (sqlite) and on Berkeley DB
//! copies of them (512-byte, 4 KiB and 64 KiB pages, both byte orders): the package list equals
//! `rpm -qa`, file lists equal `rpm -ql`, and per-file metadata equals rpm's queryformat output.

mod filemeta;
mod support;

use quietwire::rpmdb::{self, Database};
use std::path::Path;
use std::process::Command;
use support::{assert_lines_eq, build_packages, TestRoot, INSTALL_ALL};

fn installed_root() -> TestRoot {
    let _ = build_packages();
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
    root
}

fn open(root: &TestRoot, dbpath: &str) -> Database {
    let db = rpmdb::open(root.path(), Some(Path::new(dbpath))).unwrap_or_else(|e| panic!("{e}"));
    assert!(db.bad.is_empty(), "bad records: {:?}", db.bad);
    db
}

/// `rpm_qa`'s format: DBINSTANCE, EPOCH ("(none)" when absent), NAME-VERSION-RELEASE.ARCH.
fn our_qa(db: &Database) -> Vec<String> {
    db.packages
        .iter()
        .map(|p| {
            let epoch = p.epoch.map_or("(none)".to_string(), |e| e.to_string());
            format!("{}\t{}\t{}", p.hnum, epoch, p.nvra())
        })
        .collect()
}

fn quietwire_packages(root: &TestRoot, dbpath: &str) -> Vec<String> {
    let out = Command::new(support::quietwire_bin())
        .args(["packages", "--root"])
        .arg(root.path())
        .args(["--dbpath", dbpath])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn sqlite_database_matches_rpm() {
    let root = installed_root();
    let db = open(&root, "/var/lib/rpm");
    assert_lines_eq("rpm -qa", &root.rpm_qa(), &our_qa(&db));
    let names = root
        .rpm(&["-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"])
        .success()
        .lines();
    assert_lines_eq(
        "quietwire packages",
        &names,
        &quietwire_packages(&root, "/var/lib/rpm"),
    );

    let want = filemeta::normalise_rpm(
        &root
            .rpm(&["-qa", "--qf", filemeta::FILE_QF])
            .success()
            .stdout_str(),
    );
    assert_lines_eq("per-file metadata", &want, &filemeta::our_file_lines(&db));

    for p in &db.packages {
        use std::os::unix::ffi::OsStrExt;
        let mut want = root.rpm_ql(&p.name);
        if want == ["(contains no files)"] {
            want.clear();
        }
        let got: Vec<String> = p
            .files
            .iter()
            .map(|f| String::from_utf8_lossy(f.path().as_os_str().as_bytes()).into_owned())
            .collect();
        assert_lines_eq(&format!("rpm -ql {}", p.name), &want, &got);
        assert_eq!(p.header_digest, rpmdb::HeaderDigest::Ok, "{}", p.nevra());
    }
}

#[test]
fn berkeley_db_copies_match_rpm_and_sqlite() {
    let root = installed_root();
    let sqlite = open(&root, "/var/lib/rpm");
    for page_size in [512u32, 4096, 65536] {
        for big_endian in [false, true] {
            let dir = root.to_bdb(page_size, big_endian);
            let dbpath = format!("/{}", dir.strip_prefix(root.path()).unwrap().display());
            let what = format!("bdb {page_size} {}", if big_endian { "be" } else { "le" });
            let db = open(&root, &dbpath);
            assert_eq!(
                db.located.backend,
                rpmdb::Backend::BerkeleyDb(if big_endian {
                    rpmdb::Endian::Big
                } else {
                    rpmdb::Endian::Little
                }),
                "{what}"
            );
            assert_lines_eq(&what, &root.rpm_qa_bdb(&dir), &our_qa(&db));
            let rpm_files = root
                .rpm_bdb(&dir, &["-qa", "--qf", filemeta::FILE_QF])
                .success()
                .stdout_str();
            assert_lines_eq(
                &what,
                &filemeta::normalise_rpm(&rpm_files),
                &filemeta::our_file_lines(&db),
            );
            let mut a = db.packages.clone();
            let mut b = sqlite.packages.clone();
            a.sort_by_key(|p| p.hnum);
            b.sort_by_key(|p| p.hnum);
            assert_eq!(a, b, "{what}: same packages as the sqlite database");
        }
    }
}

#[test]
fn upgraded_package_is_read_at_its_new_version() {
    let root = installed_root();
    root.upgrade("qw-upgrade-2");
    let db = open(&root, "/var/lib/rpm");
    assert_lines_eq("rpm -qa after -U", &root.rpm_qa(), &our_qa(&db));
    let up = db.packages.iter().find(|p| p.name == "qw-upgrade").unwrap();
    assert_eq!(up.version, "2.0");
}

#[test]
fn owner_matches_rpm_qf_and_follows_symlinked_directories() {
    let root = installed_root();
    let bin = support::quietwire_bin();
    let owner = |paths: &[&str]| {
        let out = Command::new(&bin)
            .args(["owner", "--root"])
            .arg(root.path())
            .args(paths)
            .output()
            .unwrap();
        let mut lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        (lines, out.status.code())
    };
    // A path owned by two packages lists both (rpm's order of owners differs, so compare sorted).
    let paths = [
        "/opt/qw-shared/shared",
        "/opt/qw-files/reg",
        "/opt/qw-special/dirlink",
    ];
    let mut want = root
        .rpm(&["-qf"].iter().chain(&paths).copied().collect::<Vec<_>>())
        .success()
        .lines();
    want.sort();
    assert_eq!(owner(&paths), (want, Some(0)));
    // rpm -qf stats the path outside the root, so it cannot be the reference here: /optlink is a
    // symlink to /opt inside the root, and the owner of /opt/qw-files/reg must be found.
    std::os::unix::fs::symlink("/opt", root.join("/optlink")).unwrap();
    assert_eq!(
        owner(&["/optlink/qw-files/reg"]),
        (vec!["qw-files-1.0-1.noarch".to_string()], Some(0))
    );
    let (lines, code) = owner(&["/opt/unowned"]);
    assert_eq!(
        lines,
        vec!["file /opt/unowned is not owned by any package".to_string()]
    );
    assert_eq!(code, Some(quietwire::exit::NOT_FOUND as i32));
}
