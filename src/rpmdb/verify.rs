//! Package-owned file verification with rpm 4.18's exact rules (`rpmfilesVerify` and
//! `verifyHeader`, spec sections 1.1 and 4.1–4.8), run in parallel and re-assembled in rpm's
//! order (package order, then header file order).
//!
//! Reads the disk only through [`crate::scan`] (root-confined, never opens special files).
//! Produces [`OwnedResult`]s (rpm's verdict bits plus expected/actual values) and converts them
//! into [`Finding`]s; it never prints.

use crate::finding::{Attr, Change, Finding, FindingKind, Severity, Source, Value};
use crate::rpmdb::{Database, FileInfo, FileState, HeaderDigest, Package};
use crate::scan::caps::{self, CapSet};
use crate::scan::fs::{Errno, OpenError, Root};
use crate::scan::hash;
use crate::scan::users::Ids;
use crate::scan::verified::{FileKey, OwnedCache, PackageStates, Verified};
use rayon::prelude::*;
use rpm::{FileFlags, FileVerifyFlags};
use std::path::Path;

/// RPMVERIFY_* bits (FILEVERIFYFLAGS and result bits), named as in rpm.
pub mod vf {
    use super::FileVerifyFlags as F;
    pub const DIGEST: u32 = F::FILEDIGEST.bits();
    pub const SIZE: u32 = F::FILESIZE.bits();
    pub const LINKTO: u32 = F::LINKTO.bits();
    pub const USER: u32 = F::USER.bits();
    pub const GROUP: u32 = F::GROUP.bits();
    pub const MTIME: u32 = F::MTIME.bits();
    pub const MODE: u32 = F::MODE.bits();
    pub const RDEV: u32 = F::RDEV.bits();
    pub const CAPS: u32 = F::CAPS.bits();
    pub const READLINKFAIL: u32 = F::READLINKFAIL.bits();
    pub const READFAIL: u32 = F::READFAIL.bits();
    pub const LSTATFAIL: u32 = F::LSTATFAIL.bits();
    pub const LGETFILECONFAIL: u32 = F::LGETFILECONFAIL.bits();
    pub const FAILURES: u32 = READLINKFAIL | READFAIL | LSTATFAIL | LGETFILECONFAIL;
}

/// RPMFILE_* bits (FILEFLAGS).
pub mod ff {
    use super::FileFlags as F;
    pub const CONFIG: u32 = F::CONFIG.bits();
    pub const DOC: u32 = F::DOC.bits();
    pub const MISSINGOK: u32 = F::MISSINGOK.bits();
    pub const NOREPLACE: u32 = F::NOREPLACE.bits();
    pub const SPECFILE: u32 = F::SPECFILE.bits();
    pub const GHOST: u32 = F::GHOST.bits();
    pub const LICENSE: u32 = F::LICENSE.bits();
    pub const README: u32 = F::README.bits();
    pub const ARTIFACT: u32 = F::ARTIFACT.bits();
}

const S_IFMT: u32 = libc::S_IFMT;
const S_ISUID: u32 = libc::S_ISUID;
const S_ISGID: u32 = libc::S_ISGID;

/// How to run the owned-file check.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Worker threads; 0 means one per CPU.
    pub jobs: usize,
    /// RPMVERIFY bits never checked (`--nomd5`, `--nosize`, ...: rpm's omit mask).
    pub omit: u32,
    /// Only these packages (name, name-version, name-version-release, NVRA or NEVRA), in
    /// argument order like `rpm -V a b`; empty = every package in database order.
    pub packages: Vec<String>,
    /// Keep clean results too (what `rpm -v` prints).
    pub verbose: bool,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Verified-state cache (`--trust-ctime`): a regular file whose state equals its entry is
    /// taken as matching its digest without being read.
    pub cache: Option<std::sync::Arc<OwnedCache>>,
    /// Collect the files whose content matched their digest, for a new cache.
    pub record: bool,
}

/// The verdict for one file, in rpm's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedResult {
    /// Index into `Database::packages`.
    pub pkg: usize,
    /// Index into that package's `files`.
    pub file: usize,
    /// RPMVERIFY_* bits as rpm computes them, after the shared-file mtime filter.
    pub result: u32,
    /// errno of the failed lstat (LSTATFAIL), or of the failed read/readlink (`?`).
    pub errno: Option<Errno>,
    /// The file was replaced between lstat and open (reported as a read failure, `?`).
    pub swapped: bool,
    /// Expected and found values of every attribute in `result` (empty when clean).
    pub changes: Vec<Change>,
}

/// Everything the owned-file check produced.
#[derive(Debug, Clone, Default)]
pub struct OwnedReport {
    /// Results in rpm's order. Without `verbose`, only files rpm would print.
    pub results: Vec<OwnedResult>,
    /// Package arguments that matched nothing (rpm: `package X is not installed`).
    pub not_installed: Vec<String>,
    /// Packages verified (a package named twice counts twice, like rpm).
    pub packages_checked: usize,
    /// Files looked at.
    pub files_checked: usize,
    /// Packages whose verdict is "failed" (rpm's per-package exit contribution), as indices.
    pub failed_packages: Vec<usize>,
    /// Regular files whose content was read and hashed.
    pub hashed: usize,
    /// Regular files taken as matching from the verified-state cache, not read.
    pub from_cache: usize,
    /// With `record`: the files whose content matched, with their state before the read.
    pub verified: Vec<Verified>,
}

