//! The dpkg package database (Debian, Ubuntu), read-only: installed packages from
//! `var/lib/dpkg/status` (deb822, with the `Conffiles:` hashes), each package's files from
//! `info/PKG.list` (`info/PKG:ARCH.list` for `Multi-Arch: same`), the MD5 digests it vouches for
//! from `info/PKG[:ARCH].md5sums`, and `diversions`. [`DpkgDb`] implements the
//! [`crate::pkgdb::PackageDb`] seam; [`verify`] checks owned files by `dpkg --verify`'s rules and
//! [`format`] prints its lines.
//!
//! Everything here is root-writable inside the checked system, so it is hostile input: every
//! file is read through `scan::fs` (confined to the root, regular files only) with a size bound,
//! lines are bounded, paths are checked (absolute, no NUL, no `..`), and a bad file is a
//! one-line error naming it ([`DpkgError`]), never a panic.

pub mod anchor;
pub mod findings;
pub mod format;
pub mod log;
pub mod parse;
pub mod verify;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::pkgdb::{
    DigestAlgo, InstalledPackage, OwnedFile, OwnedIndex, OwnedReason, PackageDb, PackageSnapshot,
    SigStatus,
};
use crate::scan::fs::Root;

pub use parse::{Conffile, Diversion, StatusEntry};

/// dpkg's administrative directory, relative to the root.
pub const ADMINDIR: &str = "var/lib/dpkg";

/// Bounds on what is read: a status file of a few thousand packages is a few MiB, a `.list` of
/// the largest packages a few MiB.
pub const MAX_STATUS_BYTES: u64 = 256 << 20;
pub const MAX_INFO_BYTES: u64 = 64 << 20;
pub const MAX_DIVERSIONS_BYTES: u64 = 16 << 20;
/// Bounds on all `.list` and `.md5sums` files together, in bytes and in lines (each line
/// becomes a path in memory, about a hundred bytes with its digest). A large Ubuntu desktop
/// (3,000 packages, 400,000 listed paths) has about 70 MiB and 750,000 lines of them; without
/// a total, packages hard-linking one 64 MiB list each cost gigabytes.
pub const MAX_TOTAL_INFO_BYTES: u64 = 512 << 20;
pub const MAX_TOTAL_INFO_LINES: u64 = 4 << 20;

