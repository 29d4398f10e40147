//! [`Finding`]: the one result type of a check, for every source of truth (package-owned files
//! verified against their package database, unowned paths compared with the baseline, WordPress
//! manifests, package headers against the trusted keys). Every engine produces it and every
//! renderer renders it; nothing converts between finding types. The exit status is derived from
//! findings here.
//!
//! The vocabulary every layer shares (package sources, engines, the baseline, renderers), so it
//! imports none of them beyond the package-neutral [`FileClass`] of `pkgdb` and the exit bits;
//! nothing here is specific to one package manager. To add a finding kind or an attribute: [`FindingKind`] (and its exit
//! bit in [`Finding::exit_bits`]) or [`Attr`] (and its JSON name), then the engine producing it.

use crate::exit;
use crate::pkgdb::FileClass;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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

/// How much a finding matters: the one scale of every finding. In a policy a severity is
/// `Option<Severity>`: the word `none` (`None`) means the change is not reported at all, and
/// orders below every severity, so `max`/`min` over options work as over severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Expected or harmless (shown only on request; never sets an exit bit).
    Info,
    Low,
    Medium,
    High,
    /// Evidence of tampering with the truth itself (e.g. a package header that fails its
    /// digest). Chosen by the engines only; a policy file cannot name it.
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the expected state came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An installed package's record in its package database.
    Package {
        /// Package name.
        name: String,
        /// The package's full name (rpm: `name-[epoch:]version-release.arch`).
        nevra: String,
        /// Position of the package in the database (`PackageDb::packages`).
        pkg_index: usize,
        /// Position of the file in the package's file list.
        file_index: usize,
        /// How the package marks the file (configuration, documentation, ...).
        class: FileClass,
        /// The package manager's own per-file flag word, uninterpreted here: the JSON report
        /// carries it as `file_flags` for consumers that know the manager (0 when it has none).
        manager_flags: u32,
    },
    /// The baseline, with the policy rule that classified the path and, for a package-owned
    /// file whose content rpm does not vouch for, the owning package's NEVRA.
    Baseline {
        policy_rule: Option<String>,
        package: Option<String>,
    },
    /// A WordPress checksum manifest (`crate::wordpress`): the core or plugin that vouches
    /// for the file.
    Manifest {
        /// The package's full name (`wordpress-6.4.3-en_US@/var/www/html`).
        nevra: String,
    },
    /// An installed package's header as a whole (its signature and digest).
    Header {
        name: String,
        nevra: String,
        /// Position of the package in the database (`Database::packages`).
        pkg_index: usize,
        /// `crate::pkgdb::SigStatus::name()`.
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
    /// Inode number (baseline comparisons: a log replaced rather than appended to, a directory
    /// replaced by another, such as a mount point).
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

/// A package manager's verify line for one owned file, in the format `rpm -V` and
/// `dpkg --verify` share: nine result columns `SM5DLUGTP` (`.` where the attribute matches, `?`
/// where it could not be read), the file's class letter, the path, and a state note; or
/// `missing` with the class letter and path. The package source decides every part of the line
/// by its own rules (rpm: `crate::rpmdb::vline`); this type only writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyLine {
    /// The nine result columns; `None` when the file is missing.
    pub columns: Option<[u8; 9]>,
    /// Printed as its letter ([`FileClass::letter`]).
    pub class: FileClass,
    /// Why a missing file could not be reached, when it is not simply absent (`strerror`).
    pub reason: Option<String>,
    /// The file's state as the package manager notes it (rpm: `replaced`, `no state`).
    pub state: Option<&'static str>,
}

impl VerifyLine {
    /// The line (without the newline) for `path`, byte for byte; paths are raw, as the
    /// package managers print them.
    pub fn line(&self, path: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(path.len() + 32);
        match &self.columns {
            None => out.extend_from_slice(b"missing   "),
            Some(c) => {
                out.extend_from_slice(c);
                out.extend_from_slice(b"  ");
            }
        }
        out.push(self.class.letter());
        out.push(b' ');
        out.extend_from_slice(path);
        if let Some(r) = self.reason.as_ref().filter(|_| self.columns.is_none()) {
            out.extend_from_slice(format!(" ({r})").as_bytes());
        }
        if let Some(s) = self.state {
            out.extend_from_slice(format!(" ({s})").as_bytes());
        }
        out
    }
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
    /// The package manager's verify line, for package-owned findings whose source prints one
    /// (renders `--format rpm`).
    pub verify_line: Option<VerifyLine>,
}