/// The owned-file check could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("cannot open root {path}: {source}")]
    Root {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

impl OwnedResult {
    /// rpm: the file was not found (or lstat failed).
    pub fn is_missing(&self) -> bool {
        self.result & vf::LSTATFAIL != 0
    }

    /// rpm's per-file contribution to the package verdict: a missing `%ghost`/`%missingok` file
    /// does not count (4.14.1+).
    pub fn fails(&self, file: FileInfo<'_>) -> bool {
        let mut r = self.result;
        if file.flags() & (ff::MISSINGOK | ff::GHOST) != 0 {
            r &= !vf::LSTATFAIL;
        }
        r != 0
    }
}

/// Whether rpm prints a line for this result (`verifyHeader`).
pub fn rpm_prints(result: u32, file: FileInfo<'_>, verbose: bool) -> bool {
    if result & vf::LSTATFAIL != 0 {
        return file.flags() & (ff::MISSINGOK | ff::GHOST) == 0 || verbose;
    }
    result != 0 || state_text(file.state(), verbose).is_some() || verbose
}

/// rpm's state suffix text, if shown (`replaced`, `no state` and `unknown state` always;
/// `not installed`, `net shared` and `wrong color` only with `-v`).
pub fn state_text(state: FileState, verbose: bool) -> Option<&'static str> {
    match state {
        FileState::Normal => None,
        FileState::Replaced => Some("replaced"),
        FileState::Missing => Some("no state"),
        FileState::Unknown(_) => Some("unknown state"),
        FileState::NotInstalled => verbose.then_some("not installed"),
        FileState::NetShared => verbose.then_some("net shared"),
        FileState::WrongColor => verbose.then_some("wrong color"),
    }
}

/// Everything a worker needs, shared read-only.
struct Ctx<'a> {
    root: &'a Root,
    ids: &'a Ids,
    opts: &'a VerifyOptions,
    /// Files whose ctime is at or after this are not recorded as verified (nanoseconds since
    /// the epoch): a write in the same clock tick as the last change, after the read, would
    /// leave the ctime as recorded.
    racy_after_ns: i64,
}

/// The header's view of a file (rpm's `rpmfilesStat`).
struct Expected {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    rdev: u32,
    uid_known: bool,
    gid_known: bool,
}

fn expected(fi: FileInfo<'_>, ids: &Ids) -> Expected {
    let mut mode = u32::from(fi.mode());
    let ftype = mode & S_IFMT;
    // Sizes only mean something for regular files and symlinks (4.16+: 0 otherwise).
    let size = if ftype == libc::S_IFREG || ftype == libc::S_IFLNK {
        fi.size()
    } else {
        0
    };
    // An unresolvable owner is expected as 0 without its set-id bit, mirroring what install did
    // ("user X does not exist - using root").
    let uid = ids.uid(fi.user());
    if uid.is_none() {
        mode &= !S_ISUID;
    }
    let gid = ids.gid(fi.group());
    if gid.is_none() {
        mode &= !S_ISGID;
    }
    Expected {
        mode,
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
        size,
        mtime: i64::from(fi.mtime()),
        rdev: u32::from(fi.rdev()),
        uid_known: uid.is_some(),
        gid_known: gid.is_some(),
    }
}

/// Whether the package's digest table can be used (4.16+ rules): present with one entry per
/// file, and every non-empty entry exactly twice the algorithm's length. Otherwise rpm discards
/// the whole table and every checked regular file gets `5`.
pub fn digest_table_usable(pkg: &Package) -> bool {
    let want = 2 * pkg.digest_algo.digest_len();
    pkg.has_file_digests
        && pkg
            .files
            .iter()
            .all(|f| !f.has_digest() || f.digest_hex_len() == want)
}

/// What [`verify_file`] found for one file.
struct Verdict {
    result: u32,
    errno: Option<Errno>,
    swapped: bool,
    changes: Vec<Change>,
    /// How the digest was settled: by reading the file, or from the cache.
    hashed: bool,
    cached: bool,
    /// The file's state before the read when its content matched (for a new cache).
    verified: Option<FileKey>,
}

impl Verdict {
    fn only(result: u32, errno: Option<Errno>) -> Verdict {
        Verdict {
            result,
            errno,
            swapped: false,
            changes: Vec::new(),
            hashed: false,
            cached: false,
            verified: None,
        }
    }
}

/// The key under which a package's files are cached: its SHA256HEADER, only when it matches the
/// header's data (so the file list and digests it covers are the ones recorded).
fn cache_key(pkg: &Package) -> Option<&str> {
    match pkg.header_digest {
        HeaderDigest::Ok => pkg.sha256_header.as_deref(),
        HeaderDigest::Missing | HeaderDigest::Mismatch => None,
    }
}

