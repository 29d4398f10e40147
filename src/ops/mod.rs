//! Running quietwire as an operations tool (issue 5): what changed in the rpmdb since the
//! baseline (`changes`), the report file for review-then-accept (`report`), and mail delivery
//! (`mail`). `app::check` calls [`deliver`] once the findings are final; nothing here computes a
//! finding except the `.rpmnew`/`.rpmsave`/`.rpmorig` leftovers of `--packages-changed`.

pub mod changes;
pub mod mail;
pub mod report;

use crate::baseline::{BaselineError, Header, Record};
use crate::cli::CheckOpsArgs;
use crate::verify::finding::{Finding, FindingKind, Severity};
use changes::PackageChanges;
use std::collections::HashMap;
use std::path::Path;

/// Read a baseline to its end (so its trailer is verified) and return its header.
pub fn verified_header(file: &Path) -> Result<Header, BaselineError> {
    let mut r = crate::baseline::format::Reader::open(file)?;
    while r.next_record()?.is_some() {}
    Ok(r.header().clone())
}

/// The current state of the path of each baseline finding (`None`: gone), for the report file.
pub fn states(findings: &[crate::baseline::Finding]) -> HashMap<Vec<u8>, Option<Record>> {
    use std::os::unix::ffi::OsStrExt;
    findings
        .iter()
        .map(|f| (f.path.as_os_str().as_bytes().to_vec(), f.new.clone()))
        .collect()
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

/// The text report: findings (as `check --format text` shows them), then the package changes.
pub fn text_report(shown: &[Finding], changes: Option<&PackageChanges>) -> Vec<u8> {
    let mut body = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = crate::report::text::render(&mut body, shown);
    if let Some(c) = changes {
        let _ = report::render_text(&mut body, c);
    }
    body
}

/// After the report went to stdout: write `--report-file` and send `--mail-to`. Each failure is
/// printed on stderr and returned as an exit status (`exit::FAILURE` for the report file,
/// `exit::MAIL` for mail); the other delivery is still attempted.
pub fn deliver(
    a: &CheckOpsArgs,
    root: &Path,
    findings: &[Finding],
    shown: &[Finding],
    changes: Option<&PackageChanges>,
    states: &HashMap<Vec<u8>, Option<Record>>,
    run_failed: bool,
) -> u8 {
    let mut status = crate::exit::CLEAN;
    if let Some(file) = &a.report_file {
        let doc = report::document(findings, changes, states);
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        bytes.push(b'\n');
        if let Err(e) = report::write_atomic(file, &bytes) {
            eprintln!("quietwire: writing the report {}: {e}", file.display());
            status = crate::exit::FAILURE;
        }
    }
    if !a.mail_to.is_empty() {
        let c = counts(findings, changes);
        if c.total > 0 || a.mail_always || run_failed {
            let host = crate::baseline::format::hostname();
            let subject = mail::subject(&host, root, &c);
            let mut body = text_report(shown, changes);
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
                status = status.max(crate::exit::MAIL);
            }
        }
    }
    status
}
