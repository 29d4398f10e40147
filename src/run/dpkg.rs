//! Choosing the package database a root holds, and `check --owned-only` on a dpkg root
//! (Debian, Ubuntu): owned files verified by `dpkg --verify`'s rules (`crate::dpkg`), printed
//! in dpkg's format or as text, with quietwire's exit bits. The baseline (`init`, `accept`, a
//! full `check`) does not read dpkg databases yet: those refuse a dpkg root with a one-line
//! error rather than read the wrong database.

use super::Failure;
use crate::cli::{CheckArgs, PackageManager, ReportFormat, RootArgs};
use crate::exit;
use std::io::Write;
use std::path::Path;

/// rpmdb files, in the locations `rpmdb::open` looks at.
fn has_rpmdb(root: &Path) -> bool {
    ["var/lib/rpm", "usr/lib/sysimage/rpm"].iter().any(|d| {
        ["rpmdb.sqlite", "Packages", "Packages.db"]
            .iter()
            .any(|f| root.join(d).join(f).is_file())
    })
}

/// The package manager whose database is read: forced with `--package-manager`, else dpkg
/// when the root has a dpkg status file and no rpmdb (`--dbpath` means rpm).
pub(super) fn choose(r: &RootArgs) -> PackageManager {
    if let Some(m) = r.package_manager {
        return m;
    }
    if r.dbpath.is_none() && crate::dpkg::present(&r.root) {
        if !has_rpmdb(&r.root) {
            return PackageManager::Dpkg;
        }
        eprintln!(
            "quietwire: warning: {} holds both an rpm and a dpkg database; reading rpm's (--package-manager dpkg to choose dpkg's)",
            r.root.display()
        );
    }
    PackageManager::Rpm
}

/// The refusal for commands that cannot use a dpkg database yet.
pub(super) fn refuse(r: &RootArgs) -> Result<(), Failure> {
    match choose(r) {
        PackageManager::Rpm => Ok(()),
        PackageManager::Dpkg => Err(Failure::new(
            exit::USAGE,
            format!(
                "{}: dpkg database: only 'check --owned-only' is supported so far",
                r.root.display()
            ),
        )),
    }
}

/// `check --owned-only` on a dpkg root; `None` when the rpm path runs.
pub(super) fn check(a: &CheckArgs) -> Option<Result<u8, Failure>> {
    match (choose(&a.root), a.format) {
        (PackageManager::Dpkg, _) if a.owned_only => Some(check_dpkg(a)),
        // The full check reaches `open_db`, which refuses a dpkg root: after the baseline's own
        // trust checks, which stop a run the same way whatever the root holds.
        (PackageManager::Dpkg, _) => None,
        (PackageManager::Rpm, ReportFormat::Dpkg) => Some(Err(Failure::new(
            exit::USAGE,
            "--format dpkg needs a dpkg database (--package-manager dpkg)",
        ))),
        (PackageManager::Rpm, _) => None,
    }
}

fn check_dpkg(a: &CheckArgs) -> Result<u8, Failure> {
    use crate::dpkg::verify::Problem;
    if !matches!(a.format, ReportFormat::Dpkg | ReportFormat::Text) {
        return Err(Failure::new(
            exit::USAGE,
            "dpkg database: --owned-only supports --format dpkg and text so far",
        ));
    }
    let root = &a.root.root;
    let db = crate::dpkg::DpkgDb::open(root)
        .map_err(|e| Failure::new(exit::RPMDB, format!("dpkg database: {e}")))?;
    for w in &db.warnings {
        eprintln!("quietwire: warning: {w}");
    }
    let mut results = super::with_jobs(a.jobs, || crate::dpkg::verify::verify(&db, root))?
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
    };
    let conf = if r.conffile { " (conffile)" } else { "" };
    format!("high: {path}{conf}: {what} [package {}]", r.package)
}