/// Verify one file (rpm's `rpmfilesVerify`), before the shared-file mtime filter.
fn verify_file(
    ctx: &Ctx<'_>,
    pkg: &Package,
    digests_ok: bool,
    cached_states: Option<&PackageStates>,
    index: u32,
    fi: FileInfo<'_>,
) -> Verdict {
    let mut flags = fi.verify_flags();
    match fi.state() {
        FileState::NetShared | FileState::NotInstalled => return Verdict::only(0, None),
        // Only existence is checked (the bit itself is masked below, like rpm).
        FileState::Replaced => flags = vf::LSTATFAIL,
        FileState::WrongColor => flags &= !(vf::DIGEST | vf::SIZE | vf::MTIME | vf::RDEV),
        FileState::Normal | FileState::Missing | FileState::Unknown(_) => {}
    }
    let (parent, name) = fi.parent_and_name();
    let entry = match ctx.root.entry_in(parent, name) {
        Ok(e) => e,
        Err(e) => return Verdict::only(vf::LSTATFAIL, Some(e)),
    };
    let exp = expected(fi, ctx.ids);
    let cache_entry = cached_states.and_then(|c| c.get(index));
    // A file that will be read is pinned instead of stat'ed: the descriptor both stats it and
    // opens it. One the cache may vouch for is only stat'ed.
    let will_read = exp.mode & S_IFMT == libc::S_IFREG
        && flags & vf::DIGEST != 0
        && digests_ok
        && cache_entry.is_none();
    let (lst, pinned) = match will_read {
        true => match entry.pin() {
            Ok(p) => (p.stat, Some(p)),
            Err(e) => return Verdict::only(vf::LSTATFAIL, Some(e)),
        },
        false if exp.mode & S_IFMT == libc::S_IFDIR => {
            match ctx.root.lstat_keeping_dir(&entry, &fi.path_bytes()) {
                Ok(s) => (s, None),
                Err(e) => return Verdict::only(vf::LSTATFAIL, Some(e)),
            }
        }
        false => match entry.lstat() {
            Ok(s) => (s, None),
            Err(e) => return Verdict::only(vf::LSTATFAIL, Some(e)),
        },
    };

    // A directory replaced by a symlink to a directory, owned by root or by the target's owner,
    // is compared as the target (4.14.2+; mirrors what install accepts).
    let mut sb = lst;
    if exp.mode & S_IFMT == libc::S_IFDIR && lst.is_lnk() {
        if let Ok(d) = ctx.root.stat(&fi.path_bytes()) {
            if d.is_dir() && (lst.uid == 0 || lst.uid == d.uid) {
                sb = d;
            }
        }
    }

    if sb.is_lnk() {
        flags &= !vf::MODE;
    } else {
        flags &= !vf::LINKTO;
    }
    if !sb.is_reg() {
        flags &= !(vf::DIGEST | vf::SIZE | vf::MTIME | vf::CAPS);
    }
    let ghost = fi.flags() & ff::GHOST != 0;
    if ghost {
        flags &= !(vf::DIGEST | vf::SIZE | vf::MTIME | vf::LINKTO);
    }
    flags &= !(ctx.opts.omit | vf::FAILURES);

    let mut res = 0u32;
    let mut errno = None;
    let mut swapped = false;
    let mut changes = Vec::new();
    let mut opened: Option<std::fs::File> = None;
    let (mut hashed, mut cached, mut verified) = (false, false, None);

    if flags & vf::DIGEST != 0 {
        let algo = pkg.digest_algo;
        let mut want = [0u8; hash::MAX_DIGEST];
        let want = &mut want[..algo.digest_len()];
        if !digests_ok {
            res |= vf::DIGEST;
            changes.push(change(
                Attr::Digest,
                Value::Absent,
                Value::Text("not compared: the package's digest table is unusable".into()),
            ));
        } else if cache_entry.is_some_and(|k| *k == FileKey::of(&sb)) {
            cached = true;
            verified = Some(FileKey::of(&sb));
            // Entries are recorded only when the capabilities matched too, and setting the
            // xattr moves the ctime as writing does.
            flags &= !vf::CAPS;
        } else {
            // An empty entry decodes to all zeros, which no real content hashes to.
            fi.expected_digest(want);
            hashed = true;
            // `sb` is the pinned `lst` here: only a directory is ever compared as another inode.
            let got = match pinned
                .as_ref()
                .map_or_else(|| entry.open_regular(&sb), |p| p.open_regular())
            {
                Ok(f) => {
                    // The open checked this is the inode `sb` describes.
                    let r =
                        hash::hash_logical_sized(algo, &f, sb.size, hash::DEFAULT_MAX_HASH_BYTES)
                            .map_err(|e| {
                                OpenError::Sys(Errno(e.raw_os_error().unwrap_or(libc::EIO)))
                            });
                    // Kept for the caps check: fgetxattr on it saves a path lookup.
                    opened = Some(f);
                    r
                }
                Err(e) => Err(e),
            };
            match got {
                Ok(d) if d.as_bytes() == want => {
                    if ctx.opts.record && sb.ctime_ns < ctx.racy_after_ns {
                        verified = Some(FileKey::of(&sb));
                    }
                }
                Ok(d) => {
                    res |= vf::DIGEST;
                    changes.push(change(
                        Attr::Digest,
                        digest_value(&fi.digest_hex()),
                        Value::Text(d.to_hex()),
                    ));
                }
                Err(e) => {
                    res |= vf::READFAIL | vf::DIGEST;
                    let why = match e {
                        OpenError::Sys(er) => {
                            errno = Some(er);
                            er.message()
                        }
                        OpenError::Swapped => {
                            swapped = true;
                            "replaced during the check".to_string()
                        }
                    };
                    changes.push(Change {
                        attr: Attr::Digest,
                        expected: digest_value(&fi.digest_hex()),
                        actual: Value::Text(why),
                        unreadable: true,
                    });
                }
            }
        }
    }

    if flags & vf::LINKTO != 0 {
        let mut target = Vec::new();
        match entry.readlink(&mut target) {
            Ok(()) => {
                if *target != *fi.linkto() {
                    res |= vf::LINKTO;
                    changes.push(change(
                        Attr::LinkTo,
                        Value::Bytes(fi.linkto().to_vec()),
                        Value::Bytes(target),
                    ));
                }
            }
            Err(e) => {
                res |= vf::READLINKFAIL | vf::LINKTO;
                errno.get_or_insert(e);
                changes.push(Change {
                    attr: Attr::LinkTo,
                    expected: Value::Bytes(fi.linkto().to_vec()),
                    actual: Value::Text(e.message()),
                    unreadable: true,
                });
            }
        }
    }

    if flags & vf::SIZE != 0 && sb.size != exp.size {
        res |= vf::SIZE;
        changes.push(change(Attr::Size, int(exp.size), int(sb.size)));
    }

    if flags & vf::MODE != 0 {
        let (mut m_exp, mut m_disk) = (exp.mode, sb.st_mode() & 0xffff);
        if ghost {
            m_exp &= !S_IFMT;
            m_disk &= !S_IFMT;
        }
        if m_exp != m_disk {
            res |= vf::MODE;
            changes.push(change(
                Attr::Mode,
                Value::Mode(exp.mode),
                Value::Mode(sb.st_mode() & 0xffff),
            ));
        }
    }

    if flags & vf::RDEV != 0 {
        let chr = |m: u32| m & S_IFMT == libc::S_IFCHR;
        let blk = |m: u32| m & S_IFMT == libc::S_IFBLK;
        let differs = if chr(exp.mode) != chr(sb.st_mode()) || blk(exp.mode) != blk(sb.st_mode()) {
            true
        } else if (chr(exp.mode) || blk(exp.mode)) && (chr(sb.st_mode()) || blk(sb.st_mode())) {
            // Only the low 16 bits: (major & 0xff) << 8 | (minor & 0xff) in glibc's encoding.
            (sb.rdev & 0xffff) as u32 != exp.rdev & 0xffff
        } else {
            false
        };
        if differs {
            res |= vf::RDEV;
            let dev_of = |mode: u32, rdev: u64| -> Value {
                if chr(mode) || blk(mode) {
                    Value::Dev(libc::major(rdev), libc::minor(rdev))
                } else {
                    Value::Absent
                }
            };
            let expected = if chr(exp.mode) || blk(exp.mode) {
                Value::Dev((exp.rdev >> 8) & 0xff, exp.rdev & 0xff)
            } else {
                Value::Absent
            };
            changes.push(change(Attr::Rdev, expected, dev_of(sb.st_mode(), sb.rdev)));
        }
    }

    if flags & vf::CAPS != 0 {
        // An unparsable header text counts as "no capabilities", like cap_from_text's NULL.
        let want: Option<CapSet> = if fi.caps().is_empty() {
            None
        } else {
            caps::from_text(fi.caps())
        };
        let mut buf = [0u8; 64];
        let raw = match &opened {
            Some(f) => crate::scan::fs::file_capability_xattr(f, &mut buf),
            None => entry.capability_xattr(&mut buf),
        };
        let have: Option<CapSet> = match raw {
            Ok(Some(n)) => buf.get(..n).and_then(caps::from_xattr),
            // cap_get_file returns NULL on any error; rpm then sees "no capabilities".
            Ok(None) | Err(_) => None,
        };
        if caps::differ(want.as_ref(), have.as_ref()) {
            res |= vf::CAPS;
            let v =
                |c: Option<CapSet>| c.map(|c| Value::Text(c.to_text())).unwrap_or(Value::Absent);
            changes.push(change(Attr::Caps, v(want), v(have)));
        }
    }

    if flags & vf::MTIME != 0 && sb.mtime != exp.mtime {
        res |= vf::MTIME;
        changes.push(change(
            Attr::Mtime,
            Value::Int(exp.mtime),
            Value::Int(sb.mtime),
        ));
    }

    if flags & vf::USER != 0 && sb.uid != exp.uid {
        res |= vf::USER;
        let e = if exp.uid_known {
            Value::Text(format!("{} ({})", fi.user(), exp.uid))
        } else {
            Value::Text(format!("{} (unknown, 0)", fi.user()))
        };
        changes.push(change(Attr::User, e, int(u64::from(sb.uid))));
    }

    if flags & vf::GROUP != 0 && sb.gid != exp.gid {
        res |= vf::GROUP;
        let e = if exp.gid_known {
            Value::Text(format!("{} ({})", fi.group(), exp.gid))
        } else {
            Value::Text(format!("{} (unknown, 0)", fi.group()))
        };
        changes.push(change(Attr::Group, e, int(u64::from(sb.gid))));
    }

    if res & vf::CAPS != 0 {
        // The cache vouches for content and capabilities together.
        verified = None;
    }
    Verdict {
        result: res,
        errno,
        swapped,
        changes,
        hashed,
        cached,
        verified,
    }
}

