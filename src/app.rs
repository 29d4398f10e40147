//! Runs the parsed command line: the glue between the CLI and the library modules.

use crate::cli::{
    AcceptArgs, CheckArgs, Cli, Command, InitArgs, ListFormat, OwnerArgs, PackagesArgs, PolicyArgs,
    ReportFormat, RootArgs,
};
use crate::escape::escape_path;
use crate::exit;
use crate::rpmdb::{self, Database};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
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
pub fn run(cli: Cli) -> u8 {
    crate::scan::walk::raise_open_file_limit();
    let result = match cli.command {
        Command::Check(a) => check(&a),
        Command::Init(a) => init(&a),
        Command::Accept(a) => accept(&a),
        Command::Policy(a) => policy(&a),
        Command::Packages(a) => packages(&a),
        Command::Owner(a) => owner(&a),
        Command::Keygen(a) => keygen(&a),
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

/// Open the database, reporting each skipped record on stderr. The returned status is
/// `exit::RPMDB` when records were skipped (the listing is incomplete), else clean.
fn open_db(root: &RootArgs) -> Result<(Database, u8), Failure> {
    Ok(report_bad_records(rpmdb::open(
        &root.root,
        root.dbpath.as_deref(),
    )?))
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

#[derive(serde::Serialize)]
struct PackageJson<'a> {
    hnum: u32,
    name: &'a str,
    epoch: Option<u32>,
    version: &'a str,
    release: &'a str,
    arch: Option<&'a str>,
    nevra: String,
    install_time: Option<u32>,
    install_tid: Option<u32>,
    files: usize,
    file_digest_algo: &'a str,
    header_digest: rpmdb::HeaderDigest,
    sha256_header: Option<&'a str>,
    sigmd5: Option<String>,
    file_error: Option<&'a str>,
    signature: SignatureJson<'a>,
}

#[derive(serde::Serialize)]
struct SignatureJson<'a> {
    status: &'static str,
    key_id: Option<&'a str>,
}

fn packages(a: &PackagesArgs) -> Result<u8, Failure> {
    let keyring = if a.keys.keys.is_empty() {
        let policy = load_policy(&a.root.root, a.policy.as_deref())?;
        load_keyring(&a.root.root, &policy)?
    } else {
        load_keyring_paths(&a.keys.keys)?
    };
    let (db, status) = open_db_with_keys(&a.root, &keyring)?;
    if a.signatures || a.format == ListFormat::Json {
        warn_keys(&keyring, &db);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match a.format {
        ListFormat::Text => {
            for p in &db.packages {
                if a.signatures {
                    writeln!(
                        out,
                        "{}\t{}\t{}",
                        p.nvra(),
                        p.signature.name(),
                        p.signature.key_id().unwrap_or("-")
                    )
                    .map_err(io_failure)?;
                } else {
                    writeln!(out, "{}", p.nvra()).map_err(io_failure)?;
                }
            }
        }
        ListFormat::Json => {
            let list: Vec<PackageJson> = db
                .packages
                .iter()
                .map(|p| PackageJson {
                    hnum: p.hnum,
                    name: &p.name,
                    epoch: p.epoch,
                    version: &p.version,
                    release: &p.release,
                    arch: p.arch.as_deref(),
                    nevra: p.nevra(),
                    install_time: p.install_time,
                    install_tid: p.install_tid,
                    files: p.files.len(),
                    file_digest_algo: p.digest_algo.name(),
                    header_digest: p.header_digest,
                    sha256_header: p.sha256_header.as_deref(),
                    sigmd5: p.sigmd5.as_ref().map(hex::encode),
                    file_error: p.file_error.as_deref(),
                    signature: SignatureJson {
                        status: p.signature.name(),
                        key_id: p.signature.key_id(),
                    },
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list)
                .map_err(|e| Failure::new(exit::FAILURE, format!("writing output: {e}")))?;
            writeln!(out).map_err(io_failure)?;
        }
    }
    out.flush().map_err(io_failure)?;
    Ok(status)
}

/// The path as the package database would name it: absolute, `.` and `..` folded.
fn normalise(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    crate::rootpath::join_in_root(Path::new("/"), &absolute)
}

fn owner(a: &OwnerArgs) -> Result<u8, Failure> {
    let (db, mut status) = open_db(&a.root)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for query in &a.paths {
        let wanted = normalise(query);
        let owners = owners_of(&db, &a.root.root, &wanted);
        if owners.is_empty() {
            writeln!(
                out,
                "file {} is not owned by any package",
                escape_path(&wanted)
            )
            .map_err(io_failure)?;
            if status == exit::CLEAN {
                status = exit::NOT_FOUND;
            }
        }
        for nvra in owners {
            writeln!(out, "{nvra}").map_err(io_failure)?;
        }
    }
    out.flush().map_err(io_failure)?;
    Ok(status)
}

/// Owners of `wanted`, matching like rpm's file fingerprints: the same base name in a directory
/// that resolves (inside the root) to the same place, so `/bin/ls` finds the owner of
/// `/usr/bin/ls` where `/bin` links to `usr/bin`.
fn owners_of(db: &Database, root: &Path, wanted: &Path) -> Vec<String> {
    let Some(base) = wanted.file_name() else {
        return Vec::new();
    };
    let resolve_dir = |p: &Path| {
        p.parent().map(|d| {
            crate::rootpath::resolve_in_root(root, d, true).unwrap_or_else(|_| d.to_path_buf())
        })
    };
    let wanted_dir = resolve_dir(wanted);
    let mut owners = Vec::new();
    for p in &db.packages {
        let owns = p.files.iter().any(|f| {
            f.path == wanted
                || (f.path.file_name().map(|b| b.as_bytes()) == Some(base.as_bytes())
                    && resolve_dir(&f.path) == wanted_dir)
        });
        if owns {
            owners.push(p.nvra());
        }
    }
    owners
}

fn load_policy(root: &Path, file: Option<&Path>) -> Result<crate::policy::Policy, Failure> {
    let policy = crate::policy::Policy::load(root, file)
        .map_err(|e| Failure::new(exit::POLICY, e.to_string()))?;
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
    if root != Path::new("/") || !meta.is_file() {
        return;
    }
    let Ok(header) = crate::baseline::read_header(file) else {
        return;
    };
    let here = crate::baseline::format::hostname();
    if !header.host.is_empty() && !here.is_empty() && header.host != here {
        eprintln!(
            "quietwire: warning: baseline {} was made on host {}, not on this host ({}): it describes another system",
            escape_path(file),
            crate::escape::escape_bytes(header.host.as_bytes()),
            crate::escape::escape_bytes(here.as_bytes())
        );
    }
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
fn baseline_file(root: &Path, state: &crate::cli::StateArgs) -> Result<PathBuf, Failure> {
    match &state.baseline {
        Some(f) => Ok(f.clone()),
        None => crate::baseline::default_location(root).map_err(|e| {
            Failure::new(
                exit::BASELINE,
                format!(
                    "{}: cannot resolve inside the root: {e}",
                    escape_path(&crate::rootpath::join_in_root(
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
fn report_unloadable(db: &Database) -> u8 {
    let mut status = exit::CLEAN;
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

fn check(a: &CheckArgs) -> Result<u8, Failure> {
    be_nice(a.nice)?;
    with_jobs(a.jobs, || check_in_pool(a))?
}

/// `check` on the rayon pool `--jobs` sized: reading the rpmdb, verifying owned files and the
/// baseline comparison all use it.
fn check_in_pool(a: &CheckArgs) -> Result<u8, Failure> {
    use crate::rpmdb::verify as owned;
    use crate::verify;
    use crate::verify::finding::{Finding, FindingKind, Severity};
    let root = &a.root.root;
    let policy = load_policy(root, a.state.policy.as_deref())?;
    let baseline_path = baseline_file(root, &a.state)?;
    warn_untrusted_baseline(root, &baseline_path);
    let mut baseline_sha256 = check_baseline_trust(&baseline_path, &a.baseline_trust)?;
    let keyring = if a.unowned_only {
        crate::rpmdb::trust::Keyring::new()
    } else if a.keys.keys.is_empty() {
        load_keyring(root, &policy)?
    } else {
        load_keyring_paths(&a.keys.keys)?
    };
    let (db, mut error_status) = open_db_with_keys(&a.root, &keyring)?;
    if !a.unowned_only {
        warn_keys(&keyring, &db);
    }
    error_status = error_status.max(report_unloadable(&db));
    let current = crate::pkgdb::PackageDb::snapshot(&db);
    // --packages-changed: the baseline's snapshot chooses the packages; nothing else is walked.
    let mut baselined_owned = std::collections::HashMap::new();
    // The baseline's package snapshot, when there is a baseline: package trust is judged
    // against it (see verify::signature).
    let mut baselined_packages = None;
    let mut changes = match a.ops.packages_changed {
        true => {
            let file = baseline_file(root, &a.state)?;
            let (header, owned, read_sha256) =
                crate::ops::verified_baseline(&file).map_err(baseline_failure)?;
            same_baseline(&file, &mut baseline_sha256, &read_sha256, &a.baseline_trust)?;
            baselined_owned = owned;
            baselined_packages = Some(header.packages.clone());
            Some(crate::baseline::changes::diff(
                header.created,
                &header.packages,
                &current,
            ))
        }
        false => None,
    };
    let opts = owned::VerifyOptions {
        // 0: the current pool, which `--jobs` sized already.
        jobs: 0,
        packages: changes
            .as_ref()
            .map_or_else(|| a.packages.clone(), |c| c.to_verify()),
        verbose: a.verbose && a.format == ReportFormat::Rpm,
        progress: !a.no_progress,
        ..Default::default()
    };
    let nothing_changed = changes.as_ref().is_some_and(|c| c.to_verify().is_empty());
    let report = if a.unowned_only || nothing_changed {
        owned::OwnedReport::default()
    } else {
        owned::verify_packages(root, &db, &opts)
            .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?
    };
    let mut findings = owned::to_findings(&db, &report);
    if let Some(c) = &changes {
        crate::ops::note_accepted_edits(root, &baselined_owned, &mut findings);
        findings.extend(crate::baseline::changes::leftovers_on_disk(root, &db, c));
    }
    if !a.unowned_only {
        crate::verify::signature::mark_tampered(&db.packages, &mut findings);
    }

    let mut states = std::collections::HashMap::new();
    let mut issues = Vec::new();
    let mut baseline_error = None;
    if !a.owned_only && !a.ops.packages_changed {
        let file = baseline_path.clone();
        let index = crate::pkgdb::PackageDb::owned_index(&db);
        let opts = crate::baseline::CompareOptions {
            trust_ctime: a.trust_ctime,
        };
        let compared = crate::baseline::compare_with(root, &policy, &index, &file, opts);
        match compared {
            Ok(outcome) => {
                same_baseline(
                    &file,
                    &mut baseline_sha256,
                    &outcome.baseline_sha256,
                    &a.baseline_trust,
                )?;
                // The text and JSON reports carry them; rpm's format cannot.
                if a.format == ReportFormat::Rpm {
                    report_issues(&outcome.issues);
                }
                if outcome.policy_changed {
                    findings.push(policy_changed_finding(
                        a.state.policy.as_deref(),
                        &outcome.header.policy_digest,
                        &policy,
                    ));
                }
                // A %config file the administrator edited differs from its package forever; once
                // its state is accepted into the baseline it is only worth a note.
                let accepted: std::collections::HashSet<&[u8]> = outcome
                    .owned_unchanged
                    .iter()
                    .map(|p| p.as_os_str().as_bytes())
                    .collect();
                for f in findings.iter_mut() {
                    if f.kind == FindingKind::Changed && accepted.contains(f.path.as_slice()) {
                        f.kind = FindingKind::Noted;
                        f.severity = Severity::Info;
                        f.note =
                            Some("differs from its package, matches the accepted baseline".into());
                    }
                }
                findings.extend(outcome.findings.iter().map(Finding::from));
                let c = crate::baseline::changes::diff(
                    outcome.header.created,
                    &outcome.header.packages,
                    &current,
                );
                crate::baseline::changes::explain_leftovers(
                    &mut findings,
                    &c,
                    &index,
                    crate::pkgdb::PackageDb::leftover_suffixes(&db),
                );
                baselined_packages = Some(outcome.header.packages.clone());
                states = crate::ops::states(&outcome.findings);
                changes = Some(c);
                issues = outcome.issues;
            }
            Err(crate::baseline::BaselineError::NotFound { file })
                if a.state.baseline.is_none() =>
            {
                eprintln!(
                    "quietwire: no baseline at {}: unowned files were not checked; create one with `quietwire init`",
                    file.display()
                );
            }
            Err(e) => baseline_error = Some(baseline_failure(e)),
        }
    }

    if !a.unowned_only {
        if a.owned_only && baselined_packages.is_none() {
            // --owned-only does not compare the baseline; its snapshot still says which
            // package trust was accepted. An unreadable baseline leaves today's verdicts.
            baselined_packages = crate::baseline::read_header(&baseline_path)
                .ok()
                .map(|h| h.packages);
        }
        findings.extend(trust_findings(
            &db,
            root,
            &policy,
            &opts.packages,
            baselined_packages.as_deref(),
        ));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for name in &report.not_installed {
        // rpm prints this on stdout among its verify lines; keep it there for the rpm format.
        match a.format {
            ReportFormat::Rpm => {
                writeln!(out, "package {name} is not installed").map_err(io_failure)?
            }
            _ => eprintln!("quietwire: package {name} is not installed"),
        }
        error_status = exit::NOT_FOUND.max(error_status);
    }
    let shown: Vec<Finding> = if a.verbose || a.format == ReportFormat::Json {
        findings.clone()
    } else {
        findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .cloned()
            .collect()
    };
    match a.format {
        ReportFormat::Rpm if opts.verbose => {
            crate::report::rpm::render_results(&mut out, &db, &report.results, true)
                .map_err(io_failure)?
        }
        ReportFormat::Rpm => crate::report::rpm::render(&mut out, &findings).map_err(io_failure)?,
        ReportFormat::Text => {
            out.write_all(&crate::ops::text_report(&shown, &issues, changes.as_ref()))
                .map_err(io_failure)?;
            crate::report::text::footer(&mut out, &baseline_path, baseline_sha256.as_deref())
                .map_err(io_failure)?
        }
        ReportFormat::Json => {
            let mut doc = crate::ops::report::document(&shown, &issues, changes.as_ref(), &states);
            if let Some(summary) = doc.get_mut("summary").and_then(|v| v.as_object_mut()) {
                summary.extend(trust_summary(&db, baseline_sha256.as_deref()));
            }
            serde_json::to_writer(&mut out, &doc)
                .map_err(|e| Failure::new(exit::FAILURE, format!("writing output: {e}")))?;
            writeln!(out).map_err(io_failure)?;
        }
    }
    if a.format == ReportFormat::Rpm {
        // rpm's lines stay byte-exact on stdout; what rpm does not check goes to stderr.
        for f in findings
            .iter()
            .filter(|f| f.kind == FindingKind::Untrusted && f.severity > Severity::Info)
        {
            if let crate::verify::Source::Header { nevra, .. } = &f.source {
                eprintln!(
                    "quietwire: {} package {}: {}",
                    f.severity.name(),
                    nevra,
                    f.note.as_deref().unwrap_or_default()
                );
            }
        }
    }
    out.flush().map_err(io_failure)?;
    if a.ops.packages_changed && changes.as_ref().is_some_and(|c| c.is_empty()) {
        eprintln!("quietwire: no package changed since the baseline's package snapshot");
    }
    let mail_text: Vec<Finding> = match a.verbose {
        true => findings.clone(),
        false => crate::ops::loud(&findings).cloned().collect(),
    };
    let run_failed = baseline_error.is_some() || error_status != exit::CLEAN;
    let delivery = crate::ops::deliver(
        &a.ops,
        root,
        &crate::ops::Delivery {
            findings: &findings,
            shown: &mail_text,
            issues: &issues,
            changes: changes.as_ref(),
            states: &states,
            run_failed,
        },
    );
    error_status = error_status.max(delivery);
    if let Some(e) = baseline_error {
        return Err(e);
    }
    // Errors outrank findings: a partial check must not look like a clean or merely dirty one.
    if error_status != exit::CLEAN {
        return Ok(error_status);
    }
    Ok(verify::finding::exit_bits(&findings))
}

fn init(a: &InitArgs) -> Result<u8, Failure> {
    be_nice(a.tuning.nice)?;
    with_jobs(a.tuning.jobs, || init_in_pool(a))?
}

/// What `init` and `accept` need before they write a baseline.
struct BaselineWrite {
    /// `exit::RPMDB` when records of the database were skipped, else clean.
    error_status: u8,
    db: Database,
    policy: crate::policy::Policy,
    file: PathBuf,
    index: crate::baseline::OwnedIndex,
    snapshot: Vec<crate::baseline::PackageSnapshot>,
    sign_key: Option<ed25519_dalek::SigningKey>,
}

impl BaselineWrite {
    fn prepare(
        root: &RootArgs,
        state: &crate::cli::StateArgs,
        sign: &crate::cli::SignArgs,
    ) -> Result<BaselineWrite, Failure> {
        let policy = load_policy(&root.root, state.policy.as_deref())?;
        // The snapshot records each header's trust status, judged with the keys `check` uses.
        let keyring = load_keyring(&root.root, &policy)?;
        let (db, error_status) = open_db_with_keys(root, &keyring)?;
        warn_keys(&keyring, &db);
        Ok(BaselineWrite {
            error_status,
            policy,
            file: baseline_file(&root.root, state)?,
            index: crate::pkgdb::PackageDb::owned_index(&db),
            snapshot: crate::pkgdb::PackageDb::snapshot(&db),
            sign_key: read_sign_key(sign)?,
            db,
        })
    }

    /// Print each untrusted package the snapshot accepts as trusted state, leaving out those
    /// `before` (the previous snapshot) already held with the same header and status.
    fn print_accepted_trust(&self, before: &[crate::baseline::PackageSnapshot]) {
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

fn init_in_pool(a: &InitArgs) -> Result<u8, Failure> {
    let root = &a.root.root;
    let w = BaselineWrite::prepare(&a.root, &a.state, &a.sign)?;
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
    let stats = crate::baseline::init(root, &w.policy, &w.index, &w.snapshot, &w.file, a.force)
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

fn accept(a: &AcceptArgs) -> Result<u8, Failure> {
    be_nice(a.tuning.nice)?;
    with_jobs(a.tuning.jobs, || accept_in_pool(a))?
}

fn accept_in_pool(a: &AcceptArgs) -> Result<u8, Failure> {
    let root = &a.root.root;
    let w = BaselineWrite::prepare(&a.root, &a.state, &a.sign)?;
    // Held until the new baseline is in place and signed (dropped on return).
    let _lock = lock_baseline(&w.file)?;
    warn_untrusted_baseline(root, &w.file);
    // Every accept records the current package snapshot, so each names what it newly accepts.
    let before = crate::baseline::read_header(&w.file)
        .map(|h| h.packages)
        .unwrap_or_default();
    if a.packages {
        let entries =
            crate::baseline::accept_packages(&w.snapshot, &w.file).map_err(baseline_failure)?;
        w.after_write()?;
        w.print_accepted_trust(&before);
        eprintln!(
            "quietwire: baseline {}: package snapshot recorded ({} packages, {entries} entries unchanged)",
            w.file.display(),
            w.snapshot.len()
        );
        return Ok(w.error_status);
    }
    let mut refused = Vec::new();
    let selection = if let Some(report) = &a.report {
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
    } else if a.all {
        crate::baseline::Selection::All
    } else if !a.package.is_empty() {
        let (named, not_installed) = crate::rpmdb::verify::select_packages(&w.db, &a.package);
        if let Some(arg) = not_installed.first() {
            return Err(Failure::new(
                exit::NOT_FOUND,
                format!("package {arg} is not installed"),
            ));
        }
        let nevras = named
            .iter()
            .filter_map(|&i| w.db.packages.get(i))
            .map(|p| p.nevra());
        crate::baseline::Selection::Owners(nevras.collect())
    } else {
        crate::baseline::Selection::Patterns(
            a.patterns
                .iter()
                .map(|p| pattern_in_root(root, p))
                .collect(),
        )
    };
    let stats =
        crate::baseline::accept(root, &w.policy, &w.index, &w.snapshot, &w.file, &selection)
            .map_err(baseline_failure)?;
    w.after_write()?;
    w.print_accepted_trust(&before);
    report_issues(&stats.issues);
    refused.extend(stats.refused.iter().cloned());
    refused.sort();
    for (path, why) in &refused {
        eprintln!("quietwire: {}: refused: {why}", escape_path(path));
    }
    for p in &stats.unmatched {
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
    if !stats.unmatched.is_empty() {
        return Ok(exit::NOT_FOUND.max(w.error_status));
    }
    if !refused.is_empty() {
        return Ok(exit::REFUSED.max(w.error_status));
    }
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

fn policy(a: &PolicyArgs) -> Result<u8, Failure> {
    let policy = load_policy(&a.root, a.policy.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(policy.to_toml().as_bytes())
        .map_err(io_failure)?;
    out.flush().map_err(io_failure)?;
    Ok(exit::CLEAN)
}

// ---- trust anchors (issue 7): package signatures and the baseline's own integrity ----

/// Open the database judging header signatures with `keys` (see [`open_db`]).
fn open_db_with_keys(
    root: &RootArgs,
    keys: &crate::rpmdb::trust::Keyring,
) -> Result<(Database, u8), Failure> {
    Ok(report_bad_records(rpmdb::open_with_keys(
        &root.root,
        root.dbpath.as_deref(),
        keys,
    )?))
}

fn key_failure(e: crate::rpmdb::trust::KeyError) -> Failure {
    Failure::new(exit::FAILURE, format!("trusted keys: {e}"))
}

/// Key files that could not be used, and (when signed packages exist) the lack of any key.
/// Printed once the database is open, so a missing rpmdb stays a one-line error.
fn warn_keys(keys: &crate::rpmdb::trust::Keyring, db: &Database) {
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
    for k in &policy.signatures().trusted_keys {
        let host = crate::rootpath::resolve_in_root(root, Path::new(k), true)
            .unwrap_or_else(|_| crate::rootpath::join_in_root(root, Path::new(k)));
        match keys.add_path(&host) {
            Ok(_) => {}
            Err(crate::rpmdb::trust::KeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(key_failure(e)),
        }
    }
    keys.source = format!(
        "signatures.trusted_keys {} inside the root",
        policy.signatures().trusted_keys.join(", ")
    );
    Ok(keys)
}

/// Package-level findings for the packages `check` looks at.
fn trust_findings(
    db: &Database,
    root: &Path,
    policy: &crate::policy::Policy,
    wanted: &[String],
    baseline: Option<&[crate::baseline::PackageSnapshot]>,
) -> Vec<crate::verify::Finding> {
    let selected: Vec<usize> = db
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|w| crate::rpmdb::verify::matches_arg(p, w))
        })
        .map(|(i, _)| i)
        .collect();
    let inside = db
        .located
        .file
        .strip_prefix(root)
        .map(|r| Path::new("/").join(r))
        .unwrap_or_else(|_| db.located.file.clone());
    crate::verify::signature::findings(
        &db.packages,
        selected,
        policy.signatures(),
        inside.as_os_str().as_bytes(),
        baseline,
    )
}

/// JSON summary additions: the baseline's SHA-256 and the count of each signature status.
fn trust_summary(
    db: &Database,
    baseline_sha256: Option<&str>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for p in &db.packages {
        *counts.entry(p.signature.name()).or_default() += 1;
    }
    let mut m = serde_json::Map::new();
    m.insert("baseline_sha256".into(), serde_json::json!(baseline_sha256));
    m.insert("signatures".into(), serde_json::json!(counts));
    m
}

/// A policy that differs from the one the baseline was written under can blind the check (a
/// volatile rule on `/**` dropped next to a web shell), so the change itself is a high finding
/// (exit bit 4, in the report and the mail), not a note. It names the override file(s) in force.
fn policy_changed_finding(
    override_file: Option<&Path>,
    baselined: &str,
    policy: &crate::policy::Policy,
) -> crate::verify::finding::Finding {
    use crate::verify::finding::{Finding, FindingKind, Severity, Source};
    let path = override_file.map_or_else(
        || crate::policy::SYSTEM_POLICY.as_bytes().to_vec(),
        |p| p.as_os_str().as_bytes().to_vec(),
    );
    Finding {
        path,
        kind: FindingKind::Changed,
        source: Source::Baseline {
            policy_rule: None,
            package: None,
        },
        changes: vec![],
        severity: Severity::High,
        rule: "baseline.policy_changed".into(),
        note: Some(format!(
            "policy changed since the baseline was written (policy digest {baselined} then, {} now; in force: {}); accept --all records the new policy",
            policy.digest(),
            policy.sources().join(", ")
        )),
        rpm: None,
    }
}

/// The pin and signature were checked on the digest of one open of the baseline; the records
/// came from another. With a pin or key both must be the same bytes, or a rename in between
/// would have swapped in an unverified baseline (issue 13). Without one, a concurrent `accept`
/// may legitimately have replaced it: the report then names the digest of what was read.
fn same_baseline(
    file: &Path,
    checked: &mut Option<String>,
    read: &str,
    args: &crate::cli::BaselineTrustArgs,
) -> Result<(), Failure> {
    let pinned = args.baseline_digest.is_some() || args.verify_key.is_some();
    match checked.as_deref() {
        Some(v) if !v.eq_ignore_ascii_case(read) && pinned => Err(Failure::new(
            exit::BASELINE,
            format!(
                "{}: the baseline changed while it was being read (SHA-256 {v} checked, {read} read): it was replaced or modified",
                escape_path(file)
            ),
        )),
        _ => {
            *checked = Some(read.to_string());
            Ok(())
        }
    }
}

/// The baseline's SHA-256 (None when there is no baseline file), after checking the pin and the
/// signature the command line asks for. Either failing is exit status 18.
fn check_baseline_trust(
    file: &Path,
    args: &crate::cli::BaselineTrustArgs,
) -> Result<Option<String>, Failure> {
    use crate::baseline::sign;
    let digest = match crate::baseline::format::file_sha256(file) {
        Ok(d) => Some(d),
        Err(crate::baseline::BaselineError::NotFound { .. }) => None,
        Err(e) => return Err(baseline_failure(e)),
    };
    let pinned = args.baseline_digest.is_some() || args.verify_key.is_some();
    let Some(actual) = digest else {
        if pinned {
            return Err(Failure::new(
                exit::BASELINE,
                format!(
                    "{}: no baseline, so it cannot match the given digest or key",
                    file.display()
                ),
            ));
        }
        return Ok(None);
    };
    if let Some(want) = &args.baseline_digest {
        if !want.trim().eq_ignore_ascii_case(&actual) {
            return Err(Failure::new(
                exit::BASELINE,
                format!(
                    "{}: baseline SHA-256 is {actual}, not the pinned {}: the baseline was changed or replaced",
                    file.display(),
                    want.trim()
                ),
            ));
        }
    }
    if let Some(key) = &args.verify_key {
        sign::verify_baseline(file, &actual, key)
            .map_err(|e| Failure::new(exit::BASELINE, format!("baseline signature: {e}")))?;
    }
    Ok(Some(actual))
}

fn read_sign_key(
    args: &crate::cli::SignArgs,
) -> Result<Option<ed25519_dalek::SigningKey>, Failure> {
    args.sign_key
        .as_deref()
        .map(crate::baseline::sign::read_signing_key)
        .transpose()
        .map_err(|e| Failure::new(exit::BASELINE, format!("signing key: {e}")))
}

fn keygen(a: &crate::cli::KeygenArgs) -> Result<u8, Failure> {
    let (secret, public) = crate::baseline::sign::keygen(&a.out)
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    eprintln!(
        "quietwire: secret key {} (keep it off the checked host), public key {}",
        escape_path(&secret),
        escape_path(&public)
    );
    Ok(exit::CLEAN)
}
