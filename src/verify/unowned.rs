//! The verdict for one path of the baseline comparison: given its baselined record and its
//! current record (either may be absent), the policy class and the rpmdb ownership, decide whether
//! it is a finding, which attributes changed, and how severe it is.
//!
//! This module is pure: it never touches the file system. The two facts that need the disk (has a
//! log been rotated? does a changed owned file match its package's digest?) come in as probes.

use crate::finding::{Attr, Change, Finding, FindingKind, Value};
use crate::pkgdb::{OwnedFile, OwnedIndex};
use crate::policy::{ClassSpec, Policy, Severity};
use crate::scan::capture::FileType;
use crate::scan::record::{Bytes, Record};
use std::path::Path;

/// setuid and setgid bits.
const SUID_SGID: u32 = 0o6000;

/// Disk facts the verdict needs, supplied by the caller (the merge-join holding the walker).
pub trait Probe {
    /// Whether the log at `path` (baselined inode and mtime given) was rotated.
    fn rotated(&self, path: &Path, old_ino: u64, old_mtime: i64) -> bool;
    /// Whether the current content of owned file `path` is exactly what its package shipped.
    fn matches_package(&self, path: &Path, owner: &OwnedFile) -> bool;
    /// Whether the policy in force differs from the one the baseline was written under.
    fn policy_changed(&self) -> bool {
        false
    }
}

fn int<T: TryInto<i64>>(v: T) -> Value {
    Value::int(v)
}

fn opt_text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Absent, |s| Value::Text(s.clone()))
}

fn opt_bytes(v: &Option<Bytes>) -> Value {
    v.as_ref()
        .map_or(Value::Absent, |b| Value::Bytes(b.0.clone()))
}

/// Metadata differences: everything but content.
fn metadata_changes(old: &Record, new: &Record) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |attr, o: Value, n: Value| {
        if o != n {
            out.push(Change {
                attr,
                expected: o,
                actual: n,
                unreadable: false,
            });
        }
    };
    if old.ftype != new.ftype {
        push(
            Attr::Type,
            Value::Text(old.ftype.name().into()),
            Value::Text(new.ftype.name().into()),
        );
        // Other attributes of a different kind of object mean little; the type says it all,
        // plus ownership and mode which an attacker may have set.
    }
    push(Attr::Mode, Value::Mode(old.mode), Value::Mode(new.mode));
    push(Attr::User, int(old.uid), int(new.uid));
    push(Attr::Group, int(old.gid), int(new.gid));
    if old.ftype == new.ftype {
        push(Attr::LinkTo, opt_bytes(&old.target), opt_bytes(&new.target));
        // A directory replaced by another (a mount, a btrfs subvolume, or removed and made
        // again) has another inode; its mode and owner may be the same, and what was under it
        // may now be out of the walk's reach.
        if new.ftype == FileType::Dir {
            push(Attr::Inode, int(old.ino), int(new.ino));
        }
        if matches!(new.ftype, FileType::Char | FileType::Block) {
            push(
                Attr::Rdev,
                old.rdev.map_or(Value::Absent, int),
                new.rdev.map_or(Value::Absent, int),
            );
        }
    }
    push(
        Attr::Label,
        opt_bytes(&old.selinux),
        opt_bytes(&new.selinux),
    );
    push(Attr::Caps, opt_text(&old.caps), opt_text(&new.caps));
    out
}

/// Content differences of a regular file under its class's rules.
fn content_changes(
    old: &Record,
    new: &Record,
    spec: &ClassSpec,
    path: &Path,
    probe: &dyn Probe,
) -> (Vec<Change>, Option<String>) {
    let mut out = Vec::new();
    if old.ftype != FileType::File || new.ftype != FileType::File {
        return (out, None);
    }
    if spec.log {
        // With a baselined digest the log is judged with its family (`verify::logfamily`), which
        // sees every member at once. Without one (a baseline written before logs were hashed, or
        // a log unreadable then) only a replacement or shrink without a rotation is reported.
        if old.sha256.is_some() {
            return (out, None);
        }
        let replaced = new.ino != old.ino;
        let shrunk = new.size < old.size;
        if !(replaced || shrunk) {
            return (out, None);
        }
        if probe.rotated(path, old.ino, old.mtime) {
            return (out, None);
        }
        if replaced {
            out.push(Change {
                attr: Attr::Inode,
                expected: int(old.ino),
                actual: int(new.ino),
                unreadable: false,
            });
        }
        if shrunk {
            out.push(Change {
                attr: Attr::Size,
                expected: int(old.size),
                actual: int(new.size),
                unreadable: false,
            });
        }
        let note = match (replaced, shrunk) {
            (true, _) => "log replaced without rotation",
            (false, _) => "log shrank without rotation",
        };
        return (out, Some(note.into()));
    }
    if spec.content.is_none() {
        return (out, None);
    }
    let mut note = None;
    match (&old.sha256, &new.sha256) {
        (Some(o), Some(n)) if o != n => out.push(Change {
            attr: Attr::Digest,
            expected: Value::Text(o.clone()),
            actual: Value::Text(n.clone()),
            unreadable: false,
        }),
        // Without a baselined digest nothing vouches for the content: say so rather than let
        // size and mtime (which an intruder can keep) stand for it. Accepting records it.
        (None, Some(n)) => {
            out.push(Change {
                attr: Attr::Digest,
                expected: Value::Absent,
                actual: Value::Text(n.clone()),
                unreadable: false,
            });
            note = Some(
                "no digest in the baseline (unreadable when recorded, or its class did not compare content then)"
                    .into(),
            );
        }
        // Unreadable now: listed among the paths not fully checked.
        _ => {}
    }
    if old.size != new.size {
        out.push(Change {
            attr: Attr::Size,
            expected: int(old.size),
            actual: int(new.size),
            unreadable: false,
        });
    }
    if old.mtime != new.mtime {
        out.push(Change {
            attr: Attr::Mtime,
            expected: int(old.mtime),
            actual: int(new.mtime),
            unreadable: false,
        });
    }
    (out, note)
}

