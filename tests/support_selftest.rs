//! Tests of the test harness in `tests/support/`: the fixture packages build and have the
//! headers the docs promise, a root with all of them installed verifies clean under the real
//! `rpm -Va`, tampering is reported, BDB copies read back like the sqlite rpmdb, and the
//! `qw-upgrade` 1.0 → 2.0 upgrade behaves as documented. Needs root and Debian's rpm.

mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;

use support::{
    assert_lines_eq, assert_lines_eq_sorted, build_packages, run_command, TestRoot, INSTALL_ALL,
};

fn qp(key: &str, qf: &str) -> String {
    build_packages().query(key, qf)
}

#[test]
fn all_packages_build_with_the_documented_headers() {
    let pkgs = build_packages();
    let keys: Vec<&str> = pkgs.keys().collect();
    assert_lines_eq(
        "fixture keys",
        &[
            "qw-files",
            "qw-md5",
            "qw-sha512",
            "qw-shared-a",
            "qw-shared-b",
            "qw-shared-c",
            "qw-special",
            "qw-upgrade-1",
            "qw-upgrade-2",
        ],
        &keys,
    );
    let host_arch = run_command(std::process::Command::new("rpm").args(["--eval", "%{_arch}"]))
        .success()
        .stdout_str();
    let host_arch = host_arch.trim();
    for key in pkgs.keys() {
        let nevra = qp(key, "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}");
        let (name, version) = match key.strip_prefix("qw-upgrade-") {
            Some(v) => ("qw-upgrade".to_owned(), format!("{v}.0")),
            None => (key.to_owned(), "1.0".to_owned()),
        };
        let arch = if key == "qw-sha512" {
            host_arch
        } else {
            "noarch"
        };
        assert_eq!(
            nevra,
            format!("{name}-{version}-1.{arch}"),
            "NEVRA of {key}"
        );
    }
    // Digest algorithms: MD5 without the tag, SHA-256, SHA-512.
    assert_eq!(qp("qw-md5", "%{FILEDIGESTALGO}"), "(none)");
    assert_eq!(qp("qw-files", "%{FILEDIGESTALGO}"), "8");
    assert_eq!(qp("qw-sha512", "%{FILEDIGESTALGO}"), "10");
    assert_eq!(
        qp("qw-md5", "[%{FILEDIGESTS}\n]")
            .lines()
            .find(|d| !d.is_empty())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        qp("qw-sha512", "[%{FILEDIGESTS}\n]")
            .lines()
            .find(|d| !d.is_empty())
            .unwrap()
            .len(),
        128
    );
    // File flags, verify flags, caps and devices that the module docs promise.
    let files = qp(
        "qw-files",
        "[%{FILEFLAGS:fflags} %{FILEVERIFYFLAGS:hex} %{FILENAMES}\n]",
    );
    for want in [
        "dc ffffffff /opt/qw-files/cfgdoc",
        "cn ffffffff /etc/qw-files/noreplace.conf",
        "cm ffffffff /etc/qw-files/missingok.conf",
        "r ffffffff /opt/qw-files/readme",
        "a ffffffff /opt/qw-files/artifact",
        "m ffffffff /opt/qw-files/missingok",
        "g ffffffd8 /opt/qw-files/ghostdir",
        "l ffffffff /opt/qw-files/lic",
        " 63 /opt/qw-files/v-only",
        " fffffe00 /opt/qw-files/v-none",
        " ffffffff /opt/qw-files/日本語.txt",
        " ffffffff /opt/qw-files/dir with space/inner file",
    ] {
        assert!(
            files.lines().any(|l| l == want),
            "qw-files lacks {want:?}:\n{files}"
        );
    }
    let special = qp("qw-special", "[%{FILEMODES:octal} %{FILERDEVS} %{FILEUSERNAME}:%{FILEGROUPNAME} (%{FILECAPS}) %{FILENAMES}\n]");
    for want in [
        "20666 259 root:root () /opt/qw-special/cdev",
        "60660 1792 root:disk () /opt/qw-special/bdev",
        "100644 0 root:root (=) /opt/qw-special/capempty",
        "100644 0 root:root (cap_net_raw=ep) /opt/qw-special/capf",
        "104755 0 nosuchuser:root () /opt/qw-special/suid-unknown",
        "102755 0 root:nosuchgroup () /opt/qw-special/sgid-unknown",
    ] {
        assert!(
            special.lines().any(|l| l == want),
            "qw-special lacks {want:?}:\n{special}"
        );
    }
}

#[test]
fn everything_installed_verifies_clean() {
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
    let qa = root.rpm_qa();
    assert_eq!(qa.len(), INSTALL_ALL.len(), "rpm -qa: {qa:?}");
    assert!(
        qa.iter().all(|l| l.split('\t').nth(1) == Some("(none)")),
        "{qa:?}"
    );
    let (lines, code) = root.rpm_va();
    assert_lines_eq("rpm -Va after install", &[] as &[&str], &lines);
    assert_eq!(code, 0);
    // Owners resolved through the root's passwd/group, not the host's.
    let m = fs::symlink_metadata(root.join("/opt/qw-special/owned-bin")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1, 2));
    let m = fs::symlink_metadata(root.join("/opt/qw-special/suid-unknown")).unwrap();
    assert_eq!(
        (m.uid(), m.mode() & 0o7777),
        (0, 0o755),
        "unknown owner: root-owned, no suid bit"
    );
    // The verbose listing covers every file, including ghosts that are not on disk.
    let (verbose, code) = root.verify(&["-Vva"]);
    assert_eq!(code, 0);
    for want in [
        "missing   g /opt/qw-files/ghostdir",
        ".........  r /opt/qw-files/readme",
        ".........    /opt/qw-special/cdev",
    ] {
        assert!(
            verbose.iter().any(|l| l == want),
            "rpm -Vva lacks {want:?}:\n{verbose:#?}"
        );
    }
}

