//! quietwire's own baseline of unowned paths (and of owned files rpm does not vouch for):
//! `init` records it, `compare` checks the system against it, `accept` records the current state
//! of chosen paths. See `format` for the file and `crate::scan::walk` for what is recorded.
//!
//! Compare and accept are merge-joins of two streams in the same path order: the baseline file,
//! read record by record, and the walk. Memory stays bounded by the largest directory and the
//! findings, not by the size of the tree.
//!
//! Nothing here prints; callers render findings and issues.

pub mod changes;
pub mod format;
pub mod lock;
pub mod owned_cache;
pub mod sign;

pub use crate::finding::{Attr, Change, Finding, FindingKind as Kind, Value};
use crate::pkgdb::{OwnedFile, OwnedIndex, OwnedReason, PackageSnapshot};
pub use format::{BaselineError, Header, Record};

use crate::policy::Policy;
use crate::scan::capture::{Dir, FileType};
use crate::scan::walk::{BatchDirs, Batched, Issue, Owners, Walker};

/// A walk entry not read yet, carrying why an owned path is recorded.
type Pending = crate::scan::walk::Pending<OwnedReason>;
use crate::verify::logfamily;
use crate::verify::unowned::{judge, Probe};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where the baseline lives inside the checked root unless `--baseline FILE` is given.
pub const DEFAULT_LOCATION: &str = "/var/lib/quietwire/baseline";

/// The default baseline file for `root`, resolved as the root sees it: a symlinked
/// `var/lib/quietwire` (or any directory above it) in an offline root leads to a directory inside
/// that root, never to one of the host, so `init` and `accept` cannot be made to write over host
/// files. The file itself is not followed (it is replaced by a rename).
pub fn default_location(root: &Path) -> std::io::Result<PathBuf> {
    crate::scan::fs::resolve_in_root(root, Path::new(DEFAULT_LOCATION), false)
}

/// What `init` did.
#[derive(Debug, Clone, Default)]
pub struct InitStats {
    pub entries: u64,
    /// Paths the walk could not fully read (they are recorded with what could be read).
    pub issues: Vec<Issue>,
}

/// What `compare` found.
#[derive(Debug, Clone)]
pub struct CompareOutcome {
    /// In path order.
    pub findings: Vec<Finding>,
    /// The current record of each finding's path (`None`: gone), keyed by the finding's path:
    /// what `accept --report` later requires the path to still be in.
    pub current: Current,
    /// Paths the walk could not fully read, vanished paths, trees not walked.
    pub issues: Vec<Issue>,
    /// The baseline's header (creation time, host, policy digest, package snapshot).
    pub header: Header,
    /// Whether the policy in force differs from the one the baseline was written under.
    pub policy_changed: bool,
    /// The SHA-256 of the baseline file as read for this comparison (from the same descriptor
    /// the records were parsed from): what a pin or signature must be checked against.
    pub baseline_sha256: String,
    /// Owned files the baseline records whose current state equals the accepted one: `check`
    /// shows rpm's verdict on them (a %config file that differs from its package) as info only.
    pub owned_unchanged: Vec<PathBuf>,
    /// Regular files whose content was hashed.
    pub hashed: u64,
    /// Regular files not re-hashed because `--trust-ctime` found them unchanged.
    pub trusted: u64,
}

/// A path's current record by the path's bytes (`None`: the path is gone).
pub type Current = std::collections::HashMap<Vec<u8>, Option<Record>>;

/// How `compare` works (not what it reports).
#[derive(Debug, Clone, Copy, Default)]
pub struct CompareOptions {
    /// Do not re-hash a regular file whose inode, size, mtime and ctime equal the baseline's:
    /// take the baselined digest. Weaker: it trusts that content changes move the ctime, which
    /// only someone able to set the clock (root) can avoid. Off by default.
    pub trust_ctime: bool,
}

