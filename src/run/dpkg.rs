//! Choosing the package database a root holds, and what is dpkg's alone in the run layer:
//! `check --owned-only` in dpkg's own format (`crate::dpkg::format`, `dpkg --verify`'s lines
//! with quietwire's exit bits), and the dpkg findings a full check adds (owned files by
//! `dpkg --verify`'s rules, packages without digests, md5sums rewritten under an unchanged
//! version). The baseline commands use the database through the `PackageDb` seam.

use super::config::{Check, PackageManager, ReportFormat, Scope, Target};
use super::Failure;
use crate::exit;
use std::io::Write;
use std::path::Path;

/// Whether the root holds an rpmdb where `rpmdb::open` looks, found inside the root (a link
/// planted in an image is resolved there: a host file never decides). A file there that is not
/// a database counts: reading it says what is wrong.
fn has_rpmdb(root: &Path) -> bool {
    !matches!(
        crate::rpmdb::locate(root, None),
        Err(crate::rpmdb::DbError::NotFound { .. })
    )
}

/// The package manager whose database is read: forced with `--package-manager`, else dpkg
/// when the root has a dpkg status file and no rpmdb (`--dbpath` means rpm). With both, `Err`:
/// reading either leaves the other's files unverified, and an intruder could plant an empty
/// rpmdb in a Debian image to switch dpkg's verification off, so `open_db` refuses the run
/// until `--package-manager` says which.
pub(super) fn decide(r: &Target) -> Result<PackageManager, Failure> {
    if let Some(m) = r.package_manager {
        return Ok(m);
    }
    if r.dbpath.is_some() || !crate::dpkg::present(&r.root) {
        return Ok(PackageManager::Rpm);
    }
    if !has_rpmdb(&r.root) {
        return Ok(PackageManager::Dpkg);
    }
    Err(Failure::new(
        exit::RPMDB,
        format!(
            "{} holds both an rpm and a dpkg database: choose one with --package-manager rpm or dpkg",
            r.root.display()
        ),
    ))
}

/// [`decide`], taking rpm when both databases are there: for the callers that only route to
/// dpkg's own code, whose database is then opened (and the run refused) by `open_db`.
pub(super) fn choose(r: &Target) -> PackageManager {
    decide(r).unwrap_or(PackageManager::Rpm)
}

/// Open the dpkg database of `root`, printing what does not stop verification.
pub(super) fn open(root: &Path) -> Result<crate::dpkg::DpkgDb, Failure> {
    let db = crate::dpkg::DpkgDb::open(root)
        .map_err(|e| Failure::new(exit::RPMDB, format!("dpkg database: {e}")))?;
    for w in &db.warnings {
        eprintln!("quietwire: warning: {w}");
    }
    Ok(db)
}

/// The dpkg findings of a check: the selected packages' owned files (`selected`: indices, `None`
/// for all), their lack of digests, and, against the baseline's snapshot, md5sums files
/// rewritten under an unchanged version (for all packages: a rewrite is what hides a trojan
/// from the verification of the others).
pub(super) fn findings(
    db: &crate::dpkg::DpkgDb,
    root: &Path,
    selected: Option<&[usize]>,
    baselined: Option<&[crate::pkgdb::PackageSnapshot]>,
    threads: usize,
) -> Result<Vec<crate::finding::Finding>, Failure> {
    let results = crate::dpkg::verify::verify_with_threads(db, root, selected, threads)
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", root.display())))?;
    let mut out = crate::dpkg::findings::owned(db, &results);
    out.extend(crate::dpkg::findings::no_digests(db, selected));
    if let Some(b) = baselined {
        out.extend(crate::dpkg::findings::rewritten_md5sums(db, b));
    }
    Ok(out)
}

/// `check --deb-archives`: the anchoring findings of the selected packages (`packages`: names
/// as `--package` takes them; empty: all, unless `only_these`, as for `--packages-changed`
/// when nothing changed), with its warnings and one-line summary on stderr; the summary's
/// counts for the JSON report.
pub(super) fn anchor(
    db: &crate::dpkg::DpkgDb,
    root: &Path,
    archives: &Path,
    keys: &[std::path::PathBuf],
    packages: &[String],
    only_these: bool,
) -> Result<(Vec<crate::finding::Finding>, serde_json::Value), Failure> {
    let selected = match packages.is_empty() && !only_these {
        true => None,
        false => Some(crate::pkgdb::PackageDb::select(db, packages).0),
    };
    let out = crate::dpkg::anchor::check(root, db, selected.as_deref(), archives, keys)
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    for w in &out.warnings {
        eprintln!("quietwire: warning: --deb-archives: {w}");
    }
    eprintln!("quietwire: {}", out.summary(archives));
    let counts = serde_json::json!({
        "dir": archives.display().to_string(),
        "anchored": out.anchored,
        "forged": out.forged,
        "unanchored": out.unanchored,
        "trusted_keys": out.keys,
        "verified_indexes": out.indexes,
    });
    Ok((out.findings, counts))
}

