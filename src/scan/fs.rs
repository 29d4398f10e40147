//! The file-access layer: every system call quietwire makes on the checked root's files, and
//! the only `unsafe` file access in the crate. One [`Stat`], one error ([`Errno`], plus
//! [`OpenError`] for "not the file that was seen").
//!
//! Two ways in, one set of primitives:
//! - [`Root`] resolves paths inside a checked root exactly as they would resolve after
//!   `chroot(root)` (absolute symlinks re-rooted, `..` clamped at the root): the owned
//!   verifier's per-package-file lookups and configuration files (`/etc/passwd`). The fast path
//!   is `openat2(RESOLVE_IN_ROOT)` on a root directory descriptor; kernels without it (ENOSYS,
//!   or a seccomp filter saying EPERM) get a component-by-component resolver with the same
//!   semantics. Per-entry operations ([`Entry`]) run relative to the resolved parent directory,
//!   so the last component is never followed unless asked.
//! - [`Dir`] is an open directory the unowned walk descends through: a child directory is
//!   entered with `openat(O_DIRECTORY | O_NOFOLLOW)`, so a directory swapped for a symlink
//!   between listing and entering cannot lead the walk outside the root.
//! - [`resolve_in_root`] and [`join_in_root`] give host paths inside the root for the callers
//!   that hand a path to a library (the rpmdb, the policy file, the baseline's location).
//!
//! Errors keep the raw `errno` ([`Errno`]) because rpm prints it (`missing ... (Not a directory)`).
//!
//! Nothing is read but a regular file that is the inode `lstat` saw. [`Entry::open_regular`]
//! (the owned verifier) never even opens anything else: it opens an `O_PATH` descriptor first
//! (no side effects), checks it, and only then re-opens that very inode through `/proc`.
//! [`Dir::open_regular`] (the walk) opens by name with `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY` and
//! checks after, which is cheaper; only a swap racing the walk can make it open (never read)
//! a FIFO or device. Hashing skips
//! holes with [`seek`] (`SEEK_DATA`/`SEEK_HOLE`), see `scan::hash`.

use std::collections::VecDeque;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};

/// An `errno` value from a failed system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    fn last() -> Errno {
        Errno(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    fn of(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
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

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.0)
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
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().into_owned()
}

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

    /// The `S_IFMT` bits of this type.
    pub fn bits(self) -> u32 {
        match self {
            FileType::File => libc::S_IFREG,
            FileType::Dir => libc::S_IFDIR,
            FileType::Symlink => libc::S_IFLNK,
            FileType::Fifo => libc::S_IFIFO,
            FileType::Socket => libc::S_IFSOCK,
            FileType::Char => libc::S_IFCHR,
            FileType::Block => libc::S_IFBLK,
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

/// The `struct stat` fields quietwire uses (the owned verifier and the baseline alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub ftype: FileType,
    /// Permission bits including setuid, setgid and sticky (`st_mode & 07777`); the full
    /// `st_mode` is [`Stat::st_mode`].
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Modification time, whole seconds (rpm ignores nanoseconds).
    pub mtime: i64,
    /// Modification time in nanoseconds since the epoch (the owned-file cache's key).
    pub mtime_ns: i64,
    /// Status change time in nanoseconds since the epoch (for `--trust-ctime`).
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
    /// `st_rdev` in glibc's encoding (`makedev`).
    pub rdev: u64,
    pub nlink: u64,
}

pub const S_IFMT: u32 = libc::S_IFMT;

impl Stat {
    /// A mode with a type bit pattern Linux does not define cannot come from a sound file
    /// system (ext4 and FUSE refuse such inodes themselves): EUCLEAN, the kernel's EFSCORRUPTED.
    fn from_libc(st: &libc::stat) -> Result<Stat, Errno> {
        let ftype = FileType::from_mode(st.st_mode).ok_or(Errno(libc::EUCLEAN))?;
        Ok(Stat {
            ftype,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: st.st_mtime,
            mtime_ns: st
                .st_mtime
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_mtime_nsec),
            ctime_ns: st
                .st_ctime
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_ctime_nsec),
            ino: st.st_ino,
            dev: st.st_dev,
            rdev: st.st_rdev,
            nlink: st.st_nlink,
        })
    }
    /// The full `st_mode`: type and permission bits.
    pub fn st_mode(&self) -> u32 {
        self.ftype.bits() | self.mode
    }
    pub fn is_reg(&self) -> bool {
        self.ftype == FileType::File
    }
    pub fn is_dir(&self) -> bool {
        self.ftype == FileType::Dir
    }
    pub fn is_lnk(&self) -> bool {
        self.ftype == FileType::Symlink
    }
    pub fn is_chr(&self) -> bool {
        self.ftype == FileType::Char
    }
    pub fn is_blk(&self) -> bool {
        self.ftype == FileType::Block
    }
    /// Same inode as `other`, and still a regular file.
    fn same_regular(&self, other: &Stat) -> bool {
        self.is_reg() && self.dev == other.dev && self.ino == other.ino
    }
}

/// rpm reads link targets into a 1025-byte buffer, at most 1024 bytes.
pub const READLINK_MAX: usize = 1024;

/// Longest symlink target the baseline records in full; longer ones are refused (ENAMETOOLONG).
const READLINK_FULL_MAX: usize = 1 << 20;

/// Largest xattr value read whole (SELinux labels and capability blobs are far smaller).
const MAX_XATTR: usize = 64 * 1024;

/// Most symlinks followed during one lookup, as the kernel (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Whether `openat2` works here: 0 unknown, 1 yes, 2 no (use the manual resolver).
static OPENAT2: AtomicU8 = AtomicU8::new(0);

