//! Findings from the baseline comparison.
//!
//! DESIGN.md wants one `Finding` type for package and baseline sources in
//! `src/verify/finding.rs` (the scan engineer's). It is not on main yet, so this is a compatible
//! stand-in with the fields issue 4 asks for (`path`, `kind`, `changes`, `source`, `package`,
//! `rule`, `severity`, old and new values); the lead maps or merges it. Reports render findings;
//! nothing here formats for people.

use super::format::Record;
use crate::policy::Level;
use std::path::PathBuf;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Present now, not in the baseline.
    Added,
    /// In the baseline (unowned), gone now.
    Removed,
    /// In the baseline as a package-owned file, gone now.
    Missing,
    /// Present in both, some attributes differ.
    Changed,
}

/// Where the truth a finding is measured against came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Package,
    Baseline,
}

/// A compared attribute. Content: size, sha256, mtime, inode (logs only). The rest is metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Attr {
    Type,
    Mode,
    Uid,
    Gid,
    Size,
    Sha256,
    Mtime,
    Inode,
    Target,
    Selinux,
    Caps,
    Rdev,
}

impl Attr {
    pub fn name(self) -> &'static str {
        match self {
            Attr::Type => "type",
            Attr::Mode => "mode",
            Attr::Uid => "uid",
            Attr::Gid => "gid",
            Attr::Size => "size",
            Attr::Sha256 => "sha256",
            Attr::Mtime => "mtime",
            Attr::Inode => "inode",
            Attr::Target => "target",
            Attr::Selinux => "selinux",
            Attr::Caps => "caps",
            Attr::Rdev => "rdev",
        }
    }

    /// Whether the attribute is about content (severity `content`) rather than metadata.
    pub fn is_content(self) -> bool {
        matches!(self, Attr::Size | Attr::Sha256 | Attr::Mtime | Attr::Inode)
    }
}

/// An attribute value as recorded (the record's own representation, so nothing is lost:
/// byte-exact link targets and labels, octal-meaningful modes as numbers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    Absent,
    Int(i128),
    Text(String),
    Bytes(super::format::Bytes),
}

/// One changed attribute.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub attr: Attr,
    pub old: Value,
    pub new: Value,
}

/// One baseline finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Absolute path inside the root, byte-exact (renderers escape it or carry the bytes).
    pub path: PathBuf,
    pub kind: Kind,
    /// Changed attributes with old and new values (empty for added/removed/missing).
    pub changes: Vec<Change>,
    /// Always `Baseline` here; `Package` is the owned verifier's.
    pub source: Source,
    /// NEVRA of the owning package for an owned file the baseline records, else `None`.
    pub package: Option<String>,
    /// Name of the policy rule that classified the path (`default` when none matched).
    pub rule: String,
    /// Policy class of the path.
    pub class: String,
    /// Never `Level::None` (such findings are not produced).
    pub severity: Level,
    /// Why this is reported or why it is mild (rpm silent because %ghost, matches the package's
    /// new version, setuid bit, log rotated, ...).
    pub note: Option<String>,
    /// The baselined state (removed, missing, changed).
    pub old: Option<Record>,
    /// The current state (added, changed).
    pub new: Option<Record>,
}

impl Finding {
    /// Attribute names, as the JSON `changes` field lists them.
    pub fn change_names(&self) -> Vec<&'static str> {
        self.changes.iter().map(|c| c.attr.name()).collect()
    }
}
