//! Ownership from a real rpmdb (the SLE 15 headers in a Berkeley DB, `../shared/fixtures`): the
//! owned index marks %config, %ghost and no-digest files for the baseline exactly as their rpm
//! flags say, and a walk over a root holding those paths records them with their package.

mod common;

use quietwire::baseline;
use quietwire::pkgdb::OwnedReason;
use quietwire::policy::Policy;
use quietwire::rpmdb::{self, Backend, Endian, Located};

#[test]
fn owned_index_from_real_rpmdb_marks_files_rpm_does_not_vouch_for() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let db = rpmdb::open_located(Located {
        file: fixtures.join("synthetic/sle15-bdb-le-4096/Packages"),
        backend: Backend::BerkeleyDb(Endian::Little),
    })
    .unwrap();
    let idx = quietwire::pkgdb::PackageDb::owned_index(&db);
    assert!(idx.len() > 1000, "{} owned paths", idx.len());
    let mut by_reason = std::collections::BTreeMap::new();
    for p in &db.packages {
        for f in &p.files {
            let Some(owner) = idx.get(&f.path()) else {
                // Not installed on disk (other language, other colour): not owned there.
                assert!(matches!(
                    f.state(),
                    rpmdb::FileState::NotInstalled | rpmdb::FileState::WrongColor
                ));
                continue;
            };
            let want = if f.flags() & (1 << 6) != 0 {
                Some(OwnedReason::Ghost)
            } else if f.verify_flags() & 1 == 0 {
                Some(OwnedReason::NoDigestVerify)
            } else if f.flags() & 1 != 0 {
                Some(OwnedReason::Config)
            } else {
                None
            };
            let got = owner.reason();
            // The first owner wins for shared paths; compare only that owner's entry.
            if owner.nevra == p.nevra() {
                assert_eq!(got, want, "{}", f.path().display());
            }
            *by_reason.entry(format!("{want:?}")).or_insert(0) += 1;
        }
    }
    // A real system has all three kinds (e.g. %config /etc files, %ghost run-time files).
    for k in ["Some(Config)", "Some(Ghost)"] {
        assert!(by_reason.get(k).copied().unwrap_or(0) > 0, "{by_reason:?}");
    }
    eprintln!("owned files by baseline reason: {by_reason:?}");

    // Put the first %config file of the database into a root and baseline it.
    let (path, owner) = idx
        .iter()
        .filter(|(p, o)| o.reason() == Some(OwnedReason::Config) && p.starts_with("/etc"))
        .min_by_key(|(p, _)| p.to_path_buf())
        .map(|(p, o)| (p.to_path_buf(), o.clone()))
        .unwrap();
    let t = tempfile::tempdir().unwrap();
    let host = quietwire::scan::fs::join_in_root(t.path(), &path);
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(&host, "edited by the admin\n").unwrap();
    let policy = Policy::builtin().unwrap();
    let file = t.path().join("baseline");
    let snap = quietwire::pkgdb::PackageDb::snapshot(&db);
    baseline::init(t.path(), &policy, &idx, &snap, &file, false).unwrap();
    let header = baseline::read_header(&file).unwrap();
    assert_eq!(header.packages.len(), db.packages.len());
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(&format!("\"path\":\"{}\"", path.display())))
        .unwrap();
    assert!(
        line.contains(&format!("\"package\":\"{}\"", owner.nevra)),
        "{line}"
    );
    std::fs::write(&host, "edited again\n").unwrap();
    let out = baseline::compare(t.path(), &policy, &idx, &file).unwrap();
    let f: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.fs_path() == path)
        .collect();
    assert_eq!(f.len(), 1, "{:?}", out.findings);
    assert_eq!(f[0].package(), Some(owner.nevra.as_str()));
}