/// Which paths `accept` records.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Everything: the baseline becomes the current state.
    All,
    /// Absolute paths or globs inside the root (`*` stays within a component, `**` crosses);
    /// a pattern that matches a directory selects everything under it.
    Patterns(Vec<String>),
    /// Exactly these paths, each only if its current state is the one given (from a report
    /// file; `None`: the path is gone). A path whose state differs is refused.
    Report(std::collections::BTreeMap<PathBuf, Option<Record>>),
    /// The owned files the baseline records (%config, %ghost, no digest verified) of these
    /// installed packages (NEVRAs): after editing a package's configuration.
    Owners(std::collections::BTreeSet<String>),
    /// After a package transaction (dpkg: `accept --packages`): the owned files of the changed
    /// packages `nevras` except those their package's verification failed (`except`), and the
    /// records of files that belonged to `gone` packages (removed, or the old side of an
    /// update); the header takes the new package snapshot.
    Transaction {
        nevras: std::collections::BTreeSet<String>,
        except: std::collections::BTreeSet<PathBuf>,
        gone: std::collections::BTreeSet<String>,
    },
}

/// What `accept` did.
#[derive(Debug, Clone, Default)]
pub struct AcceptStats {
    /// Selected paths whose record changed, appeared or disappeared.
    pub updated: u64,
    pub added: u64,
    pub removed: u64,
    /// Records in the new baseline.
    pub entries: u64,
    /// Patterns that selected no path at all (neither baselined nor present).
    pub unmatched: Vec<String>,
    pub issues: Vec<Issue>,
    /// `Selection::Report` paths not accepted, with the reason.
    pub refused: Vec<(PathBuf, String)>,
}

/// The verdict on one path under `Selection::Report`.
enum Verdict {
    NotSelected,
    Accept,
    Refuse(&'static str),
}

fn report_verdict(
    expected: &std::collections::BTreeMap<PathBuf, Option<Record>>,
    path: &Path,
    current: Option<&Record>,
) -> Verdict {
    match (expected.get(path), current) {
        (None, _) => Verdict::NotSelected,
        // ctime aside: it moves with any metadata change, even one undone, and older reports
        // do not have it.
        (Some(Some(e)), Some(c)) if e.same_state(c) => Verdict::Accept,
        (Some(None), Some(_)) => Verdict::Refuse("present again since the report (it said gone)"),
        (Some(Some(_)), None) => Verdict::Refuse("gone since the report was written"),
        (Some(Some(_)), Some(_)) => Verdict::Refuse("changed again since the report was written"),
        (Some(None), None) => Verdict::Accept,
    }
}

/// Probes for one compared path: the rotation verdict, taken from the walk when the path was
/// listed, and package digests read from the root.
struct DiskProbe<'w> {
    rotated: bool,
    policy_changed: bool,
    root: &'w Dir,
}

impl Probe for DiskProbe<'_> {
    fn rotated(&self, _path: &Path, _old_ino: u64, _old_mtime: i64) -> bool {
        self.rotated
    }

    fn policy_changed(&self) -> bool {
        self.policy_changed
    }

    fn matches_package(&self, path: &Path, owner: &OwnedFile) -> bool {
        !owner.digest.is_empty()
            && crate::scan::capture::package_digest(self.root, path, owner.algo)
                .is_ok_and(|d| d.eq_ignore_ascii_case(&owner.digest))
    }
}

/// Reads log family members inside the root for [`logfamily::judge_families`].
struct FamilyReader<'w> {
    root: &'w Dir,
    /// What a file already read gave, by its identity and the question asked: hard links (or
    /// one archive asked about twice) are read once per run, not once per name.
    done: std::cell::RefCell<std::collections::HashMap<FamilyKey, FamilyRead>>,
}

/// A regular file's identity as `fstat` gives it (any write moves `ctime`), and what was asked.
type FamilyKey = (u64, u64, u64, i64, i64, Option<&'static str>, u64, Vec<u64>);
type FamilyRead = Result<logfamily::Content, logfamily::ReadFail>;

/// Most answers kept by [`FamilyReader`]: each is small, and past this a name is just read.
const FAMILY_MEMO: usize = 1 << 16;

impl FamilyReader<'_> {
    fn open(&self, path: &Path) -> Result<(std::fs::File, crate::scan::Stat), String> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err("not a file path".into());
        };
        let os = |e: crate::scan::Errno| std::io::Error::from(e).to_string();
        let dir = self.root.open_dir_path(parent).map_err(os)?;
        let seen = dir.lstat(name).map_err(os)?;
        if seen.ftype != FileType::File {
            return Err("not a regular file".into());
        }
        dir.open_regular(name, &seen).map_err(|e| match e {
            crate::scan::OpenError::Sys(e) => os(e),
            crate::scan::OpenError::Swapped => "replaced while being read".to_string(),
        })
    }
}

