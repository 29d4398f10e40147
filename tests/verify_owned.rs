//! Differential tests of the owned-file engine against the real `rpm -V` (Debian's rpm 4.18):
//! build small RPMs with rpmbuild, install them into a throw-away root, tamper with files, and
//! require quietwire's `--format rpm` lines (sorted) and exit status to equal rpm's.
//!
//! Needs real root and Debian's `rpm` package; without them the tests fail saying so.
//! Self-contained (its own specs and root helper) so it does not depend on other test helpers.

mod common;

use quietwire::report;
use quietwire::rpmdb;
use quietwire::rpmdb::verify::{rpm_exit_code, to_findings, verify_packages, VerifyOptions};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Everything rpm -V can show, in one package (after spec section 13.5's `vt`).
const QV_SPEC: &str = r#"
%{!?ver:%global ver 1.0}
Name: qv
Version: %{ver}
Release: 1
Summary: verify test
License: MIT
BuildArch: noarch
%description
verify test
%install
D=%{buildroot}/opt/qv
mkdir -p $D/dir $D/ddir $D/deep/sub "$D/dir with space" $D/privdir
echo regular-%{ver} > $D/reg
echo config > $D/conf
echo doc > $D/doc
echo lic > $D/lic
echo readme > $D/readme
echo mok > $D/mok
echo ghost > $D/ghost
echo nomd5 > $D/nomd5
echo suid > $D/suid
echo sgid > $D/sgid
echo capf > $D/capf
echo empty caps > $D/emptycaps
echo cfgdoc > $D/cfgdoc
echo vonly > $D/v-only
echo vnotmode > $D/v-notmode
echo unknown > $D/unknown-owner
echo bin > $D/owned-bin
echo inner > $D/deep/sub/file
echo space > "$D/with space.txt"
echo inner > "$D/dir with space/inner file"
echo utf > $D/café-ünï.txt
echo jp > $D/日本語.txt
ln -s reg $D/link
ln -s /opt/qv/reg $D/abslink
ln -s does-not-exist $D/dangling
echo hl > $D/hl1
ln $D/hl1 $D/hl2
touch $D/empty
head -c 300000 /dev/zero | tr '\0' q > $D/big
find %{buildroot} -exec touch -h -d 2020-01-01T00:00:00Z {} +
%files
%dir /opt/qv
%dir /opt/qv/dir
%dir /opt/qv/ddir
%attr(0700,root,root) %dir /opt/qv/privdir
%dir /opt/qv/deep
%dir /opt/qv/deep/sub
/opt/qv/deep/sub/file
/opt/qv/reg
%config(noreplace) /opt/qv/conf
%doc /opt/qv/doc
%license /opt/qv/lic
%readme /opt/qv/readme
%config(missingok) /opt/qv/mok
%ghost /opt/qv/ghost
%verify(not md5 size mtime) /opt/qv/nomd5
%verify(mode md5 size mtime) /opt/qv/v-only
%verify(not mode) /opt/qv/v-notmode
%attr(4755,nosuchuser,root) /opt/qv/suid
%attr(2755,root,nosuchgroup) /opt/qv/sgid
%attr(0644,nobody,nogroup) /opt/qv/unknown-owner
%attr(0640,bin,daemon) /opt/qv/owned-bin
%caps(cap_net_raw=ep) /opt/qv/capf
%caps(=) /opt/qv/emptycaps
%config %doc /opt/qv/cfgdoc
/opt/qv/link
/opt/qv/abslink
/opt/qv/dangling
/opt/qv/hl1
/opt/qv/hl2
/opt/qv/empty
/opt/qv/big
"/opt/qv/with space.txt"
%dir "/opt/qv/dir with space"
"/opt/qv/dir with space/inner file"
/opt/qv/café-ünï.txt
/opt/qv/日本語.txt
%dev(c,1,3) /opt/qv/cdev
%dev(b,7,0) /opt/qv/bdev
"#;

/// Packages sharing a path (spec section 13.5's `sh%{pkg}`).
const SH_SPEC: &str = r#"
Name: sh%{pkg}
Version: 1.0
Release: 1
Summary: shared
License: MIT
BuildArch: noarch
%description
shared
%install
mkdir -p %{buildroot}/opt/sh %{buildroot}/usr/share/doc/sh%{pkg}
echo "%{data}" > %{buildroot}/opt/sh/shared
touch -d "%{stamp}" %{buildroot}/opt/sh/shared
echo doc > %{buildroot}/usr/share/doc/sh%{pkg}/README
echo own%{pkg} > %{buildroot}/opt/sh/own%{pkg}
%files
/opt/sh/shared
/opt/sh/own%{pkg}
%doc /usr/share/doc/sh%{pkg}/README
"#;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nbin:x:1:\ndaemon:x:2:\n";

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qw-verify-rpms")
}