pub const XATTR_SELINUX: &CStr = c"security.selinux";
pub const XATTR_CAPS: &CStr = c"security.capability";

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
    Stat::from_libc(unsafe { &st.assume_init() })
}

/// `fstat` of an open file.
pub fn fstat(f: &File) -> Result<Stat, Errno> {
    fstat_fd(f.as_fd())
}

fn fstatat_fd(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> Result<Stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: dir is valid, name is NUL-terminated, st is writable.
    let rc = unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), flags) };
    if rc != 0 {
        return Err(Errno::last());
    }
    // SAFETY: fstatat succeeded and initialised st.
    Stat::from_libc(unsafe { &st.assume_init() })
}

fn openat_fd(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> Result<OwnedFd, Errno> {
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

/// `readlinkat(dir, name)` into all of `buf`; the target's length (== `buf.len()` when it may
/// have been truncated).
fn readlinkat_raw(dir: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: buf is writable for its length; the result is checked.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    usize::try_from(n).map_err(|_| Errno::last())
}

/// `readlinkat(dir, name)` into `buf`, at most [`READLINK_MAX`] bytes (longer targets are
/// truncated, like rpm's fixed buffer).
fn readlinkat_fd(dir: BorrowedFd<'_>, name: &CStr, buf: &mut Vec<u8>) -> Result<(), Errno> {
    buf.clear();
    buf.resize(READLINK_MAX, 0);
    match readlinkat_raw(dir, name, buf) {
        Ok(n) => {
            buf.truncate(n);
            Ok(())
        }
        Err(e) => {
            buf.clear();
            Err(e)
        }
    }
}

/// The whole target of a symlink, byte-exact (up to [`READLINK_FULL_MAX`]).
fn readlinkat_full(dir: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = readlinkat_raw(dir, name, &mut buf)?;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        if buf.len() >= READLINK_FULL_MAX {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        buf.resize(buf.len() * 2, 0);
    }
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

/// Read the extended attribute `attr` of `name` in `dir` (of `dir` itself when `name` is
/// `None`) without following a final symlink and without opening the entry.
fn xattr_at(
    dir: BorrowedFd<'_>,
    name: Option<&CStr>,
    attr: &CStr,
    buf: &mut [u8],
) -> Result<Option<usize>, Errno> {
    // The *at() xattr calls are new (6.13); go through the directory's /proc magic link, which
    // pins the same directory the other calls used.
    let mut p = format!("/proc/self/fd/{}", dir.as_raw_fd()).into_bytes();
    if let Some(n) = name {
        p.push(b'/');
        p.extend_from_slice(n.to_bytes());
    }
    let c = cstr(&p)?;
    // SAFETY: c and attr are NUL-terminated; buf is writable for its length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            attr.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    xattr_len(n)
}

/// `fgetxattr(fd, attr)` into `buf`.
fn fxattr(fd: BorrowedFd<'_>, attr: &CStr, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
    // SAFETY: the fd is open, attr is NUL-terminated, buf is writable for its length.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            attr.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    xattr_len(n)
}

/// A whole xattr value, growing the buffer on ERANGE up to [`MAX_XATTR`].
fn xattr_vec(
    mut get: impl FnMut(&mut [u8]) -> Result<Option<usize>, Errno>,
) -> Result<Option<Vec<u8>>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        match get(&mut buf) {
            Ok(Some(n)) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Ok(None) => return Ok(None),
            Err(Errno(libc::ERANGE)) if buf.len() < MAX_XATTR => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

/// The whole xattr `attr` of an open file, `None` when absent.
pub fn file_xattr(f: &File, attr: &CStr) -> Result<Option<Vec<u8>>, Errno> {
    xattr_vec(|buf| fxattr(f.as_fd(), attr, buf))
}

/// The raw `security.capability` xattr of an open file (`fgetxattr`), or `None` when absent.
pub fn file_capability_xattr(file: &File, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
    fxattr(file.as_fd(), XATTR_CAPS, buf)
}

/// Open the entry `name` of `dir` (or `dir` itself, an `O_PATH` descriptor, when `name` is
/// `None`) for reading only if it is still the regular file described by `seen` (same device,
/// inode and type); returns the file and its `fstat`. Never opens a FIFO, socket or device: the
/// check runs on an `O_PATH` descriptor, which has no side effects, before the inode is opened.
fn open_regular_at(
    dir: BorrowedFd<'_>,
    name: Option<&CStr>,
    seen: &Stat,
) -> Result<(File, Stat), OpenError> {
    let pfd = match name {
        Some(n) => openat_fd(dir, n, libc::O_PATH | libc::O_NOFOLLOW)?,
        None => dir.try_clone_to_owned().map_err(|e| Errno::of(&e))?,
    };
    let st = fstat_fd(pfd.as_fd())?;
    if !st.same_regular(seen) {
        return Err(OpenError::Swapped);
    }
    match reopen_regular(pfd.as_fd()) {
        Err(Errno(libc::ENOENT)) if !proc_available() => {}
        r => return Ok((r?, st)),
    }
    // Without /proc nothing re-opens an O_PATH descriptor: open the name directly.
    open_by_name(dir, name.ok_or(OpenError::Sys(Errno(libc::EISDIR)))?, seen)
}

/// Open the entry `name` of `dir` directly with `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY` (no symlink,
/// no blocking on a FIFO, no controlling terminal) and keep it only if `fstat` shows the regular
/// file `seen`. One system call cheaper than the `O_PATH` check of [`open_regular_at`], but a
/// file swapped for a FIFO or device in the instant after `lstat` is opened (and then refused
/// unread).
fn open_by_name(dir: BorrowedFd<'_>, name: &CStr, seen: &Stat) -> Result<(File, Stat), OpenError> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd = match openat_fd(dir, name, flags | libc::O_NOATIME) {
        Err(Errno(libc::EPERM)) => openat_fd(dir, name, flags)?,
        r => r?,
    };
    let st = fstat_fd(fd.as_fd())?;
    if !st.same_regular(seen) {
        return Err(OpenError::Swapped);
    }
    Ok((File::from(fd), st))
}

/// Where the next data (`SEEK_DATA`) or hole (`SEEK_HOLE`) of `f` at or after `from` starts;
/// `None` for "no more data". A file system without hole support reports the whole file as
/// data.
pub fn seek(f: &File, from: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    let Ok(off) = libc::off_t::try_from(from) else {
        return Ok(None);
    };
    // SAFETY: lseek on a descriptor we own; it only moves the (unshared) file offset.
    let r = unsafe { libc::lseek(f.as_raw_fd(), off, whence) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENXIO) => Ok(None),
            // No SEEK_DATA/SEEK_HOLE here: all of it is data.
            Some(libc::EINVAL) if whence == libc::SEEK_HOLE => Ok(Some(u64::MAX)),
            Some(libc::EINVAL) if whence == libc::SEEK_DATA => Ok(Some(from)),
            _ => Err(e),
        };
    }
    Ok(Some(r as u64))
}

/// Most holes [`hole_bytes`] maps before it gives up: each costs two `lseek`s.
const MAX_HOLES: u32 = 1 << 16;

/// Bytes of holes in the first `size` bytes of `f`, counted until past `limit`; `u64::MAX` when
/// the file has more than [`MAX_HOLES`] holes (no log does). Moves `f`'s offset.
pub fn hole_bytes(f: &File, size: u64, limit: u64) -> io::Result<u64> {
    let mut holes = 0u64;
    let mut pos = 0u64;
    let mut n = 0u32;
    while pos < size && holes <= limit {
        n += 1;
        if n > MAX_HOLES {
            return Ok(u64::MAX);
        }
        let data = seek(f, pos, libc::SEEK_DATA)?.unwrap_or(size).min(size);
        holes = holes.saturating_add(data.saturating_sub(pos));
        if data >= size {
            break;
        }
        let end = seek(f, data, libc::SEEK_HOLE)?.unwrap_or(size).min(size);
        if end <= data {
            return Err(io::Error::other(
                "inconsistent hole map (changed while read)",
            ));
        }
        pos = end;
    }
    Ok(holes)
}

/// Where on its device the first data of `f` lies (`FS_IOC_FIEMAP`, one extent asked for), in
/// bytes; `None` when the file has no data, or the file system keeps it inline or cannot tell.
/// For ordering reads only (a cold-cache experiment): nothing is judged by it.
pub fn first_physical_offset(f: &File) -> Option<u64> {
    // `struct fiemap` followed by room for one `struct fiemap_extent` (linux/fiemap.h); libc
    // does not define them.
    #[repr(C)]
    #[derive(Default)]
    struct FiemapOne {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        logical: u64,
        physical: u64,
        extent_length: u64,
        extent_reserved64: [u64; 2],
        extent_flags: u32,
        extent_reserved: [u32; 3],
    }
    // _IOWR('f', 11, struct fiemap): the header's 32 bytes give the size field.
    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    // Data not yet written (delayed allocation) has no place yet; inline data has no extent.
    const FIEMAP_EXTENT_UNKNOWN: u32 = 0x2;
    const FIEMAP_EXTENT_DATA_INLINE: u32 = 0x200;
    let mut map = FiemapOne {
        length: u64::MAX,
        extent_count: 1,
        ..FiemapOne::default()
    };
    // SAFETY: the buffer is a fiemap header with room for the one extent it asks for.
    let r = unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            FS_IOC_FIEMAP as _,
            &mut map as *mut FiemapOne,
        )
    };
    let mapped = r == 0 && map.mapped_extents > 0;
    let placed = map.extent_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DATA_INLINE) == 0;
    (mapped && placed).then_some(map.physical)
}