fn family_read(
    f: std::fs::File,
    compression: Option<logfamily::Compression>,
    prefixes: &std::collections::BTreeSet<u64>,
    need: u64,
) -> FamilyRead {
    let input = std::io::BufReader::new(f);
    let Some(c) = compression else {
        return logfamily::digest_stream(input, prefixes, need).map_err(logfamily::ReadFail::io);
    };
    let decoded = match c {
        logfamily::Compression::Gzip => {
            logfamily::digest_stream(flate2::read::MultiGzDecoder::new(input), prefixes, need)
        }
        logfamily::Compression::Bzip2 => {
            logfamily::digest_stream(bzip2::read::MultiBzDecoder::new(input), prefixes, need)
        }
        logfamily::Compression::Zstd => ruzstd::decoding::StreamingDecoder::new(input)
            .map_err(|e| e.to_string())
            .and_then(|d| logfamily::digest_stream(d, prefixes, need)),
        logfamily::Compression::Xz => {
            // lzma-rs decodes xz only into a writer; the digest is one. It stops the decoder
            // with an error once it has what it needs.
            let mut input = input;
            let mut sink = logfamily::StreamDigest::new(prefixes, need);
            match lzma_rs::xz_decompress(&mut input, &mut sink) {
                Ok(()) => Ok(sink.finish()),
                Err(_) if sink.over() => Ok(sink.finish()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    // The file itself was opened; what fails now is its content as this compression.
    decoded.map_err(|e| logfamily::ReadFail {
        why: format!("cannot decompress ({}): {e}", c.name()),
        undecodable: true,
    })
}

impl logfamily::Reader for FamilyReader<'_> {
    fn content(
        &self,
        path: &Path,
        compression: Option<logfamily::Compression>,
        prefixes: &std::collections::BTreeSet<u64>,
        need: u64,
    ) -> Result<logfamily::Content, logfamily::ReadFail> {
        let (f, st) = self.open(path).map_err(logfamily::ReadFail::io)?;
        let key: FamilyKey = (
            st.dev,
            st.ino,
            st.size,
            st.mtime_ns,
            st.ctime_ns,
            compression.map(|c| c.name()),
            need,
            prefixes.iter().copied().collect(),
        );
        if let Some(r) = self.done.borrow().get(&key) {
            return r.clone();
        }
        let r = family_read(f, compression, prefixes, need);
        let mut done = self.done.borrow_mut();
        if done.len() < FAMILY_MEMO {
            done.insert(key, r.clone());
        }
        r
    }

    fn holes(&self, path: &Path, limit: u64) -> Result<u64, String> {
        let (f, st) = self.open(path)?;
        crate::scan::fs::hole_bytes(&f, st.size, limit).map_err(|e| e.to_string())
    }
}

/// Add the family check's findings: to the finding already made for the same path (metadata),
/// else as new findings, keeping path order.
fn merge_family_findings(
    findings: &mut Vec<Finding>,
    current: &mut Current,
    family: logfamily::Outcome,
    policy: &Policy,
) {
    for (path, rec) in family.current {
        current
            .entry(path.as_os_str().as_bytes().to_vec())
            .or_insert(rec);
    }
    for mut f in family.findings {
        let class = policy.classify(f.fs_path());
        if let Some(content) = class.spec.content {
            f.severity = f.severity.max(content);
        }
        if let Some(e) = findings.iter_mut().find(|e| e.path == f.path) {
            e.severity = e.severity.max(f.severity);
            e.changes.extend(f.changes);
            // The family's explanation, unless the path's own verdict already has one (the
            // classed note is then more than the class alone).
            let class_only = format!("class {}", class.class);
            if e.note.as_deref() == Some(class_only.as_str()) {
                if let Some(n) = f.note {
                    e.note = Some(format!("{class_only}; {n}"));
                }
            }
            continue;
        }
        let f = f.classed(class.rule, class.class);
        let at = findings.partition_point(|e| e.fs_path() < f.fs_path());
        findings.insert(at, f);
    }
}

/// A directory the walk did not enter because the tree is deeper than it descends, or because it
/// is another file system the policy does not mention. Always reported, whatever the baseline
/// holds, since nothing below it is ever compared: high, because anything can hide in it (a
/// file system mounted over a watched directory hides what is under it from the walk).
/// When the directory has a finding of its own (new since the baseline), that one is raised
/// and explained rather than doubled: one path, one state for `accept --report`.
fn not_walked(findings: &mut Vec<Finding>, current: &mut Current, issue: &Issue, policy: &Policy) {
    let why = if issue.is_other_fs() {
        "another file system (mount point or btrfs subvolume) not in the policy's watch or expected_mounts; not checked below here".to_string()
    } else {
        format!(
            "directory tree deeper than {} levels; not checked below here",
            crate::scan::walk::MAX_DEPTH
        )
    };
    let path = issue.path.as_os_str().as_bytes();
    if let Some(f) = findings.iter_mut().find(|f| f.path == path) {
        f.severity = f.severity.max(crate::policy::Severity::High);
        f.note = Some(match f.note.take() {
            Some(n) => format!("{n}; {why}"),
            None => why,
        });
        return;
    }
    let c = policy.classify(&issue.path);
    let mut f = Finding::baseline(&issue.path, Kind::Added, None);
    f.severity = crate::policy::Severity::High;
    f.note = Some(why);
    let f = f.classed(c.rule, c.class);
    // In path order, where the comparison's findings are (see `Finding::fs_path`).
    let at = findings.partition_point(|e| e.fs_path() < f.fs_path());
    findings.insert(at, f);
    current.insert(path.to_vec(), None);
}

fn new_header(root: &Path, policy: &Policy, snapshot: &[PackageSnapshot]) -> Header {
    Header {
        format: format::FORMAT_NAME.into(),
        version: format::FORMAT_VERSION,
        created: format::now_secs(),
        host: crate::host::hostname(),
        root: format::Bytes(root.as_os_str().as_bytes().to_vec()),
        policy_digest: policy.digest(),
        packages: snapshot.to_vec(),
        owned_cache: None,
    }
}

fn open_walk<'p>(
    root: &Path,
    policy: &'p Policy,
    owned: &'p OwnedIndex,
) -> Result<(Walker<'p, OwnedIndex>, Dir), BaselineError> {
    let root_err = |source| BaselineError::Root {
        root: root.to_path_buf(),
        source,
    };
    let walker = Walker::new(root, policy, owned).map_err(root_err)?;
    let dir = Dir::open_root(root)
        .map_err(std::io::Error::from)
        .map_err(root_err)?;
    Ok((walker, dir))
}

/// Record every path the policy watches (and every owned file rpm does not vouch for) into a new
/// baseline at `out`. Refuses to replace an existing baseline unless `force`.
pub fn init(
    root: &Path,
    policy: &Policy,
    owned: &OwnedIndex,
    snapshot: &[PackageSnapshot],
    out: &Path,
    force: bool,
) -> Result<InitStats, BaselineError> {
    init_with(root, policy, owned, snapshot, out, force, None)
}

/// [`init`], recording `owned_cache` (already written beside `out`) in the header.
pub fn init_with(
    root: &Path,
    policy: &Policy,
    owned: &OwnedIndex,
    snapshot: &[PackageSnapshot],
    out: &Path,
    force: bool,
    owned_cache: Option<owned_cache::CacheRef>,
) -> Result<InitStats, BaselineError> {
    if !force && std::fs::symlink_metadata(out).is_ok() {
        return Err(BaselineError::Exists {
            file: out.to_path_buf(),
        });
    }
    let (walker, _) = open_walk(root, policy, owned)?;
    let mut walker = Batched::new(walker);
    let header = Header {
        owned_cache,
        ..new_header(root, policy, snapshot)
    };
    let mut w = format::Writer::create(out, &header)?;
    for e in walker.by_ref() {
        w.record(&Record::from_entry(&e))?;
    }
    let entries = w.finish()?;
    Ok(InitStats {
        entries,
        issues: walker.take_issues(),
    })
}

/// Compare the system with the baseline in `baseline_file`. Findings are returned only after the
/// whole baseline has been read and its trailer verified: a damaged baseline is an error, never a
/// partial or silent pass.
pub fn compare(
    root: &Path,
    policy: &Policy,
    owned: &OwnedIndex,
    baseline_file: &Path,
) -> Result<CompareOutcome, BaselineError> {
    compare_with(
        root,
        policy,
        owned,
        baseline_file,
        CompareOptions::default(),
    )
}

/// One step of the merge-join: a baselined record, a current entry, or both for one path.
struct Slot {
    old: Option<Record>,
    new: Option<Pending>,
    /// For a log whose inode changed or that shrank: whether a rotation sibling was seen.
    rotated: bool,
}

/// The baselined digest of `old` when `--trust-ctime` may use it for `new`.
fn trusted_digest(old: &Record, new: &Pending) -> Option<([u8; 32], bool)> {
    let st = &new.stat;
    if old.ftype != FileType::File
        || st.ftype != FileType::File
        || old.ctime != Some(st.ctime_ns)
        || old.ino != st.ino
        || old.size != st.size
        || old.mtime != st.mtime
    {
        return None;
    }
    crate::scan::record::parse_digest(old.sha256.as_deref()?)
}

/// The two cursors of the merge-join (baseline records, walk entries) and what judging the
/// pairs accumulates.
struct Merge<'p> {
    reader: format::FileReader,
    walker: Walker<'p, OwnedIndex>,
    root_dir: Dir,
    policy: &'p Policy,
    owned: &'p OwnedIndex,
    opts: CompareOptions,
    policy_changed: bool,
    old: Option<Record>,
    new: Option<Pending>,
    findings: Vec<Finding>,
    current: Current,
    owned_unchanged: Vec<PathBuf>,
    hashed: u64,
    trusted: u64,
    /// Every log-class path, for the family check after the merge-join.
    logs: Vec<logfamily::Seen>,
}

impl Merge<'_> {
    /// The next pairs in path order, up to a batch's bound; empty when both streams are done.
    /// Files are listed and `lstat`ed, not read: the caller reads the batch.
    fn collect(&mut self) -> Result<Vec<Slot>, BaselineError> {
        let mut batch = Vec::with_capacity(crate::scan::walk::BATCH_ENTRIES);
        let mut dirs = BatchDirs::default();
        while !dirs.full(batch.len()) {
            let order = match (&self.old, &self.new) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(o), Some(n)) => o.path().as_path().cmp(n.path.as_path()),
            };
            let (old, new) = match order {
                Ordering::Less => (self.old.take(), None),
                Ordering::Greater => (None, self.new.take()),
                Ordering::Equal => (self.old.take(), self.new.take()),
            };
            let mut slot = Slot {
                old,
                new,
                rotated: false,
            };
            if let (Some(o), Some(n)) = (&slot.old, &mut slot.new) {
                if self.opts.trust_ctime && n.wants_hash() {
                    if let Some(d) = trusted_digest(o, n) {
                        n.trust_digest(d.0, d.1);
                        self.trusted += 1;
                    }
                }
                // The rotation probe looks at the directory listing, which only holds while the
                // walk is still at this entry: decide it now.
                let st = &n.stat;
                slot.rotated = o.ftype == FileType::File
                    && st.ftype == FileType::File
                    && (st.ino != o.ino || st.size < o.size)
                    && self.policy.classify(&n.path).spec.log
                    && self.walker.rotated(&n.path, o.ino, o.mtime);
            }
            if slot.old.is_some() {
                self.old = self.reader.next_record()?;
            }
            if let Some(n) = &slot.new {
                dirs.see(n);
                self.new = self.walker.next_pending();
            }
            batch.push(slot);
        }
        Ok(batch)
    }

    /// Keep a verdict's finding with the path's current record.
    fn found(&mut self, f: Option<Finding>, current: Option<Record>) {
        if let Some(f) = f {
            self.current.insert(f.path.clone(), current);
            self.findings.push(f);
        }
    }

    /// Judge a batch whose files have been read, in path order.
    fn judge(&mut self, batch: Vec<Slot>) {
        for s in batch {
            let probe = DiskProbe {
                rotated: s.rotated,
                policy_changed: self.policy_changed,
                root: &self.root_dir,
            };
            let (policy, owned) = (self.policy, self.owned);
            let mut log = |path: &Path, old: Option<&Record>, new: Option<&Record>| {
                if policy.classify(path).spec.log {
                    self.logs.push(logfamily::Seen {
                        path: path.to_path_buf(),
                        old: old.cloned(),
                        new: new.cloned(),
                    });
                }
            };
            match (s.old, s.new) {
                (Some(o), None) => {
                    let path = o.path();
                    log(&path, Some(&o), None);
                    let f = judge(&path, Some(&o), None, policy, owned, &probe);
                    self.found(f, None);
                }
                (None, Some(n)) => {
                    self.hashed += u64::from(n.hashed());
                    let n = self.walker.finish(n);
                    let rec = Record::from_entry(&n);
                    log(&n.path, None, Some(&rec));
                    let f = judge(&n.path, None, Some(&rec), policy, owned, &probe);
                    self.found(f, Some(rec));
                }
                (Some(o), Some(n)) => {
                    self.hashed += u64::from(n.hashed());
                    let n = self.walker.finish(n);
                    let rec = Record::from_entry(&n);
                    log(&n.path, Some(&o), Some(&rec));
                    match judge(&n.path, Some(&o), Some(&rec), policy, owned, &probe) {
                        Some(f) => self.found(Some(f), Some(rec)),
                        None if rec.accepts_package_verdict() => {
                            self.owned_unchanged.push(n.path.clone())
                        }
                        None => {}
                    }
                }
                (None, None) => {}
            }
        }
    }
}

