//! A file system mounted over a watched directory (or a btrfs subvolume there: its own device
//! number) must not blind the check: the walk does not enter it, so unless the policy watches or
//! expects it, it is a high finding; and a baselined directory replaced by a mount has another
//! inode, a metadata change. Needs root (tmpfs mounts), like every test root.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{qw, text, TestRoot};

/// A tmpfs mounted for the guard's life (lazily unmounted on drop, even on a failed assert).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=0755", "none"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(st.success(), "mount tmpfs on {} (needs root)", at.display());
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn root_with_policy(policy: &str) -> TestRoot {
    let root = TestRoot::new();
    std::fs::create_dir_all(root.join("/etc/quietwire")).unwrap();
    std::fs::write(root.join("/etc/quietwire/policy.toml"), policy).unwrap();
    std::fs::create_dir_all(root.join("/srv/bin")).unwrap();
    std::fs::write(root.join("/srv/ok"), "ok\n").unwrap();
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    root
}

fn check_json(root: &TestRoot) -> (Value, i32) {
    let out = qw(root, &["check", "--no-progress", "--format", "json"]);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (doc, out.status.code().unwrap_or(-1))
}

fn finding<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
}

fn plant_setuid(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let f = dir.join("sudo");
    std::fs::write(&f, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
}

#[test]
fn a_mount_over_a_watched_directory_is_a_high_finding() {
    let root = root_with_policy("version = 1\nwatch = [\"/srv\"]\n");
    let _m = Tmpfs::mount(&root.join("/srv/bin"));
    plant_setuid(&root.join("/srv/bin"));

    let (doc, code) = check_json(&root);
    let f = finding(&doc, "/srv/bin").unwrap_or_else(|| panic!("no finding on /srv/bin: {doc}"));
    let sev = f["severity"].as_str().unwrap();
    assert!(sev == "high" || sev == "critical", "{f}");
    assert!(f.to_string().contains("another file system"), "{f}");
    assert!(f.to_string().contains("inode"), "{f}");
    assert_ne!(code, 0, "{doc}");
    assert!(code < 16, "a finding, not an error: {code}");

    let out = qw(&root, &["check", "--no-progress"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("/srv/bin"), "text report: {stdout}");
    assert!(stdout.contains("not checked below here"), "{stdout}");
}

#[test]
fn an_expected_mount_is_not_entered_but_its_replacement_is_still_seen() {
    let root =
        root_with_policy("version = 1\nwatch = [\"/srv\"]\nexpected_mounts = [\"/srv/b*\"]\n");
    let _m = Tmpfs::mount(&root.join("/srv/bin"));
    plant_setuid(&root.join("/srv/bin"));

    let (doc, code) = check_json(&root);
    assert!(!doc.to_string().contains("another file system"), "{doc}");
    // The directory's own record: a tmpfs root is another inode than the directory it covers.
    let f = finding(&doc, "/srv/bin").unwrap_or_else(|| panic!("no finding on /srv/bin: {doc}"));
    assert!(
        f["changes"].to_string().contains("inode"),
        "inode change expected: {f}"
    );
    assert_ne!(code, 0, "{doc}");

    // Mounted at init too: expected, so quiet.
    let out = qw(&root, &["init", "--force"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("another file system"));
    let (doc, code) = check_json(&root);
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn a_mount_listed_in_watch_is_walked() {
    let root = root_with_policy("version = 1\nwatch = [\"/srv\", \"/srv/bin\"]\n");
    let _m = Tmpfs::mount(&root.join("/srv/bin"));
    plant_setuid(&root.join("/srv/bin"));

    let (doc, code) = check_json(&root);
    assert!(!doc.to_string().contains("another file system"), "{doc}");
    let f = finding(&doc, "/srv/bin/sudo").unwrap_or_else(|| panic!("sudo not seen: {doc}"));
    assert_eq!(f["severity"], "high", "{f}");
    assert_ne!(code, 0);
}