/// Ask the kernel to start reading `[offset, offset + len)` of `f` into the page cache now
/// (`POSIX_FADV_WILLNEED`): on a cold cache the whole range is queued at once instead of in
/// readahead windows that grow one read at a time. A hint only: errors are ignored.
pub fn advise_willneed(f: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: posix_fadvise on a descriptor we own; it changes no memory of ours.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED) };
}

/// Raise the soft limit on open files to `want` when it is lower, within the hard limit. Best
/// effort: a refusal leaves the limit as it is.
pub fn raise_open_file_limit_to(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid out struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 || lim.rlim_cur >= want {
        return;
    }
    lim.rlim_cur = want.min(lim.rlim_max);
    // SAFETY: setrlimit with a valid in struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
}

/// `open(path, flags)` of a host path named by the administrator (`--root`).
fn open_host(path: &Path, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno(libc::EINVAL))?;
    loop {
        // SAFETY: c is NUL-terminated; the result is checked.
        let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: fd is a fresh descriptor owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        match Errno::last() {
            Errno(libc::EINTR) => continue,
            e => return Err(e),
        }
    }
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

/// See [`Root::identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RootIdentity {
    pub dev: u64,
    pub ino: u64,
    pub fs_type: i64,
    pub fsid: u64,
}

/// (root id, directory path inside the root, its descriptor).
type CachedParent = (u64, Vec<u8>, Rc<OwnedFd>);

/// Source of [`Root::id`].
static NEXT_ROOT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How many parent directories each thread keeps resolved. Package files come sorted by path,
/// so a lookup mostly shares its parent with a recent one; but a sorted list goes down into a
/// subdirectory and back up (`a/x`, `a/b/y`, `a/z`), so one remembered parent missed 9,698
/// times on the 5,595 directories of the benchmark root, and eight miss 5,811 times.
const PARENTS_KEPT: usize = 8;

