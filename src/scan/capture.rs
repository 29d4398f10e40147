//! Per-path capture for the unowned walk and the baseline: type, mode, owner, size, mtime,
//! SHA-256, link target, SELinux label and file capabilities of one directory entry, read
//! through the file-access layer ([`super::fs`]) without following symlinks and without ever
//! opening a FIFO, socket or device.
//!
//! A regular file is hashed only if the inode opened is the one `lstat` saw, and its digest is
//! kept only if its size and mtime did not move while it was read.

use super::fs::{self, XATTR_CAPS, XATTR_SELINUX};
pub use super::fs::{Dir, FileType, Stat};
use super::hash;
use crate::pkgdb::DigestAlgo;
use std::ffi::OsStr;
use std::io;
use std::path::Path;

/// Everything recorded about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub stat: Stat,
    /// SHA-256 of a regular file's content; `None` when not hashed (not a regular file, a class
    /// whose content is not compared) or when reading failed (then `issue` says why).
    pub sha256: Option<[u8; 32]>,
    /// Whether `sha256` is a sparse file's digest (see [`hash::FileDigest::sparse`]); the record
    /// marks it so that no plain digest can equal it.
    pub sparse: bool,
    /// Symlink target, byte-exact.
    pub target: Option<Vec<u8>>,
    /// `security.selinux` value as stored (usually NUL-terminated).
    pub selinux: Option<Vec<u8>>,
    /// `security.capability` value as stored.
    pub caps: Option<Vec<u8>>,
    /// Why part of the capture is unknown (content changed while reading, unreadable, ...).
    pub issue: Option<String>,
}

/// What could be read of an open regular file: SHA-256 when asked, and both xattrs.
struct FileRead {
    sha256: Option<[u8; 32]>,
    sparse: bool,
    selinux: Option<Vec<u8>>,
    caps: Option<Vec<u8>>,
    /// Set when the file is larger than the hashing cap: what was not checked.
    capped: Option<String>,
    /// The digest is another name's (see [`LinkMemo`]): nothing was read.
    reused: bool,
}

/// What hashing a file gave: its digest, what was not checked when capped, whether the digest
/// is a sparse file's.
type Hashed = Result<([u8; 32], Option<String>, bool), String>;

/// The walk's digests of hard-linked files, so that a file with many names is read once.
pub type LinkMemo = super::inode_memo::InodeMemo<Hashed>;

/// An errno as the issue texts have always shown it (`Permission denied (os error 13)`).
fn os(e: fs::Errno) -> io::Error {
    io::Error::from(e)
}

/// What [`read_open_file`] says when the entry is no longer the file that was listed.
const REPLACED: &str = "replaced between lstat and open (not the file that was listed)";

/// Read `f`, opened as the regular file `now` (its `fstat`).
fn read_open_file(
    f: std::fs::File,
    now: Stat,
    hash: Option<u64>,
    memo: Option<&LinkMemo>,
) -> io::Result<FileRead> {
    let selinux = fs::file_xattr(&f, XATTR_SELINUX)?;
    let caps = fs::file_xattr(&f, XATTR_CAPS)?;
    let mut reused = false;
    let (sha256, capped, sparse) = match (hash, memo) {
        (None, _) => (None, None, false),
        (Some(cap), None) => {
            let (d, c, sparse) = hash_open_file(&f, now, cap)?;
            (Some(d), c, sparse)
        }
        (Some(cap), Some(memo)) => {
            let (hashed, from_memo) = memo.get_or_compute(&now, || {
                hash_open_file(&f, now, cap).map_err(|e| e.to_string())
            });
            reused = from_memo;
            let (d, c, sparse) = hashed.map_err(io::Error::other)?;
            (Some(d), c, sparse)
        }
    };
    Ok(FileRead {
        sha256,
        sparse,
        selinux,
        caps,
        capped,
        reused,
    })
}

/// The SHA-256 of `f`, opened as the regular file `now`, hashing at most `cap` bytes of data;
/// with what was not checked when capped, and whether the digest is a sparse file's.
fn hash_open_file(
    f: &std::fs::File,
    now: Stat,
    cap: u64,
) -> io::Result<([u8; 32], Option<String>, bool)> {
    let mut capped = None;
    let sparse;
    let sha256 = {
        // The per-thread 256 KiB buffer of `hash`: no allocation per file, no dup of the fd.
        // Holes are skipped and data is hashed only up to the cap: a `truncate -s 16T` file
        // must not stall the run. The size is the `fstat` one, so a growing file ends too.
        let r = hash::hash_file(DigestAlgo::Sha256, f, now.size, cap, hash::Holes::Skip)?;
        if !r.complete {
            capped = Some(format!(
                "not fully checked: holds more data than max_hash_bytes ({cap} bytes); only the first {cap} bytes were compared"
            ));
        }
        let d = r.digest;
        sparse = r.sparse;
        let after = fs::fstat(f)?;
        if after.size != now.size || after.mtime != now.mtime {
            return Err(io::Error::other("content changed while it was being read"));
        }
        let mut out = [0u8; 32];
        if d.as_bytes().len() != out.len() {
            return Err(io::Error::other("internal error: SHA-256 digest length"));
        }
        out.copy_from_slice(d.as_bytes());
        out
    };
    Ok((sha256, capped, sparse))
}

/// Capture the entry `name` of `dir`, whose `lstat` result is `seen`. Regular files are hashed
/// when `hash` is set. Never opens anything but a regular file or a directory.
///
/// A failure after the `lstat` (unreadable, replaced, changing) does not lose the entry: the
/// capture keeps the `lstat` data and says in `issue` what is unknown.
pub fn capture_entry(dir: &Dir, name: &OsStr, seen: &Stat, hash: bool) -> Capture {
    capture_entry_capped(dir, name, seen, hash, hash::DEFAULT_MAX_HASH_BYTES, None).0
}

