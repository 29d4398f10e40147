//! The unowned walk: every path under the policy's watched trees that the baseline records, in
//! `Path` order (component by component, names compared as bytes), so that the baseline can be
//! compared by merge-join with bounded memory.
//!
//! Rules it keeps:
//! - Never follows symlinks (a directory is entered with `O_NOFOLLOW` relative to its parent's
//!   descriptor), so symlink loops cannot hang it and nothing outside the root is reached.
//! - Stays on the file system of each watched tree's top; a mount point (or btrfs subvolume)
//!   below is recorded but not entered unless it is itself a watched tree. Not entering one is an
//!   [`Issue`] ([`OTHER_FS`]) unless the policy lists it in `expected_mounts`: a file system
//!   mounted over a watched directory would otherwise hide everything in it. Never enters /proc,
//!   /sys, /dev or any pseudo file system, whatever the policy says.
//! - Skips volatile paths (a volatile directory is not entered) and package-owned paths, except
//!   owned files the baseline records (see `crate::pkgdb::OwnedReason`); owned directories are entered.
//! - Never opens FIFOs, sockets or devices. A path that vanishes during the walk or cannot be read
//!   is an [`Issue`], not an error of the run.
//! - Owned files the baseline records that lie outside the watched trees (e.g. a %ghost file in
//!   /var/lib) are captured one by one and merged into the stream in order.
//!
//! The walk itself only lists and `lstat`s ([`Walker::next_pending`]); opening, hashing and
//! reading the xattrs of a file is left to [`Pending::read`], which callers run on all cores
//! over batches of consecutive entries ([`Batched`], and the baseline comparison), so that
//! hashing is parallel across directories, not only within one, and a caller can decide per
//! entry (`--trust-ctime`) before anything is read. Entries still come out in path order.

use crate::policy::Policy;
use crate::scan::capture::{capture_entry, capture_entry_capped, Capture, LinkMemo};
use crate::scan::fs::{self, Dir, Errno, FileType, Stat};
use rayon::prelude::*;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Directory depth beyond which the walk does not descend (each level holds a descriptor).
pub const MAX_DEPTH: usize = 256;
const _: () = assert!(MAX_DEPTH == 256, "TOO_DEEP's text names the limit");

/// Top-level directories of the root that are never entered, whatever the policy says.
pub use crate::policy::NEVER_ENTERED;

/// What the walk needs to know about package ownership (the baseline's owned index implements
/// it): which paths a package owns, and which of those the baseline records anyway, and why.
/// The walk skips owned paths it is not told to record and only carries the reason through.
pub trait Owners: Sync {
    /// Why an owned path is recorded (opaque to the walk).
    type Reason: Copy + Send + Sync + std::fmt::Debug + PartialEq + Eq;
    /// `None` when no package owns `path`; else its owner and, when the baseline records the
    /// path anyway, why.
    fn owner(&self, path: &Path) -> Option<(&str, Option<Self::Reason>)>;
    /// Every owned path the baseline records (those outside the watched trees are captured
    /// one by one).
    fn recorded(&self) -> Vec<PathBuf>;
    /// Whether a recorded owned file's content is hashed for the baseline. `false` when the
    /// package manager vouches for the content and only the metadata is baselined: hashing it
    /// again would double the cost of a walk over package trees for nothing.
    fn hashes_content(&self, _reason: Self::Reason) -> bool {
        true
    }
}

/// Logs that are record databases rewritten in place (one slot per user), not appended to:
/// `lastlog` is sparse and may be huge. They are not hashed; only a shrink or a replacement
/// without a rotation is reported for them.
pub fn record_database(name: &OsStr) -> bool {
    matches!(name.to_str(), Some("lastlog" | "faillog" | "tallylog"))
}

/// One path as the baseline records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry<R> {
    /// Absolute path inside the root, byte-exact.
    pub path: PathBuf,
    pub capture: Capture,
    /// For a package-owned file the baseline records: its owner and why it is recorded.
    pub owner: Option<(String, R)>,
}

/// Something the walk could not do for one path; the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: PathBuf,
    pub what: String,
}

/// What an [`Issue`] says of a path deleted between listing and reading: an ordinary race, not a
/// gap in the check.
pub const VANISHED: &str = "vanished during the walk";

