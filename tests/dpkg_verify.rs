//! The dpkg verifier against the real `dpkg --verify`: read-only on this machine's own Debian
//! installation, and on a throw-away root built with `dpkg --root` from real Debian packages
//! (`apt-get download`), with a tampered binary, an edited conffile, a removed file, a diversion
//! and a package without md5sums. Needs root, dpkg 1.21 and apt (Debian 12); the downloads need
//! the package archive (run `apt-get update` once).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use quietwire::dpkg::{self, format, DpkgDb};
use quietwire::pkgdb::PackageDb;

fn ours(root: &Path) -> Vec<String> {
    let db = DpkgDb::open(root).unwrap_or_else(|e| panic!("open dpkg db: {e}"));
    let mut v: Vec<String> = dpkg::verify::verify(&db, root)
        .unwrap()
        .iter()
        .map(format::line)
        .collect();
    v.sort();
    v
}

/// Equal sorted line sets, or a panic showing only the differences.
fn assert_same(what: &str, got: &[String], want: &[String]) {
    let only_ours: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
    let only_dpkg: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
    assert!(
        only_ours.is_empty() && only_dpkg.is_empty() && got.len() == want.len(),
        "{what}: {} lines vs {}\nonly quietwire ({}): {:#?}\nonly dpkg ({}): {:#?}",
        got.len(),
        want.len(),
        only_ours.len(),
        &only_ours[..only_ours.len().min(15)],
        only_dpkg.len(),
        &only_dpkg[..only_dpkg.len().min(15)],
    );
}

/// `quietwire check --root ROOT --owned-only ARGS`: sorted stdout lines and the exit code.
fn binary_check(root: &Path, args: &[&str]) -> (Vec<String>, i32) {
    let out = Command::new(common::quietwire_bin())
        .args(["check", "--no-progress", "--owned-only", "--root"])
        .arg(root)
        .args(args)
        // This Debian host may also hold an rpmdb (installing Debian's rpm package, or a tool
        // run without --root, makes one), and rpm's is read when both exist.
        .args(match args.contains(&"--package-manager") {
            true => &[][..],
            false => &["--package-manager", "dpkg"][..],
        })
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    (v, out.status.code().unwrap_or(-1))
}

