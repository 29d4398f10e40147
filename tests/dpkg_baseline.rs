//! The baseline on dpkg roots, end to end with the binary: real `.deb`s (built with
//! `dpkg-deb`, installed, upgraded and downgraded with the real `dpkg --root`), then `init`,
//! `check`, `accept`, the post-transaction hook; and a read-only `init` + `check` of this
//! Debian host itself. Needs root and dpkg (Debian 12).

mod common;

use common::dpkg::{build_deb, empty_root, install, DebFile};
use common::qw;
use std::path::Path;
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn check(root: &Path) -> (i32, String) {
    let o = qw(root, &["check", "--no-progress", "--verbose"]);
    (o.status.code().unwrap_or(-1), text(&o))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn files(binary: &'static [u8], conf: &'static [u8]) -> Vec<DebFile<'static>> {
    vec![
        DebFile {
            path: "usr/bin/qwdemo",
            content: binary,
            mode: 0o755,
            conffile: false,
        },
        DebFile {
            path: "usr/share/doc/qwdemo/README",
            content: b"demo\n",
            mode: 0o644,
            conffile: false,
        },
        DebFile {
            path: "etc/qwdemo.conf",
            content: conf,
            mode: 0o644,
            conffile: true,
        },
    ]
}

/// A root with qwdemo 1.0-1 (binary, doc, conffile) and qwnosums 1.0 (no md5sums file), and
/// the debs of qwdemo 1.0-1 and 2.0-1.
struct Fixture {
    t: tempfile::TempDir,
    _debs: tempfile::TempDir,
    v1: std::path::PathBuf,
    v2: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let debs = tempfile::tempdir().unwrap();
    let v1 = build_deb(
        debs.path(),
        "qwdemo",
        "1.0-1",
        &files(b"#!/bin/sh\necho one\n", b"setting = 1\n"),
        true,
    );
    let v2 = build_deb(
        debs.path(),
        "qwdemo",
        "2.0-1",
        &files(b"#!/bin/sh\necho two, longer\n", b"setting = 1\n"),
        true,
    );
    let nosums = build_deb(
        debs.path(),
        "qwnosums",
        "1.0",
        &[DebFile {
            path: "usr/lib/qwnosums/data",
            content: b"unvouched\n",
            mode: 0o644,
            conffile: false,
        }],
        true,
    );
    let t = empty_root();
    install(t.path(), &v1);
    install(t.path(), &nosums);
    // dpkg writes the md5sums a package lacks; some packages still have none (older dpkg,
    // third-party tools): take it away.
    std::fs::remove_file(t.path().join("var/lib/dpkg/info/qwnosums.md5sums")).unwrap();
    Fixture {
        t,
        _debs: debs,
        v1,
        v2,
    }
}

fn init(root: &Path) {
    ok(qw(root, &["init"]));
    let (code, out) = check(root);
    assert_eq!(code, 0, "a check right after init is quiet: {out}");
}

#[test]
fn init_then_tamper_binary_is_high_and_chmod_is_reported() {
    let f = fixture();
    let r = f.t.path();
    init(r);
    let (_, out) = check(r);
    assert_eq!(
        out.matches("qwnosums_1.0_all: no digests").count(),
        1,
        "a package without md5sums is an info finding, once: {out}"
    );
    // Same size, different content.
    std::fs::write(r.join("usr/bin/qwdemo"), b"#!/bin/sh\necho evil\n").unwrap();
    let (code, out) = check(r);
    assert_ne!(code & 4, 0, "changed bit: {out}");
    assert!(
        out.contains("high") && out.contains("/usr/bin/qwdemo"),
        "tampered binary is high: {out}"
    );
    std::fs::write(r.join("usr/bin/qwdemo"), b"#!/bin/sh\necho one\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        r.join("usr/share/doc/qwdemo/README"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    let (code, out) = check(r);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("/usr/share/doc/qwdemo/README") && out.contains("mode"),
        "a chmod dpkg cannot see is reported from the baseline: {out}"
    );
    // The file without digests: its content is the baseline's.
    std::fs::write(r.join("usr/lib/qwnosums/data"), b"rewritten\n").unwrap();
    let (_, out) = check(r);
    assert!(out.contains("/usr/lib/qwnosums/data"), "{out}");
}