fn change(attr: Attr, expected: Value, actual: Value) -> Change {
    Change {
        attr,
        expected,
        actual,
        unreadable: false,
    }
}

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn digest_value(hex: &str) -> Value {
    if hex.is_empty() {
        Value::Absent
    } else {
        Value::Text(hex.to_string())
    }
}

/// Whether a package argument names this package (`rpm -V` accepts name, name-version,
/// name-version-release, and the full NVRA/NEVRA).
pub fn matches_arg(p: &Package, arg: &str) -> bool {
    arg == p.name
        || arg == format!("{}-{}", p.name, p.version)
        || arg == format!("{}-{}-{}", p.name, p.version, p.release)
        || arg == p.nvra()
        || arg == p.nevra()
}

/// The packages that package arguments name, in rpm's order (argument by argument, database
/// order within one; a package named twice comes twice), and the arguments that name none.
pub fn select_packages(db: &Database, args: &[String]) -> (Vec<usize>, Vec<String>) {
    let mut selected = Vec::new();
    let mut not_installed = Vec::new();
    for arg in args {
        let before = selected.len();
        selected.extend(
            db.packages
                .iter()
                .enumerate()
                .filter(|(_, p)| matches_arg(p, arg))
                .map(|(i, _)| i),
        );
        if selected.len() == before {
            not_installed.push(arg.clone());
        }
    }
    (selected, not_installed)
}

