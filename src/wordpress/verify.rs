//! Verifying WordPress files against their manifests. A file whose content matches a digest
//! its manifest lists is clean whatever its mtime or owner (WordPress rewrites files on every
//! update); a mismatch, a listed file missing, or a PHP file inside `wp-admin/` or
//! `wp-includes/` that the core manifest does not list (the classic dropped backdoor) is high.

use super::db::{Component, Kind, WordPressDb};
use crate::pkgdb::DigestAlgo;
use crate::scan::fs::Dir;
use crate::scan::hash;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Larger files are not hashed: no WordPress file comes near it, and a sparse giant must not
/// stall the check.
const MAX_FILE_BYTES: u64 = 256 << 20;
/// Bounds on the search for unexpected PHP files.
const MAX_DEPTH: usize = 32;
const MAX_ENTRIES: usize = 500_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The content matches none of the listed digests.
    Mismatch {
        algo: DigestAlgo,
        expected: String,
        actual: String,
    },
    Missing,
    /// Not a regular file where the manifest lists one.
    NotRegular(&'static str),
    /// A PHP file in `wp-admin/` or `wp-includes/` that core does not ship.
    Unexpected,
    Unreadable(String),
}

/// One finding about a WordPress file; all are high severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Absolute inside the root.
    pub path: PathBuf,
    /// The package ([`Component::nevra`]).
    pub package: String,
    pub problem: Problem,
}

impl Verdict {
    pub fn severity(&self) -> &'static str {
        "high"
    }

    /// The problem for people; the report names the package beside it.
    pub fn describe(&self) -> String {
        match &self.problem {
            Problem::Mismatch { algo, .. } => {
                format!("content differs from the manifest ({})", algo.name())
            }
            Problem::Missing => "missing, listed in the manifest".to_string(),
            Problem::NotRegular(t) => format!("is a {t}, the manifest lists a regular file"),
            Problem::Unexpected => {
                "PHP file in wp-admin/ or wp-includes/ that core does not ship".to_string()
            }
            Problem::Unreadable(e) => format!("cannot be verified: {e}"),
        }
    }
}

/// Verify every package of `db`, files in path order per package.
pub fn verify(top: &Dir, db: &WordPressDb) -> Vec<Verdict> {
    let mut out = Vec::new();
    for c in db.vouched() {
        verify_component(top, c, &mut out);
        if c.kind == Kind::Core {
            unexpected_php(top, c, &mut out);
        }
    }
    out
}

fn verify_component(top: &Dir, c: &Component, out: &mut Vec<Verdict>) {
    let Some(m) = c.loaded() else { return };
    let base = c.base();
    let nevra = c.nevra();
    // Manifest paths come sorted, so consecutive files mostly share their directory.
    let mut cached: Option<(PathBuf, Result<Dir, i32>)> = None;
    for (rel, sums) in &m.files {
        let path = base.join(rel);
        let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = path.file_name().unwrap_or(OsStr::new("")).to_os_string();
        if cached.as_ref().is_none_or(|(p, _)| *p != parent) {
            let d = super::open_dir(top, &parent).map_err(|e| e.0);
            cached = Some((parent, d));
        }
        let verdict = |problem| Verdict {
            path: path.clone(),
            package: nevra.clone(),
            problem,
        };
        let dir = match cached.as_ref().map(|(_, d)| d) {
            Some(Ok(d)) => d,
            Some(Err(libc::ENOENT)) | Some(Err(libc::ENOTDIR)) | Some(Err(libc::ELOOP)) => {
                out.push(verdict(Problem::Missing));
                continue;
            }
            Some(Err(e)) => {
                out.push(verdict(Problem::Unreadable(crate::scan::fs::strerror(*e))));
                continue;
            }
            None => continue,
        };
        if let Some(p) = check_file(dir, &name, sums) {
            out.push(verdict(p));
        }
    }
}

fn check_file(dir: &Dir, name: &OsStr, sums: &super::manifest::FileSums) -> Option<Problem> {
    let st = match dir.lstat(name) {
        Ok(st) => st,
        Err(e) if e.0 == libc::ENOENT => return Some(Problem::Missing),
        Err(e) => return Some(Problem::Unreadable(e.message())),
    };
    if !st.is_reg() {
        return Some(Problem::NotRegular(st.ftype.name()));
    }
    if st.size > MAX_FILE_BYTES {
        return Some(Problem::Unreadable(format!(
            "{} bytes, larger than any WordPress file",
            st.size
        )));
    }
    // SHA-256 when the manifest has it: MD5 collisions are cheap to make.
    let (algo, want) = if sums.sha256.is_empty() {
        (DigestAlgo::Md5, &sums.md5)
    } else {
        (DigestAlgo::Sha256, &sums.sha256)
    };
    let f = match dir.open_regular(name, &st) {
        Ok((f, _)) => f,
        Err(e) => return Some(Problem::Unreadable(e.to_string())),
    };
    let actual = match hash::hash_logical(algo, &f, MAX_FILE_BYTES) {
        Ok(d) => d.to_hex(),
        Err(e) => return Some(Problem::Unreadable(e.to_string())),
    };
    if want.contains(&actual) {
        return None;
    }
    Some(Problem::Mismatch {
        algo,
        expected: want.first().cloned().unwrap_or_default(),
        actual,
    })
}