/// Read (open, hash, xattrs) every file of a batch on all cores of the current rayon pool.
fn read_batch(batch: &mut [Slot]) {
    batch.par_iter_mut().for_each(|s| {
        if let Some(n) = &mut s.new {
            n.read();
        }
    });
}

/// [`compare`] with options. The merge-join is a pipeline over batches of pairs: while the files
/// of one batch are read and hashed on the rayon pool, the calling thread judges the batch
/// before it and lists the batch after it (listing, `lstat` and judging are serial; without
/// the overlap they left the other cores idle for about half of the run).
pub fn compare_with(
    root: &Path,
    policy: &Policy,
    owned: &OwnedIndex,
    baseline_file: &Path,
    opts: CompareOptions,
) -> Result<CompareOutcome, BaselineError> {
    let mut reader = format::Reader::open(baseline_file)?;
    let (mut walker, root_dir) = open_walk(root, policy, owned)?;
    let old = reader.next_record()?;
    let new = walker.next_pending();
    let policy_changed = reader.header().policy_digest != policy.digest();
    let mut m = Merge {
        policy_changed,
        reader,
        walker,
        root_dir,
        policy,
        owned,
        opts,
        old,
        new,
        findings: Vec::new(),
        current: Current::new(),
        owned_unchanged: Vec::new(),
        hashed: 0,
        trusted: 0,
        logs: Vec::new(),
    };
    let mut reading = m.collect()?;
    let mut read: Vec<Slot> = Vec::new();
    while !reading.is_empty() || !read.is_empty() {
        let (next, ()) = rayon::join(
            || {
                m.judge(std::mem::take(&mut read));
                m.collect()
            },
            || read_batch(&mut reading),
        );
        read = std::mem::replace(&mut reading, next?);
    }
    let header = m.reader.header().clone();
    let mut issues = m.walker.take_issues();
    let mut findings = m.findings;
    let mut current = m.current;
    for i in issues.iter().filter(|i| i.is_too_deep() || i.is_other_fs()) {
        not_walked(&mut findings, &mut current, i, policy);
    }
    let mut families = logfamily::judge_families(
        std::mem::take(&mut m.logs),
        &FamilyReader {
            root: &m.root_dir,
            done: Default::default(),
        },
        policy.max_hash_bytes(),
    );
    let family_issues = std::mem::take(&mut families.issues);
    merge_family_findings(&mut findings, &mut current, families, policy);
    issues.extend(
        family_issues
            .into_iter()
            .map(|(path, what)| Issue { path, what }),
    );
    let baseline_sha256 = m.reader.file_sha256().unwrap_or_default();
    Ok(CompareOutcome {
        baseline_sha256,
        findings,
        current,
        issues,
        policy_changed: header.policy_digest != policy.digest(),
        header,
        owned_unchanged: m.owned_unchanged,
        hashed: m.hashed,
        trusted: m.trusted,
    })
}

