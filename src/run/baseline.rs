//! `init`, `accept` and `keygen`: writing (and signing) the baseline.

use super::config::{Accept, AcceptSelection, Init, State, Target};
use super::{
    baseline_failure, baseline_file, be_nice, load_keyring, load_policy, lock_baseline, open_db,
    report_issues, warn_keys, warn_untrusted_baseline, with_jobs, Failure, PkgDb,
};
use crate::escape::escape_path;
use crate::exit;
use std::path::{Path, PathBuf};

pub(super) fn init(a: &Init) -> Result<u8, Failure> {
    be_nice(a.threads.nice)?;
    with_jobs(a.threads.jobs, || init_in_pool(a))?
}

/// What `init` and `accept` need before they write a baseline.
struct BaselineWrite {
    /// `exit::RPMDB` when records of the database were skipped, else clean.
    error_status: u8,
    db: PkgDb,
    policy: crate::policy::Policy,
    file: PathBuf,
    index: crate::pkgdb::OwnedIndex,
    snapshot: Vec<crate::pkgdb::PackageSnapshot>,
    sign_key: Option<ed25519_dalek::SigningKey>,
}

impl BaselineWrite {
    fn prepare(
        root: &Target,
        state: &State,
        sign_key: Option<&Path>,
    ) -> Result<BaselineWrite, Failure> {
        let policy = load_policy(&root.root, state.policy.as_deref())?;
        // The snapshot records each header's trust status, judged with the keys `check` uses.
        let keyring = load_keyring(&root.root, &policy)?;
        let (db, error_status) = open_db(root, Some(&keyring))?;
        warn_keys(&keyring, &db);
        let mut index = db.seam().owned_index();
        let mut snapshot = db.seam().snapshot();
        // WordPress core and plugins with manifests: their files leave the baseline rules and
        // their versions join the package snapshot.
        if let Some(wp) = crate::wordpress::open_for_check(&root.root) {
            crate::wordpress::extend_index(&wp, &mut index);
            crate::wordpress::extend_snapshot(&wp, &mut snapshot);
        }
        Ok(BaselineWrite {
            error_status,
            policy,
            file: baseline_file(&root.root, state)?,
            index,
            snapshot,
            sign_key: read_sign_key(sign_key)?,
            db,
        })
    }

    /// Print each untrusted package the snapshot accepts as trusted state, leaving out those
    /// `before` (the previous snapshot) already held with the same header and status.
    fn print_accepted_trust(&self, before: &[crate::pkgdb::PackageSnapshot]) {
        for p in &self.snapshot {
            let untrusted = matches!(
                p.trust.as_deref(),
                Some("unsigned" | "unknown-key" | "unsupported")
            );
            let known = before
                .iter()
                .any(|b| b.same_header(p) && b.trust == p.trust && b.trust_key == p.trust_key);
            if !untrusted || known {
                continue;
            }
            let key = p
                .trust_key
                .as_deref()
                .map(|k| format!(" (key {k})"))
                .unwrap_or_default();
            eprintln!(
                "quietwire: package {}: {}{key}: accepted as trusted state",
                p.nevra,
                p.trust.as_deref().unwrap_or_default()
            );
        }
    }

    /// After the baseline was written: print its SHA-256 (for the off-host record) and sign it
    /// when asked.
    fn after_write(&self) -> Result<(), Failure> {
        use crate::baseline::sign;
        let fail = |e: sign::SignError| Failure::new(exit::BASELINE, e.to_string());
        let digest = sign::file_sha256(&self.file).map_err(fail)?;
        eprintln!(
            "quietwire: baseline sha256 {digest} {}",
            escape_path(&self.file)
        );
        if let Some(k) = &self.sign_key {
            let sig = sign::sign_baseline(&self.file, k).map_err(fail)?;
            eprintln!("quietwire: baseline signed: {}", escape_path(&sig));
        }
        Ok(())
    }
}

fn init_in_pool(a: &Init) -> Result<u8, Failure> {
    let root = &a.target.root;
    let w = BaselineWrite::prepare(&a.target, &a.state, a.sign_key.as_deref())?;
    if let Some(dir) = w.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if std::fs::symlink_metadata(dir).is_err() {
            let fail = |e: std::io::Error| {
                Failure::new(exit::BASELINE, format!("{}: {e}", escape_path(dir)))
            };
            std::fs::create_dir_all(dir).map_err(fail)?;
            // The baseline tells an attacker what is not watched: not for other users' eyes,
            // whatever the umask was.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
        }
    }
    let _lock = lock_baseline(&w.file)?;
    if !a.force && std::fs::symlink_metadata(&w.file).is_ok() {
        // Refused before the owned-file cache beside it is replaced.
        return Err(baseline_failure(crate::baseline::BaselineError::Exists {
            file: w.file.clone(),
        }));
    }
    let cache = super::owned_cache::build_if(a.trust_ctime, root, &w.db, &w.file)?;
    let stats = crate::baseline::init_with(
        root,
        &w.policy,
        &w.index,
        &w.snapshot,
        &w.file,
        a.force,
        cache,
    )
    .map_err(baseline_failure)?;
    w.after_write()?;
    w.print_accepted_trust(&[]);
    report_issues(&stats.issues);
    eprintln!(
        "quietwire: baseline {} created with {} entries",
        w.file.display(),
        stats.entries
    );
    Ok(w.error_status)
}

