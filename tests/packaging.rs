//! quietwire's own RPM (packaging/quietwire.spec, built by scripts/build-rpm from this build's
//! binary) and its transaction file triggers, with the real tools (issues 17.1 and 19):
//!
//! - the package installs with `rpm --root` where data/README.md says, quietwire verifies its
//!   own files clean, and a byte changed in the installed binary is reported;
//! - end to end with Debian's dnf 4.14 and rpm 4.18: a test root that can run scriptlets
//!   (dash, the coreutils the hook uses, quietwire's shared libraries, /dev/null), a local repo
//!   made by `createrepo_c`, `dnf --installroot` install / upgrade / downgrade / remove, a plain
//!   `rpm -U`, and an `rpm -U` whose %pre fails: after each, the trigger ran exactly once, its
//!   report verified the changed packages, the snapshot is recorded, the full check is quiet.
//!
//! Without `rpmbuild` (or, for the second part, `dnf` / `createrepo_c`) the tests print
//! SKIPPED and pass, except under `CI=true`, where they fail.
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::{build_packages, have_tools, qw, run_command, text, RpmOutput, TestRoot};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const HOOK_LOG: &str = "/var/log/quietwire/post-transaction.log";
const HOOK_REPORT: &str = "/var/log/quietwire/post-transaction.json";

/// quietwire's RPM (release `release`) built into `out` with scripts/build-rpm from this
/// build's binary.
fn build_own_rpm(out: &Path, release: &str) -> PathBuf {
    let o = run_command(
        Command::new(Path::new(REPO).join("scripts/build-rpm"))
            .env("QW_RELEASE", release)
            .arg(out)
            .arg(support::quietwire_bin()),
    )
    .success();
    let path = PathBuf::from(o.stdout_str().trim());
    assert!(path.is_file(), "build-rpm printed {path:?}");
    path
}

/// quietwire's RPM, release 1, built once per test process (a directory per process, so
/// parallel test processes do not share one).
fn quietwire_rpm() -> &'static Path {
    static RPM: OnceLock<PathBuf> = OnceLock::new();
    RPM.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("qw-own-rpm")
            .join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&out);
        build_own_rpm(&out, "1")
    })
}

fn rpm_q(rpm: &Path, qf: &str) -> String {
    run_command(
        Command::new("rpm")
            .env("LC_ALL", "C")
            .args(["-qp", "--nosignature", "--nodigest", "--qf", qf])
            .arg(rpm),
    )
    .success()
    .stdout_str()
}

/// `(path, mode, flags)` of every file of the package.
fn rpm_files(rpm: &Path) -> Vec<(String, u32, u32)> {
    rpm_q(rpm, "[%{FILENAMES}\t%{FILEMODES}\t%{FILEFLAGS}\n]")
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (
                c[0].to_string(),
                c[1].parse().unwrap(),
                c[2].parse().unwrap(),
            )
        })
        .collect()
}

const RPMFILE_CONFIG: u32 = 1 << 0;
const RPMFILE_NOREPLACE: u32 = 1 << 4;

