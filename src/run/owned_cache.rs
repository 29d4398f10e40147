//! The verified-state cache of package-owned files between the commands: `init` and `accept`
//! with `--trust-ctime` build it, `check --trust-ctime` reads it (see
//! `crate::baseline::owned_cache`). `check` never writes it: a check leaves no state behind.

use super::{baseline_failure, Failure, PkgDb};
use crate::baseline::format::{BaselineError, FileReader};
use crate::baseline::owned_cache::{self, CacheRef, Unusable};
use crate::escape::escape_path;
use crate::exit;
use crate::rpmdb::Database;
use crate::scan::verified::OwnedCache;
use std::path::Path;
use std::sync::Arc;

fn identity(root: &Path) -> Result<crate::scan::fs::RootIdentity, Failure> {
    crate::scan::fs::Root::open(root)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
        .and_then(|r| r.identity().map_err(|e| e.0))
        .map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!(
                    "cannot open root {}: {}",
                    escape_path(root),
                    crate::scan::fs::strerror(e)
                ),
            )
        })
}

/// The cache `reference` names, when it can be used; a note on stderr when it cannot. A cache
/// that does not match the baseline's record of it is refused (exit status 18).
fn load(
    root: &Path,
    baseline: &Path,
    reference: Option<&CacheRef>,
) -> Result<Option<OwnedCache>, Failure> {
    let Some(reference) = reference else {
        eprintln!(
            "quietwire: note: the baseline {} records no owned-file cache (`accept --all --trust-ctime` writes one); every package file is read",
            escape_path(baseline)
        );
        return Ok(None);
    };
    match owned_cache::load(baseline, reference, root, &identity(root)?) {
        Ok(c) => Ok(Some(c)),
        Err(Unusable::Ignored(why)) => {
            eprintln!("quietwire: note: owned-file cache not used: {why}");
            Ok(None)
        }
        Err(Unusable::Refused(e)) => Err(baseline_failure(e)),
    }
}

/// For `check --trust-ctime`: the cache recorded with the baseline whose SHA-256 is `checked`
/// (the digest the pin and signature were verified on; `same` confirms the header read here
/// is from those very bytes).
pub(super) fn for_check(
    root: &Path,
    baseline: &Path,
    same: impl FnOnce(&str) -> Result<(), Failure>,
) -> Result<Option<Arc<OwnedCache>>, Failure> {
    let (header, sha) = match FileReader::verified_header(baseline) {
        Ok(h) => h,
        Err(BaselineError::NotFound { .. }) => return Ok(None),
        Err(e) => {
            eprintln!("quietwire: note: owned-file cache not used: {e}");
            return Ok(None);
        }
    };
    same(&sha)?;
    Ok(load(root, baseline, header.owned_cache.as_ref())?.map(Arc::new))
}

/// `build` when `--trust-ctime` asks for the cache and the package database is rpm's: entries are
/// keyed by the verified rpm header digest, which dpkg has no counterpart of (keying by the
/// md5sums file's digest would be possible; not done), so a dpkg root gets no cache.
pub(super) fn build_if(
    trust_ctime: bool,
    root: &Path,
    db: &PkgDb,
    baseline: &Path,
) -> Result<Option<CacheRef>, Failure> {
    match (trust_ctime, db.rpm()) {
        (true, Some(db)) => build(root, db, baseline).map(Some),
        (true, None) => {
            eprintln!("quietwire: note: no owned-file cache on a dpkg root: every package file is read by each check");
            Ok(None)
        }
        (false, _) => Ok(None),
    }
}

/// For `init`/`accept --trust-ctime`: verify every package file (reading only those the
/// previous cache, when usable, does not vouch for) and write the new cache beside `baseline`.
/// Returns the reference for the new baseline's header.
pub(super) fn build(root: &Path, db: &Database, baseline: &Path) -> Result<CacheRef, Failure> {
    let previous = match FileReader::verified_header(baseline) {
        Ok((h, _)) => h
            .owned_cache
            .and_then(|r| owned_cache::load(baseline, &r, root, &identity(root).ok()?).ok()),
        Err(_) => None,
    };
    let opts = crate::rpmdb::verify::VerifyOptions {
        jobs: 0,
        cache: previous.map(Arc::new),
        record: true,
        ..Default::default()
    };
    let report = crate::rpmdb::verify::verify_packages(root, db, &opts)
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    let verified = report.verified.len();
    let reference = owned_cache::write(baseline, root, &identity(root)?, report.verified)
        .map_err(baseline_failure)?;
    eprintln!(
        "quietwire: owned-file cache {}: {verified} of {} package files recorded as verified ({} read, {} from the previous cache)",
        escape_path(&owned_cache::cache_path(baseline)),
        report.files_checked,
        report.hashed,
        report.from_cache
    );
    Ok(reference)
}