fn dpkg_verify(root: &Path) -> Vec<String> {
    let out = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg("--verify")
        .output()
        .expect("run dpkg --verify (apt-get install dpkg)");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn host_matches_dpkg_verify() {
    if !Path::new("/var/lib/dpkg/status").is_file() {
        panic!("this test needs a Debian host (/var/lib/dpkg/status)");
    }
    let want = dpkg_verify(Path::new("/"));
    let (got, code) = binary_check(Path::new("/"), &["--format", "dpkg"]);
    assert_same(
        "quietwire check --owned-only --format dpkg vs dpkg --verify on this host",
        &got,
        &want,
    );
    let bits = if want.iter().any(|l| l.starts_with("missing")) {
        2
    } else {
        0
    } | if want.iter().any(|l| l.starts_with("??5")) {
        4
    } else {
        0
    };
    assert_eq!(
        code, bits,
        "exit bits: 2 for missing files, 4 for changed ones"
    );
    assert_same(
        "library verifier on this host",
        &ours(Path::new("/")),
        &want,
    );
}

const DEBS: &[&str] = &["hello", "cron", "zlib1g"];

/// The `.deb`s, downloaded once into `target/dpkg-debs`.
fn debs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dpkg-debs");
    std::fs::create_dir_all(&dir).unwrap();
    let have = |name: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{name}_")) && n.ends_with(".deb"))
            })
    };
    let missing: Vec<&str> = DEBS.iter().copied().filter(|n| have(n).is_none()).collect();
    if !missing.is_empty() {
        let st = Command::new("apt-get")
            .args(["download", "-q", "-o", "APT::Sandbox::User=root"])
            .args(&missing)
            .current_dir(&dir)
            .status()
            .expect("run apt-get");
        assert!(
            st.success(),
            "apt-get download {missing:?} failed; run 'apt-get update' first"
        );
    }
    DEBS.iter().map(|n| have(n).unwrap()).collect()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root with hello, cron (conffiles; its postinst fails outside a chroot, so it stays
/// half-configured, which dpkg still verifies) and zlib1g (Multi-Arch: same).
fn debian_root() -> tempfile::TempDir {
    let t = common::dpkg::empty_root();
    let r = t.path();
    for deb in debs() {
        // Exit status ignored: cron's postinst cannot run chrootless.
        let _ = Command::new("dpkg")
            .arg(format!("--root={}", r.display()))
            .args([
                "--force-script-chrootless",
                "--force-not-root",
                "--force-depends",
                "--log=/dev/null",
                "-i",
            ])
            .arg(&deb)
            .output()
            .unwrap();
    }
    t
}

#[test]
fn test_root_matches_dpkg_verify() {
    let t = debian_root();
    let r = t.path();
    let db = DpkgDb::open(r).unwrap();
    let names: Vec<String> = db.packages().iter().map(|p| p.name.clone()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        ours(r).is_empty(),
        "a fresh root verifies clean: {:?}",
        ours(r)
    );
    let zlib = db
        .packages
        .iter()
        .find(|p| p.entry.name == "zlib1g")
        .unwrap();
    assert_eq!(zlib.info_name(), "zlib1g:amd64");
    assert!(zlib.md5sums.as_ref().is_some_and(|m| !m.is_empty()));

    // Tamper: a binary, a conffile, a removed doc file, a diverted-and-renamed file edited at
    // its new place, a file of a Multi-Arch: same package.
    let append = |p: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(r.join(p))
            .unwrap();
        f.write_all(b"tampered\n").unwrap();
    };
    append("usr/bin/hello");
    append("etc/default/cron");
    std::fs::remove_file(r.join("usr/share/doc/hello/NEWS.gz")).unwrap();
    run(Command::new("dpkg-divert")
        .arg(format!("--root={}", r.display()))
        .args([
            "--rename",
            "--divert",
            "/usr/share/doc/hello/copyright.real",
        ])
        .args(["--add", "/usr/share/doc/hello/copyright"]));
    append("usr/share/doc/hello/copyright.real");
    let zfile = zlib
        .md5sums
        .as_ref()
        .unwrap()
        .keys()
        .find(|p| p.windows(7).any(|w| w == b"libz.so"))
        .map(|p| String::from_utf8_lossy(&p[1..]).into_owned())
        .unwrap();
    append(&zfile);

    // dpkg never compares a diverted file's content (it looks the digest up under the new
    // name); quietwire does (see src/dpkg/verify.rs).
    let diverted = "??5??????   /usr/share/doc/hello/copyright.real".to_string();
    let mut want = dpkg_verify(r);
    assert!(!want.contains(&diverted));
    want.push(diverted);
    want.sort();
    let got = ours(r);
    assert_same("quietwire vs dpkg --root R --verify", &got, &want);
    let mut expect = vec![
        "??5?????? c /etc/default/cron".to_string(),
        "??5??????   /usr/bin/hello".to_string(),
        "missing     /usr/share/doc/hello/NEWS.gz".to_string(),
        "??5??????   /usr/share/doc/hello/copyright.real".to_string(),
        format!("??5??????   /{zfile}"),
    ];
    expect.sort();
    assert_eq!(got, expect);

    // Through the binary: the dpkg root is found by its status file.
    let (lines, code) = binary_check(r, &["--format", "dpkg"]);
    assert_same("quietwire check --owned-only --format dpkg", &lines, &want);
    assert_eq!(code, 2 | 4);
    let (text, _) = binary_check(r, &[]);
    assert!(
        text.iter()
            .any(|l| l.starts_with("high: /usr/bin/hello: content changed")),
        "{text:?}"
    );
    // The baseline reads the dpkg database (tests/dpkg_baseline.rs has the scenarios).
    let init = Command::new(common::quietwire_bin())
        .args(["init", "--root"])
        .arg(r)
        .output()
        .unwrap();
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let (_, code) = binary_check(r, &["--package-manager", "rpm"]);
    assert_eq!(code, 17, "forced rpm on a root without an rpmdb");

    // A FIFO in place of a checked file: a mismatch, never opened (dpkg itself blocks in
    // open() on it, so this one is not compared with dpkg).
    std::fs::remove_file(r.join("usr/share/doc/hello/changelog.Debian.gz")).unwrap();
    run(Command::new("mkfifo").arg(r.join("usr/share/doc/hello/changelog.Debian.gz")));
    assert!(ours(r).contains(&"??5??????   /usr/share/doc/hello/changelog.Debian.gz".to_string()));
    std::fs::remove_file(r.join("usr/share/doc/hello/changelog.Debian.gz")).unwrap();

    // The seam: the diverted-to path is what the package owns; conffiles carry their reason.
    let db = DpkgDb::open(r).unwrap();
    let idx = db.owned_index();
    assert!(idx
        .get(Path::new("/usr/share/doc/hello/copyright.real"))
        .is_some());
    let conf = idx.get(Path::new("/etc/default/cron")).unwrap();
    assert_eq!(conf.reason, Some(quietwire::pkgdb::OwnedReason::Config));
    assert_eq!(db.manager(), "dpkg");
    assert_eq!(db.snapshot().len(), 3);

    // A package without md5sums: owned, not vouched for, not checked (as dpkg), listed once.
    std::fs::remove_file(r.join("var/lib/dpkg/info/hello.md5sums")).unwrap();
    let db = DpkgDb::open(r).unwrap();
    let none: Vec<&str> = db
        .without_digests()
        .iter()
        .map(|p| p.entry.name.as_str())
        .collect();
    assert_eq!(none, ["hello"]);
    let hello = db.owned_index();
    let f = hello.get(Path::new("/usr/bin/hello")).unwrap();
    assert!(!f.package_vouches_content());
    assert_same("without md5sums", &ours(r), &dpkg_verify(r));
}