#[test]
fn tampering_is_reported() {
    let root = TestRoot::new();
    root.install(&["qw-files", "qw-special"]);
    fs::write(root.join("/opt/qw-files/reg"), "tampered, and longer\n").unwrap();
    // Same size, mtime kept: only the digest differs.
    root.rewrite_keep_mtime("/etc/qw-files/replace.conf", "replace=2\n");
    // A symlink's own mtime is not checked, a FIFO nobody owns is not rpm's business.
    root.set_mtime("/opt/qw-special/link", 1);
    root.mkfifo("/opt/qw-special/fifo", 0o644);
    fs::remove_file(root.join("/opt/qw-special/hl2")).unwrap();
    let (lines, code) = root.rpm_va();
    assert_lines_eq_sorted(
        "rpm -Va after tampering",
        &[
            "..5......  c /etc/qw-files/replace.conf",
            "S.5....T.    /opt/qw-files/reg",
            "missing     /opt/qw-special/hl2",
        ],
        &lines,
    );
    assert_eq!(code, 1);
    let (lines, code) = root.rpm_v("qw-special");
    assert_lines_eq(
        "rpm -V qw-special",
        &["missing     /opt/qw-special/hl2"],
        &lines,
    );
    assert_eq!(code, 1);
}

#[test]
#[should_panic(expected = "install Debian's `no-such-package` package")]
fn missing_tools_fail_loudly() {
    support::require_tool("qw-no-such-tool", "no-such-package");
}

#[test]
#[should_panic(expected = "lines differ")]
fn line_diff_assertion_fails_on_a_difference() {
    assert_lines_eq("demo", &["a", "b"], &["a", "c"]);
}

#[test]
fn shared_file_replaced_state() {
    let root = TestRoot::new();
    root.install(&["qw-shared-a", "qw-shared-b"]);
    assert_eq!(
        root.rpm_va(),
        (vec![], 0),
        "same content, different mtimes: clean"
    );
    root.install_with(&["qw-shared-c"], &["--replacefiles"]);
    let (lines, code) = root.rpm_va();
    assert_lines_eq_sorted(
        "rpm -Va after qw-shared-c --replacefiles",
        &[
            ".........    /opt/qw-shared/shared (replaced)",
            ".........    /opt/qw-shared/shared (replaced)",
        ],
        &lines,
    );
    assert_eq!(code, 0);
}

#[test]
fn bdb_copies_read_like_sqlite() {
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
    let mut want = root.rpm_qa();
    want.sort();
    for page_size in [512u32, 4096, 65536] {
        for big_endian in [false, true] {
            let dir = root.to_bdb(page_size, big_endian);
            let file = fs::read(dir.join("Packages")).unwrap();
            // Hash meta page: magic 0x061561 at offset 12, page size at 20, file byte order.
            let u32_at = |o: usize| {
                let b: [u8; 4] = file[o..o + 4].try_into().unwrap();
                if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            };
            assert_eq!(u32_at(12), 0x061561, "hash magic in {}", dir.display());
            assert_eq!(u32_at(20), page_size, "page size of {}", dir.display());
            let mut got = root.rpm_qa_bdb(&dir);
            got.sort();
            assert_lines_eq(
                &format!("rpm -qa via bdb_ro, {page_size} bytes, big_endian={big_endian}"),
                &want,
                &got,
            );
        }
    }
}

#[test]
fn upgrade_1_to_2() {
    let root = TestRoot::new();
    root.install(&["qw-upgrade-1"]);
    fs::write(root.join("/etc/qw-upgrade/noreplace.conf"), "edited\n").unwrap();
    fs::write(root.join("/etc/qw-upgrade/replace.conf"), "edited\n").unwrap();
    root.upgrade("qw-upgrade-2");
    let qa = root.rpm_qa();
    assert_eq!(qa.len(), 1);
    assert!(
        qa[0].ends_with("\t(none)\tqw-upgrade-2.0-1.noarch"),
        "{qa:?}"
    );
    assert!(!root.join("/opt/qw-upgrade/removed-in-2").exists());
    assert_eq!(
        fs::read_to_string(root.join("/opt/qw-upgrade/changed")).unwrap(),
        "two\n"
    );
    assert_eq!(
        fs::read_link(root.join("/opt/qw-upgrade/link"))
            .unwrap()
            .to_str(),
        Some("changed")
    );
    assert_eq!(
        fs::read_to_string(root.join("/etc/qw-upgrade/noreplace.conf.rpmnew")).unwrap(),
        "noreplace=2\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("/etc/qw-upgrade/replace.conf.rpmsave")).unwrap(),
        "edited\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("/etc/qw-upgrade/replace.conf")).unwrap(),
        "replace=2\n"
    );
    let (lines, code) = root.rpm_va();
    assert_lines_eq(
        "rpm -Va after upgrade",
        &["S.5....T.  c /etc/qw-upgrade/noreplace.conf"],
        &lines,
    );
    assert_eq!(code, 1);
    assert!(root
        .rpm_ql("qw-upgrade")
        .contains(&"/opt/qw-upgrade/added-in-2".to_owned()));
    let dump = root.rpm_dump("qw-upgrade");
    assert!(
        dump.iter().any(
            |l| l.starts_with("/opt/qw-upgrade/modechange 11 1578009600 ")
                && l.contains(" 0100755 ")
        ),
        "{dump:#?}"
    );
    assert_eq!(root.query_format("qw-upgrade", "%{VERSION}"), "2.0");
}