fn run(cmd: &mut Command) -> (String, String, i32) {
    let out = cmd
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Build `spec` with `defines` (cached by content), returning the .rpm path.
fn build(spec: &str, defines: &[(&str, &str)]) -> PathBuf {
    common::require_rpm_tools();
    // Tests run in parallel; one build at a time keeps the cache consistent.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(spec);
    for (k, v) in defines {
        h.update(format!("\0{k}\0{v}"));
    }
    let key = hex::encode(&h.finalize()[..8]);
    let dir = cache_dir().join(&key);
    let done = dir.join("done");
    if !done.exists() {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("p.spec"), spec).unwrap();
        let mut cmd = Command::new("rpmbuild");
        cmd.arg("--define")
            .arg(format!("_topdir {}", dir.join("top").display()));
        for (k, v) in defines {
            cmd.arg("--define").arg(format!("{k} {v}"));
        }
        cmd.arg("-bb").arg(dir.join("p.spec"));
        let (o, e, c) = run(&mut cmd);
        assert_eq!(c, 0, "rpmbuild failed:\n{o}\n{e}");
        fs::write(&done, b"").unwrap();
    }
    let rpms = dir.join("top/RPMS/noarch");
    fs::read_dir(&rpms).unwrap().next().unwrap().unwrap().path()
}

fn qv(ver: &str, algo: &str) -> PathBuf {
    build(
        QV_SPEC,
        &[("ver", ver), ("_binary_filedigest_algorithm", algo)],
    )
}

fn sh(pkg: &str, data: &str, stamp: &str) -> PathBuf {
    build(SH_SPEC, &[("pkg", pkg), ("data", data), ("stamp", stamp)])
}

/// A throw-away root with its own passwd/group and a sqlite rpmdb in /var/lib/rpm.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        common::require_rpm_tools();
        let dir = tempfile::Builder::new()
            .prefix("qw-verify-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/passwd"), PASSWD).unwrap();
        fs::write(dir.path().join("etc/group"), GROUP).unwrap();
        fs::create_dir_all(dir.path().join("var/lib/rpm")).unwrap();
        let r = Root { dir };
        let (o, e, c) = r.rpm(&["--initdb"]);
        assert_eq!(c, 0, "initdb: {o}{e}");
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn p(&self, abs: &str) -> PathBuf {
        self.path().join(abs.trim_start_matches('/'))
    }

    fn rpm_cmd(&self) -> Command {
        let mut c = Command::new("rpm");
        c.arg("--root")
            .arg(self.path())
            .arg("--dbpath")
            .arg("/var/lib/rpm");
        c
    }

    fn rpm(&self, args: &[&str]) -> (String, String, i32) {
        run(self.rpm_cmd().args(args))
    }

    fn install(&self, rpms: &[&Path], extra: &[&str]) {
        let mut cmd = self.rpm_cmd();
        cmd.args(["-i", "--nodeps", "--noscripts", "--nosignature"])
            .args(extra)
            .args(rpms);
        let (o, e, c) = run(&mut cmd);
        assert_eq!(c, 0, "install failed:\n{o}\n{e}");
    }

    fn upgrade(&self, rpm: &Path) {
        let mut cmd = self.rpm_cmd();
        cmd.args(["-U", "--nodeps", "--noscripts", "--nosignature"])
            .arg(rpm);
        let (o, e, c) = run(&mut cmd);
        assert_eq!(c, 0, "upgrade failed:\n{o}\n{e}");
    }

    /// `rpm -V[v] --nodeps --noscripts` of the packages (or `-a`).
    fn rpm_v(&self, pkgs: &[&str], verbose: bool) -> (Vec<String>, i32) {
        let mut args = vec!["-V", "--nodeps", "--noscripts"];
        if verbose {
            args.push("-v");
        }
        if pkgs.is_empty() {
            args.push("-a");
        }
        args.extend_from_slice(pkgs);
        let (o, e, c) = self.rpm(&args);
        assert!(
            !e.contains("error:"),
            "rpm reported errors: {e}\nstdout:\n{o}"
        );
        (o.lines().map(str::to_string).collect(), c)
    }
}