#[test]
fn own_rpm_holds_the_documented_files_and_verifies_clean_until_a_byte_changes() {
    if !have_tools(&[("rpmbuild", "rpm")]) {
        return;
    }
    let rpm = quietwire_rpm();
    let files = rpm_files(rpm);
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f.0 == p || f.0.starts_with(&format!("{p}.")))
            .unwrap_or_else(|| panic!("{p} not in the package: {files:?}"))
    };
    // Every location of data/README.md's table, with its mode.
    let readme = fs::read_to_string(Path::new(REPO).join("data/README.md")).unwrap();
    let mut documented = 0;
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(dest), Some(mode)) = (
            cols[2].strip_prefix('`').and_then(|c| c.strip_suffix('`')),
            cols.get(3),
        ) else {
            continue;
        };
        // apt's hook is Debian's: the .deb carries it (tests/packaging_deb.rs), not the RPM.
        if dest.starts_with("/etc/apt/") {
            continue;
        }
        let f = find(dest);
        assert_eq!(
            format!("{:04o}", f.1 & 0o7777),
            *mode,
            "mode of {dest} (data/README.md)"
        );
        documented += 1;
    }
    assert!(documented >= 7, "{documented} locations in data/README.md");
    for (p, mode) in [
        ("/usr/bin/quietwire", 0o100755),
        ("/var/lib/quietwire", 0o040700),
        ("/var/log/quietwire", 0o040700),
    ] {
        assert_eq!(find(p).1, mode, "{p}");
    }
    find("/usr/share/man/man8/quietwire.8");
    find("/usr/share/man/man5/quietwire-policy.5");
    let sysconfig = find("/etc/sysconfig/quietwire");
    assert_eq!(
        sysconfig.2 & (RPMFILE_CONFIG | RPMFILE_NOREPLACE),
        RPMFILE_CONFIG | RPMFILE_NOREPLACE,
        "/etc/sysconfig/quietwire is %config(noreplace)"
    );
    // The triggers: in and postun on every path.
    let triggers = rpm_q(rpm, "[%{TRANSFILETRIGGERTYPE} %{TRANSFILETRIGGERNAME}\n]");
    assert_eq!(
        triggers.lines().collect::<Vec<_>>(),
        ["in /", "postun /"],
        "{triggers}"
    );

    // Installed with rpm --root: its own files verify clean, for quietwire as for rpm.
    let root = TestRoot::new();
    // A local build carries no vendor signature.
    root.allow_unsigned("\"quietwire\"");
    root.rpm(&[
        "-i",
        "--nodeps",
        "--noscripts",
        "--notriggers",
        "--nosignature",
        &rpm.display().to_string(),
    ])
    .success();
    let (rpm_lines, rpm_code) = root.rpm_v("quietwire");
    assert_eq!((rpm_lines.as_slice(), rpm_code), (&[][..], 0));
    // quietwire's verdicts on its own package, in rpm -V's format.
    let check_own = || {
        qw(
            &root,
            &[
                "check",
                "--owned-only",
                "--format",
                "rpm",
                "--package",
                "quietwire",
            ],
        )
    };
    let out = check_own();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let md = fs::metadata(root.join("/var/lib/quietwire")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&md.permissions()) & 0o7777,
        0o700
    );

    // One byte of the installed binary changed, size and mtime kept: rpm and quietwire say 5.
    let bin = root.join("/usr/bin/quietwire");
    let mut bytes = fs::read(&bin).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    root.rewrite_keep_mtime("/usr/bin/quietwire", &bytes);
    let (rpm_lines, rpm_code) = root.rpm_v("quietwire");
    assert_eq!(rpm_lines, ["..5......    /usr/bin/quietwire"]);
    assert_eq!(rpm_code, 1);
    let out = check_own();
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), rpm_lines);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

// ---- end to end: dnf, rpm and the triggers ----

/// A spec's text, built into `dir` with rpmbuild; returns the .rpm.
fn build_spec(dir: &Path, name: &str, spec: &str) -> PathBuf {
    let top = dir.join(format!("top-{name}"));
    let file = dir.join(format!("{name}.spec"));
    fs::write(&file, spec).unwrap();
    run_command(
        Command::new("rpmbuild")
            .env("LC_ALL", "C")
            .arg("-bb")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg(&file),
    )
    .success();
    let rpms: Vec<PathBuf> = fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 1, "{name}: {rpms:?}");
    rpms.into_iter().next().unwrap()
}

/// qw-testbase: provides what quietwire's package requires (the C library, /bin/sh), which the
/// test root holds as plain copied files.
fn base_spec(quietwire_rpm: &Path) -> String {
    let mut s = String::from(
        "Name: qw-testbase\nVersion: 1\nRelease: 1\nSummary: test root base\nLicense: MIT\n\
         BuildArch: noarch\n",
    );
    for req in rpm_q(quietwire_rpm, "[%{REQUIRENAME}\n]").lines() {
        if !req.starts_with("rpmlib(") && !req.starts_with("config(") {
            s.push_str(&format!("Provides: {req}\n"));
        }
    }
    s.push_str("%description\nProvides the copied files of a quietwire test root.\n%files\n");
    s
}