pub(super) fn accept(a: &Accept) -> Result<u8, Failure> {
    be_nice(a.threads.nice)?;
    with_jobs(a.threads.jobs, || accept_in_pool(a))?
}

fn accept_in_pool(a: &Accept) -> Result<u8, Failure> {
    let root = &a.target.root;
    let w = BaselineWrite::prepare(&a.target, &a.state, a.sign_key.as_deref())?;
    // Held until the new baseline is in place and signed (dropped on return).
    let _lock = lock_baseline(&w.file)?;
    warn_untrusted_baseline(root, &w.file);
    // Every accept records the current package snapshot, so each names what it newly accepts.
    let before = crate::baseline::read_header(&w.file)
        .map(|h| h.packages)
        .unwrap_or_default();
    let mut refused = Vec::new();
    let selection = match &a.selection {
        AcceptSelection::Report(report) => {
            use crate::ops::report::Reported;
            let reported = crate::ops::report::load(report)
                .map_err(|e| Failure::new(exit::USAGE, e.to_string()))?;
            let mut states = std::collections::BTreeMap::new();
            for (path, r) in reported {
                match r {
                Reported::State(s) => {
                    states.insert(path, s);
                }
                Reported::NoState => refused.push((
                    path,
                    "the report holds no state to accept for it (run a full check with --report-file)".into(),
                )),
                Reported::Package(p) => refused.push((
                    path,
                    format!("verified against package {p}: accept cannot change rpm's verdict (reinstall the package or restore the file)"),
                )),
            }
            }
            crate::baseline::Selection::Report(states)
        }
        AcceptSelection::All => crate::baseline::Selection::All,
        AcceptSelection::Packages(names) => {
            let (named, not_installed) = w.db.seam().select(names);
            if let Some(arg) = not_installed.first() {
                return Err(Failure::new(
                    exit::NOT_FOUND,
                    format!("package {arg} is not installed"),
                ));
            }
            let packages = w.db.seam().packages();
            let nevras = named
                .iter()
                .filter_map(|&i| packages.get(i))
                .map(|p| p.nevra.clone());
            crate::baseline::Selection::Owners(nevras.collect())
        }
        AcceptSelection::Paths(patterns) => crate::baseline::Selection::Patterns(
            patterns.iter().map(|p| pattern_in_root(root, p)).collect(),
        ),
        AcceptSelection::Snapshot => {
            if let PkgDb::Dpkg(ddb) = &w.db {
                return accept_transaction(root, &w, ddb, &before);
            }
            crate::baseline::read_header(&w.file).map_err(baseline_failure)?;
            let cache = super::owned_cache::build_if(a.trust_ctime, root, &w.db, &w.file)?;
            let entries = crate::baseline::accept_packages_with(&w.snapshot, &w.file, cache)
                .map_err(baseline_failure)?;
            w.after_write()?;
            w.print_accepted_trust(&before);
            eprintln!(
            "quietwire: baseline {}: package snapshot recorded ({} packages, {entries} entries unchanged)",
            w.file.display(),
            w.snapshot.len()
        );
            return Ok(w.error_status);
        }
    };
    // The cache is written only after the old baseline was read: a baseline that cannot be
    // read fails the accept below with the old cache still matching it.
    crate::baseline::read_header(&w.file).map_err(baseline_failure)?;
    let cache = super::owned_cache::build_if(a.trust_ctime, root, &w.db, &w.file)?;
    let stats = crate::baseline::accept_with(
        root,
        &w.policy,
        &w.index,
        &w.snapshot,
        &w.file,
        &selection,
        cache,
    )
    .map_err(baseline_failure)?;
    w.after_write()?;
    w.print_accepted_trust(&before);
    report_issues(&stats.issues);
    refused.extend(stats.refused.iter().cloned());
    // A package file its package vouches for fully is not the baseline's to accept: naming
    // it is a refusal with the reason, not "matches nothing" (it exists on disk).
    let mut unmatched = Vec::new();
    for p in &stats.unmatched {
        match w.index.get(Path::new(p)).filter(|f| f.reason.is_none()) {
            Some(f) => refused.push((
                PathBuf::from(p),
                format!(
                    "package-owned ({}): verified against its package, whose verdict accept cannot change (reinstall the package or restore the file)",
                    f.nevra
                ),
            )),
            None => unmatched.push(p),
        }
    }
    refused.sort();
    for (path, why) in &refused {
        eprintln!("quietwire: {}: refused: {why}", escape_path(path));
    }
    for p in &unmatched {
        eprintln!(
            "quietwire: {p}: matches nothing in the baseline or on disk; nothing accepted for it"
        );
    }
    eprintln!(
        "quietwire: baseline {}: {} updated, {} added, {} removed ({} entries)",
        w.file.display(),
        stats.updated,
        stats.added,
        stats.removed,
        stats.entries
    );
    if !unmatched.is_empty() {
        return Ok(exit::combine(exit::NOT_FOUND, w.error_status));
    }
    if !refused.is_empty() {
        return Ok(exit::combine(exit::REFUSED, w.error_status));
    }
    Ok(w.error_status)
}