/// Threads for reading package files when the user chose none: at least 8 (more reads in
/// flight than cores keep a disk busy when the page cache is cold; measured on the big root:
/// 1.7 s with 8 threads against 2.9 s with 2 on 2 cores, the same CPU time warm).
pub fn default_read_threads() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .max(8)
}

/// The order package files are visited in; results always come back in rpm's order. Chosen by
/// `QW_READ_ORDER` (`header`, `directory`, `inode`, `extent`), a benchmarking knob documented in the
/// README's issue 15 section. The default is rpm's order: on the benchmark machine no other
/// order helped, warm or cold, with or without the owned-file cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadOrder {
    /// rpm's: package by package, header file order.
    Header,
    /// Grouped by parent directory, so each worker resolves a directory once (header order
    /// interleaves subdirectories: 9,700 directory lookups for 5,595 directories on the big
    /// root, and one inode table block after another when the cache is cold).
    Directory,
    /// By inode number after a first pass of `lstat`s (on ext4, inode order is close to the
    /// order the inode tables and, for files written in one go, the data lie on disk).
    Inode,
    /// By where each regular file's first data lies on its device (`FIEMAP`), after a first
    /// pass that pins and opens each file: the order of the data itself.
    Extent,
}

impl ReadOrder {
    fn from_env() -> ReadOrder {
        match std::env::var_os("QW_READ_ORDER")
            .as_deref()
            .and_then(|v| v.to_str())
        {
            Some("directory") => ReadOrder::Directory,
            Some("inode") => ReadOrder::Inode,
            Some("extent") => ReadOrder::Extent,
            _ => ReadOrder::Header,
        }
    }
}

/// Sort `work` by the parent directory of each item's path (stable: header order within one).
fn sort_by_directory<'a, T: Copy + Send + Sync>(
    work: &mut [T],
    dir: impl Fn(&T) -> &'a [u8] + Sync,
) {
    work.par_sort_by(|a, b| dir(a).cmp(dir(b)));
}

/// Sort `work` by the (device, inode) of each item's path, from one `lstat` of each (in the
/// current order, in parallel). Items that cannot be stat'ed come first; their error is found
/// again when they are verified.
fn sort_by_inode<'a, T: Copy + Send + Sync>(
    root: &Root,
    work: &mut Vec<T>,
    parent_and_name: impl Fn(&T) -> (&'a [u8], &'a [u8]) + Sync,
) {
    sort_by_disk_key(root, work, parent_and_name, |e| {
        e.lstat().ok().map(|st| (st.dev, st.ino))
    });
}

/// Sort `work` by the device and physical offset of each item's first data, from a first pass
/// that pins each item and opens it only when it is a regular file, as verification does.
/// Items without data, or that cannot be opened or mapped, come first; an error is found again
/// when the item is verified.
fn sort_by_extent<'a, T: Copy + Send + Sync>(
    root: &Root,
    work: &mut Vec<T>,
    parent_and_name: impl Fn(&T) -> (&'a [u8], &'a [u8]) + Sync,
) {
    sort_by_disk_key(root, work, parent_and_name, |e| {
        let pinned = e.pin().ok()?;
        let file = pinned.open_regular().ok()?;
        let offset = crate::scan::fs::first_physical_offset(&file)?;
        Some((pinned.stat.dev, offset))
    });
}

/// Sort `work` by a key read from the disk for each item (in the current order, in parallel:
/// as many reads in flight as the pool has threads); items without a key come first.
fn sort_by_disk_key<'a, T: Copy + Send + Sync>(
    root: &Root,
    work: &mut Vec<T>,
    parent_and_name: impl Fn(&T) -> (&'a [u8], &'a [u8]) + Sync,
    key: impl Fn(&crate::scan::fs::Entry) -> Option<(u64, u64)> + Sync,
) {
    let mut keyed: Vec<((u64, u64), T)> = work
        .par_iter()
        .with_min_len(64)
        .map(|w| {
            let (parent, name) = parent_and_name(w);
            let k = root.entry_in(parent, name).ok().and_then(|e| key(&e));
            (k.unwrap_or((0, 0)), *w)
        })
        .collect();
    keyed.par_sort_by_key(|k| k.0);
    work.clear();
    work.extend(keyed.into_iter().map(|k| k.1));
}