/// qw-fail: 1.0 installs cleanly; 2.0's %pre fails, so rpm skips it mid-transaction.
fn fail_spec(version: &str, pre: &str) -> String {
    format!(
        "Name: qw-fail\nVersion: {version}\nRelease: 1\nSummary: failing scriptlet\n\
         License: MIT\nBuildArch: noarch\n%description\nfixture\n\
         %install\nmkdir -p %{{buildroot}}/opt/qw-fail\n\
         printf 'v{version}\\n' > %{{buildroot}}/opt/qw-fail/f\n\
         %pre\n{pre}\n%files\n/opt/qw-fail\n"
    )
}

/// Copies the host program `host` to `inside` in the root, with the shared libraries `ldd`
/// names at their host paths.
fn copy_with_libs(root: &TestRoot, host: &Path, inside: &str) {
    let dest = root.join(inside);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(host, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", host.display()));
    let ldd = run_command(Command::new("ldd").arg(host)).success();
    for lib in ldd
        .stdout_str()
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let d = root.join(lib);
        if !d.exists() {
            fs::create_dir_all(d.parent().unwrap()).unwrap();
            fs::copy(lib, &d).unwrap_or_else(|e| panic!("copy {lib}: {e}"));
        }
    }
}

/// What rpm needs to run quietwire's triggers chrooted in the root: /bin/sh (dash), the
/// commands the hook uses, quietwire's libraries and /dev/null.
fn make_runnable(root: &TestRoot) {
    fs::create_dir_all(root.join("/usr/bin")).unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("/bin")).unwrap();
    copy_with_libs(root, Path::new("/usr/bin/dash"), "/usr/bin/sh");
    for c in [
        "cat", "wc", "date", "mkdir", "chmod", "cksum", "timeout", "mv",
    ] {
        copy_with_libs(
            root,
            &Path::new("/usr/bin").join(c),
            &format!("/usr/bin/{c}"),
        );
    }
    // The package's binary is the same build: its libraries.
    copy_with_libs(root, &support::quietwire_bin(), "/usr/bin/quietwire-libs");
    fs::remove_file(root.join("/usr/bin/quietwire-libs")).unwrap();
    fs::create_dir_all(root.join("/dev")).unwrap();
    let null = std::ffi::CString::new(root.join("/dev/null").into_os_string().into_encoded_bytes())
        .unwrap();
    // SAFETY: a valid NUL-terminated path; makedev(1, 3) is /dev/null.
    let rc = unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(
        rc,
        0,
        "mknod /dev/null: {}",
        std::io::Error::last_os_error()
    );
}

struct Dnf {
    repo: PathBuf,
    home: PathBuf,
    cache: PathBuf,
}

impl Dnf {
    /// `dnf -y --installroot R` on the local repo only; `_dbpath` comes from `$HOME/.rpmmacros`
    /// (Debian's rpm would use ~/.rpmdb inside the root), and no plugin runs: the triggers do
    /// the work, whichever front end runs the transaction.
    fn run(&self, root: &TestRoot, args: &[&str]) -> RpmOutput {
        let mut c = Command::new("dnf");
        c.env("LC_ALL", "C")
            .env("HOME", &self.home)
            .args(["-y", "-q", "--installroot"])
            .arg(root.path())
            .args([
                "--releasever",
                "1",
                "--setopt=reposdir=/nonexistent",
                "--setopt=install_weak_deps=0",
                "--disableplugin=*",
                "--nogpgcheck",
            ])
            .arg(format!("--setopt=cachedir={}", self.cache.display()))
            .arg(format!(
                "--repofrompath=local,file://{}",
                self.repo.display()
            ))
            .args(args);
        run_command(&mut c)
    }
}

/// The hook's runs so far: one `== ... post-transaction check` line each.
fn hook_runs(root: &TestRoot) -> usize {
    fs::read_to_string(root.join(HOOK_LOG))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("== ") && l.contains("post-transaction check"))
        .count()
}

fn hook_report(root: &TestRoot) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&fs::read(root.join(HOOK_REPORT)).unwrap()).unwrap();
    doc["findings"].as_array().cloned().unwrap_or_default()
}

fn loud(findings: &[Value]) -> Vec<&Value> {
    findings
        .iter()
        .filter(|f| f["severity"] != "info" && f["severity"] != "low")
        .collect()
}

