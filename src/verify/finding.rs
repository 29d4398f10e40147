//! [`Finding`]: the one result type of a check, for both sources of truth (package-owned files
//! verified against the rpmdb, unowned files compared with the baseline). Reports render
//! findings; they never compute them. The exit status is derived from findings here.

use crate::exit;
use crate::rpmdb::FileState;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// Present on disk, absent from the truth (baseline only).
    Added,
    /// Absent from disk (or unreachable: `errno` in `note`): a package-owned file, or a
    /// package-owned file the baseline tracks.
    Missing,
    /// An unowned path recorded in the baseline is gone.
    Removed,
    /// Present, but one or more attributes differ (or could not be read: `?`).
    Changed,
    /// Nothing differs, but rpm prints the file because of its state (`(replaced)`,
    /// `(no state)`); informational, does not affect the exit status.
    Noted,
    /// A package header whose signature or digest fails, is missing, or whose key is not
    /// trusted (path: the rpmdb file). The package's expected values cannot be vouched for.
    Untrusted,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Added => "added",
            FindingKind::Missing => "missing",
            FindingKind::Removed => "removed",
            FindingKind::Changed => "changed",
            FindingKind::Noted => "noted",
            FindingKind::Untrusted => "untrusted",
        }
    }
}

/// The one severity scale; defined by the policy, which chooses it for most findings.
pub use crate::policy::Severity;

/// Where the expected state came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An installed package's header in the rpmdb.
    Package {
        /// Package name.
        name: String,
        /// `name-[epoch:]version-release.arch`.
        nevra: String,
        /// Position of the package in the database (`Database::packages`).
        pkg_index: usize,
        /// Position of the file in the header.
        file_index: usize,
        /// FILEFLAGS (`rpm::FileFlags` bits).
        file_flags: u32,
        /// FILESTATES entry.
        state: FileState,
    },
    /// The baseline, with the policy rule that classified the path and, for a package-owned
    /// file whose content rpm does not vouch for, the owning package's NEVRA.
    Baseline {
        policy_rule: Option<String>,
        package: Option<String>,
    },
    /// An installed package's header as a whole (its signature and digest).
    Header {
        name: String,
        nevra: String,
        /// Position of the package in the database (`Database::packages`).
        pkg_index: usize,
        /// `crate::rpmdb::trust::SigStatus::name()`.
        status: String,
        /// Long key id of the signature, when it names one.
        key_id: Option<String>,
    },
}

/// A compared attribute: one vocabulary for package-owned and baseline comparisons (its
/// [`Attr::name`]s are the names the JSON report carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attr {
    Size,
    Mode,
    Digest,
    Rdev,
    LinkTo,
    User,
    Group,
    Mtime,
    Caps,
    /// File type (baseline comparisons; rpm folds it into `Mode`).
    Type,
    /// SELinux label (baseline comparisons).
    Label,
    /// Inode number (baseline comparisons of logs: a log replaced rather than appended to).
    Inode,
}

impl Attr {
    /// Stable machine name.
    pub fn name(self) -> &'static str {
        match self {
            Attr::Size => "size",
            Attr::Mode => "mode",
            Attr::Digest => "digest",
            Attr::Rdev => "rdev",
            Attr::LinkTo => "link",
            Attr::User => "user",
            Attr::Group => "group",
            Attr::Mtime => "mtime",
            Attr::Caps => "caps",
            Attr::Type => "type",
            Attr::Label => "label",
            Attr::Inode => "inode",
        }
    }

    /// rpm's letter for the attribute (`S M 5 D L U G T P`), when it has one.
    pub fn rpm_letter(self) -> Option<char> {
        Some(match self {
            Attr::Size => 'S',
            Attr::Mode => 'M',
            Attr::Digest => '5',
            Attr::Rdev => 'D',
            Attr::LinkTo => 'L',
            Attr::User => 'U',
            Attr::Group => 'G',
            Attr::Mtime => 'T',
            Attr::Caps => 'P',
            Attr::Type | Attr::Label | Attr::Inode => return None,
        })
    }

    /// Whether the attribute is about content (the policy's `content` severity) rather than
    /// metadata.
    pub fn is_content(self) -> bool {
        matches!(self, Attr::Size | Attr::Digest | Attr::Mtime | Attr::Inode)
    }
}

