//! Root-confined file access: every lookup resolves inside a checked root exactly as it would
//! after `chroot(root)` (absolute symlinks re-rooted, `..` clamped at the root).
//!
//! The fast path is `openat2(RESOLVE_IN_ROOT)` on a root directory descriptor; kernels without it
//! (ENOSYS, or a seccomp filter saying EPERM) get a component-by-component resolver with the same
//! semantics. Per-entry operations (`lstat`, `readlink`, `open`, `getxattr`) run relative to the
//! resolved parent directory, so the last component is never followed unless asked.
//!
//! Errors keep the raw `errno` ([`Errno`]) because rpm prints it (`missing ... (Not a directory)`).
//!
//! This module never opens a FIFO, socket or device for reading: [`Entry::open_regular`] opens an
//! `O_PATH` descriptor first, checks it is the regular file `lstat` saw, and only then re-opens
//! that very inode for reading.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};

/// An `errno` value from a failed system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The C-locale `strerror` text (what `LC_ALL=C rpm` prints).
    pub fn message(self) -> String {
        strerror(self.0)
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.0)
    }
}

/// `strerror` text for `errno`. Rust never calls `setlocale`, so libc answers in the C locale.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is valid for its length; the XSI strerror_r writes a NUL-terminated string.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r succeeded, so buf holds a NUL-terminated string within its bounds.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().into_owned()
}

/// The parts of `struct stat` that verification uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    /// `st_rdev` in glibc's encoding (`makedev`).
    pub rdev: u64,
    pub size: u64,
    /// Seconds only: rpm ignores nanoseconds.
    pub mtime: i64,
}

pub const S_IFMT: u32 = libc::S_IFMT;

impl Stat {
    fn from_libc(st: &libc::stat) -> Stat {
        Stat {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: st.st_mtime,
        }
    }
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
    pub fn is_reg(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }
    pub fn is_lnk(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }
    pub fn is_chr(&self) -> bool {
        self.file_type() == libc::S_IFCHR
    }
    pub fn is_blk(&self) -> bool {
        self.file_type() == libc::S_IFBLK
    }
}

/// rpm reads link targets into a 1025-byte buffer, at most 1024 bytes.
pub const READLINK_MAX: usize = 1024;

/// Most symlinks followed during one lookup, as the kernel (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Whether `openat2` works here: 0 unknown, 1 yes, 2 no (use the manual resolver).
static OPENAT2: AtomicU8 = AtomicU8::new(0);

fn cstr(bytes: &[u8]) -> Result<CString, Errno> {
    // A NUL inside a path cannot name anything; ENOENT is what a C caller would effectively see.
    CString::new(bytes).map_err(|_| Errno(libc::ENOENT))
}

fn fstat_fd(fd: BorrowedFd<'_>) -> Result<Stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fd is a valid descriptor and st points to writable memory of the right size.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(Errno::last());
    }
    // SAFETY: fstat succeeded and initialised st.
    Ok(Stat::from_libc(unsafe { &st.assume_init() }))
}

fn fstatat_fd(dir: BorrowedFd<'_>, name: &CString, flags: libc::c_int) -> Result<Stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: dir is valid, name is NUL-terminated, st is writable.
    let rc = unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), flags) };
    if rc != 0 {
        return Err(Errno::last());
    }
    // SAFETY: fstatat succeeded and initialised st.
    Ok(Stat::from_libc(unsafe { &st.assume_init() }))
}

fn openat_fd(dir: BorrowedFd<'_>, name: &CString, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    loop {
        // SAFETY: dir is valid and name NUL-terminated; the result is checked before use.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: fd is a fresh descriptor owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// `readlinkat(dir, name)` into `buf`, at most [`READLINK_MAX`] bytes (longer targets are
/// truncated, like rpm's fixed buffer).
fn readlinkat_fd(dir: BorrowedFd<'_>, name: &CString, buf: &mut Vec<u8>) -> Result<(), Errno> {
    buf.clear();
    buf.resize(READLINK_MAX + 1, 0);
    // SAFETY: buf has READLINK_MAX + 1 writable bytes; we pass READLINK_MAX as the size.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            READLINK_MAX,
        )
    };
    if n < 0 {
        buf.clear();
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(())
}