/// After a transaction: the hook ran once more, its report has no finding above low, the
/// snapshot equals the rpmdb, and the full check is quiet. Returns the hook's findings.
#[track_caller]
fn after_transaction(root: &TestRoot, runs: &mut usize, what: &str) -> Vec<Value> {
    *runs += 1;
    let log = fs::read_to_string(root.join(HOOK_LOG)).unwrap_or_default();
    assert_eq!(hook_runs(root), *runs, "{what}: hook runs\n{log}");
    let findings = hook_report(root);
    assert!(loud(&findings).is_empty(), "{what}: {findings:#?}\n{log}");
    assert!(log.ends_with("== accept exit status 0\n"), "{what}: {log}");
    let pc = qw(root, &["check", "--packages-changed", "--no-progress"]);
    assert!(
        text(&pc.stderr).contains("no package changed"),
        "{what}: snapshot not recorded: {}",
        text(&pc.stderr)
    );
    let full = qw(root, &["check", "--no-progress"]);
    assert_eq!(
        full.status.code(),
        Some(0),
        "{what}: full check\n{}{}\nhook log:\n{log}",
        text(&full.stdout),
        text(&full.stderr)
    );
    findings
}

fn paths_of(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn triggers_check_and_record_every_transaction_of_dnf_and_rpm() {
    if !have_tools(&[
        ("rpmbuild", "rpm"),
        ("dnf", "dnf"),
        ("createrepo_c", "createrepo-c"),
    ]) {
        return;
    }
    let own = quietwire_rpm();
    let fixtures = build_packages();
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let base = build_spec(work.path(), "base", &base_spec(own));
    let own2 = build_own_rpm(&work.path().join("own2"), "2");
    let fail1 = build_spec(work.path(), "fail1", &fail_spec("1.0", "exit 0"));
    let fail2 = build_spec(
        work.path(),
        "fail2",
        &fail_spec(
            "2.0",
            "echo 'qw-fail 2.0: %pre fails on purpose' >&2\nexit 1",
        ),
    );
    for p in [
        own,
        own2.as_path(),
        base.as_path(),
        fail1.as_path(),
        fixtures.path("qw-upgrade-1"),
        fixtures.path("qw-upgrade-2"),
    ] {
        fs::copy(p, repo.join(p.file_name().unwrap())).unwrap();
    }
    run_command(Command::new("createrepo_c").arg("-q").arg(&repo)).success();
    let home = work.path().join("home");
    fs::create_dir_all(&home).unwrap();
    fs::write(home.join(".rpmmacros"), "%_dbpath /var/lib/rpm\n").unwrap();
    let dnf = Dnf {
        repo,
        home,
        cache: work.path().join("cache"),
    };

    let root = TestRoot::new();
    make_runnable(&root);
    root.allow_unsigned("\"qw-*\", \"quietwire\"");
    let mut runs = 0;

    // 1. Install quietwire and the version-1 packages with dnf: the trigger runs (quietwire's
    //    own install fires it too) and finds no baseline yet.
    // Release 1 of quietwire (the repo has 2 as well, for step 7), by full NEVRA.
    let own1 = format!("quietwire-0.1.0-1.{}", std::env::consts::ARCH);
    dnf.run(
        &root,
        &["install", &own1, "qw-testbase", "qw-upgrade-1.0", "qw-fail"],
    )
    .success();
    runs += 1;
    assert_eq!(hook_runs(&root), runs);
    assert_eq!(
        root.rpm(&["-q", "quietwire"]).success().lines(),
        std::slice::from_ref(&own1)
    );
    let log = fs::read_to_string(root.join(HOOK_LOG)).unwrap();
    assert!(log.contains("no baseline"), "{log}");
    assert!(log.contains("(rpm transfiletriggerin, "), "{log}");
    let init = qw(&root, &["init"]);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init.stderr));
    let quiet = qw(&root, &["check", "--no-progress"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stdout));
    // An accepted edit of a %config(noreplace) file: the upgrade leaves 2.0's in .rpmnew.
    fs::write(
        root.join("/etc/qw-upgrade/noreplace.conf"),
        "noreplace=edited\n",
    )
    .unwrap();
    let acc = qw(&root, &["accept", "/etc/qw-upgrade/noreplace.conf"]);
    assert_eq!(acc.status.code(), Some(0), "{}", text(&acc.stderr));

    // 2. dnf upgrade (a file added, a file removed, a config changed): `in` and `postun` both
    //    fire, the hook runs once, verifies qw-upgrade 2.0 clean, reports the .rpmnew as low.
    dnf.run(&root, &["upgrade", "qw-upgrade"]).success();
    let found: Vec<Value> = after_transaction(&root, &mut runs, "dnf upgrade")
        .into_iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert_eq!(
        paths_of(&found),
        ["/etc/qw-upgrade/noreplace.conf.rpmnew"],
        "{found:#?}"
    );
    assert_eq!(found[0]["severity"], "low");
    let log = fs::read_to_string(root.join(HOOK_LOG)).unwrap();
    assert!(
        log.contains("qw-upgrade-1.0-1.noarch -> qw-upgrade-2.0-1.noarch"),
        "{log}"
    );

    // 3. A package file tampered before the next transaction, which does not touch its package.
    let tampered = "/opt/qw-fail/f";
    let original = fs::read(root.join(tampered)).unwrap();
    root.rewrite_keep_mtime(tampered, "v6.6\n");
    dnf.run(&root, &["downgrade", "qw-upgrade-1.0"]).success();
    runs += 1;
    assert_eq!(hook_runs(&root), runs, "dnf downgrade");
    assert!(
        loud(&hook_report(&root)).is_empty(),
        "{:#?}",
        hook_report(&root)
    );
    // The snapshot is recorded, but the tampered file is still reported by the full check.
    let full = qw(&root, &["check", "--no-progress"]);
    assert_eq!(full.status.code(), Some(4), "{}", text(&full.stdout));
    assert!(
        text(&full.stdout).contains(tampered),
        "{}",
        text(&full.stdout)
    );
    root.rewrite_keep_mtime(tampered, &original);
    let full = qw(&root, &["check", "--no-progress"]);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full.stdout));

    // 4. dnf remove: only `postun` fires (no paths on stdin). The accepted edit of the config
    //    file is kept, so rpm saves it as .rpmsave: the hook reports it as low. The admin
    //    then deletes it (a full check would rightly report it, and the directory rpm kept
    //    for it, as unowned).
    fs::remove_file(root.join("/etc/qw-upgrade/noreplace.conf.rpmnew")).unwrap();
    dnf.run(&root, &["remove", "qw-upgrade"]).success();
    let rpmsave = "/etc/qw-upgrade/noreplace.conf.rpmsave";
    assert!(root.join(rpmsave).is_file(), "rpm saved the edited config");
    let found: Vec<Value> = hook_report(&root)
        .into_iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert_eq!(paths_of(&found), [rpmsave], "{found:#?}");
    assert_eq!(found[0]["severity"], "low");
    // rpm kept the directory for the .rpmsave: both go.
    fs::remove_file(root.join(rpmsave)).unwrap();
    fs::remove_dir(root.join("/etc/qw-upgrade")).unwrap();
    after_transaction(&root, &mut runs, "dnf remove");
    assert!(fs::read_to_string(root.join(HOOK_LOG))
        .unwrap()
        .contains("(rpm transfiletriggerpostun, no paths)"));

    // 5. Plain rpm, no dnf: the same trigger.
    let rpm_u = |args: &[&str]| {
        let mut a = vec!["-U", "--nosignature"];
        a.extend_from_slice(args);
        root.rpm(&a)
    };
    rpm_u(&[&fixtures.path("qw-upgrade-2").display().to_string()]).success();
    after_transaction(&root, &mut runs, "rpm -U");

    // 6. One transaction, one %pre failing halfway: rpm fails, qw-fail 2.0 is not installed,
    //    qw-upgrade 1.0 is; the recorded snapshot is what the rpmdb holds.
    let o = rpm_u(&[
        "--oldpackage",
        &fixtures.path("qw-upgrade-1").display().to_string(),
        &fail2.display().to_string(),
    ]);
    assert_ne!(o.code, 0, "the failing %pre fails rpm: {o:?}");
    assert!(o.stderr.contains("%pre fails on purpose"), "{}", o.stderr);
    let qa = root.rpm(&["-q", "qw-fail", "qw-upgrade"]).success().lines();
    assert_eq!(qa, ["qw-fail-1.0-1.noarch", "qw-upgrade-1.0-1.noarch"]);
    after_transaction(&root, &mut runs, "rpm -U with a failing %pre");

    // 7. quietwire upgrades itself: the old package's `postun` and the new one's `in` fire
    //    (rpm 4.18 runs `postun` first here); one run, which verifies the new quietwire clean.
    dnf.run(&root, &["upgrade", "quietwire"]).success();
    after_transaction(&root, &mut runs, "dnf upgrade quietwire");
    let log = fs::read_to_string(root.join(HOOK_LOG)).unwrap();
    let arch = std::env::consts::ARCH;
    assert!(
        log.contains(&format!(
            "updated      quietwire-0.1.0-1.{arch} -> quietwire-0.1.0-2.{arch}"
        )),
        "{log}"
    );

    // 8. quietwire erased: its triggers go with it, nothing runs; the next check explains it.
    dnf.run(&root, &["remove", "quietwire"]).success();
    assert_eq!(
        hook_runs(&root),
        runs,
        "nothing runs when quietwire is erased"
    );
    let pc = qw(&root, &["check", "--packages-changed", "--no-progress"]);
    assert!(
        text(&pc.stdout).contains("removed      quietwire-0.1.0-2"),
        "{}{}",
        text(&pc.stdout),
        text(&pc.stderr)
    );
}