/// What an [`Issue`] says of a directory at the depth limit: nothing under it is checked, so
/// it is also a finding (an intruder can hide anything below it).
pub const TOO_DEEP: &str = "deeper than 256 directories; not entered";

/// What an [`Issue`] says of a directory under a watched tree that is another file system (a
/// mount point, a btrfs subvolume) the policy neither watches nor expects. Nothing under it is
/// checked, so it is also a finding: mounting over a watched directory must not blind the check.
pub const OTHER_FS: &str = "another file system (mount point or btrfs subvolume) that the policy neither watches nor expects; not entered";

impl Issue {
    /// Whether this is a directory the walk did not enter because it is another file system
    /// the policy does not mention.
    pub fn is_other_fs(&self) -> bool {
        self.what == OTHER_FS
    }

    /// Whether the path only vanished while being walked (the run checked everything there was).
    pub fn is_vanished(&self) -> bool {
        self.what == VANISHED
    }

    /// Whether this is a directory the walk did not enter because of [`MAX_DEPTH`].
    pub fn is_too_deep(&self) -> bool {
        self.what == TOO_DEEP
    }
}

/// A listed directory entry, `lstat`ed and (for non-directories the baseline records) captured.
#[derive(Debug)]
struct Item<R> {
    name: OsString,
    stat: Stat,
    /// Whether the baseline records this path (false for owned paths rpm vouches for).
    record: bool,
    owner: Option<(String, R)>,
    /// Whether a regular file's content is to be hashed.
    hash: bool,
}

/// An entry the walk has listed and `lstat`ed, in path order, whose content and xattrs are not
/// read yet (directories are captured already). [`Pending::read`] may run on any thread.
#[derive(Debug)]
pub struct Pending<R> {
    pub path: PathBuf,
    /// The `lstat` the walk saw (reading checks that the opened file is still this inode).
    pub stat: Stat,
    pub owner: Option<(String, R)>,
    hash: bool,
    /// The policy's `max_hash_bytes`.
    max_hash: u64,
    /// The run's digests of hard-linked files.
    memo: Arc<LinkMemo>,
    /// A digest taken over from the baseline, and whether it is a sparse file's.
    trusted: Option<([u8; 32], bool)>,
    /// The parent directory and name still to be read; `None` once read or for directories.
    todo: Option<(Arc<Dir>, OsString)>,
    capture: Option<Capture>,
    /// A problem found while reading, to be reported as an issue.
    read_issue: bool,
    hashed: bool,
}

impl<R> Pending<R> {
    /// Whether reading will hash the content.
    pub fn wants_hash(&self) -> bool {
        self.hash
    }

    /// Use `digest` as the content's SHA-256 instead of hashing it (`--trust-ctime`: the caller
    /// has seen that inode, size, mtime and ctime are unchanged since the digest was taken).
    pub fn trust_digest(&mut self, digest: [u8; 32], sparse: bool) {
        if self.hash {
            self.hash = false;
            self.trusted = Some((digest, sparse));
        }
    }

    /// Whether reading hashed the content (false for trusted digests and failures).
    pub fn hashed(&self) -> bool {
        self.hashed
    }

    /// The directory descriptor this entry still needs (batches bound how many they hold).
    pub fn dir_key(&self) -> Option<*const Dir> {
        self.todo.as_ref().map(|(d, _)| Arc::as_ptr(d))
    }

    /// Open, hash and read the xattrs of a non-directory. Idempotent.
    pub fn read(&mut self) {
        let Some((dir, name)) = self.todo.take() else {
            return;
        };
        let (mut c, reused) = capture_entry_capped(
            &dir,
            &name,
            &self.stat,
            self.hash,
            self.max_hash,
            Some(&self.memo),
        );
        self.hashed = c.sha256.is_some() && !reused;
        if c.issue.is_none() && c.stat.ftype == FileType::File {
            if let Some((t, sparse)) = self.trusted {
                c.sha256 = Some(t);
                c.sparse = sparse;
            }
        }
        self.read_issue = c.issue.is_some();
        self.capture = Some(c);
    }

