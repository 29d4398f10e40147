//! Per-path capture for the unowned walk and the baseline: type, mode, owner, size, mtime,
//! SHA-256, link target, SELinux label and file capabilities, read without following symlinks
//! and without ever opening a FIFO, socket or device.
//!
//! Everything is relative to an open directory descriptor ([`Dir`]): a directory is entered with
//! `openat(O_DIRECTORY | O_NOFOLLOW)`, so a directory swapped for a symlink between listing and
//! entering cannot lead the walk outside the root. A regular file is opened with
//! `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY` (and `O_NOATIME` when permitted) and hashed only if `fstat`
//! shows the same inode that `lstat` saw.
//!
//! This is the baseline engineer's own capture, kept apart from the scan engineer's owned-file
//! primitives (`src/scan/` on the `scan` branch) until those reach main; then the open/hash core
//! here should call them instead.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path};

/// Largest xattr value read (SELinux labels and capability blobs are far smaller).
const MAX_XATTR: usize = 64 * 1024;

/// File system magics that are never walked, whatever their path (`statfs(2)`).
const PSEUDO_FS_MAGICS: [i64; 10] = [
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x1cd1,      // devpts
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x6462_6720, // debugfs
    0x7363_6673, // securityfs
    0x7472_6163, // tracefs
    0xcafe_4a11, // bpf
    0xf97c_ff8c, // selinuxfs
];

/// File type, from the `S_IFMT` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Char,
    Block,
}

impl FileType {
    pub fn from_mode(mode: u32) -> Option<FileType> {
        match mode & libc::S_IFMT {
            libc::S_IFREG => Some(FileType::File),
            libc::S_IFDIR => Some(FileType::Dir),
            libc::S_IFLNK => Some(FileType::Symlink),
            libc::S_IFIFO => Some(FileType::Fifo),
            libc::S_IFSOCK => Some(FileType::Socket),
            libc::S_IFCHR => Some(FileType::Char),
            libc::S_IFBLK => Some(FileType::Block),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FileType::File => "file",
            FileType::Dir => "dir",
            FileType::Symlink => "symlink",
            FileType::Fifo => "fifo",
            FileType::Socket => "socket",
            FileType::Char => "char",
            FileType::Block => "block",
        }
    }
}

/// The `lstat` fields quietwire keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub ftype: FileType,
    /// Permission bits including setuid, setgid and sticky (`st_mode & 07777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Modification time, whole seconds.
    pub mtime: i64,
    /// Status change time in nanoseconds since the epoch (for `--trust-ctime`).
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
    pub rdev: u64,
}

impl Stat {
    fn from_raw(st: &libc::stat) -> io::Result<Stat> {
        let ftype = FileType::from_mode(st.st_mode).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unknown file type in st_mode")
        })?;
        Ok(Stat {
            ftype,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: st.st_mtime,
            ctime_ns: st
                .st_ctime
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_ctime_nsec),
            ino: st.st_ino,
            dev: st.st_dev,
            rdev: st.st_rdev,
        })
    }
}

/// Everything recorded about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub stat: Stat,
    /// SHA-256 of a regular file's content; `None` when not hashed (not a regular file, a class
    /// whose content is not compared) or when reading failed (then `issue` says why).
    pub sha256: Option<[u8; 32]>,
    /// Symlink target, byte-exact.
    pub target: Option<Vec<u8>>,
    /// `security.selinux` value as stored (usually NUL-terminated).
    pub selinux: Option<Vec<u8>>,
    /// `security.capability` value as stored.
    pub caps: Option<Vec<u8>>,
    /// Why part of the capture is unknown (content changed while reading, unreadable, ...).
    pub issue: Option<String>,
}

