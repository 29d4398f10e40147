//! Paths inside a checked root, resolved as `chroot` would.
//!
//! When quietwire checks an offline root (`--root /mnt/sysimage`), an absolute symlink such as
//! `/var/lib/rpm -> /usr/lib/sysimage/rpm` means a path in that root, not on the host, and `..`
//! must not climb out of it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one resolution before giving up, as Linux's MAXSYMLINKS.
const MAX_SYMLINKS: u32 = 40;

/// Join an absolute-or-relative `path` under `root` lexically, never climbing above `root`.
pub fn join_in_root(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for c in path.components() {
        match c {
            Component::Normal(n) => {
                out.push(n);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}

fn push_components(queue: &mut VecDeque<OsString>, path: &Path) {
    for c in path.components().rev() {
        match c {
            Component::Normal(n) => queue.push_front(n.to_os_string()),
            Component::ParentDir => queue.push_front(OsString::from("..")),
            _ => {}
        }
    }
}

/// Resolve `path` inside `root` following symlinks like the kernel would after `chroot(root)`:
/// absolute targets restart at `root`, `..` stops at `root`. The last component is followed only
/// when `follow_last` is set. Components that do not exist are appended as they are, so the
/// result names where the path would be. Returns the host path (under `root`).
pub fn resolve_in_root(root: &Path, path: &Path, follow_last: bool) -> io::Result<PathBuf> {
    let mut queue = VecDeque::new();
    push_components(&mut queue, path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0u32;
    let mut missing = false;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let is_last = queue.is_empty();
        if missing || (is_last && !follow_last) {
            resolved.push(name);
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                push_components(&mut queue, &target);
            }
            Ok(_) => resolved.push(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = true;
                resolved.push(name);
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lexical_join_cannot_escape() {
        let r = Path::new("/r");
        assert_eq!(
            join_in_root(r, Path::new("/a/../../b")),
            PathBuf::from("/r/b")
        );
        assert_eq!(
            join_in_root(r, Path::new("var/lib/rpm")),
            PathBuf::from("/r/var/lib/rpm")
        );
    }

    #[test]
    fn symlinks_resolve_inside_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib/sysimage/rpm")).unwrap();
        std::fs::create_dir_all(r.join("var/lib")).unwrap();
        symlink("/usr/lib/sysimage/rpm", r.join("var/lib/rpm")).unwrap();
        symlink("../../../../../..", r.join("usr/up")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        assert_eq!(
            resolve_in_root(r, Path::new("/var/lib/rpm/Packages"), true).unwrap(),
            r.join("usr/lib/sysimage/rpm/Packages")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("/usr/up/etc"), true).unwrap(),
            r.join("etc")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("/var/lib/rpm"), false).unwrap(),
            r.join("var/lib/rpm")
        );
        let e = resolve_in_root(r, Path::new("/loop1/x"), true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }
}