/// An attribute value, typed so JSON can stay lossless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Not present (no capabilities, no link target, not readable).
    Absent,
    Int(i64),
    /// A mode (printed in octal).
    Mode(u32),
    /// A device number: (major, minor).
    Dev(u32, u32),
    Text(String),
    /// Raw bytes (link targets may be any bytes).
    Bytes(Vec<u8>),
}

impl Value {
    /// An integer attribute (ids, sizes, times, inode numbers); one beyond `i64` (never on a
    /// real file system) saturates rather than wraps.
    pub fn int<T: TryInto<i64>>(v: T) -> Value {
        Value::Int(v.try_into().unwrap_or(i64::MAX))
    }
}

/// One changed attribute with the expected (package's or baseline's) and the found value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub attr: Attr,
    pub expected: Value,
    pub actual: Value,
    /// The attribute could not be read (rpm's `?`); `actual` then holds the reason.
    pub unreadable: bool,
}

/// What an `rpm -V` line is rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpmVerdict {
    /// RPMVERIFY_* result bits (including the failure bits READFAIL/READLINKFAIL/LSTATFAIL).
    pub result: u32,
    /// errno of the failed lstat, when `result` has LSTATFAIL.
    pub errno: Option<i32>,
    pub file_flags: u32,
    pub state: FileState,
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Absolute path inside the checked root, byte-exact.
    pub path: Vec<u8>,
    pub kind: FindingKind,
    pub source: Source,
    /// Changed attributes (empty for missing/added/noted).
    pub changes: Vec<Change>,
    pub severity: Severity,
    /// Stable machine name of the rule that produced the finding (e.g. `owned.changed`).
    pub rule: String,
    /// Extra information for people (e.g. `Permission denied`, `replaced during the check`).
    pub note: Option<String>,
    /// The raw rpm verdict, for package-owned findings (renders `--format rpm`).
    pub rpm: Option<RpmVerdict>,
}

impl Finding {
    /// This finding's contribution to the exit status ([`crate::exit`] bits). Informational
    /// findings (`Noted`, or severity `Info`) contribute nothing.
    pub fn exit_bits(&self) -> u8 {
        if self.severity == Severity::Info {
            return 0;
        }
        match self.kind {
            FindingKind::Added => exit::ADDED,
            FindingKind::Missing | FindingKind::Removed => exit::REMOVED,
            FindingKind::Changed => exit::CHANGED,
            FindingKind::Untrusted => exit::UNTRUSTED,
            FindingKind::Noted => 0,
        }
    }
}

/// The OR of every finding's exit bits.
pub fn exit_bits(findings: &[Finding]) -> u8 {
    findings.iter().fold(0, |acc, f| acc | f.exit_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: FindingKind) -> Finding {
        Finding {
            path: b"/x".to_vec(),
            kind,
            source: Source::Baseline {
                policy_rule: None,
                package: None,
            },
            changes: vec![],
            severity: Severity::Low,
            rule: "t".into(),
            note: None,
            rpm: None,
        }
    }

    #[test]
    fn exit_bits_merge() {
        assert_eq!(exit_bits(&[]), 0);
        assert_eq!(exit_bits(&[f(FindingKind::Noted)]), 0);
        assert_eq!(
            exit_bits(&[f(FindingKind::Missing), f(FindingKind::Changed)]),
            exit::REMOVED | exit::CHANGED
        );
        assert_eq!(exit_bits(&[f(FindingKind::Added)]), exit::ADDED);
        assert_eq!(exit_bits(&[f(FindingKind::Removed)]), exit::REMOVED);
        assert_eq!(
            exit_bits(&[f(FindingKind::Untrusted), f(FindingKind::Added)]),
            exit::UNTRUSTED | exit::ADDED
        );
        let mut info = f(FindingKind::Changed);
        info.severity = Severity::Info;
        assert_eq!(
            exit_bits(&[info]),
            0,
            "informational findings set no exit bit"
        );
    }
}