/// Compile accept patterns: each must be absolute; each also selects what is under a match.
fn selection_matcher(patterns: &[String]) -> Result<(GlobSet, Vec<usize>), BaselineError> {
    let mut b = GlobSetBuilder::new();
    let mut owner = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        if !p.starts_with('/') {
            return Err(BaselineError::Pattern {
                pattern: p.clone(),
                what: "must be an absolute path inside the root".into(),
            });
        }
        let t = p.trim_end_matches('/');
        let t = if t.is_empty() { "/" } else { t };
        for v in [t.to_string(), format!("{}/**", t.trim_end_matches('/'))] {
            let g = GlobBuilder::new(&v)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| BaselineError::Pattern {
                    pattern: p.clone(),
                    what: e.to_string(),
                })?;
            b.add(g);
            owner.push(i);
        }
    }
    let set = b.build().map_err(|e| BaselineError::Pattern {
        pattern: patterns.join(" "),
        what: e.to_string(),
    })?;
    Ok((set, owner))
}

/// Record the current state of the selected paths into the baseline; every other record stays
/// exactly as it was. The new file replaces the old atomically (old kept as `.prev`) only after
/// the old one has been read to its verified trailer.
pub fn accept(
    root: &Path,
    policy: &Policy,
    owned: &OwnedIndex,
    snapshot: &[PackageSnapshot],
    baseline_file: &Path,
    selection: &Selection,
) -> Result<AcceptStats, BaselineError> {
    accept_with(
        root,
        policy,
        owned,
        snapshot,
        baseline_file,
        selection,
        None,
    )
}

