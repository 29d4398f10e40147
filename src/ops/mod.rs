//! Running quietwire as an operations tool: the report file for review-then-accept
//! (`report`), mail delivery (`mail`) and the Prometheus metrics file (`metrics`); what changed in the package database since the baseline
//! is `crate::baseline::changes`. `run::check` calls [`deliver`] once the findings are final;
//! nothing here computes a finding.

pub mod mail;
pub mod metrics;
pub mod report;

use crate::baseline::changes::PackageChanges;
use crate::baseline::{BaselineError, Header, Record};
use crate::finding::{Finding, FindingKind, Severity, Source};
use crate::scan::capture::{capture_entry, Dir};
use crate::scan::walk::{Issue, WalkEntry};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A baseline read to its end: its header, its records of package-owned files, and the SHA-256
/// of the file as read (from the descriptor the records came from).
pub type VerifiedBaseline = (Header, HashMap<PathBuf, Record>, String);

/// Read a baseline to its end (so its trailer is verified); return its header and its records
/// of package-owned files (the %config and other files rpm does not fully vouch for).
pub fn verified_baseline(file: &Path) -> Result<VerifiedBaseline, BaselineError> {
    let mut r = crate::baseline::format::Reader::open(file)?;
    let mut owned = HashMap::new();
    while let Some(rec) = r.next_record()? {
        if rec.package.is_some() {
            owned.insert(rec.path(), rec);
        }
    }
    Ok((
        r.header().clone(),
        owned,
        r.file_sha256().unwrap_or_default(),
    ))
}

/// The current state of one path as the baseline walk would record it (`None`: absent or not
/// reachable without following a symlink).
fn capture_one(root: &Dir, path: &Path, hash: bool) -> Option<Record> {
    let parent = root.open_dir_path(path.parent()?).ok()?;
    let name = path.file_name()?;
    let stat = parent.lstat(name).ok()?;
    let capture = capture_entry(&parent, name, &stat, hash);
    let entry = WalkEntry {
        path: path.to_path_buf(),
        capture,
        owner: None,
    };
    Some(Record::from_entry(&entry))
}

/// `check --packages-changed` walks nothing, so it does here what the baseline comparison does
/// in a full check: a package file rpm finds changed whose state is exactly the one accepted
/// into the baseline (an edited %config file) becomes an informational note.
pub fn note_accepted_edits(
    root: &Path,
    baselined: &HashMap<PathBuf, Record>,
    findings: &mut [Finding],
) {
    let Ok(dir) = Dir::open_root(root) else {
        return;
    };
    for f in findings.iter_mut() {
        if f.kind != FindingKind::Changed || !matches!(f.source, Source::Package { .. }) {
            continue;
        }
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&f.path));
        let Some(old) = baselined.get(&path).filter(|r| r.accepts_package_verdict()) else {
            continue;
        };
        let Some(mut now) = capture_one(&dir, &path, old.sha256.is_some()) else {
            continue;
        };
        // The owner's NEVRA changes with every update; the state is what was accepted.
        now.package.clone_from(&old.package);
        now.reason = old.reason;
        if now == *old {
            note_accepted_edit(f);
        }
    }
}

/// A %config file the administrator edited differs from its package forever; once its state is
/// accepted into the baseline rpm's verdict on it is only worth a note. Both ways of knowing
/// (the baseline comparison's `owned_unchanged`, or [`note_accepted_edits`]) end here.
pub fn note_accepted_edit(f: &mut Finding) {
    f.kind = FindingKind::Noted;
    f.severity = Severity::Info;
    f.note = Some("differs from its package, matches the accepted baseline".into());
}

/// Findings that matter: above `info` (the ones that set exit bits and trigger mail).
pub fn loud(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(|f| f.severity > Severity::Info)
}

/// The mail subject's counts.
pub fn counts(findings: &[Finding], changes: Option<&PackageChanges>) -> mail::Counts {
    let loud: Vec<&Finding> = loud(findings).collect();
    let n = |k: &[FindingKind]| loud.iter().filter(|f| k.contains(&f.kind)).count();
    mail::Counts {
        total: loud.len(),
        added: n(&[FindingKind::Added]),
        removed: n(&[FindingKind::Removed, FindingKind::Missing]),
        changed: n(&[FindingKind::Changed]),
        packages_changed: changes.map_or(0, PackageChanges::count),
    }
}