fn gains_setuid(old: Option<&Record>, new: &Record) -> bool {
    new.ftype == FileType::File
        && new.mode & SUID_SGID != 0
        && old.is_none_or(|o| {
            o.ftype != FileType::File || (o.mode & SUID_SGID) != (new.mode & SUID_SGID)
        })
}

/// The verdict for one path. `old` is the baselined record, `new` the current one (from the
/// walk); at least one is present. `None` means nothing to report.
pub fn judge(
    path: &Path,
    old: Option<&Record>,
    new: Option<&Record>,
    policy: &Policy,
    owned: &OwnedIndex,
    probe: &dyn Probe,
) -> Option<Finding> {
    let class = policy.classify(path);
    verdict(path, old, new, class.spec, policy, owned, probe)
        .map(|f| f.classed(class.rule, class.class))
}

/// [`judge`] before the class is named: the note here is the verdict's own.
fn verdict(
    path: &Path,
    old: Option<&Record>,
    new: Option<&Record>,
    spec: &ClassSpec,
    policy: &Policy,
    owned: &OwnedIndex,
    probe: &dyn Probe,
) -> Option<Finding> {
    let owner_now = owned.get(path);
    let owner_reason = owner_now.and_then(|o| o.reason());
    // A path rpm now fully vouches for (a package was installed over an unowned file) is the
    // owned verifier's business from now on.
    if owner_now.is_some() && owner_reason.is_none() {
        return None;
    }
    let package = owner_now
        .map(|o| o.nevra.clone())
        .or_else(|| old.and_then(|o| o.package.clone()));
    // Severity is set below: every branch that reports chooses it.
    let mut f = Finding::baseline(path, FindingKind::Changed, package);
    f.note = owner_reason.map(|r| r.describe().to_string());
    match (old, new) {
        (None, None) => None,
        (None, Some(n)) => {
            f.kind = FindingKind::Added;
            if let Some(owner) = owner_now {
                // A package file the baseline has not seen yet (package installed since): quiet
                // when rpm vouches for its content and it matches, else worth a look.
                if owner.package_vouches_content() && probe.matches_package(path, owner) {
                    return None;
                }
                f.severity = Severity::Info;
                f.note = Some(format!(
                    "package file not in the baseline yet; {}",
                    owner_reason.map_or("", |r| r.describe())
                ));
                return Some(f);
            }
            let mut severity = spec.added;
            if gains_setuid(None, n) {
                severity = severity.max(policy.setuid_level());
                f.note = Some("new setuid/setgid file".into());
            }
            f.severity = severity?;
            Some(f)
        }
        (Some(o), None) => {
            // Out of the policy's scope now: the policy changed since the baseline. A changed
            // policy is itself a high finding; what it stopped checking is listed so
            // that a policy dropped in to blind the check cannot hide what was baselined.
            let in_scope = policy.is_watched(path) || owner_reason.is_some();
            if !in_scope || path.ancestors().any(|a| policy.classify(a).spec.skip) {
                if !probe.policy_changed() {
                    return None;
                }
                f.kind = FindingKind::Removed;
                f.severity = Severity::Low;
                f.note = Some("no longer checked: policy changed".into());
                return Some(f);
            }
            if o.package.is_some() && owner_now.is_none() {
                f.kind = FindingKind::Removed;
                f.severity = Severity::Info;
                f.note = Some(format!(
                    "no longer owned by any package (was {}; package removed?)",
                    o.package.as_deref().unwrap_or("?")
                ));
                return Some(f);
            }
            f.kind = if owner_now.is_some() {
                FindingKind::Missing
            } else {
                FindingKind::Removed
            };
            f.severity = spec.removed?;
            Some(f)
        }
        (Some(o), Some(n)) => {
            let mut meta = metadata_changes(o, n);
            let (mut content, content_note) = content_changes(o, n, spec, path, probe);
            if !content.is_empty() {
                if let Some(owner) = owner_now {
                    if owner.package_vouches_content() && probe.matches_package(path, owner) {
                        // The package shipped this content (updated since the baseline).
                        content.clear();
                    }
                }
            }
            let setuid = gains_setuid(Some(o), n);
            let content_level = if content.iter().all(|c| c.attr == Attr::Mtime) {
                spec.content.min(Some(Severity::Info))
            } else {
                spec.content
            };
            let mut severity = None;
            if content_level.is_none() {
                content.clear();
            } else if !content.is_empty() {
                severity = content_level;
            }
            if spec.metadata.is_none() && !setuid {
                meta.clear();
            } else if !meta.is_empty() {
                severity = severity.max(spec.metadata);
            }
            if setuid {
                severity = severity.max(policy.setuid_level());
                f.note = Some("gained the setuid/setgid bit".into());
            } else if !content.is_empty() && content_note.is_some() {
                f.note = content_note;
            }
            meta.extend(content);
            if meta.is_empty() {
                return None;
            }
            f.changes = meta;
            f.severity = severity?;
            Some(f)
        }
    }
}