/// How a lookup treats the last component.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Follow,
    NoFollow,
}

/// A checked root: a directory descriptor every lookup is confined to.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// Force the manual resolver (tests compare it with `openat2`).
    manual: bool,
    /// Unique per opened root: keys the per-thread parent-directory cache.
    id: u64,
}

/// (root id, directory path inside the root, its descriptor).
type CachedParent = (u64, Vec<u8>, Rc<OwnedFd>);

/// Source of [`Root::id`].
static NEXT_ROOT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// The last parent directory resolved by this thread: (root id, directory path, fd).
    /// Package files come sorted by path, so consecutive lookups mostly share their parent;
    /// this saves one path walk per file. Keyed by root id so a new run never sees old fds.
    static PARENT: std::cell::RefCell<Option<CachedParent>> =
        const { std::cell::RefCell::new(None) };
}

/// A path inside the root split into its resolved parent directory and last component.
#[derive(Debug)]
pub struct Entry {
    /// `O_PATH` descriptor of the parent directory (or of the entry itself when `name` is `None`).
    dir: Rc<OwnedFd>,
    /// Last component; `None` when the path names its own directory (`/`, `..`, trailing `/`).
    name: Option<CString>,
}

impl Root {
    /// Open `path` as the root directory.
    pub fn open(path: &Path) -> std::io::Result<Root> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: c is NUL-terminated; the result is checked.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Root {
            fd,
            manual: false,
            id: NEXT_ROOT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Same as [`Root::open`] but always uses the manual resolver (for tests and old kernels).
    pub fn open_manual(path: &Path) -> std::io::Result<Root> {
        let mut r = Root::open(path)?;
        r.manual = true;
        Ok(r)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Resolve `path` (absolute or relative, both taken from the root) to an `O_PATH` descriptor.
    fn resolve(&self, path: &[u8], last: Last, extra: libc::c_int) -> Result<OwnedFd, Errno> {
        let rel = trim_leading_slashes(path);
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        if !self.manual && OPENAT2.load(Ordering::Relaxed) != 2 {
            match self.resolve_openat2(rel, last, extra) {
                Err(Errno(libc::ENOSYS)) | Err(Errno(libc::EPERM))
                    if OPENAT2.load(Ordering::Relaxed) == 0 =>
                {
                    // No openat2 (pre-5.6 kernel or a seccomp filter): fall back for good.
                    OPENAT2.store(2, Ordering::Relaxed);
                }
                Err(Errno(libc::EAGAIN)) => {
                    // A concurrent rename raced a `..` step; the manual resolver has no such check.
                }
                r => {
                    if r.is_ok() {
                        OPENAT2.store(1, Ordering::Relaxed);
                    }
                    return r;
                }
            }
        }
        self.resolve_manual(rel, last, extra)
    }

    fn resolve_openat2(
        &self,
        rel: &[u8],
        last: Last,
        extra: libc::c_int,
    ) -> Result<OwnedFd, Errno> {
        let c = cstr(rel)?;
        let mut flags = libc::O_PATH | libc::O_CLOEXEC | extra;
        if last == Last::NoFollow {
            flags |= libc::O_NOFOLLOW;
        }
        // SAFETY: open_how is plain data; zeroed is a valid value.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags as u64;
        how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
        for _ in 0..8 {
            // SAFETY: all pointers are valid for the call; the size matches the struct.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    &how as *const libc::open_how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            if fd >= 0 {
                // SAFETY: fresh descriptor (fits in c_int: the kernel returns an int).
                return Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
            }
            let e = Errno::last();
            if e.0 != libc::EINTR && e.0 != libc::EAGAIN {
                return Err(e);
            }
        }
        Err(Errno(libc::EAGAIN))
    }

    /// Walk `rel` one component at a time with `openat(O_PATH|O_NOFOLLOW)`, expanding symlinks
    /// ourselves: absolute targets restart at the root, `..` never goes above it, and more than
    /// [`MAX_SYMLINKS`] expansions give ELOOP (so a loop cannot hang).
    fn resolve_manual(&self, rel: &[u8], last: Last, extra: libc::c_int) -> Result<OwnedFd, Errno> {
        use std::collections::VecDeque;
        let dup = |fd: BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))
        };
        let mut stack: Vec<OwnedFd> = vec![dup(self.fd())?];
        let mut queue: VecDeque<Vec<u8>> = split_components(rel).collect();
        let mut links = 0usize;
        let mut target = Vec::new();
        while let Some(comp) = queue.pop_front() {
            if comp.is_empty() || comp == b"." {
                continue;
            }
            if comp == b".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let cur = stack.last().ok_or(Errno(libc::EIO))?;
            use std::os::fd::AsFd;
            let name = cstr(&comp)?;
            let fd = openat_fd(cur.as_fd(), &name, libc::O_PATH | libc::O_NOFOLLOW)?;
            let st = fstat_fd(fd.as_fd())?;
            let is_last = queue.iter().all(|c| c.is_empty() || c == b".");
            if st.is_lnk() && (!is_last || last == Last::Follow) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno(libc::ELOOP));
                }
                readlinkat_fd(fd.as_fd(), &cstr(b"")?, &mut target)?;
                if target.first() == Some(&b'/') {
                    stack.truncate(1);
                }
                for c in split_components(&target)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    queue.push_front(c);
                }
                continue;
            }
            if !is_last && !st.is_dir() {
                return Err(Errno(libc::ENOTDIR));
            }
            stack.push(fd);
        }
        let fd = stack.pop().ok_or(Errno(libc::EIO))?;
        if extra & libc::O_DIRECTORY != 0 {
            use std::os::fd::AsFd;
            if !fstat_fd(fd.as_fd())?.is_dir() {
                return Err(Errno(libc::ENOTDIR));
            }
        }
        Ok(fd)
    }

    /// Resolve the parent of `path` and keep its last component, for `lstat`-like operations.
    pub fn entry(&self, path: &[u8]) -> Result<Entry, Errno> {
        let (dir, base) = split_parent(path);
        match base {
            Some(b) => {
                let name = Some(cstr(b)?);
                let cached = PARENT.with(|c| match &*c.borrow() {
                    Some((id, d, fd)) if *id == self.id && d.as_slice() == dir => Some(fd.clone()),
                    _ => None,
                });
                if let Some(dir) = cached {
                    return Ok(Entry { dir, name });
                }
                let fd = Rc::new(self.resolve(dir, Last::Follow, libc::O_DIRECTORY)?);
                PARENT.with(|c| *c.borrow_mut() = Some((self.id, dir.to_vec(), fd.clone())));
                Ok(Entry { dir: fd, name })
            }
            None => {
                // `/`, a trailing slash or a final `.`/`..`: lstat follows through to the directory.
                let dir = Rc::new(self.resolve(dir, Last::Follow, libc::O_DIRECTORY)?);
                Ok(Entry { dir, name: None })
            }
        }
    }

    /// The entry `path` leads to with every symlink followed (for calls that follow, such as
    /// `acl_get_file`).
    pub fn entry_follow(&self, path: &[u8]) -> Result<Entry, Errno> {
        let dir = Rc::new(self.resolve(path, Last::Follow, 0)?);
        Ok(Entry { dir, name: None })
    }

    /// `lstat(path)` inside the root.
    pub fn lstat(&self, path: &[u8]) -> Result<Stat, Errno> {
        self.entry(path)?.lstat()
    }

    /// `stat(path)` inside the root (the last component is followed too).
    pub fn stat(&self, path: &[u8]) -> Result<Stat, Errno> {
        use std::os::fd::AsFd;
        let fd = self.resolve(path, Last::Follow, 0)?;
        fstat_fd(fd.as_fd())
    }

    /// Open a file for reading, following symlinks inside the root; for configuration files
    /// (`/etc/passwd`). Refuses anything but a regular file.
    pub fn open_config(&self, path: &[u8]) -> Result<File, Errno> {
        use std::os::fd::AsFd;
        let fd = self.resolve(path, Last::Follow, 0)?;
        let st = fstat_fd(fd.as_fd())?;
        if !st.is_reg() {
            return Err(Errno(libc::EINVAL));
        }
        reopen_regular(fd.as_fd())
    }
}