    fn into_entry<O: Owners<Reason = R>>(mut self, walker: &mut Walker<'_, O>) -> WalkEntry<R> {
        self.read();
        let capture = self.capture.unwrap_or(Capture {
            stat: self.stat,
            sha256: None,
            sparse: false,
            target: None,
            selinux: None,
            caps: None,
            issue: Some("internal error: entry not captured".into()),
        });
        if self.read_issue {
            if let Some(what) = &capture.issue {
                walker.issue(&self.path, what.clone());
            }
        }
        WalkEntry {
            path: self.path,
            capture,
            owner: self.owner,
        }
    }
}

#[derive(Debug)]
struct Frame<R> {
    dir: Arc<Dir>,
    path: PathBuf,
    /// Device of the watched tree this directory belongs to.
    dev: u64,
    items: Vec<Item<R>>,
    next: usize,
}

/// The walk, an iterator of [`WalkEntry`] in path order. Issues accumulate in [`Walker::issues`].
pub struct Walker<'a, O: Owners> {
    root: Dir,
    policy: &'a Policy,
    owned: &'a O,
    /// Watched trees not yet started, in reverse order (popped from the end).
    tops: Vec<PathBuf>,
    /// Watched trees that lie inside another one: a walk may cross into their file system.
    nested: Vec<PathBuf>,
    stack: Vec<Frame<O::Reason>>,
    /// Owned recorded paths outside the watched trees, in reverse order.
    extras: Vec<PathBuf>,
    peeked: Option<Pending<O::Reason>>,
    issues: Vec<Issue>,
    memo: Arc<LinkMemo>,
}

fn never_entered(path: &Path) -> bool {
    NEVER_ENTERED.iter().any(|p| path.starts_with(p))
}

