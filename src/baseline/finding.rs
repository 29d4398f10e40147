//! Findings from the baseline comparison, as its engines (`verify::unowned`,
//! `verify::logfamily`) produce them: the attributes, values and severity are the shared ones of
//! [`crate::verify::finding`]; on top they keep what the baseline needs after the comparison
//! (the policy class, the baselined and the current record, for `accept --report` and the log
//! families). `run::check` converts them into the report [`crate::verify::Finding`]. Nothing
//! here formats for people.

use super::format::Record;
use crate::policy::Severity;
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

pub use crate::verify::finding::{Attr, Change, Value};

/// One baseline finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Absolute path inside the root, byte-exact (renderers escape it or carry the bytes).
    pub path: PathBuf,
    pub kind: Kind,
    /// Changed attributes with the baselined (`expected`) and current (`actual`) values (empty
    /// for added/removed/missing).
    pub changes: Vec<Change>,
    /// Always `Baseline` here; `Package` is the owned verifier's.
    pub source: Source,
    /// NEVRA of the owning package for an owned file the baseline records, else `None`.
    pub package: Option<String>,
    /// Name of the policy rule that classified the path (`default` when none matched).
    pub rule: String,
    /// Policy class of the path.
    pub class: String,
    /// A policy severity of `none` produces no finding.
    pub severity: Severity,
    /// Why this is reported or why it is mild (rpm silent because %ghost, matches the package's
    /// new version, setuid bit, log rotated, ...).
    pub note: Option<String>,
    /// The baselined state (removed, missing, changed).
    pub old: Option<Record>,
    /// The current state (added, changed).
    pub new: Option<Record>,
}

impl Finding {
    /// A directory the walk did not enter because the tree is deeper than it descends. Always
    /// reported, whatever the baseline holds, since nothing below it is ever compared: high,
    /// because no legitimate tree is that deep and anything can hide in it.
    /// When the directory has a finding of its own (new since the baseline), that one is raised
    /// and explained rather than doubled: one path, one state for `accept --report`.
    pub fn too_deep(
        findings: &mut Vec<Finding>,
        issue: &crate::scan::walk::Issue,
        policy: &crate::policy::Policy,
    ) {
        let why = format!(
            "directory tree deeper than {} levels; not checked below here",
            crate::scan::walk::MAX_DEPTH
        );
        if let Some(f) = findings.iter_mut().find(|f| f.path == issue.path) {
            f.severity = f.severity.max(Severity::High);
            f.note = Some(match f.note.take() {
                Some(n) => format!("{n}; {why}"),
                None => why,
            });
            return;
        }
        let c = policy.classify(&issue.path);
        findings.push(Finding {
            path: issue.path.clone(),
            kind: Kind::Added,
            changes: Vec::new(),
            source: Source::Baseline,
            package: None,
            rule: c.rule.to_string(),
            class: c.class.to_string(),
            severity: Severity::High,
            note: Some(why),
            old: None,
            new: None,
        });
    }

    /// Attribute names, as the JSON `changes` field lists them.
    pub fn change_names(&self) -> Vec<&'static str> {
        self.changes.iter().map(|c| c.attr.name()).collect()
    }
}

/// Into the [`crate::verify::finding::Finding`] the reports render. The attributes and values
/// are already the shared ones and pass unchanged (a replaced log's `inode` included); the
/// policy class goes into the note, the old and new records stay with the baseline (the report
/// file takes the current state from [`crate::ops::states`]).
impl From<&Finding> for crate::verify::finding::Finding {
    fn from(f: &Finding) -> crate::verify::finding::Finding {
        use crate::verify::finding as shared;
        let kind = match f.kind {
            Kind::Added => shared::FindingKind::Added,
            Kind::Removed => shared::FindingKind::Removed,
            Kind::Missing => shared::FindingKind::Missing,
            Kind::Changed => shared::FindingKind::Changed,
        };
        let changes = f.changes.clone();
        let mut note = vec![format!("class {}", f.class)];
        if let Some(n) = &f.note {
            note.push(n.clone());
        }
        shared::Finding {
            path: std::os::unix::ffi::OsStrExt::as_bytes(f.path.as_os_str()).to_vec(),
            kind,
            source: shared::Source::Baseline {
                policy_rule: Some(f.rule.clone()),
                package: f.package.clone(),
            },
            changes,
            severity: f.severity,
            rule: format!("baseline.{}", kind.name()),
            note: Some(note.join("; ")),
            rpm: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_the_shared_finding() {
        let f = Finding {
            path: PathBuf::from("/etc/passwd"),
            kind: Kind::Changed,
            changes: vec![
                Change {
                    attr: Attr::User,
                    expected: Value::Int(0),
                    actual: Value::Int(1000),
                    unreadable: false,
                },
                Change {
                    attr: Attr::Inode,
                    expected: Value::Int(1),
                    actual: Value::Int(2),
                    unreadable: false,
                },
            ],
            source: Source::Baseline,
            package: Some("setup-2.13.7-10.el9.noarch".into()),
            rule: "credentials".into(),
            class: "credentials".into(),
            severity: Severity::High,
            note: None,
            old: None,
            new: None,
        };
        let s = crate::verify::finding::Finding::from(&f);
        assert_eq!(s.path, b"/etc/passwd");
        assert_eq!(s.changes, f.changes, "nothing is lost, the inode included");
        assert_eq!(s.severity, crate::verify::finding::Severity::High);
        assert_eq!(s.rule, "baseline.changed");
        assert_eq!(s.note.as_deref(), Some("class credentials"));
        assert_eq!(
            s.source,
            crate::verify::finding::Source::Baseline {
                policy_rule: Some("credentials".into()),
                package: Some("setup-2.13.7-10.el9.noarch".into()),
            }
        );
    }
}