/// Verify the package-owned files of `db` against the disk under `root`.
pub fn verify_packages(
    root: &Path,
    db: &Database,
    opts: &VerifyOptions,
) -> Result<OwnedReport, VerifyError> {
    let root_dir = Root::open(root).map_err(|source| VerifyError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    verify_with_root(&root_dir, db, opts)
}

/// [`verify_packages`] on an already opened root.
pub fn verify_with_root(
    root: &Root,
    db: &Database,
    opts: &VerifyOptions,
) -> Result<OwnedReport, VerifyError> {
    let ids = Ids::load(root);
    // A second is far above the coarsest ctime granularity of Linux file systems (one clock
    // tick, at most 10 ms) plus clock adjustments within a run.
    let racy_after_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
        .saturating_sub(1_000_000_000);
    let ctx = Ctx {
        root,
        ids: &ids,
        opts,
        racy_after_ns,
    };

    // Package selection, in rpm's order.
    let (selected, not_installed) = if opts.packages.is_empty() {
        ((0..db.packages.len()).collect(), Vec::new())
    } else {
        select_packages(db, &opts.packages)
    };

    // Work list: (position in `selected`, file index), in rpm's order.
    let mut work: Vec<(u32, u32)> = Vec::new();
    let mut digests_ok = vec![false; db.packages.len()];
    // Looked up once per package, not per file.
    let mut cached_states: Vec<Option<&PackageStates>> = vec![None; db.packages.len()];
    for (si, &pi) in selected.iter().enumerate() {
        let p = &db.packages[pi];
        digests_ok[pi] = digest_table_usable(p);
        cached_states[pi] = opts
            .cache
            .as_deref()
            .zip(cache_key(p))
            .and_then(|(c, k)| c.package(k));
        work.extend((0..p.files.len()).map(|fi| (si as u32, fi as u32)));
    }
    let files_checked = work.len();
    let split_path_of = |&(si, fi): &(u32, u32)| -> (&[u8], &[u8]) {
        let p = &db.packages[selected[si as usize]];
        p.files
            .get(fi as usize)
            .map_or((&[], &[]), |f| f.parent_and_name())
    };
    let order = ReadOrder::from_env();

    let bar = progress_bar(opts, work.len() as u64);
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (hashed, cached) = (AtomicUsize::new(0), AtomicUsize::new(0));
    // Inside the pool: the `lstat`s that order by inode are as many reads in flight as `--jobs`.
    let mut run = || -> Vec<(u32, u32, Verdict)> {
        if order != ReadOrder::Header {
            sort_by_directory(&mut work, |w| split_path_of(w).0);
        }
        match order {
            ReadOrder::Inode => sort_by_inode(root, &mut work, split_path_of),
            ReadOrder::Extent => sort_by_extent(root, &mut work, split_path_of),
            ReadOrder::Header | ReadOrder::Directory => {}
        }
        work.par_iter()
            .with_min_len(8)
            .filter_map(|&(si, fi)| {
                let pi = selected[si as usize];
                let p = &db.packages[pi];
                let f = p.files.get(fi as usize)?;
                let v = verify_file(&ctx, p, digests_ok[pi], cached_states[pi], fi, f);
                if let Some(b) = &bar {
                    b.inc(1);
                }
                hashed.fetch_add(usize::from(v.hashed), Relaxed);
                cached.fetch_add(usize::from(v.cached), Relaxed);
                // A clean file rpm does not print needs nothing more (the shared-file filter
                // only clears bits): not keeping it saves memory on large databases. Its
                // verified state matters only to a cache being recorded; keeping it for every
                // check held ~100 bytes per clean file (3.4 MB on the big root) for nothing.
                let keep = opts.verbose
                    || v.result != 0
                    || rpm_prints(v.result, f, false)
                    || (opts.record && v.verified.is_some());
                keep.then_some((si, fi, v))
            })
            .collect()
    };
    let mut raw = if opts.jobs > 0 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.jobs)
            .build()
            .map_err(|e| VerifyError::Threads(e.to_string()))?;
        pool.install(run)
    } else {
        run()
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if order != ReadOrder::Header {
        // Back to rpm's order (package, then header file order): the output must not depend on
        // the order the disk was read in.
        raw.par_sort_unstable_by_key(|r| (r.0, r.1));
    }

    // Shared-file mtime filter: T is dropped when more than one rpmdb record owns the path.
    let need: Vec<Vec<u8>> = raw
        .iter()
        .filter(|r| r.2.result & vf::MTIME != 0)
        .filter_map(|r| db.packages[selected[r.0 as usize]].files.get(r.1 as usize))
        .map(|f| f.path_bytes())
        .collect();
    let owners = shared::count_owners(root, db, &need);

    let mut report = OwnedReport {
        hashed: hashed.into_inner(),
        from_cache: cached.into_inner(),
        not_installed,
        packages_checked: selected.len(),
        files_checked,
        ..Default::default()
    };
    // A header whose file list cannot be loaded fails verification silently, like rpm's
    // verifyHeader returning 1 with no output.
    let mut failed: Vec<bool> = selected
        .iter()
        .map(|&pi| db.packages[pi].file_error.is_some())
        .collect();
    for (si, fi, v) in raw {
        let Verdict {
            mut result,
            errno,
            swapped,
            mut changes,
            verified,
            ..
        } = v;
        let pi = selected[si as usize];
        if let (Some(k), Some(h), true) = (verified, cache_key(&db.packages[pi]), opts.record) {
            report.verified.push((h.to_string(), fi, k));
        }
        let Some(f) = db.packages[pi].files.get(fi as usize) else {
            continue;
        };
        if result & vf::MTIME != 0
            && owners.get(f.path_bytes().as_slice()).copied().unwrap_or(1) > 1
        {
            result &= !vf::MTIME;
            changes.retain(|c| c.attr != Attr::Mtime);
        }
        let r = OwnedResult {
            pkg: pi,
            file: fi as usize,
            result,
            errno,
            swapped,
            changes,
        };
        if r.fails(f) {
            failed[si as usize] = true;
        }
        if opts.verbose || rpm_prints(result, f, false) {
            report.results.push(r);
        }
    }
    report.failed_packages = selected
        .iter()
        .zip(&failed)
        .filter(|(_, &f)| f)
        .map(|(&p, _)| p)
        .collect();
    Ok(report)
}

