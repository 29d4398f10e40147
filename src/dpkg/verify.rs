//! Owned-file verification by `dpkg --verify`'s rules (dpkg 1.21): every path of an installed
//! package's `.list` is looked up at the path it has on disk (diversions followed) and is
//! `missing` when `lstat` fails; a file with a digest (its `.md5sums` entry, else for a conffile
//! the `Conffiles:` hash in `status`) has its MD5 compared. Directories, symlinks and the files
//! of packages without md5sums are only checked for existence; `remove-on-upgrade` conffiles
//! not at all. The result is neutral ([`DpkgResult`]); `format` renders dpkg's lines.
//!
//! One deliberate difference: dpkg looks the digest up under the diverted-to name, where no
//! package records one, so it never compares a diverted file's content. Here the diverted file
//! is compared with the digest its package vouches for: a tampered `.real` file is reported.
//!
//! Unlike dpkg, nothing outside the root is followed (the lookup resolves as after `chroot`),
//! and nothing but a regular file is opened: a FIFO or device in place of a package file is a
//! digest mismatch, not a hang.
//!
//! The time a check takes is bounded by the data the package files really hold, not by what
//! the (root-writable) database says: a path listed twice is checked once ([`super::parse`]),
//! a hard-linked file is hashed once, a sparse file is reported instead of having its holes
//! hashed as zeros, and the run hashes at most [`MAX_RUN_HASH_BYTES`]. What is not hashed for
//! these reasons is a failure ([`Problem::NotVerified`]), never a pass.

use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

use super::DpkgDb;
use crate::pkgdb::DigestAlgo;
use crate::scan::fs::{Errno, Root, Stat};
use crate::scan::hash;
use crate::scan::inode_memo::InodeMemo;

/// A package file with more bytes of holes than this is not hashed. dpkg writes every byte it
/// unpacks, so an installed package file has no holes; MD5 over a hole costs as much as over
/// data, so without this bound a `truncate -s 4G` file listed in a `.list` costs seconds of
/// hashing for 4 KiB of disk, and a hundred thousand of them days. The margin leaves room for
/// a file system or tool that punches holes into long runs of zeros.
pub const MAX_HOLE_BYTES: u64 = 64 << 20;

/// Bytes of package file content hashed at most in one run. The largest real installations
/// (TeX Live, CUDA, ROCm, game data) hold well under 100 GiB of package files; past this the
/// database is not describing a real system, and every file not hashed is reported.
pub const MAX_RUN_HASH_BYTES: u64 = 256 << 30;

/// What is wrong with one package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not there (`lstat` failed; the errno, ENOENT for a plain missing file).
    Missing(Errno),
    /// Content differs from the package's MD5 (the digest found, lower-case hex).
    Digest { found: String },
    /// Could not be read (not a regular file, or a read error): counted as a digest mismatch.
    Unreadable(String),
    /// Deliberately not hashed (a sparse file, the run's hashing budget spent), with the reason:
    /// counted as a digest mismatch, since nothing vouches for the content.
    NotVerified(String),
}

/// One failed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgResult {
    /// The path on disk (the diverted-to path for a diverted file), absolute inside the root.
    pub path: Vec<u8>,
    pub package: String,
    /// Position of the package in `DpkgDb::packages`, and of the file in its `.list`.
    pub pkg_index: usize,
    pub file_index: usize,
    pub conffile: bool,
    /// The MD5 the package vouches for (empty when it has none).
    pub expected: String,
    pub problem: Problem,
}

struct Work<'a> {
    path: &'a [u8],
    package: &'a str,
    pkg_index: usize,
    file_index: usize,
    conffile: bool,
    want: Option<&'a str>,
}

/// Verify every installed package's files under `root`; failures only, in database order.
pub fn verify(db: &DpkgDb, root: &std::path::Path) -> std::io::Result<Vec<DpkgResult>> {
    verify_selected(db, root, None)
}

/// [`verify`] for the packages at `selected` indices only (`None`: all), on the current pool.
pub fn verify_selected(
    db: &DpkgDb,
    root: &std::path::Path,
    selected: Option<&[usize]>,
) -> std::io::Result<Vec<DpkgResult>> {
    verify_with_threads(db, root, selected, 0)
}