/// [`capture_entry`] hashing at most `max_hash` bytes of data (the policy's `max_hash_bytes`);
/// a larger file keeps the digest of what was hashed and says in `issue` that it is partial.
/// A file with several names is hashed once per `memo`; true with the capture when its digest
/// is another name's (nothing was read).
pub fn capture_entry_capped(
    dir: &Dir,
    name: &OsStr,
    seen: &Stat,
    hash: bool,
    max_hash: u64,
    memo: Option<&LinkMemo>,
) -> (Capture, bool) {
    let mut reused = false;
    let mut cap = Capture {
        stat: *seen,
        sha256: None,
        sparse: false,
        target: None,
        selinux: None,
        caps: None,
        issue: None,
    };
    let mut issue = |what: String| {
        if cap.issue.is_none() {
            cap.issue = Some(what);
        }
    };
    match seen.ftype {
        FileType::File => match dir.open_regular(name, seen) {
            Ok((f, now)) => match read_open_file(f, now, hash.then_some(max_hash), memo) {
                Ok(r) => {
                    reused = r.reused;
                    cap.sha256 = r.sha256;
                    cap.sparse = r.sparse;
                    cap.selinux = r.selinux;
                    cap.caps = r.caps;
                    if let Some(what) = r.capped {
                        issue(what);
                    }
                }
                Err(e) => issue(format!("cannot read: {e}")),
            },
            Err(fs::OpenError::Swapped) => issue(format!("cannot read: {REPLACED}")),
            Err(fs::OpenError::Sys(e)) => issue(format!("cannot open: {}", os(e))),
        },
        FileType::Dir => match dir.open_child(name) {
            Ok(d) => match d.stat() {
                Ok(st) if st.ino == seen.ino && st.dev == seen.dev => {
                    cap.selinux = d.xattr(XATTR_SELINUX).unwrap_or_else(|e| {
                        issue(format!("cannot read SELinux label: {}", os(e)));
                        None
                    });
                }
                Ok(_) => issue("replaced between lstat and open".into()),
                Err(e) => issue(format!("cannot stat: {}", os(e))),
            },
            Err(e) => issue(format!("cannot open directory: {}", os(e))),
        },
        FileType::Symlink
        | FileType::Fifo
        | FileType::Socket
        | FileType::Char
        | FileType::Block => {
            if seen.ftype == FileType::Symlink {
                match dir.readlink(name) {
                    Ok(t) => cap.target = Some(t),
                    Err(e) => issue(format!("cannot read link: {}", os(e))),
                }
            }
            // Special files are never opened: their label is read through the directory.
            match dir.entry_xattr(name, XATTR_SELINUX) {
                Ok(v) => cap.selinux = v,
                Err(e) => issue(format!("cannot read SELinux label: {}", os(e))),
            }
        }
    }
    (cap, reused)
}

/// The package's digest of a regular file at an absolute `path` inside the root, in the package's
/// algorithm (lower-case hex), opened without following symlinks in any component. Used only to
/// tell "changed since the baseline because the package shipped a new version" from an edit.
pub fn package_digest(root: &Dir, path: &Path, algo: DigestAlgo) -> io::Result<String> {
    let parent = path
        .parent()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let dir = root.open_dir_path(parent)?;
    let seen = dir.lstat(name)?;
    if seen.ftype != FileType::File {
        return Err(io::Error::other("not a regular file"));
    }
    let (f, _) = dir.open_regular(name, &seen).map_err(|e| match e {
        fs::OpenError::Sys(e) => io::Error::from(e),
        fs::OpenError::Swapped => io::Error::other("replaced between lstat and open"),
    })?;
    hash::hash_logical(algo, &f, hash::DEFAULT_MAX_HASH_BYTES).map(|d| d.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    #[test]
    fn regular_file_symlink_and_fifo() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), b"hello").unwrap();
        symlink("/etc/passwd", t.path().join("l")).unwrap();
        let fifo = CString::new(t.path().join("p").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let d = Dir::open_root(t.path()).unwrap();
        assert_eq!(d.entries().unwrap(), ["f", "l", "p"]);
        let f = OsStr::new("f");
        let c = capture_entry(&d, f, &d.lstat(f).unwrap(), true);
        assert_eq!(
            hex::encode(c.sha256.unwrap()),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(c.issue, None);
        let l = OsStr::new("l");
        let c = capture_entry(&d, l, &d.lstat(l).unwrap(), true);
        assert_eq!(c.stat.ftype, FileType::Symlink);
        assert_eq!(c.target.as_deref(), Some(&b"/etc/passwd"[..]));
        assert_eq!(c.sha256, None);
        // A FIFO is captured from lstat alone: opening it would block (or not, with O_NONBLOCK,
        // but a device could have side effects), so it is never opened.
        let p = OsStr::new("p");
        let c = capture_entry(&d, p, &d.lstat(p).unwrap(), true);
        assert_eq!(c.stat.ftype, FileType::Fifo);
        assert_eq!((c.sha256, c.issue), (None, None));
    }

    #[test]
    fn file_replaced_between_lstat_and_open_is_not_hashed() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a"), b"original").unwrap();
        std::fs::write(t.path().join("b"), b"swapped in").unwrap();
        let d = Dir::open_root(t.path()).unwrap();
        let seen = d.lstat(OsStr::new("a")).unwrap();
        std::fs::rename(t.path().join("b"), t.path().join("a")).unwrap();
        let c = capture_entry(&d, OsStr::new("a"), &seen, true);
        assert_eq!(c.sha256, None);
        assert!(c.issue.unwrap().contains("replaced"));
    }
}