#[test]
fn hostile_database_is_a_one_line_error_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let admin = r.join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("info")).unwrap();
    let status = "Package: p\nStatus: install ok installed\nVersion: 1\n";
    let open_err = |r: &Path| DpkgDb::open(r).unwrap_err().to_string();

    std::fs::write(
        admin.join("status"),
        "Package: ../../x\nStatus: install ok installed\n",
    )
    .unwrap();
    let e = open_err(r);
    assert!(
        e.contains("var/lib/dpkg/status") && e.contains("invalid package name"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);

    let long = format!(
        "Package: p\nStatus: install ok installed\nDescription: {}\n",
        "x".repeat(1 << 20)
    );
    std::fs::write(admin.join("status"), long).unwrap();
    assert!(open_err(r).contains("longer than"), "{}", open_err(r));

    std::fs::write(admin.join("status"), status).unwrap();
    std::fs::write(admin.join("info/p.list"), "/usr/../../etc/shadow\n").unwrap();
    let e = open_err(r);
    assert!(e.contains("info/p.list") && e.contains("'..'"), "{e}");

    std::fs::write(admin.join("info/p.list"), "/usr/bin/p\n").unwrap();
    std::fs::write(admin.join("info/p.md5sums"), "nothex  usr/bin/p\n").unwrap();
    let e = open_err(r);
    assert!(e.contains("info/p.md5sums") && e.contains("line 1"), "{e}");

    // A FIFO for a database file: refused without opening it (no hang).
    std::fs::remove_file(admin.join("info/p.md5sums")).unwrap();
    run(Command::new("mkfifo").arg(admin.join("info/p.md5sums")));
    let e = open_err(r);
    assert!(e.contains("info/p.md5sums"), "{e}");

    // A symlink out of the root is resolved inside it.
    std::fs::remove_file(admin.join("info/p.md5sums")).unwrap();
    std::os::unix::fs::symlink("/var/lib/dpkg/status", admin.join("info/p.md5sums")).unwrap();
    let e = open_err(r);
    assert!(
        e.contains("info/p.md5sums"),
        "reads the root's own status, not the host's: {e}"
    );

    std::fs::remove_file(admin.join("info/p.md5sums")).unwrap();
    std::fs::write(admin.join("diversions"), "/a\n/b\n").unwrap();
    let e = open_err(r);
    assert!(
        e.contains("diversions") && e.contains("multiple of 3"),
        "{e}"
    );
}