impl<'a, O: Owners> Walker<'a, O> {
    /// Prepare a walk of `root` (the host directory holding the checked system).
    pub fn new(root: &Path, policy: &'a Policy, owned: &'a O) -> io::Result<Walker<'a, O>> {
        let root = Dir::open_root(root)?;
        let mut tops = Vec::new();
        let mut nested = Vec::new();
        for w in policy.watch() {
            // `watch()` is sorted, so an enclosing tree comes first.
            if tops.iter().any(|t: &PathBuf| w.starts_with(t)) {
                nested.push(w.clone());
            } else {
                tops.push(w.clone());
            }
        }
        tops.reverse();
        let mut extras: Vec<PathBuf> = owned
            .recorded()
            .into_iter()
            .filter(|p| {
                p.is_absolute()
                    && !policy.is_watched(p)
                    && !never_entered(p)
                    && !p.ancestors().any(|a| policy.classify(a).spec.skip)
            })
            .collect();
        extras.sort();
        extras.reverse();
        Ok(Walker {
            root,
            policy,
            owned,
            tops,
            nested,
            stack: Vec::new(),
            extras,
            peeked: None,
            issues: Vec::new(),
            memo: Arc::default(),
        })
    }

    /// Issues seen so far (vanished paths, unreadable files, trees not walked).
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    pub fn take_issues(&mut self) -> Vec<Issue> {
        std::mem::take(&mut self.issues)
    }

    fn issue(&mut self, path: &Path, what: impl Into<String>) {
        self.issues.push(Issue {
            path: path.to_path_buf(),
            what: what.into(),
        });
    }

    /// Whether a log at `path`, which had inode `old_ino` and mtime `old_mtime` in the baseline,
    /// was rotated: a regular-file sibling named `NAME.x`, `NAME-x` or `NAME_x` (`messages.1`,
    /// `messages-20240101`, `messages.1.gz`, `sa01.xz`) holds its old inode or was written no
    /// earlier than the log's baselined mtime (compression and `copytruncate` make new inodes).
    /// Only meaningful right after the walk yielded `path` (its directory is still listed).
    pub fn rotated(&self, path: &Path, old_ino: u64, old_mtime: i64) -> bool {
        let (Some(parent), Some(base)) = (path.parent(), path.file_name()) else {
            return false;
        };
        let base = base.as_bytes();
        let Some(frame) = self.stack.iter().rev().find(|f| f.path == parent) else {
            return false;
        };
        frame.items.iter().any(|it| {
            let n = it.name.as_bytes();
            n.len() > base.len() + 1
                && n.starts_with(base)
                && matches!(n.get(base.len()), Some(b'.' | b'-' | b'_'))
                && it.stat.ftype == FileType::File
                && (it.stat.ino == old_ino || it.stat.mtime >= old_mtime)
        })
    }

    /// List and prepare one directory: lstat, classify and capture its entries (in parallel).
    fn prepare(&mut self, dir: &Dir, dir_path: &Path) -> Vec<Item<O::Reason>> {
        let names = match dir.entries() {
            Ok(n) => n,
            Err(e) => {
                self.issue(
                    dir_path,
                    format!("cannot list directory: {}", io::Error::from(e)),
                );
                return Vec::new();
            }
        };
        let policy = self.policy;
        let owned = self.owned;
        let results: Vec<Result<Option<Item<O::Reason>>, Issue>> = names
            .into_par_iter()
            .with_min_len(64)
            .map(|name| {
                let path = dir_path.join(&name);
                let stat = match dir.lstat(&name) {
                    Ok(s) => s,
                    Err(Errno(libc::ENOENT)) => {
                        return Err(Issue {
                            path,
                            what: VANISHED.into(),
                        })
                    }
                    Err(e) => {
                        return Err(Issue {
                            path,
                            what: format!("cannot lstat: {}", io::Error::from(e)),
                        })
                    }
                };
                let class = policy.classify(&path);
                if class.spec.skip || never_entered(&path) {
                    return Ok(None);
                }
                let owner = owned.owner(&path);
                let record = owner.is_none_or(|(_, why)| why.is_some());
                let owner = owner.and_then(|(by, why)| Some((by.to_string(), why?)));
                if !record && stat.ftype != FileType::Dir {
                    return Ok(None);
                }
                // Owned files the baseline records are hashed whatever their class says, so that a
                // change can be told apart from a package update (digest comparison).
                let hash = stat.ftype == FileType::File
                    && (class.spec.hashes_content() || (owner.is_some() && !class.spec.log))
                    && !(class.spec.log && record_database(&name))
                    && owner
                        .as_ref()
                        .is_none_or(|(_, why)| owned.hashes_content(*why));
                Ok(Some(Item {
                    name,
                    stat,
                    record,
                    owner,
                    hash,
                }))
            })
            .collect();
        let mut items = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(Some(it)) => items.push(it),
                Ok(None) => {}
                Err(issue) => self.issues.push(issue),
            }
        }
        items
    }

    /// Handle one entry found in `parent` (or a watched tree's top): capture a directory and
    /// push it for descent; return the entry if the baseline records it.
    fn visit(
        &mut self,
        parent: &Arc<Dir>,
        path: PathBuf,
        item: Item<O::Reason>,
        tree_dev: u64,
    ) -> Option<Pending<O::Reason>> {
        if item.stat.ftype != FileType::Dir {
            return item.record.then(|| Pending {
                path,
                stat: item.stat,
                owner: item.owner,
                hash: item.hash,
                max_hash: self.policy.max_hash_bytes(),
                memo: self.memo.clone(),
                trusted: None,
                todo: Some((parent.clone(), item.name)),
                capture: None,
                read_issue: false,
                hashed: false,
            });
        }
        let capture_dir = |issue: Option<String>| Capture {
            stat: item.stat,
            sha256: None,
            sparse: false,
            target: None,
            selinux: None,
            caps: None,
            issue,
        };
        // Enter (and capture) the directory through a descriptor opened without following links.
        let entry_capture;
        match parent.open_child(&item.name) {
            Ok(dir) => {
                let mut cap = capture_entry(parent, &item.name, &item.stat, false);
                let same = dir
                    .stat()
                    .map(|s| s.ino == item.stat.ino && s.dev == item.stat.dev)
                    .unwrap_or(false);
                if !same {
                    cap.issue = Some("replaced during the walk".into());
                    self.issue(&path, "directory replaced during the walk; not entered");
                } else if let Some(why) = self.why_not_enter(&path, &item.stat, tree_dev, &dir) {
                    if !why.is_empty() {
                        self.issue(&path, why);
                    }
                } else {
                    let items = self.prepare(&dir, &path);
                    let dev = if item.stat.dev != tree_dev {
                        item.stat.dev
                    } else {
                        tree_dev
                    };
                    self.stack.push(Frame {
                        dir: Arc::new(dir),
                        path: path.clone(),
                        dev,
                        items,
                        next: 0,
                    });
                }
                entry_capture = cap;
            }
            Err(Errno(libc::ENOENT)) => {
                self.issue(&path, VANISHED);
                return None;
            }
            Err(e) => {
                let what = format!("cannot open directory: {}", io::Error::from(e));
                self.issue(&path, what.clone());
                entry_capture = capture_dir(Some(what));
            }
        }
        item.record.then(|| Pending {
            path,
            stat: item.stat,
            owner: item.owner,
            hash: false,
            max_hash: self.policy.max_hash_bytes(),
            memo: self.memo.clone(),
            trusted: None,
            todo: None,
            capture: Some(entry_capture),
            read_issue: false,
            hashed: false,
        })
    }

    /// Why a directory is not entered: `None` to enter it, `Some("")` to skip silently (a mount
    /// the policy expects), `Some(reason)` to skip and say why.
    fn why_not_enter(&self, path: &Path, st: &Stat, tree_dev: u64, dir: &Dir) -> Option<String> {
        if st.dev != tree_dev && !self.nested.iter().any(|n| n == path) {
            if self.policy.expected_mount(path) {
                return Some(String::new());
            }
            return Some(OTHER_FS.into());
        }
        if dir.is_pseudo_fs() {
            return Some("pseudo file system (proc, sysfs, ...); not entered".into());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Some(TOO_DEEP.into());
        }
        None
    }

    /// Whether `top` is under `/lib`, `/bin` or `/sbin` where that directory is merged /usr's
    /// symlink (`/lib` -> `usr/lib`) and the `/usr` path is watched too: then the tree is walked
    /// under its `/usr` name (the protected paths list both for Debian without merged /usr), and
    /// not walking it here is no gap worth an issue.
    fn merged_usr_twin(&self, top: &Path) -> bool {
        let Ok(rel) = top.strip_prefix("/") else {
            return false;
        };
        let Some(std::path::Component::Normal(first)) = rel.components().next() else {
            return false;
        };
        if !matches!(first.as_encoded_bytes(), b"lib" | b"bin" | b"sbin") {
            return false;
        }
        let twin_dir = Path::new("usr").join(first);
        let target = self.root.readlink(first).unwrap_or_default();
        let merged = target == twin_dir.as_os_str().as_encoded_bytes()
            || target
                == Path::new("/")
                    .join(&twin_dir)
                    .as_os_str()
                    .as_encoded_bytes();
        let rest = rel.strip_prefix(first).unwrap_or(rel);
        merged
            && self
                .policy
                .is_watched(&Path::new("/").join(twin_dir).join(rest))
    }

    /// Start a watched tree: resolve its top without following symlinks and visit it.
    fn start_top(&mut self, top: PathBuf) -> Option<Pending<O::Reason>> {
        let (parent, name) = match (top.parent(), top.file_name()) {
            (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
            // The root itself: visit its entries as a tree on the root's device.
            _ => {
                let dir = self.root.try_clone().ok()?;
                let dev = dir.stat().ok()?.dev;
                let items = self.prepare(&dir, Path::new("/"));
                self.stack.push(Frame {
                    dir: Arc::new(dir),
                    path: PathBuf::from("/"),
                    dev,
                    items,
                    next: 0,
                });
                return None;
            }
        };
        if self.policy.classify(&top).spec.skip || never_entered(&top) {
            return None;
        }
        let pdir = match self.root.open_dir_path(&parent) {
            Ok(d) => d,
            Err(Errno(libc::ENOENT)) => return None,
            Err(Errno(libc::ELOOP | libc::ENOTDIR)) if self.merged_usr_twin(&top) => return None,
            Err(Errno(libc::ELOOP | libc::ENOTDIR)) => {
                self.issue(
                    &top,
                    "a component above this watched tree is a symlink or not a directory; not walked",
                );
                return None;
            }
            Err(e) => {
                self.issue(&top, format!("cannot open: {}", io::Error::from(e)));
                return None;
            }
        };
        let items = self.prepare_one(&pdir, &parent, &name)?;
        let dev = items.stat.dev;
        self.visit(&Arc::new(pdir), top, items, dev)
    }

    /// Prepare a single named entry of `dir` (a watched tree's top, or an extra owned path).
    fn prepare_one(&mut self, dir: &Dir, dir_path: &Path, name: &OsStr) -> Option<Item<O::Reason>> {
        let path = dir_path.join(name);
        let stat = match dir.lstat(name) {
            Ok(s) => s,
            Err(Errno(libc::ENOENT)) => return None,
            Err(e) => {
                self.issue(&path, format!("cannot lstat: {}", io::Error::from(e)));
                return None;
            }
        };
        let class = self.policy.classify(&path);
        let owner = self.owned.owner(&path);
        let record = owner.is_none_or(|(_, why)| why.is_some());
        let owner = owner.and_then(|(by, why)| Some((by.to_string(), why?)));
        let hash = stat.ftype == FileType::File
            && (class.spec.hashes_content() || (owner.is_some() && !class.spec.log))
            && !(class.spec.log && record_database(name))
            && owner
                .as_ref()
                .is_none_or(|(_, why)| self.owned.hashes_content(*why));
        Some(Item {
            name: name.to_os_string(),
            stat,
            record,
            owner,
            hash,
        })
    }

    /// Capture one owned recorded path outside the watched trees.
    fn capture_extra(&mut self, path: PathBuf) -> Option<Pending<O::Reason>> {
        let (parent, name) = (
            path.parent()?.to_path_buf(),
            path.file_name()?.to_os_string(),
        );
        let dir = match self.root.open_dir_path(&parent) {
            Ok(d) => d,
            Err(Errno(libc::ENOENT)) => return None,
            Err(e) => {
                self.issue(
                    &path,
                    format!("cannot open parent directory: {}", io::Error::from(e)),
                );
                return None;
            }
        };
        let mut item = self.prepare_one(&dir, &parent, &name)?;
        if item.stat.ftype == FileType::Dir {
            // Recorded, not walked: an owned directory outside the watched trees.
            let cap = capture_entry(&dir, &name, &item.stat, false);
            return item.record.then(|| Pending {
                path,
                stat: item.stat,
                owner: item.owner.take(),
                hash: false,
                max_hash: self.policy.max_hash_bytes(),
                memo: self.memo.clone(),
                trusted: None,
                todo: None,
                capture: Some(cap),
                read_issue: false,
                hashed: false,
            });
        }
        self.visit(&Arc::new(dir), path, item, 0)
    }

    /// The next entry of the depth-first walk over the watched trees.
    fn next_tree_entry(&mut self) -> Option<Pending<O::Reason>> {
        loop {
            let Some(frame) = self.stack.last_mut() else {
                let top = self.tops.pop()?;
                if let Some(e) = self.start_top(top) {
                    return Some(e);
                }
                continue;
            };
            let Some(slot) = frame.items.get_mut(frame.next) else {
                self.stack.pop();
                continue;
            };
            frame.next += 1;
            let path = frame.path.join(&slot.name);
            // Keep name and stat in the frame (for `rotated`).
            let item = Item {
                name: slot.name.clone(),
                stat: slot.stat,
                record: slot.record,
                owner: slot.owner.take(),
                hash: slot.hash,
            };
            let dev = frame.dev;
            // The parent's descriptor is needed while the child is pushed (and by the pending
            // entry until it is read): share it.
            let parent = frame.dir.clone();
            if let Some(e) = self.visit(&parent, path, item, dev) {
                return Some(e);
            }
        }
    }
}