/// [`verify_selected`] reading with `threads` threads (0: the current rayon pool). Warm, the
/// work is MD5 and a pool of one thread per core is enough; cold, more reads in flight than
/// cores keep the disk busy (`rpmdb::verify::default_read_threads`, shared with rpm's check).
pub fn verify_with_threads(
    db: &DpkgDb,
    root: &std::path::Path,
    selected: Option<&[usize]>,
    threads: usize,
) -> std::io::Result<Vec<DpkgResult>> {
    let r = Root::open(root)?;
    let mut work = Vec::new();
    for (pkg_index, p) in db.packages.iter().enumerate() {
        if selected.is_some_and(|s| !s.contains(&pkg_index)) {
            continue;
        }
        for (file_index, f) in p.files.iter().enumerate() {
            let conf = p.entry.conffiles.iter().find(|c| c.path == *f);
            if conf.is_some_and(|c| c.remove_on_upgrade) {
                continue;
            }
            let on_disk = db.path_on_disk(&p.entry.name, f);
            let want = p
                .md5sums
                .as_ref()
                .and_then(|m| m.get(f.as_slice()))
                .map(String::as_str)
                .or(conf.map(|c| c.hash.as_str()));
            work.push(Work {
                path: on_disk,
                package: &p.entry.name,
                pkg_index,
                file_index,
                conffile: conf.is_some(),
                want,
            });
        }
    }
    let budget = Budget::default();
    let run = || -> Vec<DpkgResult> {
        work.par_iter()
            .filter_map(|w| {
                check(&r, w, &budget).map(|problem| DpkgResult {
                    path: w.path.to_vec(),
                    package: w.package.to_string(),
                    pkg_index: w.pkg_index,
                    file_index: w.file_index,
                    conffile: w.conffile,
                    expected: w.want.unwrap_or_default().to_string(),
                    problem,
                })
            })
            .collect()
    };
    if threads == 0 {
        return Ok(run());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| std::io::Error::other(format!("cannot start threads: {e}")))?;
    Ok(pool.install(run))
}

/// What the hashing of one run shares across its threads.
#[derive(Default)]
struct Budget {
    /// Logical bytes hashed so far (or about to be).
    hashed: AtomicU64,
    /// Digests of the files with more than one link: one 4 GiB file hard-linked under a
    /// hundred thousand listed names is hashed once.
    linked: InodeMemo<Result<String, Problem>>,
}

impl Budget {
    /// The MD5 (lower-case hex) of the open regular file `f`, whose `fstat` is `st`.
    fn digest(&self, f: &std::fs::File, st: &Stat) -> Result<String, Problem> {
        self.linked.get_or_compute(st, || self.hash(f, st.size)).0
    }

    fn hash(&self, f: &std::fs::File, size: u64) -> Result<String, Problem> {
        let unreadable = |e: std::io::Error| Problem::Unreadable(e.to_string());
        if size > hash::DEFAULT_MAX_HASH_BYTES {
            return Err(unreadable(std::io::Error::from_raw_os_error(libc::EFBIG)));
        }
        // Holes of a smaller file cost less than this check would.
        if size > MAX_HOLE_BYTES {
            let holes = hash::hole_bytes(f, size).map_err(unreadable)?;
            if holes > MAX_HOLE_BYTES {
                return Err(Problem::NotVerified(format!(
                    "sparse file: {holes} of its {size} bytes are holes, which no package installs"
                )));
            }
        }
        let before = self
            .hashed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(size))
            })
            .unwrap_or(u64::MAX);
        if before.saturating_add(size) > MAX_RUN_HASH_BYTES {
            return Err(Problem::NotVerified(format!(
                "this run already hashed {MAX_RUN_HASH_BYTES} bytes of package files, more than a real system holds"
            )));
        }
        hash::hash_logical_sized(DigestAlgo::Md5, f, size, hash::DEFAULT_MAX_HASH_BYTES)
            .map(|d| d.to_hex())
            .map_err(unreadable)
    }
}

fn check(r: &Root, w: &Work<'_>, budget: &Budget) -> Option<Problem> {
    let entry = match r.entry(w.path) {
        Ok(e) => e,
        Err(e) => return Some(Problem::Missing(e)),
    };
    let Some(want) = w.want else {
        return entry.lstat().err().map(Problem::Missing);
    };
    // The O_PATH pin is the `lstat` (it opens nothing, not even a FIFO or device) and the
    // regular file is then read through it: no second lookup, stat or path race.
    let pinned = match entry.pin() {
        Ok(p) => p,
        Err(e) => return Some(Problem::Missing(e)),
    };
    let (f, st) = if pinned.stat.is_reg() {
        match pinned.open_regular() {
            Ok(f) => (f, pinned.stat),
            Err(e) => return Some(Problem::Unreadable(e.to_string())),
        }
    } else if pinned.stat.is_lnk() {
        // dpkg opens the path (following a symlink); open_config does too, inside the root, and
        // refuses anything but a regular file without opening it.
        let opened = r
            .open_config(w.path)
            .and_then(|f| crate::scan::fs::fstat(&f).map(|st| (f, st)));
        match opened {
            Ok(o) => o,
            Err(e) => return Some(Problem::Unreadable(e.message())),
        }
    } else {
        return Some(Problem::Unreadable(Errno(libc::EINVAL).message()));
    };
    match budget.digest(&f, &st) {
        Ok(d) if d == want => None,
        Ok(d) => Some(Problem::Digest { found: d }),
        Err(p) => Some(p),
    }
}