impl Finding {
    /// A finding of the baseline comparison, as its engines (`verify::unowned`,
    /// `verify::logfamily`) start it: severity and note are theirs to set. The rule is
    /// `baseline.<kind>` and the class goes first in the note once the comparison has classified
    /// the path ([`Finding::classed`]).
    pub fn baseline(path: &Path, kind: FindingKind, package: Option<String>) -> Finding {
        Finding {
            path: path.as_os_str().as_bytes().to_vec(),
            kind,
            source: Source::Baseline {
                policy_rule: None,
                package,
            },
            changes: Vec::new(),
            severity: Severity::Info,
            rule: String::new(),
            note: None,
            verify_line: None,
        }
    }

    /// Complete a baseline finding with the policy's classification of its path: the rule that
    /// classified it, `baseline.<kind>` as the finding's rule, and `class <name>` ahead of the
    /// engine's note (people read the class first; the report has no field for it).
    pub fn classed(mut self, rule: &str, class: &str) -> Finding {
        if let Source::Baseline { policy_rule, .. } = &mut self.source {
            *policy_rule = Some(rule.to_string());
        }
        self.rule = format!("baseline.{}", self.kind.name());
        let class = format!("class {class}");
        self.note = Some(match self.note.take() {
            Some(n) => format!("{class}; {n}"),
            None => class,
        });
        self
    }

    /// The path as a `Path`. Findings of the baseline comparison (and the package leftovers
    /// found beside it) are in `Path` order (component-wise: `/a/b` before `/a-b`), the order
    /// of the walk and the baseline, which is not the byte order of `path`; log-family and
    /// too-deep-directory findings are merged into that order, not appended. Package-owned
    /// findings keep their package manager's own order (rpm -V's: package, then file).
    pub fn fs_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.path))
    }

    /// The policy rule that classified a baseline finding's path.
    pub fn policy_rule(&self) -> Option<&str> {
        match &self.source {
            Source::Baseline { policy_rule, .. } => policy_rule.as_deref(),
            _ => None,
        }
    }

    /// The package named by the finding's source: the owner of a package-owned file (or, for a
    /// baseline finding, of an owned file the baseline records).
    pub fn package(&self) -> Option<&str> {
        match &self.source {
            Source::Package { nevra, .. }
            | Source::Manifest { nevra }
            | Source::Header { nevra, .. } => Some(nevra),
            Source::Baseline { package, .. } => package.as_deref(),
        }
    }

    /// Attribute names, as the JSON `changes` field lists them.
    pub fn change_names(&self) -> Vec<&'static str> {
        self.changes.iter().map(|c| c.attr.name()).collect()
    }

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
            verify_line: None,
        }
    }

    #[test]
    fn a_classed_baseline_finding_names_rule_class_and_package() {
        let mut f = Finding::baseline(
            Path::new("/etc/passwd"),
            FindingKind::Changed,
            Some("setup-2.13.7-10.el9.noarch".into()),
        );
        f.changes = vec![Change {
            attr: Attr::Inode,
            expected: Value::Int(1),
            actual: Value::Int(2),
            unreadable: false,
        }];
        f.severity = Severity::High;
        let f = f.classed("credentials", "credentials");
        assert_eq!(f.path, b"/etc/passwd");
        assert_eq!(f.change_names(), ["inode"]);
        assert_eq!(f.rule, "baseline.changed");
        assert_eq!(f.note.as_deref(), Some("class credentials"));
        assert_eq!(f.policy_rule(), Some("credentials"));
        assert_eq!(f.package(), Some("setup-2.13.7-10.el9.noarch"));
        let mut g = Finding::baseline(Path::new("/srv/x"), FindingKind::Added, None);
        g.note = Some("new setuid/setgid file".into());
        let g = g.classed("web", "web-executable");
        assert_eq!(g.rule, "baseline.added");
        assert_eq!(
            g.note.as_deref(),
            Some("class web-executable; new setuid/setgid file")
        );
        assert_eq!(g.package(), None);
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
