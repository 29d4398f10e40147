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
    let result = match cli.command {
        Command::Check(a) => check(&a),
        Command::Init(a) => init(&a),
        Command::Accept(a) => accept(&a),
        Command::Policy(a) => policy(&a),
        Command::Packages(a) => packages(&a),
        Command::Owner(a) => owner(&a),
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
    let db = rpmdb::open(&root.root, root.dbpath.as_deref())?;
    for bad in &db.bad {
        eprintln!("quietwire: {}: {bad}; skipped", db.located.file.display());
    }
    let status = if db.bad.is_empty() {
        exit::CLEAN
    } else {
        exit::RPMDB
    };
    Ok((db, status))
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
}

fn packages(a: &PackagesArgs) -> Result<u8, Failure> {
    let (db, status) = open_db(&a.root)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match a.format {
        ListFormat::Text => {
            for p in &db.packages {
                writeln!(out, "{}", p.nvra()).map_err(io_failure)?;
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
    crate::policy::Policy::load(root, file).map_err(|e| Failure::new(exit::POLICY, e.to_string()))
}

fn baseline_failure(e: crate::baseline::BaselineError) -> Failure {
    Failure::new(exit::BASELINE, e.to_string())
}

fn baseline_file(root: &Path, state: &crate::cli::StateArgs) -> PathBuf {
    state
        .baseline
        .clone()
        .unwrap_or_else(|| crate::baseline::default_location(root))
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

/// Run `f` with `jobs` hashing threads (`None` or 0: the global pool, one thread per CPU).
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
    use crate::verify::finding::{Finding, FindingKind, Severity};
    use crate::verify::{self, owned};
    be_nice(a.nice)?;
    let root = &a.root.root;
    let (db, mut error_status) = open_db(&a.root)?;
    error_status = error_status.max(report_unloadable(&db));
    let current = crate::baseline::owned::snapshot(&db.packages);
    // --packages-changed: the baseline's snapshot chooses the packages; nothing else is walked.
    let mut baselined_owned = std::collections::HashMap::new();
    let mut changes = match a.ops.packages_changed {
        true => {
            let file = baseline_file(root, &a.state);
            let (header, owned) = crate::ops::verified_baseline(&file).map_err(baseline_failure)?;
            baselined_owned = owned;
            Some(crate::ops::changes::diff(
                header.created,
                &header.packages,
                &current,
            ))
        }
        false => None,
    };
    let opts = owned::VerifyOptions {
        jobs: a.jobs.unwrap_or(0),
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
        findings.extend(crate::ops::changes::leftovers_on_disk(root, &db, c));
    }

    let mut states = std::collections::HashMap::new();
    let mut baseline_error = None;
    if !a.owned_only && !a.ops.packages_changed {
        let policy = load_policy(root, a.state.policy.as_deref())?;
        let file = baseline_file(root, &a.state);
        let index = crate::baseline::OwnedIndex::from_packages(&db.packages);
        let opts = crate::baseline::CompareOptions {
            trust_ctime: a.trust_ctime,
        };
        let compared = with_jobs(a.jobs, || {
            crate::baseline::compare_with(root, &policy, &index, &file, opts)
        })?;
        match compared {
            Ok(outcome) => {
                report_issues(&outcome.issues);
                if outcome.policy_changed {
                    eprintln!(
                        "quietwire: note: the policy changed since {} was created; new rules apply from now on",
                        file.display()
                    );
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
                let c = crate::ops::changes::diff(
                    outcome.header.created,
                    &outcome.header.packages,
                    &current,
                );
                crate::ops::changes::explain_leftovers(&mut findings, &c, &index);
                states = crate::ops::states(&outcome.findings);
                changes = Some(c);
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
        ReportFormat::Text => out
            .write_all(&crate::ops::text_report(&shown, changes.as_ref()))
            .map_err(io_failure)?,
        ReportFormat::Json => {
            let doc = crate::ops::report::document(&shown, changes.as_ref(), &states);
            serde_json::to_writer(&mut out, &doc)
                .map_err(|e| Failure::new(exit::FAILURE, format!("writing output: {e}")))?;
            writeln!(out).map_err(io_failure)?;
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
        &findings,
        &mail_text,
        changes.as_ref(),
        &states,
        run_failed,
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
    let root = &a.root.root;
    let (db, error_status) = open_db(&a.root)?;
    let policy = load_policy(root, a.state.policy.as_deref())?;
    let file = baseline_file(root, &a.state);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(exit::BASELINE, format!("{}: {e}", dir.display())))?;
    }
    let index = crate::baseline::OwnedIndex::from_packages(&db.packages);
    let snapshot = crate::baseline::owned::snapshot(&db.packages);
    let stats = with_jobs(a.tuning.jobs, || {
        crate::baseline::init(root, &policy, &index, &snapshot, &file, a.force)
    })?
    .map_err(baseline_failure)?;
    report_issues(&stats.issues);
    eprintln!(
        "quietwire: baseline {} created with {} entries",
        file.display(),
        stats.entries
    );
    Ok(error_status)
}

fn accept(a: &AcceptArgs) -> Result<u8, Failure> {
    be_nice(a.tuning.nice)?;
    let root = &a.root.root;
    let (db, error_status) = open_db(&a.root)?;
    let policy = load_policy(root, a.state.policy.as_deref())?;
    let file = baseline_file(root, &a.state);
    let index = crate::baseline::OwnedIndex::from_packages(&db.packages);
    let snapshot = crate::baseline::owned::snapshot(&db.packages);
    if a.packages {
        let entries =
            crate::baseline::accept_packages(&snapshot, &file).map_err(baseline_failure)?;
        eprintln!(
            "quietwire: baseline {}: package snapshot recorded ({} packages, {entries} entries unchanged)",
            file.display(),
            snapshot.len()
        );
        return Ok(error_status);
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
    } else {
        crate::baseline::Selection::Patterns(
            a.patterns
                .iter()
                .map(|p| pattern_in_root(root, p))
                .collect(),
        )
    };
    let stats = with_jobs(a.tuning.jobs, || {
        crate::baseline::accept(root, &policy, &index, &snapshot, &file, &selection)
    })?
    .map_err(baseline_failure)?;
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
        file.display(),
        stats.updated,
        stats.added,
        stats.removed,
        stats.entries
    );
    if !stats.unmatched.is_empty() {
        return Ok(exit::NOT_FOUND.max(error_status));
    }
    if !refused.is_empty() {
        return Ok(exit::REFUSED.max(error_status));
    }
    Ok(error_status)
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