impl Entry {
    fn dir(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.dir.as_fd()
    }

    /// `lstat` of the entry (its last component is not followed).
    pub fn lstat(&self) -> Result<Stat, Errno> {
        match &self.name {
            Some(n) => fstatat_fd(self.dir(), n, libc::AT_SYMLINK_NOFOLLOW),
            None => fstat_fd(self.dir()),
        }
    }

    /// `readlink` of the entry, at most 1024 bytes (longer targets come back truncated).
    pub fn readlink(&self, buf: &mut Vec<u8>) -> Result<(), Errno> {
        match &self.name {
            Some(n) => readlinkat_fd(self.dir(), n, buf),
            None => Err(Errno(libc::EINVAL)),
        }
    }

    /// Open the entry for reading only if it is still the regular file described by `seen`
    /// (same device, inode and type). Never opens a FIFO, socket or device: the check runs on an
    /// `O_PATH` descriptor, which has no side effects, before the inode is opened for reading.
    pub fn open_regular(&self, seen: &Stat) -> Result<File, OpenError> {
        use std::os::fd::AsFd;
        let pfd = match &self.name {
            Some(n) => openat_fd(self.dir(), n, libc::O_PATH | libc::O_NOFOLLOW)?,
            None => self
                .dir
                .as_ref()
                .try_clone()
                .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?,
        };
        let st = fstat_fd(pfd.as_fd())?;
        if !st.is_reg() || st.dev != seen.dev || st.ino != seen.ino {
            return Err(OpenError::Swapped);
        }
        match reopen_regular(pfd.as_fd()) {
            Err(Errno(libc::ENOENT)) if !proc_available() => {}
            r => return Ok(r?),
        }
        // Without /proc nothing re-opens an O_PATH descriptor: open the name directly with
        // O_NOFOLLOW|O_NONBLOCK (no symlink, no blocking on a FIFO) and compare again. Only
        // here can a file swapped for a device in the instant since the check be opened (and
        // is then refused unread).
        let name = self
            .name
            .as_ref()
            .ok_or(OpenError::Sys(Errno(libc::EISDIR)))?;
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = match openat_fd(self.dir(), name, flags | libc::O_NOATIME) {
            Err(Errno(libc::EPERM)) => openat_fd(self.dir(), name, flags)?,
            r => r?,
        };
        let st2 = fstat_fd(fd.as_fd())?;
        if !st2.is_reg() || st2.dev != seen.dev || st2.ino != seen.ino {
            return Err(OpenError::Swapped);
        }
        Ok(File::from(fd))
    }