/// The text report: findings (as `check --format text` shows them), the paths the walk could
/// not fully check, then the package changes.
pub fn text_report(
    shown: &[Finding],
    issues: &[Issue],
    changes: Option<&PackageChanges>,
) -> Vec<u8> {
    let mut body = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = crate::report::text::render(&mut body, shown);
    let _ = crate::report::text::issues(&mut body, issues);
    if let Some(c) = changes {
        let _ = report::render_text(&mut body, c);
    }
    body
}

/// What a check delivers beyond stdout.
pub struct Delivery<'a> {
    /// Every finding (the report file has them all).
    pub findings: &'a [Finding],
    /// The findings the mail shows.
    pub shown: &'a [Finding],
    /// Paths the walk could not fully check.
    pub issues: &'a [Issue],
    pub changes: Option<&'a PackageChanges>,
    /// The current state of each path of a baseline finding.
    pub states: &'a HashMap<Vec<u8>, Option<Record>>,
    /// Whether the check itself had errors (the report may be incomplete).
    pub run_failed: bool,
    /// The run's id, time and host, for an NDJSON report file.
    pub run: &'a crate::report::ndjson::Run,
    /// The report document as `check` printed it (with its trust summary), when it made one.
    pub doc: Option<&'a serde_json::Value>,
}

/// Where a check delivers beyond stdout (`check --report-file`, `--mail-to`, `--sendmail`,
/// `--mail-always`), as plain values: the command line is parsed above the library.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub report_file: Vec<PathBuf>,
    pub mail_to: Vec<String>,
    /// The sendmail program, run as `PATH -t -oi`.
    pub sendmail: PathBuf,
    /// Mail even when nothing was found.
    pub mail_always: bool,
}

/// After the report went to stdout: write `--report-file` and send `--mail-to`. Each failure is
/// printed on stderr and returned as an exit status (`exit::FAILURE` for the report file,
/// `exit::MAIL` for mail); the other delivery is still attempted.
pub fn deliver(a: &Targets, root: &Path, d: &Delivery<'_>) -> u8 {
    let Delivery {
        findings,
        shown,
        issues,
        changes,
        states,
        run_failed,
        run,
        doc,
    } = *d;
    let mut status = crate::exit::CLEAN;
    for file in &a.report_file {
        let made;
        let doc = match doc {
            Some(d) => d,
            None => {
                made = report::document(findings, issues, changes, states);
                &made
            }
        };
        let bytes = if report::is_ndjson_name(file) {
            let mut b = Vec::new();
            // Writing into a Vec cannot fail.
            let _ = crate::report::ndjson::render(&mut b, doc, run);
            b
        } else {
            let mut b = serde_json::to_vec_pretty(doc).unwrap_or_default();
            b.push(b'\n');
            b
        };
        if let Err(e) = report::write_atomic(file, &bytes) {
            eprintln!("quietwire: writing the report {}: {e}", file.display());
            status = crate::exit::FAILURE;
        }
    }
    if !a.mail_to.is_empty() {
        let c = counts(findings, changes);
        // A path that vanished mid-walk is an ordinary race; a tree or file not read is a gap
        // in the check that the administrator must hear of.
        let gaps = issues.iter().any(|i| !i.is_vanished());
        if c.total > 0 || gaps || a.mail_always || run_failed {
            let host = crate::host::hostname();
            let subject = mail::subject(&host, root, &c);
            let mut body = text_report(shown, issues, changes);
            if run_failed {
                body.extend_from_slice(
                    b"\nThe check itself reported errors (see its standard error); this report may be incomplete.\n",
                );
            }
            let sent = mail::message(&a.mail_to, &subject, &body)
                .and_then(|m| mail::send(&a.sendmail, &m));
            if let Err(e) = sent {
                eprintln!(
                    "quietwire: mail to {} not sent: {e}; the report was still written",
                    a.mail_to.join(", ")
                );
                status = crate::exit::combine(status, crate::exit::MAIL);
            }
        }
    }
    status
}
