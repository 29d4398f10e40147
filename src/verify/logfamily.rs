//! Log families: a log and its rotated archives (`messages`, `messages.1`, `messages.2.gz`,
//! `messages-20240101`, sysstat `sa05`), judged together against the baseline so that a rotation
//! is quiet and a doctored archive is not.
//!
//! Each baselined member's content is identified by its SHA-256. After a rotation every baselined
//! content is either carried by some current member (same digest; the same digest once
//! decompressed; or, for an active log, as the prefix of a member that grew since) or expired,
//! and only the oldest contents may expire. Current members must hold either baselined content or,
//! for an active log (the base log, every sysstat day file), fresh lines. Anything else is loud.
//!
//! The disk reads this needs (prefix digests, decompression) go through [`Reader`], so the
//! verdict itself stays testable without a file system.

use crate::finding::{Attr, Change, Finding, FindingKind, Value};
use crate::scan::capture::FileType;
use crate::scan::record::Record;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most bytes of holes a member may hold and still be read: holes read as zeros, and a log is
/// written sequentially, so a file with more is not a plausible log (`truncate -s 15T`). It is
/// reported, never read.
pub const HOLE_LIMIT: u64 = 1 << 30;

/// The compressions logrotate and sysstat use, by file suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Bzip2,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
        }
    }
}

/// Where a file name sits in its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The family's base name (`messages`, `sa`, `sar`).
    pub base: String,
    /// An active log: written to in place (the base log, each sysstat day file).
    pub active: bool,
    pub compression: Option<Compression>,
}

fn strip_compression(name: &str) -> (&str, Option<Compression>) {
    for (suffix, c) in [
        (".gz", Compression::Gzip),
        (".xz", Compression::Xz),
        (".bz2", Compression::Bzip2),
        (".zst", Compression::Zstd),
    ] {
        if let Some(stem) = name.strip_suffix(suffix) {
            if !stem.is_empty() {
                return (stem, Some(c));
            }
        }
    }
    (name, None)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parse a file name into its family. Every log-class file belongs to one: a name that is not an
/// archive name is a base log.
pub fn member(name: &str) -> Member {
    let (stem, compression) = strip_compression(name);
    for prefix in ["sar", "sa"] {
        if let Some(day) = stem.strip_prefix(prefix) {
            if day.len() == 2 && all_digits(day) {
                return Member {
                    base: prefix.into(),
                    active: compression.is_none(),
                    compression,
                };
            }
        }
    }
    if let Some((base, n)) = stem.rsplit_once('.') {
        if !base.is_empty() && all_digits(n) && n.len() <= 4 {
            return Member {
                base: base.into(),
                active: false,
                compression,
            };
        }
    }
    if let Some((base, d)) = stem.rsplit_once('-') {
        if !base.is_empty() && all_digits(d) && (d.len() == 8 || d.len() == 10) {
            return Member {
                base: base.into(),
                active: false,
                compression,
            };
        }
    }
    Member {
        base: name.into(),
        active: compression.is_none(),
        compression,
    }
}

pub use crate::scan::walk::record_database;

/// One log-class path as the comparison saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: PathBuf,
    pub old: Option<Record>,
    pub new: Option<Record>,
}

/// Digests of a file's content as read now: the whole stream and some prefixes of it.
#[derive(Debug, Clone, Default)]
pub struct Content {
    /// SHA-256 of the whole stream; `None` when it is longer than what was asked for (then it
    /// equals no baselined content the caller could compare it with).
    pub digest: Option<String>,
    /// Bytes read (at most what was asked for).
    pub len: u64,
    /// Prefix length to SHA-256 of the first that many bytes.
    pub prefixes: BTreeMap<u64, String>,
}

/// Why a member could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFail {
    /// One-line reason.
    pub why: String,
    /// The bytes were read but are not valid data of the archive's compression: a member that
    /// could carry anything, so it is reported rather than given the benefit of the doubt.
    pub undecodable: bool,
}

impl ReadFail {
    pub fn io(why: impl Into<String>) -> ReadFail {
        ReadFail {
            why: why.into(),
            undecodable: false,
        }
    }
}

