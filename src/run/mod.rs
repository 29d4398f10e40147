//! Runs a [`Config`]: the glue between a request and the library modules. One module per
//! command family: [`check`], [`baseline`] (`init`, `accept`, `keygen`), [`query`]
//! (`packages`, `owner`, `policy`) and [`wordpress`]; this module dispatches and holds what
//! they share (the [`Failure`] type, loading the policy, the keys, the package database and the
//! baseline's location). It takes plain values ([`config`]); `main.rs` makes them from the
//! command line.

mod baseline;
mod check;
pub mod config;
mod dpkg;
mod owned_cache;
mod policy_file;
mod query;
mod wordpress;

use crate::escape::escape_path;
use crate::exit;
use crate::rpmdb::{self, Database};
use config::{Config, Target};
use std::path::{Path, PathBuf};

/// A failure that ends the command, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    pub fn new(status: u8, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<rpmdb::DbError> for Failure {
    fn from(e: rpmdb::DbError) -> Failure {
        Failure::new(exit::RPMDB, e.to_string())
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    // A reader that stopped early (`quietwire packages | head`) is not an error of ours.
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return Failure::new(exit::CLEAN, "");
    }
    Failure::new(exit::FAILURE, format!("writing output: {e}"))
}

/// Run a command; returns the exit status. Errors are reported on stderr here, one line each.
pub fn run(config: &Config) -> u8 {
    crate::scan::walk::raise_open_file_limit();
    let result = match config {
        Config::Check(c) => check::check(c),
        Config::Init(c) => baseline::init(c),
        Config::Accept(c) => baseline::accept(c),
        Config::Policy(c) => query::policy(c),
        Config::Packages(c) => query::packages(c),
        Config::Owner(c) => query::owner(c),
        Config::Keygen { prefix } => baseline::keygen(prefix),
        Config::Wordpress(c) => wordpress::wordpress(c),
    };
    match result {
        Ok(status) => status,
        Err(f) if f.message.is_empty() => f.status,
        Err(f) => {
            eprintln!("quietwire: {}", f.message);
            f.status
        }
    }
}

/// The package database a root holds, as [`open_db`] chose and opened it. Commands use the
/// [`crate::pkgdb::PackageDb`] seam where they can and match on the variant only for what one
/// package manager alone has (rpm's header signatures, dpkg's md5sums files).
pub(crate) enum PkgDb {
    Rpm(Database),
    Dpkg(crate::dpkg::DpkgDb),
}

impl PkgDb {
    fn seam(&self) -> &dyn crate::pkgdb::PackageDb {
        match self {
            PkgDb::Rpm(db) => db,
            PkgDb::Dpkg(db) => db,
        }
    }

    fn rpm(&self) -> Option<&Database> {
        match self {
            PkgDb::Rpm(db) => Some(db),
            PkgDb::Dpkg(_) => None,
        }
    }
}

/// Open the database the root holds (`dpkg::choose`), reporting each skipped record or
/// unreadable file list on stderr. The returned status is `exit::RPMDB` when records were
/// skipped (the listing is incomplete), else clean. rpm headers are judged with `keys` when
/// given. The one place that chooses and opens a package database.
fn open_db(
    root: &Target,
    keys: Option<&crate::rpmdb::trust::Keyring>,
) -> Result<(PkgDb, u8), Failure> {
    match dpkg::decide(root)? {
        config::PackageManager::Rpm => {
            let db = match keys {
                Some(k) => rpmdb::open_with_keys(&root.root, root.dbpath.as_deref(), k)?,
                None => rpmdb::open(&root.root, root.dbpath.as_deref())?,
            };
            let (db, status) = report_bad_records(db);
            Ok((PkgDb::Rpm(db), status))
        }
        config::PackageManager::Dpkg => {
            let db = dpkg::open(&root.root)?;
            Ok((PkgDb::Dpkg(db), exit::CLEAN))
        }
    }
}

