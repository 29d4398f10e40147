//! The unowned walk under hostile conditions: paths vanishing mid-walk, unreadable files,
//! order of the stream, pseudo file systems.

use quietwire::pkgdb::OwnedIndex;
use quietwire::policy::Policy;
use quietwire::scan::capture::{capture_entry, Dir};
use quietwire::scan::walk::Walker;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

fn policy_watching(trees: &str) -> Policy {
    Policy::from_override_str("test", &format!("version = 1\nwatch = [{trees}]\n")).unwrap()
}

#[test]
fn walk_yields_paths_in_path_order() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for d in ["srv/a", "srv/a/b", "srv/a-b", "srv/a.b", "srv/a/b-c"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    for f in ["srv/a/x", "srv/a-b/y", "srv/a.b/z", "srv/a/b/q", "srv/a0"] {
        fs::write(r.join(f), "x").unwrap();
    }
    let p = policy_watching("\"/srv\"");
    let owned = OwnedIndex::new();
    let got: Vec<PathBuf> = Walker::new(r, &p, &owned)
        .unwrap()
        .map(|e| e.path)
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(
        got, sorted,
        "walk order must be Path order (the baseline's order)"
    );
    assert_eq!(got.len(), 11, "{got:?}");
    assert_eq!(got[0], Path::new("/srv"));
}

#[test]
fn directory_vanishing_during_the_walk_is_an_issue_not_an_error() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("srv/gone/deeper")).unwrap();
    fs::write(r.join("srv/gone/deeper/f"), "x").unwrap();
    fs::write(r.join("srv/keep"), "x").unwrap();
    let p = policy_watching("\"/srv\"");
    let owned = OwnedIndex::new();
    let mut w = Walker::new(r, &p, &owned).unwrap();
    // The first entry is /srv itself: its listing is read, /srv/gone not yet entered.
    assert_eq!(w.next().unwrap().path, Path::new("/srv"));
    fs::remove_dir_all(r.join("srv/gone")).unwrap();
    let rest: Vec<PathBuf> = w.by_ref().map(|e| e.path).collect();
    assert_eq!(rest, [PathBuf::from("/srv/keep")]);
    let issues = w.take_issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, Path::new("/srv/gone"));
    assert!(issues[0].what.contains("vanished"), "{issues:?}");
}

#[test]
fn unreadable_file_is_recorded_with_an_issue() {
    // Tests run as root, whom file modes do not stop. Capabilities are per thread on Linux:
    // drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH in a fresh thread only, so that a mode-000
    // file really is unreadable there.
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("secret");
    fs::write(&f, "s3cret").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&f, fs::Permissions::from_mode(0o000)).unwrap();
    let dir = t.path().to_path_buf();
    let cap = std::thread::spawn(move || {
        drop_dac_capabilities();
        let d = Dir::open_root(&dir).unwrap();
        let name = OsStr::new("secret");
        let st = d.lstat(name).unwrap();
        capture_entry(&d, name, &st, true)
    })
    .join()
    .unwrap();
    assert_eq!(cap.sha256, None);
    assert_eq!(cap.stat.mode, 0);
    let issue = cap.issue.unwrap();
    assert!(issue.contains("Permission denied"), "{issue}");
}

/// Clear CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2) from this thread's effective set.
fn drop_dac_capabilities() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const V3: u32 = 0x2008_0522;
    let mut h = Header {
        version: V3,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data words, as capabilities(7) describes.
    unsafe {
        assert_eq!(libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()), 0);
        d[0].effective &= !((1 << 1) | (1 << 2));
        h.version = V3;
        assert_eq!(libc::syscall(libc::SYS_capset, &h, d.as_ptr()), 0);
    }
}

#[test]
fn proc_is_never_entered_even_when_watched() {
    // Watch the host's / as root with a policy that has no volatile rules at all: /proc, /sys
    // and /dev must still be skipped (by path and by file system type). Only the top levels are
    // checked, through a bounded walk.
    let p = Policy::from_override_str(
        "t",
        "version = 1\ninherit = false\nwatch = [\"/proc\", \"/sys\", \"/dev\"]\n[class.normal]\nadded = \"low\"\n",
    )
    .unwrap();
    let owned = OwnedIndex::new();
    let mut w = Walker::new(Path::new("/"), &p, &owned).unwrap();
    assert!(w.next().is_none());
}