/// An open directory, the anchor for every access below it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Dir {
    /// Open the top of the checked root (following symlinks: the administrator named it).
    pub fn open_root(root: &Path) -> io::Result<Dir> {
        let c = cstr(root.as_os_str())?;
        // SAFETY: `c` is a valid NUL-terminated string; the returned fd is owned below.
        let fd = check(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned by open and is owned by nobody else.
        Ok(Dir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Enter a child directory without following a symlink in its place.
    pub fn open_child(&self, name: &OsStr) -> io::Result<Dir> {
        let c = cstr(name)?;
        // SAFETY: valid dirfd and C string; the fd is owned below.
        let fd = check(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: fresh fd from openat.
        Ok(Dir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Open an absolute path inside the root one component at a time, refusing symlinks in any
    /// component (`ENOTDIR` or `ELOOP`). The root itself for `/`.
    pub fn open_dir_path(&self, path: &Path) -> io::Result<Dir> {
        let mut cur = self.try_clone()?;
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => cur = cur.open_child(n)?,
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL))
                }
            }
        }
        Ok(cur)
    }

    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
        })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `lstat` of an entry.
    pub fn lstat(&self, name: &OsStr) -> io::Result<Stat> {
        let c = cstr(name)?;
        // SAFETY: zeroed `stat` is a valid out-buffer; dirfd and name are valid.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        check(unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        Stat::from_raw(&st)
    }

    /// `fstat` of the directory itself.
    pub fn stat(&self) -> io::Result<Stat> {
        fstat(self.fd.as_raw_fd())
    }

    /// Whether the directory is on a pseudo file system (proc, sysfs, devpts, cgroup, ...).
    pub fn is_pseudo_fs(&self) -> bool {
        // SAFETY: zeroed statfs is a valid out-buffer.
        let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstatfs(self.fd.as_raw_fd(), &mut sfs) } != 0 {
            return false;
        }
        #[allow(clippy::unnecessary_cast)]
        let magic = sfs.f_type as i64;
        PSEUDO_FS_MAGICS.contains(&magic)
    }

    /// Entry names (without `.` and `..`), sorted by bytes so that a depth-first walk yields
    /// paths in `Path` (component) order.
    pub fn entries(&self) -> io::Result<Vec<OsString>> {
        // fdopendir takes ownership of its fd, so give it a duplicate.
        let dup = self.fd.try_clone()?;
        // SAFETY: `dup` is a valid directory fd whose ownership passes to the DIR stream.
        let dirp = unsafe { libc::fdopendir(dup.as_raw_fd()) };
        if dirp.is_null() {
            return Err(io::Error::last_os_error());
        }
        std::mem::forget(dup);
        // SAFETY: rewinding a fresh stream is always valid (a shared offset may have moved).
        unsafe { libc::rewinddir(dirp) };
        let mut names = Vec::new();
        let result = loop {
            // readdir signals errors only through errno, so clear it first.
            // SAFETY: errno location is thread-local and always valid.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `dirp` is a valid open stream.
            let ent = unsafe { libc::readdir(dirp) };
            if ent.is_null() {
                let err = io::Error::last_os_error();
                break match err.raw_os_error() {
                    Some(0) | None => Ok(()),
                    Some(_) => Err(err),
                };
            }
            // SAFETY: d_name of a returned entry is a NUL-terminated string inside `ent`.
            let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name.to_vec()));
            }
        };
        // SAFETY: `dirp` is valid and closed exactly once (this also closes the dup fd).
        unsafe { libc::closedir(dirp) };
        result?;
        names.sort();
        Ok(names)
    }

    /// Read a symlink's target.
    pub fn readlink(&self, name: &OsStr) -> io::Result<Vec<u8>> {
        let c = cstr(name)?;
        let mut buf = vec![0u8; 4096];
        loop {
            // SAFETY: buffer pointer and length describe `buf`.
            let n = unsafe {
                libc::readlinkat(
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n < buf.len() {
                buf.truncate(n);
                return Ok(buf);
            }
            if buf.len() >= 1 << 20 {
                return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
            }
            buf.resize(buf.len() * 2, 0);
        }
    }

    /// Open a regular file for reading without following symlinks, blocking on FIFOs or taking a
    /// controlling terminal. `O_NOATIME` is tried first and dropped when not permitted.
    pub(crate) fn open_file(&self, name: &OsStr) -> io::Result<OwnedFd> {
        let c = cstr(name)?;
        let base =
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        for flags in [base | libc::O_NOATIME, base] {
            // SAFETY: valid dirfd and C string.
            let fd = unsafe { libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags) };
            if fd >= 0 {
                // SAFETY: fresh fd from openat.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EPERM) || flags == base {
                return Err(err);
            }
        }
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }

    /// An xattr of an entry, without following a symlink and without opening it: through
    /// `/proc/self/fd/<dir>/<name>`, which resolves the directory by descriptor.
    fn entry_xattr(&self, name: &OsStr, attr: &CStr) -> io::Result<Option<Vec<u8>>> {
        let mut p = format!("/proc/self/fd/{}/", self.fd.as_raw_fd()).into_bytes();
        p.extend_from_slice(name.as_bytes());
        let c = CString::new(p).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        read_xattr(|buf, len| {
            // SAFETY: path and attr are valid C strings; buf/len describe a live buffer.
            unsafe { libc::lgetxattr(c.as_ptr(), attr.as_ptr(), buf, len) }
        })
    }
}