/// Name every skipped record on stderr; a database with skipped records is an error status.
fn report_bad_records(db: Database) -> (Database, u8) {
    for bad in &db.bad {
        eprintln!("quietwire: {}: {bad}; skipped", db.located.file.display());
    }
    let status = if db.bad.is_empty() {
        exit::CLEAN
    } else {
        exit::RPMDB
    };
    (db, status)
}

fn load_policy(root: &Path, file: Option<&Path>) -> Result<crate::policy::Policy, Failure> {
    let policy =
        policy_file::load(root, file).map_err(|e| Failure::new(exit::POLICY, e.to_string()))?;
    for w in policy.warnings() {
        eprintln!(
            "quietwire: warning: {}",
            crate::escape::escape_bytes(w.as_bytes())
        );
    }
    Ok(policy)
}

/// Warn (never fail: the comparison still runs) when the baseline could have been rewritten by
/// someone other than root or the running user: it or its directory world-writable or owned by
/// another user; and, on the running system only, when it was made on another host (copied in).
fn warn_untrusted_baseline(root: &Path, file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(file) else {
        return;
    };
    // SAFETY: geteuid cannot fail and has no preconditions.
    let me = unsafe { libc::geteuid() };
    let dir = file.parent().unwrap_or(Path::new("/"));
    let dir_meta = std::fs::metadata(dir).ok();
    for (what, path, m) in [
        ("baseline", file, Some(&meta)),
        ("baseline directory", dir, dir_meta.as_ref()),
    ] {
        let Some(m) = m else { continue };
        if m.mode() & 0o002 != 0 && m.mode() & 0o1000 == 0 {
            eprintln!(
                "quietwire: warning: {what} {} is world-writable (mode {:04o}): anyone could rewrite it",
                escape_path(path),
                m.mode() & 0o7777
            );
        }
        if m.uid() != 0 && m.uid() != me {
            eprintln!(
                "quietwire: warning: {what} {} is owned by uid {}, neither root nor this user: that user could rewrite it",
                escape_path(path),
                m.uid()
            );
        }
    }
    if !meta.is_file() {
        return;
    }
    let Ok(header) = crate::baseline::read_header(file) else {
        return;
    };
    let recorded =
        Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&header.root.0));
    if !header.root.0.is_empty() && !same_root(recorded, root) {
        eprintln!(
            "quietwire: warning: baseline {} was made for root {}, not for {}: it may describe another system (ignore this if it is the same system mounted elsewhere)",
            escape_path(file),
            escape_path(recorded),
            escape_path(root)
        );
    }
    if root != Path::new("/") {
        return;
    }
    let here = crate::host::hostname();
    if !header.host.is_empty() && !here.is_empty() && header.host != here {
        eprintln!(
            "quietwire: warning: baseline {} was made on host {}, not on this host ({}): it describes another system",
            escape_path(file),
            crate::escape::escape_bytes(header.host.as_bytes()),
            crate::escape::escape_bytes(here.as_bytes())
        );
    }
}

/// Whether two spellings of a root name the same directory (`/mnt/img/` is `/mnt/./img`). Only
/// the text is compared: the recorded root comes from the baseline, which the checked system may
/// have written, so it is never looked up on the host.
fn same_root(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

fn baseline_failure(e: crate::baseline::BaselineError) -> Failure {
    let status = match e {
        crate::baseline::BaselineError::Locked { .. } => exit::LOCKED,
        _ => exit::BASELINE,
    };
    Failure::new(status, e.to_string())
}

/// The writers' lock on `file` (see `baseline::lock`). A missing directory means a missing
/// baseline: no lock then, so that the reader reports the baseline as missing.
fn lock_baseline(file: &Path) -> Result<Option<crate::baseline::lock::WriteLock>, Failure> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Ok(None);
    }
    crate::baseline::lock::lock_for_write(file)
        .map(Some)
        .map_err(baseline_failure)
}

/// `--baseline FILE` as given (the administrator's choice), else the default inside the root.
fn baseline_file(root: &Path, state: &config::State) -> Result<PathBuf, Failure> {
    match &state.baseline {
        Some(f) => Ok(f.clone()),
        None => crate::baseline::default_location(root).map_err(|e| {
            Failure::new(
                exit::BASELINE,
                format!(
                    "{}: cannot resolve inside the root: {e}",
                    escape_path(&crate::scan::fs::join_in_root(
                        root,
                        Path::new(crate::baseline::DEFAULT_LOCATION)
                    ))
                ),
            )
        }),
    }
}