thread_local! {
    /// The parent directories this thread resolved last, most recent first: (root id,
    /// directory path, fd). Saves one path walk per file. Keyed by root id so a new run never
    /// sees old fds.
    static PARENTS: std::cell::RefCell<VecDeque<CachedParent>> =
        const { std::cell::RefCell::new(VecDeque::new()) };
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
        let fd = open_host(path, libc::O_PATH | libc::O_DIRECTORY)?;
        Ok(Root {
            fd,
            manual: false,
            id: NEXT_ROOT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// What identifies the file system under the root directory: its `fstat` (device, inode)
    /// and `fstatfs` (type, id). A state recorded under one root must not be trusted under
    /// another that merely has the same path.
    pub fn identity(&self) -> Result<RootIdentity, Errno> {
        let st = fstat_fd(self.fd())?;
        let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: the descriptor is valid and sfs points to writable memory of the right size.
        let rc = unsafe { libc::fstatfs(self.fd.as_raw_fd(), sfs.as_mut_ptr()) };
        if rc != 0 {
            return Err(Errno::last());
        }
        // SAFETY: fstatfs succeeded and initialised sfs.
        let sfs = unsafe { sfs.assume_init() };
        // SAFETY: fsid_t is two plain ints; reading it as bytes is always valid.
        let fsid: [u8; 8] = unsafe { std::mem::transmute_copy(&sfs.f_fsid) };
        // f_type is i64 on x86_64 but narrower on other architectures.
        #[allow(clippy::unnecessary_cast)]
        let fs_type = sfs.f_type as i64;
        Ok(RootIdentity {
            dev: st.dev,
            ino: st.ino,
            fs_type,
            fsid: u64::from_ne_bytes(fsid),
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
            Some(b) => self.entry_named(dir, b),
            None => {
                // `/`, a trailing slash or a final `.`/`..`: lstat follows through to the directory.
                let dir = Rc::new(self.resolve(dir, Last::Follow, libc::O_DIRECTORY)?);
                Ok(Entry { dir, name: None })
            }
        }
    }

    /// [`entry`](Self::entry) of a path given already split at its last `/` (the parent without
    /// that slash, `""` for one at the start): the same entry, without joining the two.
    pub fn entry_in(&self, parent: &[u8], name: &[u8]) -> Result<Entry, Errno> {
        match name {
            b"" | b"." | b".." => {
                let mut path = parent.to_vec();
                path.push(b'/');
                path.extend_from_slice(name);
                self.entry(&path)
            }
            _ => self.entry_named(parent, name),
        }
    }

    /// The entry `b` of the directory `dir`, `b` being a plain name.
    fn entry_named(&self, dir: &[u8], b: &[u8]) -> Result<Entry, Errno> {
        let name = Some(cstr(b)?);
        let cached = PARENTS.with(|c| {
            let mut kept = c.borrow_mut();
            let hit = kept
                .iter()
                .position(|(id, d, _)| *id == self.id && d.as_slice() == dir)?;
            let entry = kept.remove(hit)?;
            let fd = entry.2.clone();
            kept.push_front(entry);
            Some(fd)
        });
        if let Some(dir) = cached {
            return Ok(Entry { dir, name });
        }
        let fd = match self.child_of_kept(dir) {
            Some(fd) => fd,
            None => self.resolve(dir, Last::Follow, libc::O_DIRECTORY)?,
        };
        let fd = Rc::new(fd);
        self.keep_parent(dir, fd.clone());
        Ok(Entry { dir: fd, name })
    }

    /// Keep `fd`, the resolved directory `dir`, as this thread's most recent parent.
    fn keep_parent(&self, dir: &[u8], fd: Rc<OwnedFd>) {
        PARENTS.with(|c| {
            let mut kept = c.borrow_mut();
            // Directories of an earlier root are never asked for again.
            kept.retain(|(id, _, _)| *id == self.id);
            kept.truncate(PARENTS_KEPT - 1);
            kept.push_front((self.id, dir.to_vec(), fd));
        });
    }

    /// `lstat` of `entry`, the entry of `path`, by a pin: when it is a directory (not a symlink
    /// to one), the pin is kept as the parent of the files under `path`. A package lists each
    /// directory just before its contents, so their lookups then start from it, instead of
    /// `lstat`ing the directory by name and opening it by name again for its first file.
    pub fn lstat_keeping_dir(&self, entry: &Entry, path: &[u8]) -> Result<Stat, Errno> {
        let Some(name) = entry.name.as_deref() else {
            return entry.lstat();
        };
        let fd = openat_fd(entry.dir(), name, libc::O_PATH | libc::O_NOFOLLOW)?;
        let st = fstat_fd(fd.as_fd())?;
        if st.is_dir() {
            self.keep_parent(path, Rc::new(fd));
        }
        Ok(st)
    }

    /// `dir` opened from its parent when this thread keeps that parent and `dir` itself is a
    /// directory, not a symlink: one lookup instead of a walk from the root (a sorted file list
    /// mostly goes down into a subdirectory of a directory it has just seen). Anything else
    /// (`None`) is left to the full resolution, which expands symlinks inside the root.
    fn child_of_kept(&self, dir: &[u8]) -> Option<OwnedFd> {
        let (parent, Some(name)) = split_parent(dir) else {
            return None;
        };
        let parent_fd = PARENTS.with(|c| {
            c.borrow()
                .iter()
                .find(|(id, d, _)| *id == self.id && d.as_slice() == parent)
                .map(|(_, _, fd)| fd.clone())
        })?;
        let name = cstr(name).ok()?;
        // O_NOFOLLOW | O_DIRECTORY refuses a symlink (ENOTDIR, or ELOOP on some kernels).
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        openat_fd(parent_fd.as_fd(), &name, flags).ok()
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
    /// (same device, inode and type); see [`open_regular_at`].
    pub fn open_regular(&self, seen: &Stat) -> Result<File, OpenError> {
        open_regular_at(self.dir(), self.name.as_deref(), seen).map(|(f, _)| f)
    }

    /// Pin the entry with an `O_PATH` descriptor (which opens nothing: no side effect even on a
    /// FIFO or device) and `fstat` it: its `lstat`, and [`Pinned::open_regular`] reads exactly
    /// that inode. For a file about to be read, one system call cheaper than `lstat` followed by
    /// [`Entry::open_regular`].
    pub fn pin(&self) -> Result<Pinned<'_>, Errno> {
        let fd = match &self.name {
            Some(n) => openat_fd(self.dir(), n, libc::O_PATH | libc::O_NOFOLLOW)?,
            None => self.dir().try_clone_to_owned().map_err(|e| Errno::of(&e))?,
        };
        let stat = fstat_fd(fd.as_fd())?;
        Ok(Pinned {
            entry: self,
            fd,
            stat,
        })
    }

    /// The raw `security.capability` xattr of the entry (not following a final symlink), or
    /// `None` when there is none.
    pub fn capability_xattr(&self, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
        xattr_at(self.dir(), self.name.as_deref(), XATTR_CAPS, buf)
    }
}

/// An [`Entry`] held by an `O_PATH` descriptor, with its `lstat`.
pub struct Pinned<'a> {
    entry: &'a Entry,
    fd: OwnedFd,
    pub stat: Stat,
}

impl Pinned<'_> {
    /// Open the pinned inode for reading if it is a regular file (else [`OpenError::Swapped`]:
    /// it is not the file expected). Through `/proc` there is no window for a swap; without
    /// `/proc`, as [`Entry::open_regular`] does.
    pub fn open_regular(&self) -> Result<File, OpenError> {
        if !self.stat.is_reg() {
            return Err(OpenError::Swapped);
        }
        match reopen_regular(self.fd.as_fd()) {
            Err(Errno(libc::ENOENT)) if !proc_available() => self.entry.open_regular(&self.stat),
            r => Ok(r?),
        }
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

/// The process's `/proc/self/fd` directory, opened once (`None` without `/proc`). Re-opening
/// through `openat(dir, "N")` looks up one component where the full `/proc/self/fd/N` path
/// walks five (`self` is a symlink and every `/proc/PID` step revalidates the task): that walk
/// was a fifth of the owned check's CPU time. Threads share the descriptor table, so one
/// directory serves them all.
fn proc_fd_dir() -> Option<BorrowedFd<'static>> {
    static DIR: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| open_host(Path::new("/proc/self/fd"), libc::O_PATH | libc::O_DIRECTORY).ok())
        .as_ref()
        .map(|fd| fd.as_fd())
}

/// Open the host file `path` for reading only if it is a regular file, following a final
/// symlink only when `follow_last`. The file is pinned with `O_PATH` and `fstat`ed first, so a
/// FIFO or device node found there is never opened (no wait for a writer, no device side
/// effect); anything but a regular file gives `EINVAL`, as [`Root::open_config`] does, except a
/// final symlink not followed, which gives `ELOOP` as `O_NOFOLLOW` would. For files opened by
/// path: the rpmdb (after [`resolve_in_root`]), quietwire's state files (baseline, cache,
/// lock, signature, policy) and administrator-given key files.
pub fn open_regular_file(path: &Path, follow_last: bool) -> Result<File, Errno> {
    let nofollow = if follow_last { 0 } else { libc::O_NOFOLLOW };
    let pfd = open_host(path, libc::O_PATH | nofollow)?;
    let st = fstat_fd(pfd.as_fd())?;
    if st.is_lnk() {
        // What an open with O_NOFOLLOW says of a final symlink.
        return Err(Errno(libc::ELOOP));
    }
    if !st.is_reg() {
        return Err(Errno(libc::EINVAL));
    }
    match reopen_regular(pfd.as_fd()) {
        Err(Errno(libc::ENOENT)) if !proc_available() => {
            // Without /proc: open by name without blocking, then make sure it is the file
            // pinned (a swap in between is refused, though a FIFO would have been opened).
            let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW;
            let fd = open_host(path, flags)?;
            match fstat_fd(fd.as_fd())?.same_regular(&st) {
                true => Ok(File::from(fd)),
                false => Err(Errno(libc::EINVAL)),
            }
        }
        r => r,
    }
}

/// [`open_regular_file`] for callers that report an `io::Error`: anything but a regular file
/// is "not a regular file", other failures keep their errno.
pub fn open_regular_path(path: &Path, follow_last: bool) -> io::Result<File> {
    open_regular_file(path, follow_last).map_err(|e| match e.0 {
        libc::EINVAL => io::Error::other("not a regular file"),
        errno => io::Error::from_raw_os_error(errno),
    })
}

/// The entry names of a directory of the root (`rel` relative to it), symlinks resolved inside
/// the root; empty when it does not exist. Names that are not UTF-8 are left out.
pub fn list_root_dir(host_root: &Path, rel: &str) -> Result<Vec<String>, String> {
    let resolved = match resolve_in_root(host_root, Path::new(rel), true) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    // Entered component by component from the root, refusing symlinks: a link swapped in
    // after the resolution cannot lead out of the root.
    let inside = resolved.strip_prefix(host_root).unwrap_or(Path::new(rel));
    let dir = match Dir::open_root(host_root).and_then(|top| top.open_dir_path(inside)) {
        Ok(d) => d,
        Err(e) if e.0 == libc::ENOENT => return Ok(Vec::new()),
        Err(e) => return Err(e.message()),
    };
    Ok(dir
        .entries()
        .map_err(|e| e.message())?
        .into_iter()
        .filter_map(|n| n.into_string().ok())
        .collect())
}

/// Whether `/proc/self/fd` can be used to re-open descriptors.
fn proc_available() -> bool {
    proc_fd_dir().is_some()
}

/// Open the inode behind an `O_PATH` descriptor for reading, through its `/proc/self/fd` magic
/// link (the exact same inode, no path race). Without `/proc`, nothing else re-opens an
/// `O_PATH` descriptor, so the caller gets the error.
fn reopen_regular(pfd: BorrowedFd<'_>) -> Result<File, Errno> {
    let proc_fd = proc_fd_dir().ok_or(Errno(libc::ENOENT))?;
    let name = itoa_fd(pfd.as_raw_fd());
    let base = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let mut flags = base | libc::O_NOATIME;
    loop {
        // SAFETY: proc_fd is an open directory and name NUL-terminated; the result is
        // checked.
        let fd = unsafe { libc::openat(proc_fd.as_raw_fd(), name.as_ptr().cast(), flags) };
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

/// The decimal name of descriptor `fd` in `/proc/self/fd`, NUL-terminated, without a heap
/// allocation (it runs once per file read).
fn itoa_fd(fd: RawFd) -> [u8; 12] {
    let mut out = [0u8; 12];
    let mut digits = [0u8; 11];
    let mut n = fd.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for (dst, src) in out.iter_mut().zip(digits[..len].iter().rev()) {
        *dst = *src;
    }
    out
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

/// An open directory of the walk, the anchor for every access below it. Names are single
/// components; nothing below a `Dir` follows a symlink.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

fn name_cstr(name: &OsStr) -> Result<CString, Errno> {
    CString::new(name.as_bytes()).map_err(|_| Errno(libc::EINVAL))
}

impl Dir {
    /// Open the top of the checked root (following symlinks: the administrator named it).
    pub fn open_root(root: &Path) -> Result<Dir, Errno> {
        Ok(Dir {
            fd: open_host(root, libc::O_RDONLY | libc::O_DIRECTORY)?,
        })
    }

    /// Enter a child directory without following a symlink in its place.
    pub fn open_child(&self, name: &OsStr) -> Result<Dir, Errno> {
        let c = name_cstr(name)?;
        let fd = openat_fd(
            self.fd.as_fd(),
            &c,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )?;
        Ok(Dir { fd })
    }

    /// Open an absolute path inside the root one component at a time, refusing symlinks in any
    /// component (`ENOTDIR` or `ELOOP`). The root itself for `/`.
    pub fn open_dir_path(&self, path: &Path) -> Result<Dir, Errno> {
        let mut cur = self.try_clone()?;
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => cur = cur.open_child(n)?,
                Component::ParentDir | Component::Prefix(_) => return Err(Errno(libc::EINVAL)),
            }
        }
        Ok(cur)
    }

    /// Make (mode 0755 less the umask) and enter each directory of the relative `path`, without
    /// following a symlink in any component: a directory quietwire writes into the checked root.
    pub fn make_dir_path(&self, path: &Path) -> Result<Dir, Errno> {
        let mut cur = self.try_clone()?;
        for c in path.components() {
            let Component::Normal(n) = c else { continue };
            let name = name_cstr(n)?;
            // SAFETY: valid dir fd and NUL-terminated name; the result is checked.
            if unsafe { libc::mkdirat(cur.raw(), name.as_ptr(), 0o755) } != 0 {
                let e = Errno::last();
                if e.0 != libc::EEXIST {
                    return Err(e);
                }
            }
            cur = cur.open_child(n)?;
        }
        Ok(cur)
    }

    /// Replace the entry `name` with a regular file holding `body` (mode `mode` less the umask):
    /// a temporary file is written and synced, renamed over `name`, then the directory synced,
    /// so a crash leaves the old file or the new one. Whatever is at `name` (a symlink too) is
    /// replaced, never followed.
    pub fn replace_file(&self, name: &OsStr, body: &[u8], mode: u32) -> Result<(), Errno> {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = name_cstr(&tmp_name)?;
        let target = name_cstr(name)?;
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: valid dir fd and NUL-terminated name; the result is checked.
        let fd = unsafe { libc::openat(self.raw(), tmp.as_ptr(), flags, mode as libc::c_uint) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: a fresh descriptor, owned from here.
        let mut file = unsafe { File::from_raw_fd(fd) };
        let remove_tmp = || {
            // SAFETY: valid dir fd and name; a failure leaves a stray temporary file only.
            unsafe { libc::unlinkat(self.raw(), tmp.as_ptr(), 0) };
        };
        if let Err(e) = io::Write::write_all(&mut file, body).and_then(|()| file.sync_all()) {
            remove_tmp();
            return Err(Errno::of(&e));
        }
        drop(file);
        // SAFETY: valid dir fd and NUL-terminated names.
        if unsafe { libc::renameat(self.raw(), tmp.as_ptr(), self.raw(), target.as_ptr()) } != 0 {
            let e = Errno::last();
            remove_tmp();
            return Err(e);
        }
        // SAFETY: valid fd; a failed directory sync only weakens durability.
        unsafe { libc::fsync(self.raw()) };
        Ok(())
    }

    pub fn try_clone(&self) -> Result<Dir, Errno> {
        Ok(Dir {
            fd: self.fd.try_clone().map_err(|e| Errno::of(&e))?,
        })
    }

    /// `lstat` of an entry.
    pub fn lstat(&self, name: &OsStr) -> Result<Stat, Errno> {
        fstatat_fd(
            self.fd.as_fd(),
            &name_cstr(name)?,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    }

    /// `fstat` of the directory itself.
    pub fn stat(&self) -> Result<Stat, Errno> {
        fstat_fd(self.fd.as_fd())
    }

    /// Whether the directory is on a pseudo file system (proc, sysfs, devpts, cgroup, ...).
    pub fn is_pseudo_fs(&self) -> bool {
        let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: the fd is valid and sfs is writable memory of the right size.
        if unsafe { libc::fstatfs(self.fd.as_raw_fd(), sfs.as_mut_ptr()) } != 0 {
            return false;
        }
        // SAFETY: fstatfs succeeded and initialised sfs.
        let sfs = unsafe { sfs.assume_init() };
        #[allow(clippy::unnecessary_cast)]
        let magic = sfs.f_type as i64;
        PSEUDO_FS_MAGICS.contains(&magic)
    }

    /// Entry names (without `.` and `..`), sorted by bytes so that a depth-first walk yields
    /// paths in `Path` (component) order.
    pub fn entries(&self) -> Result<Vec<OsString>, Errno> {
        // fdopendir takes ownership of its fd, so give it a duplicate.
        let dup = self.fd.try_clone().map_err(|e| Errno::of(&e))?;
        // SAFETY: `dup` is a valid directory fd whose ownership passes to the DIR stream.
        let dirp = unsafe { libc::fdopendir(dup.as_raw_fd()) };
        if dirp.is_null() {
            return Err(Errno::last());
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
                break match Errno::last() {
                    Errno(0) => Ok(()),
                    e => Err(e),
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

    /// A symlink's whole target, byte-exact.
    pub fn readlink(&self, name: &OsStr) -> Result<Vec<u8>, Errno> {
        readlinkat_full(self.fd.as_fd(), &name_cstr(name)?)
    }

    /// Open the entry `name` for reading only if it is still the regular file `seen`; returns
    /// it with its `fstat`. The walk's hot path: it opens by name ([`open_by_name`]), as it
    /// always has, because the `O_PATH` check and `/proc` re-open cost it about 20% of its time.
    pub fn open_regular(&self, name: &OsStr, seen: &Stat) -> Result<(File, Stat), OpenError> {
        open_by_name(self.fd.as_fd(), &name_cstr(name)?, seen)
    }

    /// The whole xattr `attr` of the entry `name`, without following a symlink and without
    /// opening it (special files are never opened).
    pub fn entry_xattr(&self, name: &OsStr, attr: &CStr) -> Result<Option<Vec<u8>>, Errno> {
        let c = name_cstr(name)?;
        xattr_vec(|buf| xattr_at(self.fd.as_fd(), Some(&c), attr, buf))
    }

    /// The whole xattr `attr` of the directory itself.
    pub fn xattr(&self, attr: &CStr) -> Result<Option<Vec<u8>>, Errno> {
        xattr_vec(|buf| fxattr(self.fd.as_fd(), attr, buf))
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

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
/// result names where the path would be. Returns the host path (under `root`), for callers that
/// must hand a path to a library (SQLite, the policy parser); the [`Root`] resolver is the one
/// to use for reading.
pub fn resolve_in_root(root: &Path, path: &Path, follow_last: bool) -> io::Result<PathBuf> {
    let mut queue = VecDeque::new();
    push_components(&mut queue, path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0usize;
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

    fn roots(dir: &Path) -> Vec<Root> {
        vec![Root::open(dir).unwrap(), Root::open_manual(dir).unwrap()]
    }

    #[test]
    fn first_physical_offset_places_data_and_not_empty_files() {
        let t = tempfile::tempdir().unwrap();
        let empty = File::create(t.path().join("empty")).unwrap();
        assert_eq!(first_physical_offset(&empty), None);
        let placed: Vec<Option<u64>> = ["a", "b"]
            .iter()
            .map(|name| {
                let path = t.path().join(name);
                std::fs::write(&path, vec![name.as_bytes()[0]; 64 * 1024]).unwrap();
                let f = File::open(&path).unwrap();
                // Written back, so the data has its place on the device.
                f.sync_all().unwrap();
                first_physical_offset(&f)
            })
            .collect();
        // ext4, XFS and Btrfs map extents; other file systems (tmpfs, overlayfs) may not.
        let maps_extents = {
            let c = std::ffi::CString::new(t.path().as_os_str().as_bytes()).unwrap();
            let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut fs) }, 0);
            [0xEF53, 0x5846_5342, 0x9123_683E].contains(&(fs.f_type as i64))
        };
        match placed.as_slice() {
            [Some(a), Some(b)] => assert_ne!(a, b, "two files' data at one place"),
            _ if maps_extents => panic!("no extent found on ext4, XFS or Btrfs: {placed:?}"),
            _ => eprintln!(
                "skipped: the file system of {} does not map extents (FIEMAP)",
                t.path().display()
            ),
        }
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

    #[test]
    fn symlinked_directory_is_not_entered() {
        let t = tempfile::tempdir().unwrap();
        symlink("/", t.path().join("escape")).unwrap();
        let d = Dir::open_root(t.path()).unwrap();
        // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP on some kernels).
        let refused = [Errno(libc::ENOTDIR), Errno(libc::ELOOP)];
        let e = d.open_child(OsStr::new("escape")).unwrap_err();
        assert!(refused.contains(&e), "{e}");
        let e = d.open_dir_path(Path::new("/escape/etc")).unwrap_err();
        assert!(refused.contains(&e), "{e}");
    }

    #[test]
    fn dir_reads_only_the_regular_file_it_saw() {
        let t = tempfile::tempdir().unwrap();
        let fifo = CString::new(t.path().join("p").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::fs::write(t.path().join("f"), b"x").unwrap();
        let d = Dir::open_root(t.path()).unwrap();
        let p = OsStr::new("p");
        let st = d.lstat(p).unwrap();
        assert_eq!(st.ftype, FileType::Fifo);
        assert_eq!(d.open_regular(p, &st).unwrap_err(), OpenError::Swapped);
        // Even a caller believing the FIFO is the regular file `f` gets it refused unread.
        let f = d.lstat(OsStr::new("f")).unwrap();
        assert_eq!(d.open_regular(p, &f).unwrap_err(), OpenError::Swapped);
        let (_, now) = d.open_regular(OsStr::new("f"), &f).unwrap();
        assert_eq!((now.ino, now.size), (f.ino, 1));
    }

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
    fn kept_parents_never_answer_for_another_directory_or_root() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        // More directories than are kept, each file's size naming its directory.
        for (t, extra) in [(&one, 0), (&two, 100)] {
            for d in 0..(PARENTS_KEPT + 3) {
                let dir = t.path().join(format!("a/{d}"));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("f"), vec![0u8; d + extra]).unwrap();
                std::fs::write(t.path().join("a/f"), vec![0u8; 50 + extra]).unwrap();
            }
        }
        let (r1, r2) = (
            Root::open(one.path()).unwrap(),
            Root::open(two.path()).unwrap(),
        );
        // Down into a subdirectory and back up, then the same paths in the other root.
        for round in 0..2 {
            for d in (0..(PARENTS_KEPT + 3)).chain((0..PARENTS_KEPT + 3).rev()) {
                for (root, extra) in [(&r1, 0), (&r2, 100)] {
                    let sub = root.lstat(format!("/a/{d}/f").as_bytes()).unwrap();
                    assert_eq!(sub.size, (d + extra) as u64, "round {round}, a/{d}/f");
                    let up = root.lstat(b"/a/f").unwrap();
                    assert_eq!(up.size, (50 + extra) as u64, "round {round}, a/f");
                }
            }
        }
    }

    #[test]
    fn a_symlinked_child_of_a_kept_parent_still_resolves_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/sub")).unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("a/x"), b"1").unwrap();
        std::fs::write(t.path().join("a/sub/f"), b"12").unwrap();
        std::fs::write(t.path().join("etc/qw-only-in-root"), b"1234567").unwrap();
        // Absolute, to a directory the host has too: followed from the host's / it would
        // find the host's /etc, which has no such file.
        std::os::unix::fs::symlink("/etc", t.path().join("a/link")).unwrap();
        let root = Root::open(t.path()).unwrap();
        for _ in 0..2 {
            // `a` is kept by the first lookup; `a/sub` is then opened from it, `a/link` is not.
            assert_eq!(root.lstat(b"/a/x").unwrap().size, 1);
            assert_eq!(root.lstat(b"/a/sub/f").unwrap().size, 2);
            assert_eq!(root.lstat(b"/a/link/qw-only-in-root").unwrap().size, 7);
            assert_eq!(root.lstat(b"/a/missing/f"), Err(Errno(libc::ENOENT)));
            assert_eq!(root.lstat(b"/a/x/f"), Err(Errno(libc::ENOTDIR)));
        }
    }

    #[test]
    fn a_directory_lstat_by_pin_is_kept_and_a_symlink_is_not() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/sub")).unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("a/sub/f"), b"12").unwrap();
        std::fs::write(t.path().join("etc/qw-only-in-root"), b"1234567").unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("a/link")).unwrap();
        let root = Root::open(t.path()).unwrap();
        let e = root.entry(b"/a/sub").unwrap();
        assert!(root.lstat_keeping_dir(&e, b"/a/sub").unwrap().is_dir());
        // Kept: files under `/a/sub` are looked up in the directory pinned, even once another
        // directory has taken its name (as with any kept parent).
        std::fs::rename(t.path().join("a/sub"), t.path().join("a/old")).unwrap();
        std::fs::create_dir(t.path().join("a/sub")).unwrap();
        std::fs::write(t.path().join("a/sub/f"), b"123").unwrap();
        assert_eq!(root.lstat(b"/a/sub/f").unwrap().size, 2);
        // A symlink's lstat is the link's, and it is not kept: what lies under it is still
        // resolved inside the root (a kept link would answer ENOTDIR).
        let e = root.entry(b"/a/link").unwrap();
        assert!(root.lstat_keeping_dir(&e, b"/a/link").unwrap().is_lnk());
        assert_eq!(root.lstat(b"/a/link/qw-only-in-root").unwrap().size, 7);
    }

    #[test]
    fn descriptor_names_are_decimal_and_nul_terminated() {
        for (fd, want) in [(0, "0"), (7, "7"), (10, "10"), (i32::MAX, "2147483647")] {
            let name = itoa_fd(fd);
            let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            assert_eq!(&name[..len], want.as_bytes());
            assert!(len < name.len(), "no NUL after {want}");
        }
    }

    #[test]
    fn a_reopen_reads_the_pinned_file_and_keeps_working_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"content").unwrap();
        let root = Root::open(dir.path()).unwrap();
        let entry = root.entry(b"/f").unwrap();
        let pinned = entry.pin().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pinned.open_regular().unwrap(), &mut text).unwrap();
        assert_eq!(text, "content");
        // The /proc/self/fd directory is opened once per process and shared by threads.
        std::thread::scope(|s| {
            s.spawn(|| {
                let root = Root::open(dir.path()).unwrap();
                let entry = root.entry(b"/f").unwrap();
                let pinned = entry.pin().unwrap();
                let mut f = pinned.open_regular().unwrap();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut f, &mut text).unwrap();
                assert_eq!(text, "content");
            });
        });
    }

    #[test]
    fn host_paths_resolve_inside_root() {
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