/// quietwire's rpm-format lines and rpm-compatible exit status.
fn qw_v(root: &Path, dbpath: &str, pkgs: &[&str], verbose: bool) -> (Vec<String>, i32) {
    let db = rpmdb::open(root, Some(Path::new(dbpath))).expect("rpmdb opens");
    assert!(db.bad.is_empty(), "bad records: {:?}", db.bad);
    let opts = VerifyOptions {
        jobs: 2,
        packages: pkgs.iter().map(|s| s.to_string()).collect(),
        verbose,
        ..Default::default()
    };
    let rep = verify_packages(root, &db, &opts).expect("verify runs");
    let mut out = Vec::new();
    if verbose {
        report::rpm::render_lines(
            &mut out,
            &quietwire::rpmdb::vline::lines(&db, &rep.results, true),
        )
        .unwrap();
    } else {
        // The non-verbose path goes through findings, like the CLI.
        report::rpm::render(&mut out, &to_findings(&db, &rep)).unwrap();
    }
    let mut lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for n in &rep.not_installed {
        lines.push(format!("package {n} is not installed"));
    }
    (lines, rpm_exit_code(&rep, &db, &opts))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Compare quietwire with rpm for `pkgs` (empty = all), non-verbose and verbose.
#[track_caller]
fn same_as_rpm(root: &Root, pkgs: &[&str]) -> Vec<String> {
    for verbose in [false, true] {
        let (want, want_code) = root.rpm_v(pkgs, verbose);
        let (got, got_code) = qw_v(root.path(), "/var/lib/rpm", pkgs, verbose);
        let (want, got) = (sorted(want), sorted(got));
        if want != got {
            let only_rpm: Vec<_> = want.iter().filter(|l| !got.contains(l)).collect();
            let only_qw: Vec<_> = got.iter().filter(|l| !want.contains(l)).collect();
            panic!(
                "verbose={verbose}: output differs\nonly rpm:\n{only_rpm:#?}\nonly quietwire:\n{only_qw:#?}\nrpm:\n{}\n",
                want.join("\n")
            );
        }
        assert_eq!(
            got_code, want_code,
            "verbose={verbose}: exit status differs"
        );
    }
    sorted(root.rpm_v(pkgs, false).0)
}

fn sh_c(cmd: &str) {
    let (o, e, c) = run(Command::new("sh").arg("-c").arg(cmd));
    assert_eq!(c, 0, "{cmd}: {o}{e}");
}

fn set_mtime(p: &Path, secs: i64) {
    let f = fs::File::options().write(true).open(p).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64))
        .unwrap();
}

#[test]
fn fresh_install_is_clean() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    // (A link target over 1024 bytes, which rpm truncates and so never matches, cannot be
    // packaged: rpmbuild's libmagic classification fails on it. scan::root tests the cap.)
    assert!(same_as_rpm(&r, &[]).is_empty());
    // The verbose listing must show the missing ghost and every file (spot check).
    let (v, _) = r.rpm_v(&["qv"], true);
    assert!(v.iter().any(|l| l == "missing   g /opt/qv/ghost"), "{v:?}");
}