/// A stand-in for quietwire in `dir`: `packages` prints the content of `dir/rpmdb`, `check`
/// sleeps for `dir/check-sleep` seconds, every call is appended to `dir/calls`.
fn fake_quietwire(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("quietwire");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{d}/calls'\ncase $1 in\n\
             packages) cat '{d}/rpmdb' ;;\ncheck) exec sleep \"$(cat '{d}/check-sleep')\" ;;\n\
             esac\nexit 0\n",
            d = dir.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The hook with the fake binary, as the `in` trigger with `paths` on stdin.
fn run_hook(dir: &Path, paths: &str, timeout: &str) -> std::process::ExitStatus {
    use std::io::Write;
    let mut child = Command::new("sh")
        .arg(Path::new(REPO).join("data/quietwire-post-transaction"))
        .args(["--rpm-trigger", "in"])
        .env("QUIETWIRE", fake_quietwire(dir))
        .env("QUIETWIRE_LOGDIR", dir.join("log"))
        .env("QUIETWIRE_SYSCONFIG", "/nonexistent")
        .env("QUIETWIRE_POST_TRANSACTION_TIMEOUT", timeout)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // More than a pipe holds: the hook must read it all before it runs the check.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(paths.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "", "the hook prints nothing");
    out.status
}

#[test]
fn hook_runs_once_per_rpmdb_state_and_stops_a_slow_check_without_recording_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paths: String = (0..20_000).map(|i| format!("/usr/share/x/{i}\n")).collect();
    fs::write(d.join("rpmdb"), "state 1\n").unwrap();
    fs::write(d.join("check-sleep"), "0").unwrap();
    let log = || fs::read_to_string(d.join("log/post-transaction.log")).unwrap();
    let calls = || fs::read_to_string(d.join("calls")).unwrap();

    assert!(run_hook(d, &paths, "60").success());
    assert!(
        log().contains("(rpm transfiletriggerin, 20000 paths)"),
        "{}",
        log()
    );
    assert_eq!(calls(), "packages\ncheck\naccept\n");
    // The second trigger of the same transaction (same rpmdb state): nothing, no log line.
    assert!(run_hook(d, "", "60").success());
    assert_eq!(calls(), "packages\ncheck\naccept\npackages\n");
    assert_eq!(log().matches("post-transaction check").count(), 1);

    // A new state whose check outlives the limit: stopped, exit 0, snapshot not recorded.
    fs::write(d.join("rpmdb"), "state 2\n").unwrap();
    fs::write(d.join("check-sleep"), "30").unwrap();
    assert!(run_hook(d, "/x\n", "1").success());
    assert!(
        log().contains("== check stopped after 1s: snapshot not recorded"),
        "{}",
        log()
    );
    assert!(calls().ends_with("packages\ncheck\n"), "{}", calls());
    use std::os::unix::fs::PermissionsExt;
    for f in ["post-transaction.log", "post-transaction.state"] {
        let mode = fs::metadata(d.join("log").join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}