fn unexpected_php(top: &Dir, c: &Component, out: &mut Vec<Verdict>) {
    let Some(m) = c.loaded() else { return };
    let mut budget = MAX_ENTRIES;
    for sub in ["wp-admin", "wp-includes"] {
        let path = c.install.join(sub);
        if let Ok(d) = super::open_dir(top, &path) {
            walk(&d, &path, sub, 0, &mut budget, &mut |p, rel| {
                if !m.files.contains_key(rel) {
                    out.push(Verdict {
                        path: p.to_path_buf(),
                        package: c.nevra(),
                        problem: Problem::Unexpected,
                    });
                }
            });
        }
    }
}

/// Call `found` with (path, path relative to the install) for every `*.php` entry below `dir`
/// that is not a directory, without following symlinks.
fn walk(
    dir: &Dir,
    path: &Path,
    rel: &str,
    depth: usize,
    budget: &mut usize,
    found: &mut dyn FnMut(&Path, &str),
) {
    let Ok(names) = dir.entries() else { return };
    for name in names {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let child_rel = format!("{rel}/{}", String::from_utf8_lossy(name.as_bytes()));
        let child = path.join(&name);
        match dir.lstat(&name) {
            Ok(st) if st.is_dir() => {
                let d = (depth < MAX_DEPTH).then(|| dir.open_child(&name));
                if let Some(Ok(d)) = d {
                    walk(&d, &child, &child_rel, depth + 1, budget, found);
                }
            }
            Ok(_) if name.as_bytes().to_ascii_lowercase().ends_with(b".php") => {
                found(&child, &child_rel)
            }
            _ => {}
        }
    }
}

/// The verdicts as report findings, all high: the manifest is the truth, as a package header
/// is for rpm-owned files.
pub fn to_findings(verdicts: &[Verdict]) -> Vec<crate::finding::Finding> {
    use crate::finding::{Attr, Change, Finding, FindingKind, Severity, Source, Value};
    verdicts
        .iter()
        .map(|v| {
            let (kind, rule, changes) = match &v.problem {
                Problem::Mismatch {
                    expected, actual, ..
                } => (
                    FindingKind::Changed,
                    "wordpress.changed",
                    vec![Change {
                        attr: Attr::Digest,
                        expected: Value::Text(expected.clone()),
                        actual: Value::Text(actual.clone()),
                        unreadable: false,
                    }],
                ),
                Problem::NotRegular(t) => (
                    FindingKind::Changed,
                    "wordpress.changed",
                    vec![Change {
                        attr: Attr::Type,
                        expected: Value::Text("file".to_string()),
                        actual: Value::Text(t.to_string()),
                        unreadable: false,
                    }],
                ),
                Problem::Missing => (FindingKind::Missing, "wordpress.missing", Vec::new()),
                Problem::Unexpected => (FindingKind::Added, "wordpress.unexpected", Vec::new()),
                Problem::Unreadable(e) => (
                    FindingKind::Changed,
                    "wordpress.unreadable",
                    vec![Change {
                        attr: Attr::Digest,
                        expected: Value::Absent,
                        actual: Value::Text(e.clone()),
                        unreadable: true,
                    }],
                ),
            };
            Finding {
                path: v.path.as_os_str().as_bytes().to_vec(),
                kind,
                source: Source::Manifest {
                    nevra: v.package.clone(),
                },
                changes,
                severity: Severity::High,
                rule: rule.to_string(),
                note: Some(v.describe()),
                verify_line: None,
            }
        })
        .collect()
}

/// An unexpected PHP file in `wp-admin/` or `wp-includes/` is also new to the baseline; report
/// it once, as the WordPress finding (which no `accept` silences: core's file set is the
/// manifest's).
pub fn drop_baseline_duplicates(findings: &mut Vec<crate::finding::Finding>) {
    use crate::finding::{FindingKind, Source};
    let unexpected: std::collections::HashSet<Vec<u8>> = findings
        .iter()
        .filter(|f| f.rule == "wordpress.unexpected")
        .map(|f| f.path.clone())
        .collect();
    if unexpected.is_empty() {
        return;
    }
    findings.retain(|f| {
        !(f.kind == FindingKind::Added
            && matches!(f.source, Source::Baseline { .. })
            && unexpected.contains(&f.path))
    });
}

/// A manifest replaced since the baseline while the version stayed (same full name, another
/// manifest digest): the manifest lives inside the checked root, so rewriting it to match a
/// trojaned file would otherwise silence the verdict. High until `accept` records it.
pub fn replaced_manifests(
    changes: &crate::baseline::changes::PackageChanges,
) -> Vec<crate::finding::Finding> {
    use crate::finding::{Attr, Change, Finding, FindingKind, Severity, Source, Value};
    changes
        .reinstalled
        .iter()
        .filter(|(_, new)| super::is_wordpress_nevra(&new.nevra))
        .map(|(old, new)| {
            let text = |s: &Option<String>| Value::Text(s.clone().unwrap_or_default());
            Finding {
                path: super::MANIFEST_DIR.as_bytes().to_vec(),
                kind: FindingKind::Changed,
                source: Source::Manifest {
                    nevra: new.nevra.clone(),
                },
                changes: vec![Change {
                    attr: Attr::Digest,
                    expected: text(&old.sha256_header),
                    actual: text(&new.sha256_header),
                    unreadable: false,
                }],
                severity: Severity::High,
                rule: "wordpress.manifest-replaced".to_string(),
                note: Some(format!(
                    "the checksum manifest of {} was replaced since the baseline (same version)",
                    new.nevra
                )),
                verify_line: None,
            }
        })
        .collect()
}
