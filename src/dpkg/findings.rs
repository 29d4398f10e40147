//! dpkg's verdicts as quietwire findings: owned files that fail `dpkg --verify`'s rules, packages
//! that vouch for nothing (no md5sums file, reported once each like `debsums -l`), and md5sums
//! files rewritten under an unchanged version (someone replaced what dpkg vouches for, the way a
//! trojan would be hidden from `debsums`).

use super::verify::{DpkgResult, Problem};
use super::{DpkgDb, ADMINDIR};
use crate::finding::{Attr, Change, Finding, FindingKind, Severity, Source, Value};
use crate::pkgdb::{FileClass, PackageSnapshot};

/// dpkg's file flag word as findings carry it (`Source::Package::manager_flags`, the JSON
/// report's `file_flags`): bit 0 marks a conffile, the bit rpm uses for `%config`, so report
/// consumers read the configuration bit of both package managers alike.
const CONFFILE_FLAG: u32 = 1;

/// Findings for the failed files of `results` (from [`super::verify::verify`]).
pub fn owned(db: &DpkgDb, results: &[DpkgResult]) -> Vec<Finding> {
    results
        .iter()
        .map(|r| {
            let (kind, changes, note) = match &r.problem {
                Problem::Missing(e) => (
                    FindingKind::Missing,
                    Vec::new(),
                    (e.0 != libc::ENOENT).then(|| e.message()),
                ),
                Problem::Digest { found } => (
                    FindingKind::Changed,
                    vec![Change {
                        attr: Attr::Digest,
                        expected: Value::Text(r.expected.clone()),
                        actual: Value::Text(found.clone()),
                        unreadable: false,
                    }],
                    None,
                ),
                Problem::Unreadable(why) => (
                    FindingKind::Changed,
                    vec![Change {
                        attr: Attr::Digest,
                        expected: Value::Text(r.expected.clone()),
                        actual: Value::Text(why.clone()),
                        unreadable: true,
                    }],
                    Some(why.clone()),
                ),
                Problem::NotVerified(why) => (
                    FindingKind::Changed,
                    vec![Change {
                        attr: Attr::Digest,
                        expected: Value::Text(r.expected.clone()),
                        actual: Value::Text(format!("not verified: {why}")),
                        unreadable: true,
                    }],
                    Some(format!("content not verified: {why}")),
                ),
            };
            // As for rpm: an edited or missing conffile is medium, a changed package file high.
            let severity = match kind {
                _ if r.conffile => Severity::Medium,
                FindingKind::Missing => Severity::Medium,
                _ => Severity::High,
            };
            let nevra = db
                .packages
                .get(r.pkg_index)
                .map_or_else(|| r.package.clone(), |p| p.full_name());
            Finding {
                path: r.path.clone(),
                kind,
                source: Source::Package {
                    name: r.package.clone(),
                    nevra,
                    pkg_index: r.pkg_index,
                    file_index: r.file_index,
                    class: if r.conffile {
                        FileClass::Config
                    } else {
                        FileClass::Plain
                    },
                    manager_flags: if r.conffile { CONFFILE_FLAG } else { 0 },
                },
                changes,
                severity,
                rule: match kind {
                    FindingKind::Missing => "owned.missing",
                    _ => "owned.changed",
                }
                .into(),
                note,
                verify_line: None,
            }
        })
        .collect()
}

fn info_file(name: &str, ext: &str) -> Vec<u8> {
    format!("/{ADMINDIR}/info/{name}.{ext}").into_bytes()
}

/// One `info` finding per selected package without an md5sums file (`selected`: indices into
/// `db.packages`; `None` for all): its files are owned but nothing vouches for their content,
/// which the baseline covers instead.
pub fn no_digests(db: &DpkgDb, selected: Option<&[usize]>) -> Vec<Finding> {
    db.packages
        .iter()
        .enumerate()
        .filter(|(i, p)| p.md5sums.is_none() && selected.is_none_or(|s| s.contains(i)))
        .map(|(i, p)| Finding {
            path: info_file(&p.info_name(), "md5sums"),
            kind: FindingKind::Noted,
            source: Source::Header {
                name: p.entry.name.clone(),
                nevra: p.full_name(),
                pkg_index: i,
                status: "no-digests".into(),
                key_id: None,
            },
            changes: Vec::new(),
            severity: Severity::Info,
            rule: "dpkg.no_digests".into(),
            note: Some(format!(
                "package {}: no digests (no md5sums file): its files' content is covered by the baseline only",
                p.full_name()
            )),
            verify_line: None,
        })
        .collect()
}

/// A `high` finding for each installed package whose md5sums file differs from the one the
/// baseline's snapshot recorded for the same name, version and architecture (or is gone). A
/// new version brings new digests; the same version never does.
pub fn rewritten_md5sums(db: &DpkgDb, baselined: &[PackageSnapshot]) -> Vec<Finding> {
    let old: std::collections::HashMap<&str, &PackageSnapshot> =
        baselined.iter().map(|p| (p.nevra.as_str(), p)).collect();
    let mut out = Vec::new();
    for (i, p) in db.packages.iter().enumerate() {
        let full = p.full_name();
        let Some(before) = old
            .get(full.as_str())
            .and_then(|o| o.sha256_header.as_deref())
        else {
            continue;
        };
        let now = p.md5sums_digest.as_deref();
        if now == Some(before) {
            continue;
        }
        let what = match now {
            Some(d) => format!("its SHA-256 is {d}, was {before}"),
            None => "it is gone".to_string(),
        };
        out.push(Finding {
            path: info_file(&p.info_name(), "md5sums"),
            kind: FindingKind::Untrusted,
            source: Source::Header {
                name: p.entry.name.clone(),
                nevra: full.clone(),
                pkg_index: i,
                status: "md5sums-rewritten".into(),
                key_id: None,
            },
            changes: Vec::new(),
            severity: Severity::High,
            rule: "dpkg.md5sums_rewritten".into(),
            note: Some(format!(
                "package {full}: md5sums file changed while the version stayed the same ({what}): the digests dpkg vouches for were rewritten; its files cannot be trusted"
            )),
            verify_line: None,
        });
    }
    out
}