    /// The raw `security.capability` xattr of the entry (not following a final symlink), or
    /// `None` when there is none.
    pub fn capability_xattr(&self, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
        self.xattr(b"security.capability\0", buf)
    }

    /// Read the extended attribute `name` (NUL-terminated) of the entry without following a
    /// final symlink. `None` when the attribute (or xattr support) is absent.
    pub fn xattr(&self, name: &[u8], buf: &mut [u8]) -> Result<Option<usize>, Errno> {
        if name.last() != Some(&0) {
            return Err(Errno(libc::EINVAL));
        }
        // The *at() xattr calls are new (6.13); go through the parent's /proc magic link, which
        // pins the same directory the other calls used.
        let mut p = format!("/proc/self/fd/{}", self.dir.as_raw_fd()).into_bytes();
        if let Some(n) = &self.name {
            p.push(b'/');
            p.extend_from_slice(n.as_bytes());
        }
        let c = cstr(&p)?;
        // SAFETY: c and name are NUL-terminated; buf is writable for its length.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                name.as_ptr().cast(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        xattr_len(n)
    }
}

/// The raw `security.capability` xattr of an open file (`fgetxattr`), or `None` when absent.
pub fn file_capability_xattr(file: &File, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
    const NAME: &[u8] = b"security.capability\0";
    // SAFETY: the fd is open, NAME is NUL-terminated, buf is writable for its length.
    let n = unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            NAME.as_ptr().cast(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    xattr_len(n)
}

/// The result of a `*getxattr` call: the value's length, `None` when the attribute (or xattr
/// support) is absent, else the errno.
fn xattr_len(n: isize) -> Result<Option<usize>, Errno> {
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    match Errno::last() {
        Errno(libc::ENODATA) | Errno(libc::ENOTSUP) => Ok(None),
        e => Err(e),
    }
}

/// Why a regular file could not be opened for hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The system call failed.
    Sys(Errno),
    /// The entry is no longer the regular file seen by `lstat` (replaced during the run).
    Swapped,
}