/// `check --owned-only` on a dpkg root; `None` when the rpm path runs.
pub(super) fn check(a: &Check) -> Option<Result<u8, Failure>> {
    match (choose(&a.target), a.format) {
        (PackageManager::Rpm, _) if a.deb_archives.is_some() => Some(Err(Failure::new(
            exit::USAGE,
            "--deb-archives anchors dpkg's md5sums: it needs a dpkg database (--package-manager dpkg)",
        ))),
        (PackageManager::Dpkg, ReportFormat::Dpkg) if a.deb_archives.is_some() => {
            Some(Err(Failure::new(
                exit::USAGE,
                "--deb-archives reports findings dpkg --verify's lines cannot show: use --format text, json or ndjson",
            )))
        }
        // --deb-archives findings need the full path's report.
        (PackageManager::Dpkg, ReportFormat::Dpkg | ReportFormat::Text)
            if a.scope == Scope::OwnedOnly && a.deb_archives.is_none() =>
        {
            Some(check_dpkg(a))
        }
        (PackageManager::Dpkg, ReportFormat::Dpkg) => Some(Err(Failure::new(
            exit::USAGE,
            "--format dpkg prints dpkg --verify's lines: it needs --owned-only",
        ))),
        (PackageManager::Dpkg, _) => None,
        (PackageManager::Rpm, ReportFormat::Dpkg) => Some(Err(Failure::new(
            exit::USAGE,
            "--format dpkg needs a dpkg database (--package-manager dpkg)",
        ))),
        (PackageManager::Rpm, _) => None,
    }
}

fn check_dpkg(a: &Check) -> Result<u8, Failure> {
    use crate::dpkg::verify::Problem;
    if !matches!(a.format, ReportFormat::Dpkg | ReportFormat::Text) {
        return Err(Failure::new(
            exit::USAGE,
            "dpkg database: --owned-only supports --format dpkg and text so far",
        ));
    }
    let root = &a.target.root;
    let db = open(root)?;
    // The reader pool of rpm's owned check: `--jobs` threads, else at least 8.
    let threads = a
        .threads
        .jobs
        .unwrap_or_else(crate::rpmdb::verify::default_read_threads);
    let mut results = crate::dpkg::verify::verify_with_threads(&db, root, None, threads)
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", root.display())))?;
    if !a.packages.is_empty() {
        let (sel, missing) = crate::pkgdb::PackageDb::select(&db, &a.packages);
        if let Some(m) = missing.first() {
            return Err(Failure::new(
                exit::NOT_FOUND,
                format!("package {m} is not installed"),
            ));
        }
        let names: Vec<&str> = sel
            .iter()
            .filter_map(|&i| db.packages.get(i))
            .map(|p| p.entry.name.as_str())
            .collect();
        results.retain(|r| names.contains(&r.package.as_str()));
    }
    let mut status = exit::CLEAN;
    let mut out = std::io::stdout().lock();
    for r in &results {
        status |= match r.problem {
            Problem::Missing(_) => exit::REMOVED,
            _ => exit::CHANGED,
        };
        let line = match a.format {
            ReportFormat::Dpkg => crate::dpkg::format::line(r),
            _ => text_line(r),
        };
        writeln!(out, "{line}").map_err(super::io_failure)?;
    }
    if a.format == ReportFormat::Text {
        for p in db.without_digests() {
            writeln!(
                out,
                "info: package {}: no digests (no md5sums file): its files are owned but not vouched for",
                p.full_name()
            )
            .map_err(super::io_failure)?;
        }
    }
    Ok(status)
}

fn text_line(r: &crate::dpkg::verify::DpkgResult) -> String {
    use crate::dpkg::verify::Problem;
    let path = crate::escape::escape_bytes(&r.path);
    let what = match &r.problem {
        Problem::Missing(e) => format!("missing ({})", e.message()),
        Problem::Digest { found } => format!("content changed (md5 now {found})"),
        Problem::Unreadable(why) => format!("not readable as a regular file: {why}"),
        Problem::NotVerified(why) => format!("content not verified: {why}"),
    };
    let conf = if r.conffile { " (conffile)" } else { "" };
    format!("high: {path}{conf}: {what} [package {}]", r.package)
}