/// Reads members from the disk (the compare's root).
pub trait Reader {
    /// The content of the regular file `path` (decompressed when `compression` is given), with
    /// digests of the prefixes of the given lengths, reading at most `need` bytes of it.
    fn content(
        &self,
        path: &Path,
        compression: Option<Compression>,
        prefixes: &BTreeSet<u64>,
        need: u64,
    ) -> Result<Content, ReadFail>;

    /// Bytes of holes in the regular file `path`, counted until past `limit` (a larger answer
    /// only says "more than `limit`").
    fn holes(&self, path: &Path, limit: u64) -> Result<u64, String>;
}

/// Digests of a stream as it is written: the whole and each requested prefix, of at most
/// `need` bytes. A `Write` so that decoders that only write (xz) feed it as readers do.
pub struct StreamDigest<'p> {
    h: Sha256,
    out: Content,
    pos: u64,
    prefixes: &'p BTreeSet<u64>,
    need: u64,
    /// The stream went on past `need`.
    over: bool,
}

/// What a write past `need` fails with (the decoder then stops; not an error of the member).
const ENOUGH: &str = "read as far as needed";

impl<'p> StreamDigest<'p> {
    pub fn new(prefixes: &'p BTreeSet<u64>, need: u64) -> StreamDigest<'p> {
        let mut out = Content::default();
        if prefixes.contains(&0) {
            out.prefixes
                .insert(0, hex::encode(Sha256::new().finalize()));
        }
        StreamDigest {
            h: Sha256::new(),
            out,
            pos: 0,
            prefixes,
            need,
            over: false,
        }
    }

    /// Whether the stream went on past `need` (then [`StreamDigest::finish`] has no digest).
    pub fn over(&self) -> bool {
        self.over
    }

    /// Take `chunk`; false once `need` bytes are in (the rest is not looked at).
    fn update(&mut self, chunk: &[u8]) -> bool {
        let room = usize::try_from(self.need.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let chunk = match chunk.get(..room) {
            Some(c) if c.len() < chunk.len() => {
                self.over = true;
                c
            }
            _ => chunk,
        };
        let n = chunk.len();
        let end = self.pos + n as u64;
        let pos = self.pos;
        let mut at = pos;
        for &p in self.prefixes.range(pos + 1..=end) {
            let off = usize::try_from(p - pos).unwrap_or(n);
            let start = usize::try_from(at - pos).unwrap_or(n);
            self.h.update(chunk.get(start..off).unwrap_or_default());
            self.out
                .prefixes
                .insert(p, hex::encode(self.h.clone().finalize()));
            at = p;
        }
        let start = usize::try_from(at - pos).unwrap_or(n);
        self.h.update(chunk.get(start..).unwrap_or_default());
        self.pos = end;
        !self.over
    }

    pub fn finish(mut self) -> Content {
        self.out.len = self.pos;
        let d = hex::encode(self.h.finalize());
        self.out.digest = (!self.over).then_some(d);
        self.out
    }
}

impl std::io::Write for StreamDigest<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.update(buf) {
            return Err(std::io::Error::other(ENOUGH));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hash a stream, also recording digests of the requested prefixes; at most `need` bytes.
pub fn digest_stream<R: Read>(
    mut r: R,
    prefixes: &BTreeSet<u64>,
    need: u64,
) -> Result<Content, String> {
    let mut d = StreamDigest::new(prefixes, need);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // One byte past `need` is enough to know the stream is longer.
        let want = usize::try_from(need.saturating_sub(d.pos).saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = match r.read(buf.get_mut(..want).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        if !d.update(buf.get(..n).unwrap_or_default()) {
            break;
        }
    }
    Ok(d.finish())
}

/// What the family check concluded beyond findings.
#[derive(Debug, Default)]
pub struct Outcome {
    /// In path order, not yet classed ([`Finding::classed`]): the comparison classifies them.
    pub findings: Vec<Finding>,
    /// The current record of each finding's path (`None`: gone), for `accept --report`.
    pub current: Vec<(PathBuf, Option<Record>)>,
    /// Paths not fully checked (`(path, reason)`).
    pub issues: Vec<(PathBuf, String)>,
}

/// The family a path belongs to: its directory and base name. An archive kept in another
/// directory (logrotate's `olddir`) joins the family of the same base name in the parent
/// directory when its own directory has no such base log.
fn family_keys(seen: &[Seen]) -> Vec<(PathBuf, String)> {
    let bases: BTreeSet<(PathBuf, String)> = seen
        .iter()
        .filter_map(|s| {
            let name = s.path.file_name()?.to_str()?;
            let m = member(name);
            let dir = s.path.parent()?.to_path_buf();
            (m.base == name).then_some((dir, m.base))
        })
        .collect();
    seen.iter()
        .map(|s| {
            let dir = s.path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let name = s.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let m = member(name);
            if !bases.contains(&(dir.clone(), m.base.clone())) {
                if let Some(up) = dir.parent() {
                    if bases.contains(&(up.to_path_buf(), m.base.clone())) {
                        return (up.to_path_buf(), m.base);
                    }
                }
            }
            (dir, m.base)
        })
        .collect()
}

/// Judge every log family among `seen` (all log-class paths of the comparison). Families with a
/// member whose baselined record has no digest (a baseline written before logs were hashed, or
/// a log unreadable then) are left to the per-path rule and produce nothing here. No member is
/// read past `max_hash` bytes (the policy's `max_hash_bytes`): a baselined digest of more is a
/// capped one, which no content read here can equal.
pub fn judge_families(seen: Vec<Seen>, reader: &dyn Reader, max_hash: u64) -> Outcome {
    let keys = family_keys(&seen);
    let mut families: BTreeMap<(PathBuf, String), Vec<Seen>> = BTreeMap::new();
    for (k, s) in keys.into_iter().zip(seen) {
        families.entry(k).or_default().push(s);
    }
    let mut out = Outcome::default();
    for members in families.into_values() {
        judge_family(members, reader, max_hash, &mut out);
    }
    out.findings.sort_by(|a, b| a.fs_path().cmp(b.fs_path()));
    out
}

fn is_file(r: &Option<Record>) -> Option<&Record> {
    r.as_ref().filter(|r| r.ftype == FileType::File)
}

fn name_member(path: &Path) -> Member {
    member(path.file_name().and_then(|n| n.to_str()).unwrap_or(""))
}

fn unchanged(o: &Record, n: &Record) -> bool {
    o.ino == n.ino && o.size == n.size && o.mtime == n.mtime && o.sha256 == n.sha256
}

fn judge_family(members: Vec<Seen>, reader: &dyn Reader, max_hash: u64, out: &mut Outcome) {
    let olds: Vec<(&Seen, &Record, Member)> = members
        .iter()
        .filter_map(|s| Some((s, is_file(&s.old)?, name_member(&s.path))))
        .collect();
    if olds.iter().any(|(_, o, _)| o.sha256.is_none()) {
        return;
    }
    // Baselined content -> index in `olds`; active logs may be carried as a prefix.
    let mut carried = vec![false; olds.len()];
    // Some member could not be read: it may carry older content that seems to have expired.
    let mut uncertain = false;
    // What a member must be read for: an archive may be a whole baselined content decompressed,
    // a plain member only the grown continuation of an active log. Reading further can match
    // nothing, so a member of a family new since the baseline is not read at all.
    let matchable = |o: &Record| o.size <= max_hash;
    let need_archive = olds
        .iter()
        .map(|(_, o, _)| o)
        .filter(|o| matchable(o))
        .map(|o| o.size)
        .max();
    let need_plain = |now: u64| {
        olds.iter()
            .filter(|(_, o, m)| m.active && matchable(o) && o.size <= now)
            .map(|(_, o, _)| o.size)
            .max()
    };
    let prefixes: BTreeSet<u64> = olds
        .iter()
        .filter(|(_, _, m)| m.active)
        .map(|(_, o, _)| o.size)
        .collect();
    let mut loud: Vec<(PathBuf, Option<Record>, Option<Record>, String)> = Vec::new();
    // Archives with content the baseline never saw: fine only when written after the base log
    // was rotated away since the baseline (several rotations between two checks).
    let mut fresh: Vec<(&Seen, i64)> = Vec::new();
    // Newest mtime of an archive now carrying what the base log held at the baseline.
    let mut base_rotated_at: Option<i64> = None;
    let is_base = |i: usize| {
        olds.get(i)
            .is_some_and(|(_, _, m)| m.active && m.base != "sa" && m.base != "sar")
    };
    for s in &members {
        let Some(n) = is_file(&s.new) else { continue };
        let m = name_member(&s.path);
        if let Some(o) = is_file(&s.old) {
            if unchanged(o, n) {
                if let Some(i) = olds.iter().position(|(x, _, _)| x.path == s.path) {
                    if let Some(c) = carried.get_mut(i) {
                        *c = true;
                    }
                }
                continue;
            }
        }
        let mut explained = false;
        match reader.holes(&s.path, HOLE_LIMIT) {
            Ok(h) if h > HOLE_LIMIT => {
                loud.push((
                    s.path.clone(),
                    s.old.clone(),
                    s.new.clone(),
                    format!(
                        "more than {HOLE_LIMIT} bytes of holes, or too many to map: not a plausible log (not read)"
                    ),
                ));
                continue;
            }
            Ok(_) => {}
            Err(why) => {
                out.issues.push((
                    s.path.clone(),
                    format!("log member not fully checked: {why}"),
                ));
                uncertain = true;
                continue;
            }
        }
        if let Some(d) = &n.sha256 {
            for (i, (x, o, _)) in olds.iter().enumerate() {
                if o.sha256.as_ref() == Some(d) && !(x.path == s.path && o.ino != n.ino) {
                    explained = true;
                    if let Some(c) = carried.get_mut(i) {
                        *c = true;
                    }
                    if is_base(i) && !m.active {
                        base_rotated_at = base_rotated_at.max(Some(n.mtime));
                    }
                }
            }
        }
        // Not hashed by the walk (it reported why: often a live log written to meanwhile) is
        // read here too: the prefix that has to match stays put while a log grows.
        let need = match m.compression {
            Some(_) => need_archive,
            None => need_plain(n.size),
        };
        if let (false, Some(need)) = (explained, need) {
            match reader.content(&s.path, m.compression, &prefixes, need) {
                Ok(c) => {
                    for (i, (x, o, om)) in olds.iter().enumerate() {
                        // A live log may grow in place; at its own path under a new inode it
                        // was replaced, whatever it holds.
                        if x.path == s.path && o.ino != n.ino {
                            continue;
                        }
                        let whole =
                            m.compression.is_some() && c.digest.is_some() && o.sha256 == c.digest;
                        let prefix = om.active
                            && o.sha256.as_ref() == c.prefixes.get(&o.size)
                            && c.len >= o.size;
                        if whole || prefix {
                            explained = true;
                            if let Some(x) = carried.get_mut(i) {
                                *x = true;
                            }
                            if is_base(i) && !m.active {
                                base_rotated_at = base_rotated_at.max(Some(n.mtime));
                            }
                        }
                    }
                }
                Err(ReadFail {
                    why,
                    undecodable: true,
                }) => {
                    // Garbage named like an archive is no rotation's work, and taking it as
                    // "may hold anything" would excuse whatever vanished from the family.
                    loud.push((
                        s.path.clone(),
                        s.old.clone(),
                        s.new.clone(),
                        format!("log archive cannot be read as what its name says: {why}"),
                    ));
                    continue;
                }
                Err(ReadFail { why, .. }) => {
                    out.issues.push((
                        s.path.clone(),
                        format!("log archive not fully checked: {why}"),
                    ));
                    uncertain = true;
                    continue;
                }
            }
        }
        if !explained && !m.active {
            fresh.push((s, n.mtime));
        }
    }
    for (s, mtime) in fresh {
        if base_rotated_at.is_some_and(|at| mtime >= at) {
            continue;
        }
        loud.push((
            s.path.clone(),
            s.old.clone(),
            s.new.clone(),
            "log archive holds content its log family never had in the baseline".into(),
        ));
    }
    for (i, (s, o, m)) in olds.iter().enumerate() {
        if carried.get(i).copied().unwrap_or(true) {
            continue;
        }
        let older_survives = olds
            .iter()
            .enumerate()
            .any(|(j, (_, p, _))| carried.get(j).copied().unwrap_or(false) && p.mtime < o.mtime);
        // An unreadable member excuses no more than an expiry could: a rotation leaves the base
        // log's content in a member that reads, and one that does not is reported on its own.
        let why = if m.active && m.base != "sa" && m.base != "sar" {
            "its baselined content is in no readable member of its family (no rotation)"
        } else if older_survives && !uncertain {
            "log content gone while older members of its family remain (not an expiry)"
        } else {
            continue;
        };
        loud.push((s.path.clone(), s.old.clone(), s.new.clone(), why.into()));
    }
    for (path, old, new, why) in loud {
        if out.findings.iter().any(|f| f.fs_path() == path) {
            continue;
        }
        out.findings.push(finding(&path, old, new.as_ref(), why));
        out.current.push((path, new));
    }
}

/// A loud family verdict on one path. A log shrunk or replaced is said as such (inode, size);
/// the digest is shown when neither explains the change (edited in place).
fn finding(path: &Path, old: Option<Record>, new: Option<&Record>, why: String) -> Finding {
    let mut changes = Vec::new();
    let mut note = why;
    let kind = match (&old, &new) {
        (Some(o), Some(n)) => {
            let replaced = o.ino != n.ino;
            let shrunk = n.size < o.size;
            if replaced {
                changes.push(Change {
                    attr: Attr::Inode,
                    expected: Value::int(o.ino),
                    actual: Value::int(n.ino),
                    unreadable: false,
                });
            }
            if shrunk {
                changes.push(Change {
                    attr: Attr::Size,
                    expected: Value::int(o.size),
                    actual: Value::int(n.size),
                    unreadable: false,
                });
            }
            if !(replaced || shrunk) {
                changes.push(Change {
                    attr: Attr::Digest,
                    expected: o.sha256.clone().map_or(Value::Absent, Value::Text),
                    actual: n.sha256.clone().map_or(Value::Absent, Value::Text),
                    unreadable: false,
                });
            }
            let how = match (replaced, shrunk) {
                (true, _) => "replaced",
                (false, true) => "shrank",
                (false, false) => "edited",
            };
            note = format!("log {how}: {note}");
            FindingKind::Changed
        }
        (None, Some(_)) => FindingKind::Added,
        _ => FindingKind::Removed,
    };
    let mut f = Finding::baseline(path, kind, old.and_then(|o| o.package));
    f.changes = changes;
    f.severity = crate::policy::Severity::Medium;
    f.note = Some(note);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let m = |n: &str| {
            let x = member(n);
            (x.base, x.active, x.compression.is_some())
        };
        assert_eq!(m("messages"), ("messages".into(), true, false));
        assert_eq!(m("messages.1"), ("messages".into(), false, false));
        assert_eq!(m("messages.2.gz"), ("messages".into(), false, true));
        assert_eq!(m("messages-20240101"), ("messages".into(), false, false));
        assert_eq!(m("wtmp-2024010112.xz"), ("wtmp".into(), false, true));
        assert_eq!(m("sa05"), ("sa".into(), true, false));
        assert_eq!(m("sar31.gz"), ("sar".into(), false, true));
        assert_eq!(m("boot.log"), ("boot.log".into(), true, false));
        assert_eq!(m("access_log.4"), ("access_log".into(), false, false));
    }

    #[test]
    fn stream_prefixes() {
        let data = b"hello world";
        let p: BTreeSet<u64> = [0, 5, 11, 40].into_iter().collect();
        let c = digest_stream(&data[..], &p, 100).unwrap();
        assert_eq!(c.len, 11);
        assert_eq!(
            c.prefixes.get(&5),
            Some(&hex::encode(Sha256::digest(b"hello")))
        );
        assert_eq!(c.prefixes.get(&11), c.digest.as_ref());
        assert!(!c.prefixes.contains_key(&40));
        // Exactly as long as asked: whole. Longer: prefixes up to there, no whole digest.
        let c = digest_stream(&data[..], &p, 11).unwrap();
        assert_eq!(c.digest, Some(hex::encode(Sha256::digest(data))));
        let c = digest_stream(&data[..], &p, 5).unwrap();
        assert_eq!((c.len, c.digest), (5, None));
        assert!(c.prefixes.contains_key(&5) && !c.prefixes.contains_key(&11));
    }
}