impl From<Errno> for OpenError {
    fn from(e: Errno) -> OpenError {
        OpenError::Sys(e)
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Sys(e) => e.fmt(f),
            OpenError::Swapped => f.write_str("file replaced during the check"),
        }
    }
}

/// Whether `/proc/self/fd` can be used to re-open descriptors.
fn proc_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| Path::new("/proc/self/fd").is_dir())
}

/// Open the inode behind an `O_PATH` descriptor for reading, through its `/proc/self/fd` magic
/// link (the exact same inode, no path race). Without `/proc`, nothing else re-opens an
/// `O_PATH` descriptor, so the caller gets the error.
fn reopen_regular(pfd: BorrowedFd<'_>) -> Result<File, Errno> {
    let p = cstr(format!("/proc/self/fd/{}", pfd.as_raw_fd()).as_bytes())?;
    let base = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let mut flags = base | libc::O_NOATIME;
    loop {
        // SAFETY: p is NUL-terminated; the result is checked.
        let fd = unsafe { libc::open(p.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: fresh descriptor. The magic link leads to exactly the inode behind `pfd`,
            // which the caller has checked, so no second fstat is needed.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        match Errno::last() {
            Errno(libc::EINTR) => continue,
            // O_NOATIME needs ownership or CAP_FOWNER; retry without it.
            Errno(libc::EPERM) if flags & libc::O_NOATIME != 0 => flags = base,
            e => return Err(e),
        }
    }
}

fn trim_leading_slashes(p: &[u8]) -> &[u8] {
    let n = p.iter().take_while(|&&b| b == b'/').count();
    &p[n..]
}

fn split_components(p: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    p.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| c.to_vec())
}