/// [`accept`], recording `owned_cache` (already written beside the baseline) in the header;
/// without one, the reference to the cache already there is kept.
pub fn accept_with(
    root: &Path,
    policy: &Policy,
    owned: &OwnedIndex,
    snapshot: &[PackageSnapshot],
    baseline_file: &Path,
    selection: &Selection,
    owned_cache: Option<owned_cache::CacheRef>,
) -> Result<AcceptStats, BaselineError> {
    let matcher = match selection {
        Selection::All | Selection::Report(_) | Selection::Owners(_) => None,
        Selection::Transaction { .. } => None,
        Selection::Patterns(p) => Some((selection_matcher(p)?, p)),
    };
    let owners = match selection {
        Selection::Owners(o) => Some(o),
        _ => None,
    };
    let report = match selection {
        Selection::Report(r) => Some(r),
        _ => None,
    };
    let mut refused = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut hits = vec![false; matcher.as_ref().map_or(0, |(_, p)| p.len())];
    let mut selected = |path: &Path| -> bool {
        if let Some(nevras) = owners {
            return owned.get(path).is_some_and(|o| nevras.contains(&o.nevra));
        }
        if let Selection::Transaction { nevras, except, .. } = selection {
            return !except.contains(path)
                && owned.get(path).is_some_and(|o| nevras.contains(&o.nevra));
        }
        let Some(((set, owner), _)) = &matcher else {
            return true;
        };
        let m = set.matches(path);
        for i in &m {
            if let Some(&p) = owner.get(*i) {
                if let Some(h) = hits.get_mut(p) {
                    *h = true;
                }
            }
        }
        !m.is_empty()
    };
    // What to do with `path` (now in state `current`), noting a refusal once.
    let mut decide =
        |path: &Path, current: Option<&Record>, refused: &mut Vec<(PathBuf, String)>| {
            let verdict = match report {
                Some(r) => report_verdict(r, path, current),
                None if selected(path) => Verdict::Accept,
                None => Verdict::NotSelected,
            };
            if let Verdict::Refuse(why) = verdict {
                refused.push((path.to_path_buf(), why.to_string()));
            }
            verdict
        };
    let mut reader = format::Reader::open(baseline_file)?;
    let kept_cache = owned_cache.or_else(|| reader.header().owned_cache.clone());
    let header = match selection {
        Selection::All => Header {
            owned_cache: kept_cache,
            ..new_header(root, policy, snapshot)
        },
        // A partial accept keeps the package snapshot and policy digest the rest was taken under.
        Selection::Patterns(_) | Selection::Report(_) | Selection::Owners(_) => Header {
            created: format::now_secs(),
            owned_cache: kept_cache,
            ..reader.header().clone()
        },
        Selection::Transaction { .. } => Header {
            created: format::now_secs(),
            packages: snapshot.to_vec(),
            ..reader.header().clone()
        },
    };
    // A record of a file whose package went away in the transaction.
    let gone_package = |r: &Record| match (selection, &r.package) {
        (Selection::Transaction { gone, .. }, Some(p)) => gone.contains(p),
        _ => false,
    };
    let (walker, _) = open_walk(root, policy, owned)?;
    let mut walker = Batched::new(walker);
    let mut w = format::Writer::create(baseline_file, &header)?;
    let mut stats = AcceptStats::default();
    let mut old = reader.next_record()?;
    let mut new = walker.next().map(|e| Record::from_entry(&e));
    loop {
        let order = match (&old, &new) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(o), Some(n)) => o.path().cmp(&n.path()),
        };
        match order {
            Ordering::Less => {
                if let Some(o) = old.take() {
                    let path = o.path();
                    let verdict = match gone_package(&o) {
                        true => Verdict::Accept,
                        false => decide(&path, None, &mut refused),
                    };
                    if matches!(verdict, Verdict::Accept) {
                        stats.removed += 1;
                        stats.updated += 1;
                    } else {
                        w.record(&o)?;
                    }
                    seen.insert(path);
                }
                old = reader.next_record()?;
            }
            Ordering::Greater => {
                if let Some(n) = new.take() {
                    let path = n.path();
                    let verdict = decide(&path, Some(&n), &mut refused);
                    if matches!(verdict, Verdict::Accept) {
                        stats.added += 1;
                        stats.updated += 1;
                        w.record(&n)?;
                    }
                    seen.insert(path);
                }
                new = walker.next().map(|e| Record::from_entry(&e));
            }
            Ordering::Equal => {
                if let (Some(o), Some(n)) = (old.take(), new.take()) {
                    let path = n.path();
                    let verdict = match gone_package(&o) && owned.get(&path).is_none() {
                        true => Verdict::Accept,
                        false => decide(&path, Some(&n), &mut refused),
                    };
                    if matches!(verdict, Verdict::Accept) {
                        if !o.same_state(&n) {
                            stats.updated += 1;
                        }
                        w.record(&n)?;
                    } else {
                        w.record(&o)?;
                    }
                    seen.insert(path);
                }
                old = reader.next_record()?;
                new = walker.next().map(|e| Record::from_entry(&e));
            }
        }
    }
    stats.entries = w.finish()?;
    if let Selection::Patterns(p) = selection {
        stats.unmatched = p
            .iter()
            .zip(&hits)
            .filter(|(_, h)| !**h)
            .map(|(p, _)| p.clone())
            .collect();
    }
    if let Some(r) = report {
        // A reported path neither baselined nor walked now: fine if the report said it is gone.
        for (path, state) in r {
            if state.is_some() && !seen.contains(path) {
                refused.push((path.clone(), "gone since the report was written".into()));
            }
        }
        refused.sort();
    }
    stats.refused = refused;
    stats.issues = walker.take_issues();
    Ok(stats)
}