/// A root with one small package `qwz` (built with dpkg-deb, installed with `dpkg --root`)
/// owning `/usr/bin/qwz`; returns the root and the package's `.list` and `.md5sums`.
fn small_root() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = common::dpkg::empty_root();
    let build = tempfile::tempdir().unwrap();
    let deb = common::dpkg::build_deb(
        build.path(),
        "qwz",
        "1.0",
        &[common::dpkg::DebFile {
            path: "usr/bin/qwz",
            content: b"#!/bin/sh\n",
            mode: 0o755,
            conffile: false,
        }],
        true,
    );
    common::dpkg::install(t.path(), &deb);
    let info = t.path().join("var/lib/dpkg/info");
    (t, info.join("qwz.list"), info.join("qwz.md5sums"))
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Package files truncated to 4 GiB - 1 (a few KiB on disk), each listed twice, with the real
/// MD5 of that many zeros: hashing each costs seconds, so a root of thousands would take days.
/// A package file is never sparse: it is reported unverified at once, once per path, and the
/// check fails. (Before, each was hashed at every listing and the check passed.)
#[test]
fn sparse_package_files_are_reported_not_hashed() {
    use std::io::Read;
    const ZEROS_MD5: &str = "c654ebc4b3472cfa01ade24bbbbc6d3e";
    let (t, list, md5sums) = small_root();
    let r = t.path();
    for i in 0..2 {
        let f = std::fs::File::create(r.join(format!("usr/bin/z{i}"))).unwrap();
        f.set_len((4 << 30) - 1).unwrap();
        append(&list, &format!("/usr/bin/z{i}\n/usr/bin/z{i}\n"));
        append(&md5sums, &format!("{ZEROS_MD5}  usr/bin/z{i}\n"));
    }
    let (lines, code) = binary_check(r, &["--format", "dpkg"]);
    assert_eq!(
        lines,
        vec!["??5??????   /usr/bin/z0", "??5??????   /usr/bin/z1"],
        "each listed path once"
    );
    assert_ne!(code & 4, 0, "exit {code}");
    let (text, _) = binary_check(r, &[]);
    assert!(
        text.iter().all(|l| l.starts_with("high: /usr/bin/z")
            && l.contains("content not verified: sparse file")),
        "{text:#?}"
    );

    // Holes up to the margin are hashed as zeros, as dpkg does: the right digest passes.
    let size = 32u64 << 20;
    let f = std::fs::File::create(r.join("usr/bin/z0")).unwrap();
    f.set_len(size).unwrap();
    let md5 = quietwire::scan::hash::hash_reader(
        quietwire::pkgdb::DigestAlgo::Md5,
        std::io::repeat(0).take(size),
    )
    .unwrap()
    .to_hex();
    std::fs::write(
        &md5sums,
        std::fs::read_to_string(&md5sums).unwrap().replace(
            &format!("{ZEROS_MD5}  usr/bin/z0"),
            &format!("{md5}  usr/bin/z0"),
        ),
    )
    .unwrap();
    let (lines, _) = binary_check(r, &["--format", "dpkg"]);
    assert_eq!(lines, vec!["??5??????   /usr/bin/z1"]);
}