#[test]
fn every_attribute_and_marker() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    let d = |s: &str| r.p(&format!("/opt/qv/{s}"));
    // 5 only: same size, mtime restored.
    fs::write(d("reg"), "REGULAR-1.0\n").unwrap();
    set_mtime(&d("reg"), 1577836800);
    // S 5 T with config marker.
    fs::write(d("conf"), "config\nmore\n").unwrap();
    fs::set_permissions(d("doc"), fs::Permissions::from_mode(0o600)).unwrap();
    sh_c(&format!("chown bin:bin {}", d("lic").display()));
    sh_c(&format!("chown 1:1 {}", d("readme").display()));
    fs::remove_file(d("link")).unwrap();
    symlink("other", d("link")).unwrap();
    fs::set_permissions(d("dir"), fs::Permissions::from_mode(0o700)).unwrap();
    sh_c(&format!("rm {0} && mknod {0} c 1 5", d("cdev").display()));
    sh_c(&format!("rm {0} && mknod {0} c 7 0", d("bdev").display()));
    fs::write(d("nomd5"), "much longer content\n").unwrap();
    sh_c(&format!("setcap -r {}", d("capf").display()));
    fs::write(d("empty"), "x").unwrap();
    // A hardlink broken into an identical copy is not reported.
    sh_c(&format!(
        "cp -p {0} {0}.tmp && mv {0}.tmp {0}",
        d("hl2").display()
    ));
    fs::remove_file(d("mok")).unwrap();
    sh_c(&format!("chmod u+s {}", d("suid").display()));
    fs::write(d("ghost"), "now here").unwrap();
    fs::set_permissions(d("ghost"), fs::Permissions::from_mode(0o600)).unwrap();
    // %verify(mode md5 size mtime): owner changes are not checked, mode is.
    sh_c(&format!(
        "chown bin {0} && chmod 600 {0}",
        d("v-only").display()
    ));
    // %verify(not mode)
    fs::set_permissions(d("v-notmode"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(d("with space.txt"), "changed\n").unwrap();
    fs::write(d("café-ünï.txt"), "changed\n").unwrap();
    fs::remove_file(d("日本語.txt")).unwrap();
    fs::write(d("big"), "small").unwrap();
    fs::set_permissions(d("privdir"), fs::Permissions::from_mode(0o755)).unwrap();
    let lines = same_as_rpm(&r, &[]);
    // The test must be able to fail: make sure the interesting letters really showed up.
    for want in [
        "..5......    /opt/qv/reg",
        "S.5....T.  c /opt/qv/conf",
        ".M.......  d /opt/qv/doc",
        ".....UG..  l /opt/qv/lic",
        ".....UG..  r /opt/qv/readme",
        "....L....    /opt/qv/link",
        ".M.D.....    /opt/qv/bdev",
        ".M.D.....    /opt/qv/cdev",
        "........P    /opt/qv/capf",
        ".M.......    /opt/qv/suid",
        ".M.......  g /opt/qv/ghost",
        "missing     /opt/qv/日本語.txt",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "missing line {want:?} in {lines:#?}"
        );
    }
}