fn fstat(fd: RawFd) -> io::Result<Stat> {
    // SAFETY: zeroed `stat` is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd, &mut st) })?;
    Stat::from_raw(&st)
}

/// Call a getxattr-like function, growing the buffer as needed. Absent or unsupported → `None`.
fn read_xattr(
    mut get: impl FnMut(*mut libc::c_void, usize) -> libc::ssize_t,
) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = get(buf.as_mut_ptr().cast(), buf.len());
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < MAX_XATTR => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    }
}

const XATTR_SELINUX: &CStr = c"security.selinux";
const XATTR_CAPS: &CStr = c"security.capability";

fn fd_xattr(fd: RawFd, attr: &CStr) -> io::Result<Option<Vec<u8>>> {
    read_xattr(|buf, len| {
        // SAFETY: valid fd and attr name; buf/len describe a live buffer.
        unsafe { libc::fgetxattr(fd, attr.as_ptr(), buf, len) }
    })
}

/// What could be read of an open regular file: SHA-256 when asked, and both xattrs.
struct FileRead {
    sha256: Option<[u8; 32]>,
    selinux: Option<Vec<u8>>,
    caps: Option<Vec<u8>>,
    /// Set when the file is larger than the hashing cap: what was not checked.
    capped: Option<String>,
}

fn read_open_file(fd: OwnedFd, seen: &Stat, hash: Option<u64>) -> io::Result<FileRead> {
    let now = fstat(fd.as_raw_fd())?;
    if now.ftype != FileType::File || now.ino != seen.ino || now.dev != seen.dev {
        return Err(io::Error::other(
            "replaced between lstat and open (not the file that was listed)",
        ));
    }
    let selinux = fd_xattr(fd.as_raw_fd(), XATTR_SELINUX)?;
    let caps = fd_xattr(fd.as_raw_fd(), XATTR_CAPS)?;
    let mut capped = None;
    let sha256 = if let Some(cap) = hash {
        // The per-thread 256 KiB buffer of `hash`: no allocation per file, no dup of the fd.
        let f = std::fs::File::from(fd);
        // Holes are skipped and data is hashed only up to the cap: a `truncate -s 16T` file
        // must not stall the run. The size is the `fstat` one, so a growing file ends too.
        let r = crate::scan::hash::hash_file(
            crate::rpmdb::DigestAlgo::Sha256,
            &f,
            now.size,
            cap,
            crate::scan::hash::Holes::Skip,
        )?;
        if !r.complete {
            capped = Some(format!(
                "not fully checked: holds more data than max_hash_bytes ({cap} bytes); only the first {cap} bytes were compared"
            ));
        }
        let d = r.digest;
        let after = fstat(f.as_raw_fd())?;
        if after.size != now.size || after.mtime != now.mtime {
            return Err(io::Error::other("content changed while it was being read"));
        }
        let mut out = [0u8; 32];
        if d.as_bytes().len() != out.len() {
            return Err(io::Error::other("internal error: SHA-256 digest length"));
        }
        out.copy_from_slice(d.as_bytes());
        Some(out)
    } else {
        None
    };
    Ok(FileRead {
        sha256,
        selinux,
        caps,
        capped,
    })
}