/// Record `snapshot` as the baseline's rpmdb package set; every path record stays as it is. The
/// old baseline is read to its verified trailer first and kept as `.prev`.
pub fn accept_packages(
    snapshot: &[PackageSnapshot],
    baseline_file: &Path,
) -> Result<u64, BaselineError> {
    accept_packages_with(snapshot, baseline_file, None)
}

/// [`accept_packages`], recording a new `owned_cache` (else keeping the reference there is).
pub fn accept_packages_with(
    snapshot: &[PackageSnapshot],
    baseline_file: &Path,
    owned_cache: Option<owned_cache::CacheRef>,
) -> Result<u64, BaselineError> {
    let mut reader = format::Reader::open(baseline_file)?;
    let header = Header {
        created: format::now_secs(),
        packages: snapshot.to_vec(),
        owned_cache: owned_cache.or_else(|| reader.header().owned_cache.clone()),
        ..reader.header().clone()
    };
    let mut w = format::Writer::create(baseline_file, &header)?;
    while let Some(r) = reader.next_record()? {
        w.record(&r)?;
    }
    w.finish()
}

/// Read only the header of a baseline (and nothing else: its integrity is checked by `compare`).
pub fn read_header(baseline_file: &Path) -> Result<Header, BaselineError> {
    format::Reader::peek_header(baseline_file)
}

/// The walk learns from the owned index which package paths to skip and which to record.
impl Owners for OwnedIndex {
    type Reason = OwnedReason;

    fn owner(&self, path: &Path) -> Option<(&str, Option<OwnedReason>)> {
        self.get(path).map(|o| (o.nevra.as_str(), o.reason()))
    }

    fn recorded(&self) -> Vec<PathBuf> {
        self.iter()
            .filter(|(_, o)| o.reason().is_some())
            .map(|(p, _)| p.to_path_buf())
            .collect()
    }

    fn hashes_content(&self, reason: OwnedReason) -> bool {
        reason != OwnedReason::Metadata
    }
}