fn progress_bar(opts: &VerifyOptions, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !opts.progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} verifying package files {pos}/{len} [{bar:30}] {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// rpm's exit status for `-V` with `--nodeps --noscripts`: `-a` gives 1 if any package failed;
/// named arguments give one per failing argument plus one per argument not installed.
pub fn rpm_exit_code(report: &OwnedReport, db: &Database, opts: &VerifyOptions) -> i32 {
    if opts.packages.is_empty() {
        return i32::from(!report.failed_packages.is_empty());
    }
    let failing = opts
        .packages
        .iter()
        .filter(|a| {
            report
                .failed_packages
                .iter()
                .any(|&p| db.packages.get(p).is_some_and(|pk| matches_arg(pk, a)))
        })
        .count();
    ((failing + report.not_installed.len()) as i32).min(254)
}

/// rpm's attribute character: the first of `d c s m n g l r a` set in FILEFLAGS, or a space.
pub fn attr_char(flags: u32) -> char {
    char::from(super::db::file_class(flags).letter())
}

/// Convert the results into findings (one per line rpm would print without `-v`).
pub fn to_findings(db: &Database, report: &OwnedReport) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &report.results {
        let Some(p) = db.packages.get(r.pkg) else {
            continue;
        };
        let Some(f) = p.files.get(r.file) else {
            continue;
        };
        if !rpm_prints(r.result, f, false) {
            continue;
        }
        let kind = if r.is_missing() {
            FindingKind::Missing
        } else if r.result != 0 {
            FindingKind::Changed
        } else {
            FindingKind::Noted
        };
        let doc_like = f.flags() & (ff::DOC | ff::LICENSE | ff::README) != 0;
        let severity = match kind {
            FindingKind::Noted => Severity::Info,
            _ if doc_like => Severity::Low,
            _ if f.flags() & ff::CONFIG != 0 => Severity::Medium,
            FindingKind::Missing => Severity::Medium,
            _ => Severity::High,
        };
        let rule = match kind {
            FindingKind::Missing => "owned.missing",
            FindingKind::Changed => "owned.changed",
            _ => "owned.state",
        };
        let mut notes = Vec::new();
        if let (true, Some(e)) = (r.is_missing(), r.errno) {
            if e.0 != libc::ENOENT {
                notes.push(e.message());
            }
        }
        if r.swapped {
            notes.push("replaced during the check".into());
        }
        if let Some(s) = state_text(f.state(), false) {
            notes.push(s.to_string());
        }
        out.push(Finding {
            path: f.path_bytes(),
            kind,
            source: Source::Package {
                name: p.name.clone(),
                nevra: p.nevra(),
                pkg_index: r.pkg,
                file_index: r.file,
                class: super::db::file_class(f.flags()),
                manager_flags: f.flags(),
            },
            changes: r.changes.clone(),
            severity,
            rule: rule.to_string(),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            verify_line: Some(super::vline::verify_line(r, f, false)),
        });
    }
    out
}

/// Counting the rpmdb records that own a path (for the shared-file mtime filter).
mod shared {
    use super::*;
    use std::collections::HashMap;

    /// A directory as rpm's fingerprint sees it: the (dev, ino) of its deepest existing
    /// ancestor inside the root (symlinks followed) plus the components below that.
    #[derive(PartialEq, Eq, Hash, Clone)]
    struct Fp {
        dev_ino: Option<(u64, u64)>,
        rest: Vec<u8>,
    }

    fn fingerprint(root: &Root, dir: &[u8], cache: &mut HashMap<Vec<u8>, Fp>) -> Fp {
        if let Some(f) = cache.get(dir) {
            return f.clone();
        }
        let mut cut = dir.len();
        let mut rest: Vec<u8> = Vec::new();
        let fp = loop {
            let prefix = &dir[..cut];
            if let Ok(st) = root.stat(if prefix.is_empty() { b"/" } else { prefix }) {
                if st.is_dir() {
                    break Fp {
                        dev_ino: Some((st.dev, st.ino)),
                        rest,
                    };
                }
            }
            match prefix.iter().rposition(|&b| b == b'/') {
                Some(i) => {
                    let mut r = prefix[i..].to_vec();
                    r.extend_from_slice(&rest);
                    rest = r;
                    cut = i;
                }
                None => {
                    break Fp {
                        dev_ino: None,
                        rest: dir.to_vec(),
                    }
                }
            }
        };
        cache.insert(dir.to_vec(), fp.clone());
        fp
    }