impl<O: Owners> Walker<'_, O> {
    /// The next entry in path order, listed and `lstat`ed but not read (see [`Pending::read`]).
    pub fn next_pending(&mut self) -> Option<Pending<O::Reason>> {
        loop {
            if self.peeked.is_none() {
                self.peeked = self.next_tree_entry();
            }
            let extra_first = match (&self.peeked, self.extras.last()) {
                (Some(e), Some(x)) => x < &e.path,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            if !extra_first {
                return self.peeked.take();
            }
            if let Some(x) = self.extras.pop() {
                if let Some(e) = self.capture_extra(x) {
                    return Some(e);
                }
            }
        }
    }

    /// Turn a pending entry into a walk entry, reading it first if not done yet (on this
    /// thread) and recording a read problem as an issue.
    pub fn finish(&mut self, p: Pending<O::Reason>) -> WalkEntry<O::Reason> {
        p.into_entry(self)
    }
}

/// Serial walk: every entry read on the calling thread. [`Batched`] reads on all cores.
impl<O: Owners> Iterator for Walker<'_, O> {
    type Item = WalkEntry<O::Reason>;

    fn next(&mut self) -> Option<WalkEntry<O::Reason>> {
        let p = self.next_pending()?;
        Some(self.finish(p))
    }
}