#[test]
fn type_swaps_ghosts_and_not_a_directory() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    let d = |s: &str| r.p(&format!("/opt/qv/{s}"));
    // header directory, disk a 1-byte file
    fs::remove_dir(d("dir")).unwrap();
    fs::write(d("dir"), "x").unwrap();
    // header symlink, disk a regular file of the same size
    fs::remove_file(d("link")).unwrap();
    fs::write(d("link"), "reg").unwrap();
    // header regular file, disk a directory / a symlink
    fs::remove_file(d("doc")).unwrap();
    fs::create_dir(d("doc")).unwrap();
    fs::remove_file(d("conf")).unwrap();
    symlink("reg", d("conf")).unwrap();
    // %ghost as a directory, mode 644: clean
    fs::create_dir(d("ghost")).unwrap();
    fs::set_permissions(d("ghost"), fs::Permissions::from_mode(0o644)).unwrap();
    // a path below a file: missing (Not a directory)
    fs::remove_dir_all(d("deep/sub")).unwrap();
    fs::write(d("deep/sub"), "file now").unwrap();
    // a symlink loop on the way: missing (Too many levels of symbolic links)
    fs::remove_dir_all(d("dir with space")).unwrap();
    symlink("dir with space", d("dir with space")).unwrap();
    let lines = same_as_rpm(&r, &[]);
    assert!(
        lines.iter().any(|l| l.ends_with("(Not a directory)")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("(Too many levels of symbolic links)")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l == "SM5....T.    /opt/qv/dir"),
        "{lines:#?}"
    );
}

#[test]
fn ghost_dangling_symlink_is_clean() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    symlink("/nowhere", r.p("/opt/qv/ghost")).unwrap();
    let lines = same_as_rpm(&r, &[]);
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn directory_replaced_by_symlink() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    // Root-owned symlink to a directory: compared as the directory (clean).
    fs::rename(r.p("/opt/qv/ddir"), r.p("/opt/qv/was")).unwrap();
    symlink("was", r.p("/opt/qv/ddir")).unwrap();
    assert!(same_as_rpm(&r, &[]).is_empty());
    // Owned by someone else than the target's owner: stays a symlink (L, U).
    sh_c(&format!("chown -h bin {}", r.p("/opt/qv/ddir").display()));
    let lines = same_as_rpm(&r, &[]);
    assert_eq!(lines, vec!["....LU...    /opt/qv/ddir"]);
    // An absolute link is resolved inside the root, not on the host.
    fs::remove_file(r.p("/opt/qv/ddir")).unwrap();
    symlink("/opt/qv/was", r.p("/opt/qv/ddir")).unwrap();
    fs::set_permissions(r.p("/opt/qv/was"), fs::Permissions::from_mode(0o700)).unwrap();
    let lines = same_as_rpm(&r, &[]);
    assert_eq!(lines, vec![".M.......    /opt/qv/ddir"]);
}

#[test]
fn digest_algorithms() {
    for (algo, name) in [
        ("1", "md5"),
        ("2", "sha1"),
        ("8", "sha256"),
        ("10", "sha512"),
        ("11", "sha224"),
        ("9", "sha384"),
    ] {
        let r = Root::new();
        r.install(&[&qv("1.0", algo)], &[]);
        let db = rpmdb::open(r.path(), Some(Path::new("/var/lib/rpm"))).unwrap();
        assert_eq!(db.packages[0].digest_algo.name(), name);
        assert!(same_as_rpm(&r, &[]).is_empty(), "{name}: clean install");
        fs::write(r.p("/opt/qv/reg"), "REGULAR-1.0\n").unwrap();
        set_mtime(&r.p("/opt/qv/reg"), 1577836800);
        fs::write(
            r.p("/opt/qv/big"),
            vec![b'q'; 299_999]
                .into_iter()
                .chain([b'Q'])
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        set_mtime(&r.p("/opt/qv/big"), 1577836800);
        let lines = same_as_rpm(&r, &[]);
        assert_eq!(
            lines,
            vec!["..5......    /opt/qv/big", "..5......    /opt/qv/reg"],
            "{name}"
        );
    }
}

#[test]
fn owners_missing_from_the_roots_passwd() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    // The host (Debian) has nobody/nogroup; the root does not, so 0 is expected.
    sh_c(&format!(
        "chown 65534:65534 {}",
        r.p("/opt/qv/unknown-owner").display()
    ));
    let lines = same_as_rpm(&r, &[]);
    assert_eq!(lines, vec![".....UG..    /opt/qv/unknown-owner"]);
    // bin/daemon come from the root's files (1/2 here; Debian's host has daemon=1, bin=2).
    sh_c(&format!("chown 2:1 {}", r.p("/opt/qv/owned-bin").display()));
    let lines = same_as_rpm(&r, &[]);
    assert!(
        lines.contains(&".....UG..    /opt/qv/owned-bin".to_string()),
        "{lines:?}"
    );
}