/// `accept --packages` on a dpkg root, after a transaction: dpkg records no mode, owner or link
/// target, so the new package snapshot comes with the current state of the changed packages'
/// files, except those that fail `dpkg --verify`'s rules (a file tampered with stays reported).
/// A package whose md5sums file changed under the same version keeps its old snapshot entry:
/// that finding stays until the administrator accepts it (`accept --all`).
fn accept_transaction(
    root: &Path,
    w: &BaselineWrite,
    db: &crate::dpkg::DpkgDb,
    before: &[crate::pkgdb::PackageSnapshot],
) -> Result<u8, Failure> {
    use std::collections::BTreeSet;
    let changes = crate::baseline::changes::diff(0, before, &w.snapshot);
    let rewritten: BTreeSet<&str> = changes
        .reinstalled
        .iter()
        .map(|(o, _)| o.nevra.as_str())
        .collect();
    let snapshot: Vec<_> = w
        .snapshot
        .iter()
        .map(|p| match rewritten.contains(p.nevra.as_str()) {
            true => before
                .iter()
                .find(|b| b.nevra == p.nevra)
                .unwrap_or(p)
                .clone(),
            false => p.clone(),
        })
        .collect();
    let nevras: BTreeSet<String> = changes
        .to_verify()
        .into_iter()
        .filter(|n| !rewritten.contains(n.as_str()))
        .collect();
    let gone: BTreeSet<String> = changes
        .removed
        .iter()
        .chain(changes.updated.iter().map(|(o, _)| o))
        .map(|p| p.nevra.clone())
        .collect();
    let wanted: Vec<String> = nevras.iter().cloned().collect();
    let (selected, _) = crate::pkgdb::PackageDb::select(db, &wanted);
    let failed = crate::dpkg::verify::verify_selected(db, root, Some(&selected))
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", root.display())))?;
    let except: BTreeSet<std::path::PathBuf> =
        failed.iter().map(|r| db.walk_path(&r.path)).collect();
    let selection = crate::baseline::Selection::Transaction {
        nevras,
        except,
        gone,
    };
    let stats = crate::baseline::accept(root, &w.policy, &w.index, &snapshot, &w.file, &selection)
        .map_err(baseline_failure)?;
    w.after_write()?;
    report_issues(&stats.issues);
    for r in &failed {
        eprintln!(
            "quietwire: {}: not accepted: it fails dpkg's verification (package {})",
            crate::escape::escape_bytes(&r.path),
            r.package
        );
    }
    eprintln!(
        "quietwire: baseline {}: package snapshot recorded ({} packages; files of changed packages: {} updated, {} added, {} removed; {} entries)",
        w.file.display(),
        snapshot.len(),
        stats.updated,
        stats.added,
        stats.removed,
        stats.entries
    );
    Ok(w.error_status)
}

/// A pattern as the baseline names paths: absolute inside the root. A relative pattern is taken
/// from the current directory when checking the running system, else from the root's `/`.
fn pattern_in_root(root: &Path, pattern: &str) -> String {
    if pattern.starts_with('/') {
        return pattern.to_string();
    }
    let base = if root == Path::new("/") {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    } else {
        PathBuf::from("/")
    };
    format!(
        "{}/{}",
        base.display().to_string().trim_end_matches('/'),
        pattern
    )
}

fn read_sign_key(file: Option<&Path>) -> Result<Option<ed25519_dalek::SigningKey>, Failure> {
    file.map(crate::baseline::sign::read_signing_key)
        .transpose()
        .map_err(|e| Failure::new(exit::BASELINE, format!("signing key: {e}")))
}

pub(super) fn keygen(prefix: &Path) -> Result<u8, Failure> {
    let (secret, public) = crate::baseline::sign::keygen(prefix)
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    eprintln!(
        "quietwire: secret key {} (keep it off the checked host), public key {}",
        escape_path(&secret),
        escape_path(&public)
    );
    Ok(exit::CLEAN)
}