/// Most entries a batch holds: large enough that the threads rarely wait on the batch's
/// slowest file, small enough to keep memory flat.
pub const BATCH_ENTRIES: usize = 2048;
/// Most distinct directory descriptors a batch keeps open.
pub const BATCH_DIRS: usize = 128;

/// Directory descriptors a walk may hold at once: its stack, plus the batches alive in the compare
/// pipeline (one judged, one read, one listed).
pub const MAX_OPEN_DIRS: u64 = MAX_DEPTH as u64 + 3 * BATCH_DIRS as u64;

/// Raise the soft limit on open files, when it is lower, to what a walk may need plus room for
/// the files being read and the rest of the program, within the hard limit. A service started
/// with a small `LimitNOFILE` would otherwise see directories fail with EMFILE deep in a tree.
/// Best effort: a refusal leaves the limit as it is.
pub fn raise_open_file_limit() {
    fs::raise_open_file_limit_to(MAX_OPEN_DIRS + 512);
}

/// Counts the distinct directories of a batch being filled (entries come grouped by directory).
#[derive(Default)]
pub struct BatchDirs {
    last: Option<*const Dir>,
    count: usize,
}

impl BatchDirs {
    pub fn see<R>(&mut self, p: &Pending<R>) {
        if let Some(k) = p.dir_key() {
            if self.last != Some(k) {
                self.last = Some(k);
                self.count += 1;
            }
        }
    }
    pub fn full(&self, entries: usize) -> bool {
        entries >= BATCH_ENTRIES || self.count >= BATCH_DIRS
    }
}