/// A file hard-linked under many listed names is hashed once, and the shared digest never hides
/// anything: every name is checked against its own md5sums line.
#[test]
fn hard_linked_package_files_are_each_judged() {
    let (t, list, md5sums) = small_root();
    let r = t.path();
    let content = b"shared content\n";
    std::fs::write(r.join("usr/bin/l0"), content).unwrap();
    let md5 = quietwire::scan::hash::hash_reader(quietwire::pkgdb::DigestAlgo::Md5, &content[..])
        .unwrap()
        .to_hex();
    for i in 0..50 {
        if i > 0 {
            std::fs::hard_link(r.join("usr/bin/l0"), r.join(format!("usr/bin/l{i}"))).unwrap();
        }
        append(&list, &format!("/usr/bin/l{i}\n"));
        // One name vouched for with another digest: it alone fails.
        let want = if i == 7 { "0".repeat(32) } else { md5.clone() };
        append(&md5sums, &format!("{want}  usr/bin/l{i}\n"));
    }
    let (lines, code) = binary_check(r, &["--format", "dpkg"]);
    assert_eq!(lines, vec!["??5??????   /usr/bin/l7"]);
    assert_ne!(code & 4, 0);
    std::fs::write(r.join("usr/bin/l0"), b"trojan content\n").unwrap();
    let (lines, _) = binary_check(r, &["--format", "dpkg"]);
    assert_eq!(lines.len(), 50, "{lines:#?}");
}

/// The `.list` files of many packages, hard links to one file (each within the per-file bound),
/// are bounded together: once their total passes what a real system holds, the database read
/// fails with one line naming the file at which it did, instead of holding gigabytes of paths.
#[test]
fn info_files_are_bounded_in_total() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let info = r.join("var/lib/dpkg/info");
    std::fs::create_dir_all(&info).unwrap();
    let with_lists = |packages: usize, line: &dyn Fn(usize) -> String, lines: usize| {
        let _ = std::fs::remove_dir_all(&info);
        std::fs::create_dir_all(&info).unwrap();
        let mut status = String::new();
        let shared = r.join("shared.list");
        std::fs::write(&shared, (0..lines).map(line).collect::<String>()).unwrap();
        for i in 0..packages {
            status.push_str(&format!(
                "Package: p{i}\nStatus: install ok installed\nVersion: 1\n\n"
            ));
            std::fs::hard_link(&shared, info.join(format!("p{i}.list"))).unwrap();
        }
        std::fs::write(r.join("var/lib/dpkg/status"), status).unwrap();
    };
    // Not unwrap_err: its message would print every path read.
    let open_err = || match DpkgDb::open(r) {
        Ok(db) => panic!(
            "read {} packages, {} paths",
            db.packages.len(),
            db.packages.iter().map(|p| p.files.len()).sum::<usize>()
        ),
        Err(e) => e.to_string(),
    };

    // Bytes: nine packages sharing a 60 MiB list of long paths (15,000 lines each).
    let long = |i: usize| format!("/{i:0>4000}\n");
    with_lists(9, &long, 15_000);
    let e = open_err();
    assert!(
        e.contains("/var/lib/dpkg/info/p")
            && e.contains(".list: ")
            && e.contains("536870912 bytes"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    let out = common::qw(r, &["check", "--no-progress", "--owned-only"]);
    assert_eq!(
        out.status.code(),
        Some(17),
        "exit status of an unreadable database"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".list: with this file"), "{stderr}");

    // Lines: three packages sharing a list of 1.5 million short paths.
    let short = |i: usize| format!("/x/{i}\n");
    with_lists(3, &short, 1_500_000);
    let e = open_err();
    assert!(e.contains(".list: ") && e.contains("4194304 lines"), "{e}");

    // A real system's worth is read: two packages of 400,000 paths.
    with_lists(2, &short, 400_000);
    let db = DpkgDb::open(r).unwrap();
    assert_eq!(db.packages.len(), 2);
    assert_eq!(db.packages[0].files.len(), 400_000);
}