    fn split(path: &[u8]) -> (&[u8], &[u8]) {
        match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b""[..], path),
        }
    }

    /// For each path in `need`, the number of (package, file) entries across the whole
    /// database with the same basename whose directory has the same fingerprint (every file
    /// state counts, the package itself included).
    pub(super) fn count_owners<'a>(
        root: &Root,
        db: &Database,
        need: &'a [Vec<u8>],
    ) -> HashMap<&'a [u8], usize> {
        let mut out = HashMap::new();
        if need.is_empty() {
            return out;
        }
        let mut by_base: HashMap<&[u8], Vec<&[u8]>> = HashMap::new();
        for p in need {
            let (_, base) = split(p);
            by_base.entry(base).or_default();
        }
        for pkg in &db.packages {
            for f in &pkg.files {
                let (dir, base) = f.parent_and_name();
                if let Some(v) = by_base.get_mut(base) {
                    v.push(dir);
                }
            }
        }
        let mut cache = HashMap::new();
        for p in need {
            let (dir, base) = split(p);
            let me = fingerprint(root, dir, &mut cache);
            let dirs = by_base.get(base).cloned().unwrap_or_default();
            let n = dirs
                .iter()
                .filter(|d| **d == dir || fingerprint(root, d, &mut cache) == me)
                .count();
            out.insert(p.as_slice(), n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmdb::NewFile;

    #[test]
    fn attr_char_order() {
        assert_eq!(attr_char(0), ' ');
        assert_eq!(attr_char(ff::CONFIG | ff::DOC), 'd');
        assert_eq!(attr_char(ff::CONFIG | ff::NOREPLACE), 'c');
        assert_eq!(attr_char(ff::GHOST | ff::MISSINGOK), 'm');
        assert_eq!(attr_char(ff::ARTIFACT), 'a');
        assert_eq!(attr_char(ff::LICENSE), 'l');
    }

    fn file<'a>(path: &'a str, digest: &'a str, state: FileState) -> NewFile<'a> {
        NewFile {
            path: path.as_bytes(),
            mode: 0o100644,
            size: 2,
            digest: digest.as_bytes(),
            user: b"root",
            group: b"root",
            verify_flags: u32::MAX,
            state,
            ..Default::default()
        }
    }

    fn db(algo: crate::rpmdb::DigestAlgo, files: Vec<NewFile<'_>>) -> Database {
        let files = crate::rpmdb::FileList::from_files(algo, &files).unwrap();
        Database {
            located: crate::rpmdb::Located {
                file: "/nonexistent".into(),
                backend: crate::rpmdb::Backend::Sqlite,
            },
            packages: vec![Package {
                hnum: 1,
                name: "p".into(),
                epoch: None,
                version: "1".into(),
                release: "1".into(),
                arch: Some("noarch".into()),
                install_time: None,
                install_tid: None,
                sha256_header: None,
                header_digest: crate::rpmdb::HeaderDigest::Missing,
                signature: crate::rpmdb::trust::SigStatus::NotChecked,
                sigmd5: None,
                digest_algo: algo,
                has_file_digests: true,
                files,
                file_error: None,
                blob_len: 0,
            }],
            bad: Vec::new(),
        }
    }

    fn run(t: &tempfile::TempDir, db: &Database) -> Vec<(String, u32)> {
        let opts = VerifyOptions {
            jobs: 1,
            omit: vf::MTIME | vf::USER | vf::GROUP,
            ..Default::default()
        };
        let rep = verify_packages(t.path(), db, &opts).unwrap();
        rep.results
            .iter()
            .map(|r| {
                let f = db.packages[r.pkg].files.get(r.file).unwrap();
                (f.path().display().to_string(), r.result)
            })
            .collect()
    }

    const X_SHA256: &str = "e47f5a0a36b1e6a33dcd8b6ac0a4a4d3b6d2cbf9b5c56c3d2e33b4a2d2e5d1c0";

    #[test]
    fn malformed_digest_table_gives_5_without_reading() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a"), "x\n").unwrap();
        std::fs::write(t.path().join("b"), "x\n").unwrap();
        // One entry of the wrong length discards the whole table: `5`, never `?`.
        let good = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b";
        let d = db(
            crate::rpmdb::DigestAlgo::Sha256,
            vec![
                file("/a", good, FileState::Normal),
                file("/b", "abcd", FileState::Normal),
            ],
        );
        assert_eq!(
            run(&t, &d),
            vec![("/a".into(), vf::DIGEST), ("/b".into(), vf::DIGEST)]
        );
        // An unknown algorithm is hashed as MD5; SHA-256-length entries then do not fit.
        let d = db(
            crate::rpmdb::DigestAlgo::Unknown(12),
            vec![file("/a", X_SHA256, FileState::Normal)],
        );
        assert_eq!(run(&t, &d), vec![("/a".into(), vf::DIGEST)]);
    }

    #[test]
    fn digest_match_empty_entry_and_states() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a"), "x\n").unwrap();
        // sha256("x\n")
        let x = "8c5d6fb0ff3ef52ba1e6d4f4d2d4bd7e7a4e0c6b3c3f6b5b0b0b0b0b0b0b0b0b";
        let real = crate::scan::hash::hash_reader(crate::rpmdb::DigestAlgo::Sha256, &b"x\n"[..])
            .unwrap()
            .to_hex();
        assert_ne!(real, x);
        let d = db(
            crate::rpmdb::DigestAlgo::Sha256,
            vec![
                file("/a", &real, FileState::Normal),
                // An empty entry on a regular file always differs.
                file("/a", "", FileState::Normal),
                // No FILESTATES: printed with "(no state)" even when clean.
                file("/a", &real, FileState::Missing),
                // Replaced: existence only.
                file("/a", x, FileState::Replaced),
                file("/gone", x, FileState::Replaced),
                // Not installed: not even existence.
                file("/gone", x, FileState::NotInstalled),
            ],
        );
        assert_eq!(
            run(&t, &d),
            vec![
                ("/a".into(), vf::DIGEST),
                ("/a".into(), 0),
                ("/a".into(), 0),
                ("/gone".into(), vf::LSTATFAIL),
            ]
        );
    }

    #[test]
    fn state_texts() {
        assert_eq!(state_text(FileState::Replaced, false), Some("replaced"));
        assert_eq!(state_text(FileState::Missing, false), Some("no state"));
        assert_eq!(state_text(FileState::NotInstalled, false), None);
        assert_eq!(
            state_text(FileState::NotInstalled, true),
            Some("not installed")
        );
        assert_eq!(
            state_text(FileState::Unknown(9), false),
            Some("unknown state")
        );
    }
}