/// Capture the entry `name` of `dir`, whose `lstat` result is `seen`. Regular files are hashed
/// when `hash` is set. Never opens anything but a regular file or a directory.
///
/// A failure after the `lstat` (unreadable, replaced, changing) does not lose the entry: the
/// capture keeps the `lstat` data and says in `issue` what is unknown.
pub fn capture_entry(dir: &Dir, name: &OsStr, seen: &Stat, hash: bool) -> Capture {
    capture_entry_capped(
        dir,
        name,
        seen,
        hash,
        crate::scan::hash::DEFAULT_MAX_HASH_BYTES,
    )
}

/// [`capture_entry`] hashing at most `max_hash` bytes of data (the policy's `max_hash_bytes`);
/// a larger file keeps the digest of what was hashed and says in `issue` that it is partial.
pub fn capture_entry_capped(
    dir: &Dir,
    name: &OsStr,
    seen: &Stat,
    hash: bool,
    max_hash: u64,
) -> Capture {
    let mut cap = Capture {
        stat: *seen,
        sha256: None,
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
        FileType::File => match dir.open_file(name) {
            Ok(fd) => match read_open_file(fd, seen, hash.then_some(max_hash)) {
                Ok(r) => {
                    cap.sha256 = r.sha256;
                    cap.selinux = r.selinux;
                    cap.caps = r.caps;
                    if let Some(what) = r.capped {
                        issue(what);
                    }
                }
                Err(e) => issue(format!("cannot read: {e}")),
            },
            Err(e) => issue(format!("cannot open: {e}")),
        },
        FileType::Dir => match dir.open_child(name) {
            Ok(d) => match d.stat() {
                Ok(st) if st.ino == seen.ino && st.dev == seen.dev => {
                    cap.selinux = fd_xattr(d.raw(), XATTR_SELINUX).unwrap_or_else(|e| {
                        issue(format!("cannot read SELinux label: {e}"));
                        None
                    });
                }
                Ok(_) => issue("replaced between lstat and open".into()),
                Err(e) => issue(format!("cannot stat: {e}")),
            },
            Err(e) => issue(format!("cannot open directory: {e}")),
        },
        FileType::Symlink
        | FileType::Fifo
        | FileType::Socket
        | FileType::Char
        | FileType::Block => {
            if seen.ftype == FileType::Symlink {
                match dir.readlink(name) {
                    Ok(t) => cap.target = Some(t),
                    Err(e) => issue(format!("cannot read link: {e}")),
                }
            }
            // Special files are never opened: their label is read through the directory.
            match dir.entry_xattr(name, XATTR_SELINUX) {
                Ok(v) => cap.selinux = v,
                Err(e) => issue(format!("cannot read SELinux label: {e}")),
            }
        }
    }
    cap
}

/// The package's digest of a regular file at an absolute `path` inside the root, in the package's
/// algorithm (lower-case hex), opened without following symlinks in any component. Used only to
/// tell "changed since the baseline because the package shipped a new version" from an edit.
pub fn package_digest(
    root: &Dir,
    path: &Path,
    algo: crate::rpmdb::DigestAlgo,
) -> io::Result<String> {
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
    let fd = dir.open_file(name)?;
    let now = fstat(fd.as_raw_fd())?;
    if now.ino != seen.ino || now.dev != seen.dev {
        return Err(io::Error::other("replaced between lstat and open"));
    }
    let f = std::fs::File::from(fd);
    crate::scan::hash::hash_logical(algo, &f, crate::scan::hash::DEFAULT_MAX_HASH_BYTES)
        .map(|d| d.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn symlinked_directory_is_not_entered() {
        let t = tempfile::tempdir().unwrap();
        symlink("/", t.path().join("escape")).unwrap();
        let d = Dir::open_root(t.path()).unwrap();
        // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP on some kernels).
        let refused = [Some(libc::ENOTDIR), Some(libc::ELOOP)];
        let e = d.open_child(OsStr::new("escape")).unwrap_err();
        assert!(refused.contains(&e.raw_os_error()), "{e}");
        let e = d.open_dir_path(Path::new("/escape/etc")).unwrap_err();
        assert!(refused.contains(&e.raw_os_error()), "{e}");
    }
}