/// A dpkg database that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DpkgError {
    #[error("{path}: {reason}")]
    Bad { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DpkgError {
    fn bad(path: &Path, reason: impl Into<String>) -> DpkgError {
        DpkgError::Bad {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// One installed package with its files.
#[derive(Debug, Clone)]
pub struct DpkgPackage {
    pub entry: StatusEntry,
    /// Paths from the `.list` file (absolute, as dpkg lists them; `/.` left out).
    pub files: Vec<Vec<u8>>,
    /// Path → MD5 (lower-case hex) from the `.md5sums` file; `None` when the package has none.
    pub md5sums: Option<HashMap<Vec<u8>, String>>,
    /// SHA-256 of the `.md5sums` file as read: the change identity of what the package vouches for.
    pub md5sums_digest: Option<String>,
}

impl DpkgPackage {
    /// `name:arch` for `Multi-Arch: same` packages (several may be installed), else `name`:
    /// the name dpkg gives its info files.
    pub fn info_name(&self) -> String {
        self.entry.info_name()
    }

    /// Unique full name: `name_version_arch`, the way `.deb` files are named.
    pub fn full_name(&self) -> String {
        match &self.entry.arch {
            Some(a) => format!("{}_{}_{}", self.entry.name, self.entry.version, a),
            None => format!("{}_{}", self.entry.name, self.entry.version),
        }
    }
}

/// A root's dpkg database, read into memory.
#[derive(Debug)]
pub struct DpkgDb {
    /// The checked root (host path), for resolving package paths as the system sees them.
    root: PathBuf,
    status_path: PathBuf,
    pub packages: Vec<DpkgPackage>,
    pub diversions: Vec<Diversion>,
    /// Diverted path → index in `diversions`: looked up for every package file, and a hostile
    /// `diversions` file may hold hundreds of thousands of entries.
    diverted: HashMap<Vec<u8>, usize>,
    /// Problems that do not stop verification (a `.list` file missing, as dpkg warns).
    pub warnings: Vec<String>,
}

/// Whether `root` holds a dpkg database.
pub fn present(root: &Path) -> bool {
    // Resolved inside the root: a link planted in an image never makes a host file decide.
    crate::scan::fs::resolve_in_root(root, &Path::new(ADMINDIR).join("status"), true)
        .and_then(std::fs::symlink_metadata)
        .is_ok_and(|m| m.is_file())
}

/// Read a file inside the root (symlinks resolved inside it, regular files only), at most `max`
/// bytes; `Ok(None)` when it does not exist.
fn read_in_root(
    root: &Root,
    host: &Path,
    rel: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, DpkgError> {
    let path = host.join(rel);
    let f = match root.open_config(format!("/{rel}").as_bytes()) {
        Ok(f) => f,
        Err(e) if e.0 == libc::ENOENT => return Ok(None),
        Err(e) => return Err(DpkgError::bad(&path, e.message())),
    };
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|source| DpkgError::Io {
            path: path.clone(),
            source,
        })?;
    if buf.len() as u64 > max {
        return Err(DpkgError::bad(&path, format!("larger than {max} bytes")));
    }
    Ok(Some(buf))
}

/// What the info files read so far add up to, shared by the threads reading them.
#[derive(Default)]
struct InfoBudget {
    bytes: AtomicU64,
    lines: AtomicU64,
}

impl InfoBudget {
    /// Count `data`, read from `path`, before it is parsed: the error names the file at which
    /// the totals ran out.
    fn charge(&self, path: &Path, data: &[u8]) -> Result<(), DpkgError> {
        let add = |total: &AtomicU64, n: u64| {
            total
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                    Some(t.saturating_add(n))
                })
                .unwrap_or(u64::MAX)
                .saturating_add(n)
        };
        let bytes = add(&self.bytes, data.len() as u64);
        let lines = add(
            &self.lines,
            data.iter().filter(|&&b| b == b'\n').count() as u64 + 1,
        );
        let over = if bytes > MAX_TOTAL_INFO_BYTES {
            format!("{MAX_TOTAL_INFO_BYTES} bytes")
        } else if lines > MAX_TOTAL_INFO_LINES {
            format!("{MAX_TOTAL_INFO_LINES} lines")
        } else {
            return Ok(());
        };
        Err(DpkgError::bad(
            path,
            format!("with this file the packages' .list and .md5sums files add up to more than {over}, far more than a real system's"),
        ))
    }
}

/// One installed package's file list and digests from `info/`; the warning dpkg prints when the
/// list is missing.
fn read_package(
    r: &Root,
    root: &Path,
    entry: parse::StatusEntry,
    budget: &InfoBudget,
) -> Result<(DpkgPackage, Option<String>), DpkgError> {
    let info = entry.info_name();
    let list_rel = format!("{ADMINDIR}/info/{info}.list");
    let mut warning = None;
    let files = match read_in_root(r, root, &list_rel, MAX_INFO_BYTES)? {
        Some(b) => {
            let path = root.join(&list_rel);
            budget.charge(&path, &b)?;
            parse::parse_list(&b).map_err(|e| DpkgError::bad(&path, e))?
        }
        None => {
            warning = Some(format!(
                "files list file for package '{}' missing; assuming package has no files currently installed",
                entry.name
            ));
            Vec::new()
        }
    };
    let sums_rel = format!("{ADMINDIR}/info/{info}.md5sums");
    let (md5sums, md5sums_digest) = match read_in_root(r, root, &sums_rel, MAX_INFO_BYTES)? {
        Some(b) => {
            let path = root.join(&sums_rel);
            budget.charge(&path, &b)?;
            let m = parse::parse_md5sums(&b).map_err(|e| DpkgError::bad(&path, e))?;
            let d = crate::scan::hash::hash_reader(DigestAlgo::Sha256, &b[..])
                .map(|d| d.to_hex())
                .ok();
            (Some(m), d)
        }
        None => (None, None),
    };
    Ok((
        DpkgPackage {
            entry,
            files,
            md5sums,
            md5sums_digest,
        },
        warning,
    ))
}

impl DpkgDb {
    /// Open the database of `root` (`/` for the running system).
    pub fn open(root: &Path) -> Result<DpkgDb, DpkgError> {
        let host_admin = root.join(ADMINDIR);
        let status_path = host_admin.join("status");
        let r = Root::open(root).map_err(|source| DpkgError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let status = read_in_root(&r, root, &format!("{ADMINDIR}/status"), MAX_STATUS_BYTES)?
            .ok_or_else(|| DpkgError::bad(&status_path, "no such file"))?;
        let entries = parse::parse_status(&status).map_err(|e| DpkgError::bad(&status_path, e))?;
        let div_rel = format!("{ADMINDIR}/diversions");
        let diversions = match read_in_root(&r, root, &div_rel, MAX_DIVERSIONS_BYTES)? {
            Some(b) => {
                parse::parse_diversions(&b).map_err(|e| DpkgError::bad(&root.join(&div_rel), e))?
            }
            None => Vec::new(),
        };
        // Reading and parsing ~900 .list/.md5sums pairs is the single-threaded start of every
        // check; spread over the pool it overlaps with nothing else, so it is that much shorter.
        use rayon::prelude::*;
        let budget = InfoBudget::default();
        let read: Vec<(DpkgPackage, Option<String>)> = entries
            .into_par_iter()
            .filter(|e| e.is_verified())
            .map(|entry| read_package(&r, root, entry, &budget))
            .collect::<Result<_, _>>()?;
        let mut packages = Vec::with_capacity(read.len());
        let mut warnings = Vec::new();
        for (package, warning) in read {
            packages.push(package);
            warnings.extend(warning);
        }
        Ok(DpkgDb {
            root: root.to_path_buf(),
            status_path,
            packages,
            diverted: diversions
                .iter()
                .enumerate()
                .map(|(i, d)| (d.from.clone(), i))
                .collect(),
            diversions,
            warnings,
        })
    }

    /// The path a package's file has on disk: the diverted-to path when another package (or
    /// the administrator, a local diversion) diverted it, as dpkg's `namenodetouse`.
    pub fn path_on_disk<'a>(&'a self, pkg: &str, path: &'a [u8]) -> &'a [u8] {
        match self
            .diverted
            .get(path)
            .and_then(|&i| self.diversions.get(i))
        {
            Some(d) if d.package.as_deref() != Some(pkg) => &d.to,
            _ => path,
        }
    }

    /// The path the baseline's walk meets a package path under (see `seen_as`).
    pub fn walk_path(&self, path: &[u8]) -> PathBuf {
        self.seen_as(path, &mut HashMap::new())
    }

    /// The path the walk meets `path` under: its parent directory resolved inside the root, so
    /// that `/bin/ls` of a package is `/usr/bin/ls` where `/bin` links to `usr/bin` (merged
    /// `/usr`). `dirs` caches the resolved parents: a package tree has far fewer directories
    /// than files.
    fn seen_as(&self, path: &[u8], dirs: &mut HashMap<Vec<u8>, PathBuf>) -> PathBuf {
        let p = os(path);
        let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
            return p;
        };
        let key = parent.as_os_str().as_encoded_bytes().to_vec();
        let dir = dirs.entry(key).or_insert_with(|| {
            crate::scan::fs::resolve_in_root(&self.root, parent, true)
                .ok()
                .and_then(|h| {
                    h.strip_prefix(&self.root)
                        .ok()
                        .map(|r| Path::new("/").join(r))
                })
                .unwrap_or_else(|| parent.to_path_buf())
        });
        dir.join(name)
    }

    /// Packages that have no md5sums file: their files are owned but not vouched for (reported
    /// once per package, like `debsums -l`).
    pub fn without_digests(&self) -> Vec<&DpkgPackage> {
        self.packages
            .iter()
            .filter(|p| p.md5sums.is_none())
            .collect()
    }
}

fn os(p: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(p))
}

impl PackageDb for DpkgDb {
    fn manager(&self) -> &'static str {
        "dpkg"
    }

    fn location(&self) -> &Path {
        &self.status_path
    }

    fn packages(&self) -> Vec<InstalledPackage> {
        self.packages
            .iter()
            .enumerate()
            .map(|(index, p)| InstalledPackage {
                index,
                name: p.entry.name.clone(),
                nevra: p.full_name(),
                version: p.entry.version.clone(),
                arch: p.entry.arch.clone(),
                install_time: None,
                // dpkg keeps no signature over what it installed.
                trust: SigStatus::Unsigned,
            })
            .collect()
    }

    fn matches(&self, index: usize, arg: &str) -> bool {
        let Some(p) = self.packages.get(index) else {
            return false;
        };
        let e = &p.entry;
        arg == e.name
            || arg == p.full_name()
            || e.arch
                .as_deref()
                .is_some_and(|a| arg == format!("{}:{a}", e.name))
            || arg == format!("{}={}", e.name, e.version)
    }

    fn owned_index(&self) -> OwnedIndex {
        let mut idx = OwnedIndex::with_capacity(self.packages.iter().map(|p| p.files.len()).sum());
        let mut dirs = HashMap::new();
        for p in &self.packages {
            let full = p.full_name();
            let conf: HashMap<&[u8], &Conffile> = p
                .entry
                .conffiles
                .iter()
                .map(|c| (c.path.as_slice(), c))
                .collect();
            for f in &p.files {
                let on_disk = self.path_on_disk(&p.entry.name, f);
                // dpkg records neither mode nor owner nor link target: every file goes to the
                // baseline, for its metadata only when md5sums vouches for its content.
                let (digest, reason) = match (conf.get(f.as_slice()), &p.md5sums) {
                    (Some(c), _) => (c.hash.clone(), OwnedReason::Config),
                    (None, Some(m)) => match m.get(f) {
                        Some(d) => (d.clone(), OwnedReason::Metadata),
                        None => (String::new(), OwnedReason::NoDigestVerify),
                    },
                    (None, None) => (String::new(), OwnedReason::NoDigestVerify),
                };
                idx.insert(
                    self.seen_as(on_disk, &mut dirs),
                    OwnedFile {
                        nevra: full.clone(),
                        digest,
                        algo: DigestAlgo::Md5,
                        reason: Some(reason),
                    },
                );
            }
        }
        idx
    }

    fn snapshot(&self) -> Vec<PackageSnapshot> {
        let mut v: Vec<PackageSnapshot> = self
            .packages
            .iter()
            .map(|p| PackageSnapshot {
                nevra: p.full_name(),
                install_tid: None,
                sha256_header: p.md5sums_digest.clone(),
                trust: None,
                trust_key: None,
            })
            .collect();
        v.sort();
        v
    }

    fn config_files(&self, nevra: &str) -> Vec<PathBuf> {
        self.packages
            .iter()
            .filter(|p| p.full_name() == nevra)
            .flat_map(|p| {
                p.entry
                    .conffiles
                    .iter()
                    .map(|c| os(self.path_on_disk(&p.entry.name, &c.path)))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn leftover_suffixes(&self) -> &'static [&'static str] {
        // What dpkg leaves next to a conffile it did not (or did) replace (dpkg's
        // DPKGNEWEXT/DPKGOLDEXT/DPKGDISTEXT, plus ucf's and dpkg's removal backups).
        &[
            ".dpkg-new",
            ".dpkg-old",
            ".dpkg-dist",
            ".dpkg-bak",
            ".dpkg-remove",
            ".dpkg-tmp",
            ".ucf-dist",
            ".ucf-old",
            ".ucf-new",
        ]
    }
}