/// The baseline records a dpkg file's metadata, not its content (dpkg's md5sums vouches for
/// that). A binary rewritten with the same size and its mtime put back matches that record, which
/// used to turn dpkg's md5 verdict into an "accepted edit" note: a trojan with a silent check.
#[test]
fn tamper_with_size_and_mtime_kept_is_still_high() {
    let f = fixture();
    let r = f.t.path();
    init(r);
    let bin = r.join("usr/bin/qwdemo");
    let mtime = std::fs::metadata(&bin).unwrap().modified().unwrap();
    // "echo one" before: the same size.
    std::fs::write(&bin, b"#!/bin/sh\necho 666\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&bin)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (code, out) = check(r);
    assert_ne!(code & 4, 0, "changed bit: {out}");
    assert!(
        out.lines()
            .any(|l| l.contains("high") && l.contains("/usr/bin/qwdemo")),
        "tampered binary is high, not an accepted edit: {out}"
    );
}

#[test]
fn edited_conffile_reported_then_accepted() {
    let f = fixture();
    let r = f.t.path();
    init(r);
    std::fs::write(r.join("etc/qwdemo.conf"), b"setting = 2\n").unwrap();
    let (code, out) = check(r);
    assert_ne!(code, 0, "an edited conffile is reported: {out}");
    assert!(out.contains("/etc/qwdemo.conf"), "{out}");
    ok(qw(r, &["accept", "/etc/qwdemo.conf"]));
    let (code, out) = check(r);
    assert_eq!(code, 0, "accepted edit is quiet: {out}");
    std::fs::write(r.join("etc/qwdemo.conf"), b"setting = 3\n").unwrap();
    let (code, out) = check(r);
    assert_ne!(code, 0, "a further edit is reported: {out}");
}

#[test]
fn webshell_and_new_files_are_reported() {
    let f = fixture();
    let r = f.t.path();
    std::fs::create_dir_all(r.join("var/www/html")).unwrap();
    std::fs::write(r.join("var/www/html/index.html"), b"<p>hi</p>\n").unwrap();
    init(r);
    std::fs::write(
        r.join("var/www/html/shell.php"),
        b"<?php system($_GET['c']);",
    )
    .unwrap();
    let (code, out) = check(r);
    assert_ne!(code & 1, 0, "added bit: {out}");
    assert!(out.contains("/var/www/html/shell.php"), "{out}");
}

#[test]
fn upgrade_downgrade_explained_and_quiet_then_hook_accepts() {
    let f = fixture();
    let r = f.t.path();
    init(r);
    install(r, &f.v2);
    let (code, out) = check(r);
    assert_eq!(code, 0, "an upgrade by dpkg is quiet: {out}");
    assert!(
        out.contains("updated      qwdemo_1.0-1_all -> qwdemo_2.0-1_all, upgrade logged at"),
        "the upgrade is explained with dpkg.log's time: {out}"
    );
    // What the apt hook runs: the changed packages verified, then the snapshot accepted.
    let o = qw(r, &["check", "--no-progress", "--packages-changed"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    ok(qw(r, &["accept", "--packages"]));
    let (code, out) = check(r);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("updated "), "nothing left to explain: {out}");
    // A downgrade, with the binary tampered with before the hook runs.
    install(r, &f.v1);
    std::fs::write(r.join("usr/bin/qwdemo"), b"#!/bin/sh\necho bad\n").unwrap();
    let o = qw(r, &["check", "--no-progress", "--packages-changed"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("/usr/bin/qwdemo"), "{}", text(&o));
    let o = qw(r, &["accept", "--packages"]);
    assert!(
        text(&o).contains("/usr/bin/qwdemo: not accepted"),
        "{}",
        text(&o)
    );
    let (code, out) = check(r);
    assert_ne!(code, 0, "the tampered file stays reported: {out}");
}

#[test]
fn rewritten_md5sums_is_high() {
    let f = fixture();
    let r = f.t.path();
    init(r);
    // A trojan, and dpkg's digest for it rewritten to match: dpkg --verify is silent.
    let evil = b"#!/bin/sh\necho pwned\n";
    std::fs::write(r.join("usr/bin/qwdemo"), evil).unwrap();
    let md5 = quietwire::scan::hash::hash_reader(quietwire::pkgdb::DigestAlgo::Md5, &evil[..])
        .unwrap()
        .to_hex();
    let sums = r.join("var/lib/dpkg/info/qwdemo.md5sums");
    let old = std::fs::read_to_string(&sums).unwrap();
    let new: String = old
        .lines()
        .map(|l| match l.ends_with("usr/bin/qwdemo") {
            true => format!("{md5}  usr/bin/qwdemo\n"),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&sums, new).unwrap();
    let (code, out) = check(r);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("high")
            && out.contains("md5sums file changed while the version stayed the same"),
        "{out}"
    );
    // The hook's accept does not take the rewritten digests as the new truth.
    ok(qw(r, &["accept", "--packages"]));
    let (code, out) = check(r);
    assert_ne!(code, 0, "still reported after accept --packages: {out}");
}

#[test]
fn packages_and_owner_on_a_dpkg_root() {
    let f = fixture();
    let r = f.t.path();
    let out = ok(qw(r, &["packages"]));
    assert!(
        out.contains("qwdemo_1.0-1_all") && out.contains("qwnosums_1.0_all"),
        "{out}"
    );
    let o = qw(r, &["owner", "/usr/bin/qwdemo"]);
    assert!(text(&o).contains("qwdemo_1.0-1_all"), "{}", text(&o));
}

/// This host's own Debian installation, read-only: a baseline in a temporary directory and a
/// full check run without errors (findings are not asserted: the host is live).
#[test]
fn host_init_and_check_run() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("baseline");
    let b = b.to_str().unwrap();
    // The embedded policy, with the biggest package trees left out so that the test stays
    // within seconds on a large host (scripts/demo runs the unrestricted job).
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[rule]]\nname = \"test-speed\"\nclass = \"volatile\"\npaths = [\"/usr/share\", \"/usr/lib\", \"/usr/include\", \"/usr/local\", \"/opt\", \"/home\", \"/root\"]\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let root = Path::new("/");
    // The host may also hold an rpmdb (Debian's rpm package); dpkg's database is the one here.
    let dpkg = ["--package-manager", "dpkg"];
    let o = qw(
        root,
        &[&["init", "--baseline", b, "--policy", policy][..], &dpkg].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = qw(
        root,
        &[
            "check",
            "--no-progress",
            "--baseline",
            b,
            "--policy",
            policy,
            "--package-manager",
            "dpkg",
        ],
    );
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code < 16,
        "check on this host ran without errors: {}",
        text(&o)
    );
}

/// The post-transaction hook script as apt runs it (`--apt`), on a dpkg test root: after an
/// upgrade its report holds only the explanation, and the next full check is quiet except for
/// a file tampered with before the transaction.
#[test]
fn apt_hook_on_a_dpkg_root() {
    let f = fixture();
    let r = f.t.path();
    init(r);
    std::fs::write(r.join("usr/lib/qwnosums/data"), b"tampered before\n").unwrap();
    install(r, &f.v2);
    let logs = tempfile::tempdir().unwrap();
    let conf = logs.path().join("empty-settings");
    std::fs::write(&conf, "").unwrap();
    let o = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/quietwire-post-transaction"))
        .arg("--apt")
        .env("QUIETWIRE", common::quietwire_bin())
        .env("QUIETWIRE_HOOK_ARGS", format!("--root {}", r.display()))
        .env("QUIETWIRE_LOGDIR", logs.path())
        .env("QUIETWIRE_SYSCONFIG", &conf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let log = std::fs::read_to_string(logs.path().join("post-transaction.log")).unwrap();
    assert!(
        log.contains("qwdemo_1.0-1_all -> qwdemo_2.0-1_all") && !log.contains("high "),
        "the hook's report: only the explanation: {log}"
    );
    let (code, out) = check(r);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("/usr/lib/qwnosums/data") && !out.contains("/usr/bin/qwdemo"),
        "only the file tampered with before the transaction: {out}"
    );
}

/// Merged /usr (`/lib` -> `usr/lib`, Debian 12): the protected `/lib/systemd/system` units are
/// walked as `/usr/lib/systemd/system`, no "not walked" issue; a `/lib` linked elsewhere still
/// is one.
#[test]
fn merged_usr_protected_units_are_no_issue() {
    let f = fixture();
    let r = f.t.path();
    std::fs::create_dir_all(r.join("usr/lib/systemd/system")).unwrap();
    std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
    let out = ok(qw(r, &["init"]));
    assert!(!out.contains("not walked"), "{out}");
    std::fs::remove_file(r.join("lib")).unwrap();
    std::fs::create_dir_all(r.join("opt/x")).unwrap();
    std::os::unix::fs::symlink("opt/x", r.join("lib")).unwrap();
    let out = ok(qw(r, &["init", "--force"]));
    assert!(
        out.contains("/lib/systemd/system/quietwire-check.service: a component above"),
        "{out}"
    );
}