/// Split `path` into (parent, last component). The last component is `None` when lstat would
/// have to follow through to a directory anyway: `/`, a trailing `/`, or a final `.`/`..`.
fn split_parent(path: &[u8]) -> (&[u8], Option<&[u8]>) {
    if path.is_empty() || path.last() == Some(&b'/') {
        return (path, None);
    }
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => {
            let base = &path[i + 1..];
            if base == b"." || base == b".." {
                (path, None)
            } else {
                (&path[..i], Some(base))
            }
        }
        None if path == b"." || path == b".." => (path, None),
        None => (&b""[..], Some(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn roots(dir: &Path) -> Vec<Root> {
        vec![Root::open(dir).unwrap(), Root::open_manual(dir).unwrap()]
    }

    #[test]
    fn split_parent_cases() {
        assert_eq!(split_parent(b"/a/b"), (&b"/a"[..], Some(&b"b"[..])));
        assert_eq!(split_parent(b"/a"), (&b""[..], Some(&b"a"[..])));
        assert_eq!(split_parent(b"/"), (&b"/"[..], None));
        assert_eq!(split_parent(b"/a/.."), (&b"/a/.."[..], None));
        assert_eq!(split_parent(b"/a/"), (&b"/a/"[..], None));
    }

    #[test]
    fn absolute_symlink_is_rerooted() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("real/dir")).unwrap();
        std::fs::write(t.path().join("real/dir/f"), b"inside").unwrap();
        symlink("/real/dir", t.path().join("abs")).unwrap();
        for r in roots(t.path()) {
            let st = r.lstat(b"/abs/f").unwrap();
            assert!(st.is_reg());
            assert_eq!(st.size, 6);
            // the link itself, not followed
            assert!(r.lstat(b"/abs").unwrap().is_lnk());
            assert!(r.stat(b"/abs").unwrap().is_dir());
        }
    }

    #[test]
    fn dotdot_is_clamped_at_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/x"), b"in").unwrap();
        // A file with the same name outside the root must never be reached.
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/x"), b"outside").unwrap();
        symlink("../../../../etc", root.join("up")).unwrap();
        for r in roots(&root) {
            assert_eq!(r.lstat(b"/../../etc/x").unwrap().size, 2);
            assert_eq!(r.lstat(b"/up/x").unwrap().size, 2);
        }
    }

    #[test]
    fn symlink_loop_gives_eloop() {
        let t = tempfile::tempdir().unwrap();
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        for r in roots(t.path()) {
            assert_eq!(r.lstat(b"/a/x").unwrap_err(), Errno(libc::ELOOP));
            assert_eq!(r.stat(b"/a").unwrap_err(), Errno(libc::ELOOP));
            // lstat of the link itself works
            assert!(r.lstat(b"/a").unwrap().is_lnk());
        }
    }

    #[test]
    fn errno_is_kept() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("file"), b"x").unwrap();
        for r in roots(t.path()) {
            assert_eq!(r.lstat(b"/file/sub").unwrap_err(), Errno(libc::ENOTDIR));
            assert_eq!(r.lstat(b"/nope/sub").unwrap_err(), Errno(libc::ENOENT));
            assert_eq!(r.lstat(b"/nope").unwrap_err(), Errno(libc::ENOENT));
        }
        assert_eq!(Errno(libc::ENOTDIR).message(), "Not a directory");
        assert_eq!(Errno(libc::EACCES).message(), "Permission denied");
    }

    #[test]
    fn readlink_is_capped_at_1024() {
        let t = tempfile::tempdir().unwrap();
        let long = "x".repeat(2000);
        symlink(&long, t.path().join("l")).unwrap();
        let r = Root::open(t.path()).unwrap();
        let mut buf = Vec::new();
        r.entry(b"/l").unwrap().readlink(&mut buf).unwrap();
        assert_eq!(buf.len(), 1024);
    }

    #[test]
    fn fifo_socket_and_device_are_never_opened() {
        let t = tempfile::tempdir().unwrap();
        let fifo = CString::new(t.path().join("fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let _sock = std::os::unix::net::UnixListener::bind(t.path().join("sock")).unwrap();
        std::fs::write(t.path().join("reg"), b"r").unwrap();
        let r = Root::open(t.path()).unwrap();
        for name in [&b"/fifo"[..], b"/sock"] {
            let e = r.entry(name).unwrap();
            let st = e.lstat().unwrap();
            // Even when the caller claims the lstat saw it, the O_PATH check refuses it
            // (opening the FIFO for reading with no writer would otherwise succeed or block).
            assert_eq!(e.open_regular(&st).unwrap_err(), OpenError::Swapped);
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let dev = CString::new(t.path().join("null").as_os_str().as_bytes()).unwrap();
            // SAFETY: valid path; makedev(1,3) is /dev/null.
            let rc =
                unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 3)) };
            assert_eq!(rc, 0);
            let e = r.entry(b"/null").unwrap();
            let st = e.lstat().unwrap();
            assert_eq!(e.open_regular(&st).unwrap_err(), OpenError::Swapped);
        }
        // A regular file swapped for another one after lstat is reported, not followed.
        let e = r.entry(b"/reg").unwrap();
        let st = e.lstat().unwrap();
        std::fs::remove_file(t.path().join("reg")).unwrap();
        std::fs::write(t.path().join("other"), b"o").unwrap();
        symlink("other", t.path().join("reg")).unwrap();
        assert_eq!(e.open_regular(&st).unwrap_err(), OpenError::Swapped);
    }

    #[test]
    fn regular_file_opens_and_reads() {
        use std::io::Read;
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/f"), b"hello").unwrap();
        for r in roots(t.path()) {
            let e = r.entry(b"/d/f").unwrap();
            let st = e.lstat().unwrap();
            let mut s = String::new();
            e.open_regular(&st).unwrap().read_to_string(&mut s).unwrap();
            assert_eq!(s, "hello");
        }
    }
}
