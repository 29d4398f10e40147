//! Issue 13 (hardening A): quietwire's own files against an attacker inside the checked root and
//! against crashes and concurrent writers: the writers' lock, stale temp files, the baseline
//! directory's mode, and fault injection on the baseline (SIGKILL, ENOSPC, two writers).

mod support;

use support::{qw, qw_cmd as cmd, text};

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::TestRoot;

fn write(root: &TestRoot, path: &str, content: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn baseline(root: &TestRoot) -> PathBuf {
    root.join("/var/lib/quietwire/baseline")
}

fn init(root: &TestRoot) {
    let out = qw(root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
}

/// The baselined content of `path` as the baseline file records it (its sha256), or None.
fn recorded_sha(root: &TestRoot, path: &str) -> Option<String> {
    let b = std::fs::read_to_string(baseline(root)).unwrap();
    for l in b.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["path"] == path {
            return v["sha256"].as_str().map(str::to_string);
        }
    }
    None
}

fn sha256_hex(content: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content.as_bytes()))
}

/// Issue 13 point 3: two `accept PATH` runs at once both land. The test hook holds each
/// writer's lock for a moment, so without the lock both read the same old baseline and the
/// second rename drops the first's update.
#[test]
fn concurrent_accepts_of_different_paths_both_land() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    write(&root, "/etc/b.conf", "b=1\n");
    init(&root);
    for trial in 0..3 {
        let (va, vb) = (format!("a={trial}x\n"), format!("b={trial}y\n"));
        write(&root, "/etc/a.conf", &va);
        write(&root, "/etc/b.conf", &vb);
        let spawn = |p: &str| {
            cmd(&root, &["accept", p])
                .env("QW_TEST_LOCK_HOLD_MS", "300")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("/etc/a.conf"), spawn("/etc/b.conf"));
        for c in [a, b] {
            let out = c.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "accept: {}", text(&out.stderr));
        }
        assert_eq!(recorded_sha(&root, "/etc/a.conf"), Some(sha256_hex(&va)));
        assert_eq!(recorded_sha(&root, "/etc/b.conf"), Some(sha256_hex(&vb)));
        let out = qw(&root, &["check", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "check: {}", text(&out.stdout));
    }
}