/// The walk with entries read on all cores (the current rayon pool), batch by batch, still
/// yielded in path order. While one batch is read, the calling thread lists the next.
pub struct Batched<'a, O: Owners> {
    walker: Walker<'a, O>,
    ready: std::collections::VecDeque<WalkEntry<O::Reason>>,
    /// Listed, not read yet: the batch after the one being yielded.
    ahead: Vec<Pending<O::Reason>>,
    hashed: u64,
}

impl<'a, O: Owners> Batched<'a, O> {
    pub fn new(walker: Walker<'a, O>) -> Batched<'a, O> {
        Batched {
            walker,
            ready: std::collections::VecDeque::new(),
            ahead: Vec::new(),
            hashed: 0,
        }
    }

    pub fn take_issues(&mut self) -> Vec<Issue> {
        self.walker.take_issues()
    }

    /// Regular files whose content was hashed so far.
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    fn list_batch(walker: &mut Walker<'_, O>) -> Vec<Pending<O::Reason>> {
        let mut batch = Vec::new();
        let mut dirs = BatchDirs::default();
        while !dirs.full(batch.len()) {
            let Some(p) = walker.next_pending() else {
                break;
            };
            dirs.see(&p);
            batch.push(p);
        }
        batch
    }

    fn refill(&mut self) {
        let mut batch = if self.ahead.is_empty() {
            Self::list_batch(&mut self.walker)
        } else {
            std::mem::take(&mut self.ahead)
        };
        if batch.is_empty() {
            return;
        }
        let walker = &mut self.walker;
        let (ahead, ()) = rayon::join(
            || Self::list_batch(walker),
            || batch.par_iter_mut().for_each(Pending::read),
        );
        self.ahead = ahead;
        for p in batch {
            self.hashed += u64::from(p.hashed());
            let e = self.walker.finish(p);
            self.ready.push_back(e);
        }
    }
}

impl<O: Owners> Iterator for Batched<'_, O> {
    type Item = WalkEntry<O::Reason>;

    fn next(&mut self) -> Option<WalkEntry<O::Reason>> {
        if self.ready.is_empty() {
            self.refill();
        }
        self.ready.pop_front()
    }
}