#[test]
fn caps_none_versus_empty_set() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &["--nocaps"]);
    let lines = same_as_rpm(&r, &[]);
    assert_eq!(
        lines,
        vec![
            "........P    /opt/qv/capf",
            "........P    /opt/qv/emptycaps"
        ]
    );
    sh_c(&format!(
        "setcap cap_net_raw=ep {}",
        r.p("/opt/qv/capf").display()
    ));
    sh_c(&format!(
        "setcap cap_net_raw+p {}",
        r.p("/opt/qv/reg").display()
    ));
    let lines = same_as_rpm(&r, &[]);
    assert_eq!(
        lines,
        vec!["........P    /opt/qv/emptycaps", "........P    /opt/qv/reg"]
    );
}

#[test]
fn shared_files_and_file_states() {
    let a = sh("a", "same", "2020-01-01");
    let b = sh("b", "same", "2021-01-01");
    let c = sh("c", "diff", "2021-01-01");
    let r = Root::new();
    r.install(&[&a, &b], &[]);
    // Different mtimes, shared path: no T.
    assert!(same_as_rpm(&r, &[]).is_empty());
    r.install(&[&c], &["--replacefiles"]);
    let lines = same_as_rpm(&r, &[]);
    assert!(lines.iter().any(|l| l.ends_with("(replaced)")), "{lines:?}");
    same_as_rpm(&r, &["sha", "shc"]);
    same_as_rpm(&r, &["sha", "nosuchpkg", "shb-1.0-1.noarch"]);
    // Remove the real owner: the replaced entries are now missing.
    fs::remove_file(r.p("/opt/sh/shared")).unwrap();
    same_as_rpm(&r, &[]);

    // --excludedocs gives "not installed" (shown with -v only).
    let r = Root::new();
    r.install(&[&a], &["--excludedocs"]);
    let (v, _) = r.rpm_v(&[], true);
    assert!(v.iter().any(|l| l.ends_with("(not installed)")), "{v:?}");
    same_as_rpm(&r, &[]);

    // %_netsharedpath gives "net shared".
    let r = Root::new();
    r.install(&[&a], &["--define", "_netsharedpath /opt/sh"]);
    let (v, _) = r.rpm_v(&[], true);
    assert!(v.iter().any(|l| l.ends_with("(net shared)")), "{v:?}");
    same_as_rpm(&r, &[]);
}

#[test]
fn upgrade_is_clean() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    r.upgrade(&qv("2.0", "8"));
    assert!(same_as_rpm(&r, &[]).is_empty());
    fs::write(r.p("/opt/qv/reg"), "regular-1.0\n").unwrap();
    assert_eq!(same_as_rpm(&r, &[]), vec!["..5....T.    /opt/qv/reg"]);
}