/// A writer that cannot get the lock in time fails with its own status and writes nothing.
#[test]
fn a_held_lock_times_out_with_its_own_status() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    init(&root);
    let before = std::fs::read(baseline(&root)).unwrap();
    let holder = cmd(&root, &["accept", "--all"])
        .env("QW_TEST_LOCK_HOLD_MS", "4000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    write(&root, "/etc/a.conf", "a=2\n");
    let out = cmd(&root, &["accept", "/etc/a.conf"])
        .env("QW_TEST_LOCK_TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(22), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("baseline.lock") && err.contains("another quietwire run"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let h = holder.wait_with_output().unwrap();
    assert_eq!(h.status.code(), Some(0), "{}", text(&h.stderr));
    // The holder accepted everything as it was before a=2 (it read the tree during its hold or
    // after): the baseline is complete either way, and the timed-out run changed nothing else.
    assert_ne!(std::fs::read(baseline(&root)).unwrap(), Vec::<u8>::new());
    let _ = before;
}

/// Issue 13 point 7: temp files of killed writers are removed by the next writer; anything not
/// ours (other names, non-regular files) stays.
#[test]
fn stale_temp_files_are_removed_by_the_next_writer() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    init(&root);
    let dir = root.join("/var/lib/quietwire");
    std::fs::write(dir.join(".baseline.AbC123.tmp"), vec![b'x'; 4096]).unwrap();
    std::fs::create_dir(dir.join(".baseline.dir.tmp")).unwrap();
    std::fs::write(dir.join("keep.tmp"), "mine").unwrap();
    let out = qw(&root, &["accept", "/etc/a.conf"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir.join(".baseline.AbC123.tmp").exists());
    assert!(dir.join(".baseline.dir.tmp").is_dir());
    assert!(dir.join("keep.tmp").exists());
}

/// Issue 13 point 7: the directory `init` makes is 0700 even under umask 000.
#[test]
fn init_makes_the_baseline_directory_0700_under_any_umask() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    let _ = std::fs::remove_dir_all(root.join("/var/lib/quietwire"));
    let mut c = cmd(&root, &["init"]);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mode = std::fs::metadata(root.join("/var/lib/quietwire"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
}

/// Every baseline state a reader can see is a complete one: the old or the new.
fn assert_complete(file: &Path) {
    let b = std::fs::read_to_string(file).unwrap();
    let last = b.lines().last().unwrap_or_default();
    assert!(
        last.contains("\"trailer\""),
        "incomplete baseline: {last:?}"
    );
}

/// Fault injection: SIGKILL `init`/`accept` at spread-out moments; the baseline is always a
/// complete one (old or new), and after a clean accept no change is lost.
#[test]
fn sigkill_at_random_moments_leaves_a_complete_baseline() {
    let root = TestRoot::new();
    for i in 0..400 {
        write(
            &root,
            &format!("/srv/data/f{i:04}"),
            &format!("{i}\n").repeat(50),
        );
    }
    init(&root);
    for trial in 0u64..8 {
        write(&root, "/srv/data/f0000", &format!("trial {trial}\n"));
        let args: &[&str] = if trial % 2 == 0 {
            &["accept", "--all"]
        } else {
            &["init", "--force"]
        };
        let mut child = cmd(&root, args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5 + trial * 17));
        let _ = child.kill();
        let _ = child.wait();
        assert_complete(&baseline(&root));
    }
    write(&root, "/srv/data/f0000", "final\n");
    let out = qw(&root, &["accept", "/srv/data/f0000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        recorded_sha(&root, "/srv/data/f0000"),
        Some(sha256_hex("final\n"))
    );
    let out = qw(&root, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // The killed runs' temp files are gone after that accept.
    let left: Vec<_> = std::fs::read_dir(root.join("/var/lib/quietwire"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue 13 point 2: a baseline swapped in (by rename) after `check` verified the pinned digest
/// and before it reads the records cannot hide a file: the check fails (exit 18), or the report
/// comes from the pinned baseline.
#[test]
fn a_baseline_renamed_in_during_a_pinned_check_does_not_hide_a_file() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    init(&root);
    let file = baseline(&root);
    let pinned = std::fs::read(&file).unwrap();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&pinned))
    };
    // The attacker's baseline: the same, with the shell accepted.
    write(
        &root,
        "/srv/www/shell.php",
        "<?php system($_GET['c']); ?>\n",
    );
    let out = qw(&root, &["accept", "/srv/www/shell.php"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let evil = root.join("/var/lib/quietwire/evil");
    std::fs::rename(&file, &evil).unwrap();
    std::fs::write(&file, &pinned).unwrap();

    let hook = tempfile::tempdir().unwrap();
    let child = cmd(
        &root,
        &[
            "check",
            "--unowned-only",
            "--format",
            "json",
            "--baseline-digest",
            &digest,
        ],
    )
    .env("QW_TEST_PAUSE_BEFORE_BASELINE_READ", hook.path())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let start = std::time::Instant::now();
    while !hook.path().join("waiting").exists() {
        assert!(
            start.elapsed().as_secs() < 20,
            "the check never opened the baseline"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::rename(&evil, &file).unwrap();
    std::fs::write(hook.path().join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code();
    if code == Some(18) {
        assert!(
            text(&out.stderr).contains("changed while it was being read"),
            "{}",
            text(&out.stderr)
        );
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    let shell = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "/srv/www/shell.php");
    assert!(shell, "the shell is hidden: {}", text(&out.stdout));
    assert_eq!(code.map(|c| c & 1), Some(1), "{}", text(&out.stderr));
    assert_eq!(v["summary"]["baseline_sha256"], digest.as_str());
}

/// Issue 13 point 1: a policy dropped into the root with a volatile rule on `/**` next to a web
/// shell does not make `check` clean: the changed policy is a high finding (exit bit 4), and the
/// baselined paths it stopped checking are listed.
#[test]
fn a_policy_dropped_in_to_blind_the_check_is_itself_a_high_finding() {
    let root = TestRoot::new();
    write(&root, "/srv/www/index.html", "hello\n");
    init(&root);
    write(
        &root,
        "/srv/www/shell.php",
        "<?php system($_GET['c']); ?>\n",
    );
    write(
        &root,
        "/etc/quietwire/policy.toml",
        "version = 1\n[[rule]]\nname = \"blind\"\npaths = [\"/**\"]\nclass = \"volatile\"\n",
    );
    let out = qw(&root, &["check", "--unowned-only", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    let findings = v["findings"].as_array().unwrap();
    let policy = findings
        .iter()
        .find(|f| f["path"] == "/etc/quietwire/policy.toml" && f["kind"] == "changed")
        .unwrap_or_else(|| panic!("no policy finding: {}", text(&out.stdout)));
    assert_eq!(policy["severity"], "high", "{policy}");
    assert!(
        policy["note"].as_str().unwrap().contains("policy changed"),
        "{policy}"
    );
    assert_eq!(
        out.status.code().map(|c| c & 4),
        Some(4),
        "{}",
        text(&out.stderr)
    );
    let unchecked = findings
        .iter()
        .find(|f| f["path"] == "/srv/www/index.html")
        .unwrap_or_else(|| panic!("baselined file silently dropped: {}", text(&out.stdout)));
    assert_eq!(unchecked["kind"], "removed");
    let note = unchecked["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("no longer checked: policy changed"),
        "{unchecked}"
    );
}

/// Run with a hang guard: a run still going after 20 s is killed and the test fails.
fn bounded(mut c: Command) -> Output {
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= 20 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hung: {c:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Issue 13 point 4: a FIFO in place of the policy, the baseline or `rpmdb.sqlite` is a one-line
/// error naming the file, never a hang.
#[test]
fn fifos_in_place_of_quietwires_own_files_do_not_hang() {
    let cases: [(&str, &[&str]); 3] = [
        ("/etc/quietwire/policy.toml", &["policy"]),
        ("/var/lib/quietwire/baseline", &["check", "--unowned-only"]),
        ("/var/lib/rpm/rpmdb.sqlite", &["packages"]),
    ];
    for (file, args) in cases {
        let root = TestRoot::new();
        let p = root.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        root.mkfifo(file, 0o600);
        let out = bounded(cmd(&root, args));
        let err = text(&out.stderr);
        assert!(
            out.status.code().unwrap_or(0) >= 16,
            "{file}: {args:?}: {err}"
        );
        assert!(
            err.contains("not a regular file") && err.contains(file),
            "{file}: {err}"
        );
    }
}

/// A deep tree of long names made of control bytes (six bytes each in JSON) gives baseline
/// lines of several hundred KB. The reader refused lines over 256 KiB that the writer wrote,
/// so one planted tree broke every later check (exit 18) until someone found it.
#[test]
fn a_deep_tree_of_escaped_names_keeps_the_baseline_readable() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let root = TestRoot::new();
    let top = root.join("/var/www/html");
    std::fs::create_dir_all(&top).unwrap();
    let name = std::ffi::CString::new(vec![1u8; 255]).unwrap();
    let mut dir = std::fs::File::open(&top).map(OwnedFd::from).unwrap();
    // Past PATH_MAX: made one level at a time, relative to the last.
    for _ in 0..180 {
        // SAFETY: a NUL-terminated name, relative to an open directory.
        let rc = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        // SAFETY: as above; the result is checked and owned.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: a fresh descriptor owned by nobody else.
        dir = unsafe { OwnedFd::from_raw_fd(fd) };
    }
    init(&root);
    let out = bounded(cmd(&root, &["check", "--unowned-only"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A root with both an rpmdb and a dpkg status file is refused until `--package-manager`
/// chooses: reading rpm's (the old default) let an empty rpmdb planted in a Debian image switch
/// dpkg's verification off. A status file linked out of the root does not count.
#[test]
fn both_package_databases_need_a_choice() {
    let root = TestRoot::new();
    root.install(&["qw-files"]);
    write(&root, "/var/lib/dpkg/status", "");
    let out = bounded(cmd(&root, &["check", "--owned-only"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(17), "{err}");
    assert!(err.contains("--package-manager"), "{err}");
    let out = bounded(cmd(&root, &["packages", "--package-manager", "rpm"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("qw-files"));

    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("status"), "").unwrap();
    std::fs::remove_file(root.join("/var/lib/dpkg/status")).unwrap();
    std::os::unix::fs::symlink(
        host.path().join("status"),
        root.join("/var/lib/dpkg/status"),
    )
    .unwrap();
    let out = bounded(cmd(&root, &["packages"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("qw-files"));
}

/// `check --unowned-only` does nothing but compare with the baseline: without one (deleted by
/// an intruder, say) it must fail, not exit 0 with "0 findings". A full check still verifies
/// the package files and only says how to create the baseline.
#[test]
fn unowned_only_without_a_baseline_is_an_error() {
    let root = TestRoot::new();
    write(
        &root,
        "/var/www/html/shell.php",
        "<?php system($_GET['c']);\n",
    );
    let out = bounded(cmd(&root, &["check", "--unowned-only"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(18), "{err}");
    assert!(err.contains("/var/lib/quietwire/baseline"), "{err}");
    let out = bounded(cmd(&root, &["check"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("quietwire init"), "{err}");
}

/// A character device in place of one of quietwire's own files is refused without being
/// opened: in an offline image a node can name any device of the host (a watchdog arms when it is
/// opened, a tape rewinds). The node here names a device number nothing registers, whose open
/// fails with "No such device or address": that message would show that it was opened.
#[test]
fn device_nodes_in_place_of_quietwires_own_files_are_never_opened() {
    let node = |root: &TestRoot, file: &str| {
        let p = root.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // Major 60: reserved for local and experimental use, never registered here.
        // SAFETY: a NUL-terminated path; the tests run as root.
        let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(60, 7)) };
        assert_eq!(rc, 0, "mknod {}", p.display());
    };
    let keys = tempfile::tempdir().unwrap();
    let prefix = keys.path().join("k");
    let mut keygen = Command::new(support::quietwire_bin());
    keygen.args(["keygen", "--out"]).arg(&prefix);
    let out = bounded(keygen);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let public = format!("{}.pub", prefix.display());
    let secret = format!("{}.key", prefix.display());
    let cases: [(&str, &[&str]); 6] = [
        ("/etc/quietwire/policy.toml", &["policy"]),
        ("/var/lib/rpm/rpmdb.sqlite", &["packages"]),
        ("/var/lib/quietwire/baseline.lock", &["init"]),
        ("/var/lib/quietwire/baseline", &["check", "--unowned-only"]),
        (
            "/var/lib/quietwire/baseline.owned-cache",
            &["check", "--owned-only", "--trust-ctime"],
        ),
        (
            "/var/lib/quietwire/baseline.sig",
            &["check", "--unowned-only", "--verify-key", &public],
        ),
    ];
    for (file, args) in cases {
        let root = TestRoot::new();
        if file.ends_with("baseline.owned-cache") || file.ends_with("baseline.sig") {
            let out = bounded(cmd(
                &root,
                &["init", "--trust-ctime", "--sign-key", &secret],
            ));
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        }
        node(&root, file);
        let out = bounded(cmd(&root, args));
        let err = text(&out.stderr);
        assert!(
            err.contains("not a regular file") && err.contains(file),
            "{file}: {args:?}: {err}"
        );
        assert!(!err.contains("No such device"), "{file} was opened: {err}");
    }
}

/// The rpmdb itself is opened inside the root: an absolute symlink planted as `rpmdb.sqlite` is
/// resolved against the root, never against the host, where it would hand the check a database
/// of the attacker's choosing (here a valid one, listing a package). A link inside the root, as
/// images make to /usr/lib/sysimage/rpm, still leads to the database.
#[test]
fn an_rpmdb_linked_out_of_the_root_is_not_read_from_the_host() {
    let root = TestRoot::new();
    root.install(&["qw-files"]);
    let db = root.dbpath_dir().join("rpmdb.sqlite");
    let host = tempfile::tempdir().unwrap();
    let decoy = host.path().join("rpmdb.sqlite");
    std::fs::rename(&db, &decoy).unwrap();
    std::os::unix::fs::symlink(&decoy, &db).unwrap();
    let out = bounded(cmd(&root, &["packages"]));
    let err = text(&out.stderr);
    assert!(
        !text(&out.stdout).contains("qw-files"),
        "read the host's file: {err}"
    );
    assert!(err.contains("no rpm database found"), "{err}");

    // The same database, linked inside the root with an absolute link, is found.
    std::fs::create_dir_all(root.join("/usr/lib/sysimage/rpm")).unwrap();
    std::fs::rename(&decoy, root.join("/usr/lib/sysimage/rpm/rpmdb.sqlite")).unwrap();
    std::fs::remove_file(&db).unwrap();
    std::os::unix::fs::symlink("/usr/lib/sysimage/rpm/rpmdb.sqlite", &db).unwrap();
    let out = bounded(cmd(&root, &["packages"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("qw-files"));

    // A --root reached through a host symlink is the administrator's choice and works.
    let link = host.path().join("root-link");
    std::os::unix::fs::symlink(root.path(), &link).unwrap();
    let out = bounded(cmd(&link, &["packages"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("qw-files"));
}

/// A FIFO in place of the trusted keys' directory (the policy's `signatures.trusted_keys`) is a
/// warning naming it, and the check goes on; it used to wait forever for a writer. A FIFO among
/// the key files is skipped unopened, and the check still reports the changed file.
#[test]
fn a_fifo_for_the_trusted_keys_is_a_warning_not_a_hang() {
    let root = TestRoot::new();
    root.install(&["qw-files"]);
    let (listed, _) = root.rpm_va();
    assert!(listed.is_empty(), "{listed:?}");
    let changed = root
        .rpm_ql("qw-files")
        .into_iter()
        .find(|f| std::fs::metadata(root.join(f)).is_ok_and(|m| m.is_file()))
        .unwrap();
    std::fs::write(root.join(&changed), "trojaned\n").unwrap();
    let keys = "/etc/pki/rpm-gpg";
    std::fs::create_dir_all(root.join("/etc/pki")).unwrap();
    root.mkfifo(keys, 0o644);
    let out = bounded(cmd(&root, &["check", "--owned-only", "--format", "text"]));
    let err = text(&out.stderr);
    assert!(
        err.contains("neither a directory nor a regular file") && err.contains(keys),
        "{err}"
    );
    assert!(
        text(&out.stdout).contains(&changed),
        "{}",
        text(&out.stdout)
    );

    std::fs::remove_file(root.join(keys)).unwrap();
    std::fs::create_dir_all(root.join(keys)).unwrap();
    root.mkfifo(format!("{keys}/RPM-GPG-KEY-planted"), 0o644);
    let out = bounded(cmd(&root, &["check", "--owned-only", "--format", "text"]));
    assert!(
        text(&out.stdout).contains(&changed),
        "{}",
        text(&out.stderr)
    );
}

/// Issue 13 point 4: a root's policy that is a symlink to a host file is not read (nor quoted).
#[test]
fn a_symlinked_policy_in_the_root_is_not_followed_nor_quoted() {
    let root = TestRoot::new();
    let host = tempfile::tempdir().unwrap();
    let secret = host.path().join("secret");
    std::fs::write(&secret, "SECRET-TOKEN-1234 = [\n").unwrap();
    std::fs::create_dir_all(root.join("/etc/quietwire")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("/etc/quietwire/policy.toml")).unwrap();
    let out = bounded(cmd(&root, &["policy"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(19), "{err}");
    assert!(!err.contains("SECRET-TOKEN"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

/// Issue 13 point 1: an override can never quiet quietwire's own files. With a volatile rule on
/// `/**`, or `inherit = false` and no `watch` at all, a changed binary and changed hook files
/// are still high findings.
#[test]
fn an_override_cannot_quiet_quietwires_own_files() {
    let blinds = [
        "version = 1\n[[rule]]\nname = \"blind\"\npaths = [\"/**\"]\nclass = \"volatile\"\n",
        "version = 1\ninherit = false\n[class.normal]\n",
    ];
    let own = [
        "/usr/local/sbin/quietwire",
        "/usr/libexec/quietwire/post-transaction",
        "/etc/dnf/plugins/post-transaction-actions.d/quietwire.action",
    ];
    for blind in blinds {
        let root = TestRoot::new();
        for f in own {
            write(&root, f, "original\n");
        }
        init(&root);
        for f in own {
            write(&root, f, "trojaned, and longer\n");
        }
        write(&root, "/etc/quietwire/policy.toml", blind);
        let out = qw(&root, &["check", "--unowned-only", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
        let findings = v["findings"].as_array().unwrap();
        for f in own {
            let found = findings
                .iter()
                .find(|x| x["path"] == f && x["kind"] == "changed")
                .unwrap_or_else(|| panic!("{blind:?}: {f} not reported: {}", text(&out.stdout)));
            assert_eq!(found["severity"], "high", "{found}");
        }
        let added = findings
            .iter()
            .find(|x| x["path"] == "/etc/quietwire/policy.toml" && x["kind"] == "added")
            .unwrap_or_else(|| panic!("policy file not reported: {}", text(&out.stdout)));
        assert_eq!(added["severity"], "high", "{added}");
        assert_eq!(out.status.code().map(|c| c & 4), Some(4));
        // What `quietwire policy` shows says so.
        let out = qw(&root, &["policy"]);
        let shown = text(&out.stdout);
        assert!(
            shown.contains("name = \"quietwire-protected\"")
                && shown.contains("\"/usr/local/sbin/quietwire\""),
            "{shown}"
        );
    }
}

/// Issue 13 point 4: a root whose `var/lib/quietwire` is a symlink to a host directory (absolute,
/// or climbing with `..`) does not make `init` or `accept` write there: the link is resolved
/// inside the root, as the root's own system would see it.
#[test]
fn a_symlinked_state_directory_does_not_lead_out_of_the_root() {
    for relative in [false, true] {
        let root = TestRoot::new();
        let host = tempfile::tempdir().unwrap();
        write(&root, "/etc/hosts", "127.0.0.1 localhost\n");
        std::fs::create_dir_all(root.join("/var/lib")).unwrap();
        let target = if relative {
            // Far more `..` than the root is deep: they stop at the root, as after chroot.
            PathBuf::from("../../../../../../../../..").join(host.path().strip_prefix("/").unwrap())
        } else {
            host.path().to_path_buf()
        };
        std::os::unix::fs::symlink(&target, root.join("/var/lib/quietwire")).unwrap();
        let out = qw(&root, &["init"]);
        let host_files: Vec<_> = std::fs::read_dir(host.path()).unwrap().collect();
        assert!(
            host_files.is_empty(),
            "init wrote into the host directory: {host_files:?} ({})",
            text(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let inside = root.join(host.path().to_str().unwrap()).join("baseline");
        assert!(inside.is_file(), "baseline not at {}", inside.display());
        write(&root, "/etc/hosts", "10.0.0.1 evil\n");
        let out = qw(&root, &["accept", "/etc/hosts"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);
        let out = qw(&root, &["check", "--unowned-only"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

/// Issue 13 point 7: a watch entry the walk never enters is named on stderr, not silently
/// dropped.
#[test]
fn a_watch_under_dev_is_named_in_a_warning() {
    let root = TestRoot::new();
    write(
        &root,
        "/etc/quietwire/policy.toml",
        "version = 1\nwatch = [\"/dev/shm\"]\n",
    );
    let out = qw(&root, &["policy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: ")
            && err.contains("policy.toml: watch: \"/dev/shm\" is ignored: /dev is never entered"),
        "{err}"
    );
}

/// Issue 13 point 7: a baseline others could rewrite is named in a warning at check and accept.
#[test]
fn a_world_writable_or_foreign_owned_baseline_is_named_in_a_warning() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    init(&root);
    let file = baseline(&root);
    let out = qw(&root, &["check", "--no-progress"]);
    assert!(
        !text(&out.stderr).contains("warning: baseline"),
        "{}",
        text(&out.stderr)
    );

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = qw(&root, &["check", "--no-progress"]);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: baseline {} is world-writable",
            file.display()
        )),
        "{err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let dir = root.join("/var/lib/quietwire");
    std::os::unix::fs::chown(&dir, Some(4242), None).unwrap();
    let out = qw(&root, &["accept", "/etc/a.conf"]);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: baseline directory {} is owned by uid 4242",
            dir.display()
        )),
        "{err}"
    );
}

/// Issue 13 point 7: on the running system (`--root /`), a baseline whose header names another
/// host was copied in and is named in a warning; for an offline root it is expected.
#[test]
fn a_baseline_from_another_host_is_named_in_a_warning_on_the_running_system() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    init(&root);
    let text_b = std::fs::read_to_string(baseline(&root)).unwrap();
    let (head, rest) = text_b.split_once('\n').unwrap();
    let mut h: serde_json::Value = serde_json::from_str(head).unwrap();
    h["host"] = "elsewhere.example".into();
    let copied = root.join("/copied-baseline");
    std::fs::write(&copied, format!("{h}\n{rest}")).unwrap();
    // The pinned digest is wrong on purpose: the run stops (exit 18) before walking the host.
    let zeros = "0".repeat(64);
    let run = |r: &Path| {
        Command::new(support::quietwire_bin())
            .args(["check", "--no-progress", "--root"])
            .arg(r)
            .arg("--baseline")
            .arg(&copied)
            .args(["--baseline-digest", &zeros])
            .output()
            .unwrap()
    };
    let out = run(Path::new("/"));
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("was made on host elsewhere.example, not on this host"),
        "{err}"
    );
    let out = run(root.path());
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("made on host"),
        "{}",
        text(&out.stderr)
    );
}

/// Issue 13 point 7: a baseline made for one root and used for another (here an image's baseline
/// named with `--baseline` while checking the running system) is named in a warning; the same
/// root spelled differently (a trailing slash) is not.
#[test]
fn a_baseline_made_for_another_root_is_named_in_a_warning() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    init(&root);
    let file = baseline(&root);
    // The pinned digest is wrong on purpose: the run stops (exit 18) before walking anything.
    let zeros = "0".repeat(64);
    let run = |r: &std::ffi::OsStr| {
        Command::new(support::quietwire_bin())
            .args(["check", "--no-progress", "--root"])
            .arg(r)
            .arg("--baseline")
            .arg(&file)
            .args(["--baseline-digest", &zeros])
            .output()
            .unwrap()
    };
    let out = run("/".as_ref());
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "was made for root {}, not for /:",
            root.path().display()
        )),
        "{err}"
    );
    let mut slashed = root.path().as_os_str().to_owned();
    slashed.push("/");
    let out = run(&slashed);
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("was made for root"),
        "{}",
        text(&out.stderr)
    );
}

/// Unmounts a test mount when the test ends, passed or not.
struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

/// Issue 13 fault injection: a disk that fills up while `accept` writes the new baseline
/// (ENOSPC, on a 64 KiB tmpfs) fails the run with the file system's error, leaves the previous
/// baseline byte for byte and no temp file, and `check` still works against it.
#[test]
fn a_full_disk_during_a_baseline_write_keeps_the_previous_baseline() {
    let root = TestRoot::new();
    write(&root, "/etc/a.conf", "a=1\n");
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(mnt)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mount a small tmpfs (the tests run as root)"
    );
    let _unmount = Unmount(mnt);
    let file = mnt.join("baseline");
    let f = file.to_str().unwrap();
    let out = qw(&root, &["init", "--baseline", f]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before = std::fs::read(&file).unwrap();
    // Enough new paths that the next baseline no longer fits in 64 KiB.
    for i in 0..2000 {
        write(
            &root,
            &format!("/etc/many/{i:04}-{}", "x".repeat(100)),
            "x\n",
        );
    }
    let out = qw(&root, &["accept", "--all", "--baseline", f]);
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "accept on a full disk: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the previous baseline is intact"
    );
    let temps: Vec<_> = std::fs::read_dir(mnt)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    let out = qw(&root, &["check", "--unowned-only", "--baseline", f]);
    assert_eq!(
        out.status.code().map(|c| c & 1),
        Some(1),
        "check against the previous baseline reports the added paths: {}",
        text(&out.stderr)
    );
}