fn report_issues(issues: &[crate::scan::walk::Issue]) {
    for i in issues {
        eprintln!("quietwire: warning: {}: {}", escape_path(&i.path), i.what);
    }
}

/// Report packages whose file list could not be loaded; returns the error status to use.
fn report_unloadable(db: &PkgDb) -> u8 {
    let mut status = exit::CLEAN;
    let Some(db) = db.rpm() else {
        return status;
    };
    for p in db.packages.iter().filter(|p| p.file_error.is_some()) {
        // rpm fails such a package silently; an integrity check must say why nothing was checked.
        eprintln!(
            "quietwire: {}: package {} (#{}): file list cannot be loaded: {}; its files were not verified",
            db.located.file.display(),
            p.nevra(),
            p.hnum,
            p.file_error.as_deref().unwrap_or_default()
        );
        status = exit::RPMDB;
    }
    status
}

/// `--nice`: lower this thread's priorities before any worker thread is created.
fn be_nice(nice: bool) -> Result<(), Failure> {
    if nice {
        crate::nice::lower_priority()
            .map_err(|e| Failure::new(exit::FAILURE, format!("--nice: {e}")))?;
    }
    Ok(())
}

/// Run `f` on a pool of `jobs` threads (`None` or 0: the global pool, one thread per CPU).
fn with_jobs<T: Send>(jobs: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T, Failure> {
    match jobs {
        Some(n) if n > 0 => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| Failure::new(exit::FAILURE, format!("cannot start threads: {e}"))),
        _ => Ok(f()),
    }
}

// ---- trust anchors: package signatures and the baseline's own integrity ----

fn key_failure(e: crate::rpmdb::trust::KeyError) -> Failure {
    Failure::new(exit::FAILURE, format!("trusted keys: {e}"))
}

/// Key files that could not be used, and (when signed packages exist) the lack of any key.
/// Printed once the database is open, so a missing rpmdb stays a one-line error.
fn warn_keys(keys: &crate::rpmdb::trust::Keyring, db: &PkgDb) {
    // dpkg keeps no signatures over what it installed: no keys are used.
    let Some(db) = db.rpm() else {
        return;
    };
    for w in &keys.warnings {
        eprintln!("quietwire: warning: trusted keys: {w}");
    }
    let signed = db.packages.iter().any(|p| {
        matches!(
            p.signature,
            crate::rpmdb::trust::SigStatus::UnknownKey { .. }
        )
    });
    if keys.is_empty() && signed {
        eprintln!(
            "quietwire: warning: no trusted OpenPGP keys loaded (from {}): signed packages are reported as unknown-key",
            keys.source
        );
    }
}

/// Keys named on the command line (host paths); each must exist.
fn load_keyring_paths(paths: &[PathBuf]) -> Result<crate::rpmdb::trust::Keyring, Failure> {
    let mut keys = crate::rpmdb::trust::Keyring::new();
    for p in paths {
        keys.add_path(p).map_err(key_failure)?;
    }
    keys.source = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(keys)
}

/// The policy's `signatures.trusted_keys`, paths inside the root (symlinks resolved inside it).
/// A missing path is not an error (a minimal system may have no vendor keys): it yields none.
fn load_keyring(
    root: &Path,
    policy: &crate::policy::Policy,
) -> Result<crate::rpmdb::trust::Keyring, Failure> {
    let mut keys = crate::rpmdb::trust::Keyring::new();
    // A root that cannot be opened has no keys; reading its rpmdb next says what is wrong.
    if let Ok(dir) = crate::scan::fs::Root::open(root) {
        for k in &policy.signatures().trusted_keys {
            keys.add_in_root(&dir, root, k).map_err(key_failure)?;
        }
    }
    keys.source = format!(
        "signatures.trusted_keys {} inside the root",
        policy.signatures().trusted_keys.join(", ")
    );
    Ok(keys)
}