#[test]
fn berkeley_db_copy_gives_the_same_verdicts() {
    common::require_rpm_tools();
    let r = Root::new();
    r.install(&[&qv("1.0", "8"), &sh("a", "same", "2020-01-01")], &[]);
    fs::write(r.p("/opt/qv/reg"), "changed\n").unwrap();
    fs::remove_file(r.p("/opt/sh/owna")).unwrap();
    // Dump the sqlite Packages table into a BDB hash with db5.3_load.
    let conn = rusqlite::Connection::open_with_flags(
        r.p("/var/lib/rpm/rpmdb.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    let rows: Vec<(u32, Vec<u8>)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut dump = String::from(
        "VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\ndb_lorder=1234\nHEADER=END\n",
    );
    let max = rows.iter().map(|r| r.0).max().unwrap_or(0);
    dump.push_str(&format!(
        " {}\n {}\n",
        hex::encode(0u32.to_le_bytes()),
        hex::encode(max.to_le_bytes())
    ));
    for (h, blob) in &rows {
        dump.push_str(&format!(
            " {}\n {}\n",
            hex::encode(h.to_le_bytes()),
            hex::encode(blob)
        ));
    }
    dump.push_str("DATA=END\n");
    let bdb = r.p("/var/lib/rpmbdb");
    fs::create_dir_all(&bdb).unwrap();
    fs::write(bdb.join("dump"), dump).unwrap();
    let (o, e, c) = run(Command::new("db5.3_load")
        .arg("-f")
        .arg(bdb.join("dump"))
        .arg(bdb.join("Packages")));
    assert_eq!(c, 0, "db5.3_load (package db5.3-util): {o}{e}");
    fs::remove_file(bdb.join("dump")).unwrap();

    let mut cmd = r.rpm_cmd();
    cmd.args([
        "--dbpath",
        "/var/lib/rpmbdb",
        "--define",
        "_db_backend bdb_ro",
        "-Va",
        "--nodeps",
        "--noscripts",
    ]);
    // The later --dbpath wins.
    let (o, e, code) = run(&mut cmd);
    assert!(!e.contains("error:"), "{e}");
    let want = sorted(o.lines().map(str::to_string).collect());
    let (got, got_code) = qw_v(r.path(), "/var/lib/rpmbdb", &[], false);
    assert_eq!(sorted(got), want);
    assert_eq!(got_code, code);
    assert_eq!(want.len(), 2, "{want:?}");
}

/// Both rpm and quietwire without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH: unreadable content
/// gives `?` and an unsearchable directory gives `missing ... (Permission denied)`. quietwire
/// runs in a re-executed copy of this test binary under `setpriv` (see `helper_print_rpm_lines`).
#[test]
fn permission_denied_without_dac_capabilities() {
    let r = Root::new();
    r.install(&[&qv("1.0", "8")], &[]);
    fs::set_permissions(r.p("/opt/qv/reg"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(r.p("/opt/qv/deep"), fs::Permissions::from_mode(0o000)).unwrap();
    let setpriv = |cmd: &mut Command| -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search",
            "--",
        ]);
        c.arg(cmd.get_program()).args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c
    };
    let mut rpm = r.rpm_cmd();
    rpm.args(["-Va", "--nodeps", "--noscripts"]);
    let (o, e, code) = run(&mut setpriv(&mut rpm));
    assert!(!e.contains("error:"), "{e}");
    let want = sorted(o.lines().map(str::to_string).collect());
    assert!(want.iter().any(|l| l.starts_with(".M?......")), "{want:?}");
    assert!(
        want.iter().any(|l| l.ends_with("(Permission denied)")),
        "{want:?}"
    );

    let mut me = Command::new(std::env::current_exe().unwrap());
    me.args([
        "--exact",
        "helper_print_rpm_lines",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("QW_HELPER_ROOT", r.path());
    let (o, e, _) = run(&mut setpriv(&mut me));
    let got: Vec<String> = o
        .lines()
        .filter_map(|l| l.split_once("QWLINE ").map(|(_, x)| x.to_string()))
        .collect();
    let code_line = o
        .lines()
        .find_map(|l| l.split_once("QWCODE ").map(|(_, x)| x))
        .unwrap_or_else(|| panic!("helper failed: {o}{e}"));
    assert_eq!(sorted(got), want);
    assert_eq!(code_line.parse::<i32>().unwrap(), code);
}

/// Not a test on its own: prints quietwire's lines for `QW_HELPER_ROOT` (used above).
#[test]
fn helper_print_rpm_lines() {
    let Some(root) = std::env::var_os("QW_HELPER_ROOT") else {
        return;
    };
    let (lines, code) = qw_v(Path::new(&root), "/var/lib/rpm", &[], false);
    for l in lines {
        println!("QWLINE {l}");
    }
    println!("QWCODE {code}");
}
