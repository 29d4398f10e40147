//! Runs the parsed command line: the glue between the CLI and the library modules.

use crate::cli::{
    CheckArgs, Cli, Command, ListFormat, OwnerArgs, PackagesArgs, ReportFormat, RootArgs,
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

fn check(a: &CheckArgs) -> Result<u8, Failure> {
    use crate::verify::{self, owned};
    let (db, mut error_status) = open_db(&a.root)?;
    for p in db.packages.iter().filter(|p| p.file_error.is_some()) {
        // rpm fails such a package silently; an integrity check must say why nothing was checked.
        eprintln!(
            "quietwire: {}: package {} (#{}): file list cannot be loaded: {}; its files were not verified",
            db.located.file.display(),
            p.nevra(),
            p.hnum,
            p.file_error.as_deref().unwrap_or_default()
        );
        error_status = exit::RPMDB;
    }
    let opts = owned::VerifyOptions {
        jobs: a.jobs.unwrap_or(0),
        packages: a.packages.clone(),
        verbose: a.verbose && a.format == ReportFormat::Rpm,
        progress: !a.no_progress,
        ..Default::default()
    };
    let report = owned::verify_packages(&a.root.root, &db, &opts)
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    let findings = owned::to_findings(&db, &report);

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
    match a.format {
        ReportFormat::Rpm if opts.verbose => {
            crate::report::rpm::render_results(&mut out, &db, &report.results, true)
                .map_err(io_failure)?
        }
        ReportFormat::Rpm => crate::report::rpm::render(&mut out, &findings).map_err(io_failure)?,
        ReportFormat::Text => {
            crate::report::text::render(&mut out, &findings).map_err(io_failure)?
        }
        ReportFormat::Json => {
            crate::report::json::render(&mut out, &findings).map_err(io_failure)?
        }
    }
    out.flush().map_err(io_failure)?;
    // Errors outrank findings: a partial check must not look like a clean or merely dirty one.
    if error_status != exit::CLEAN {
        return Ok(error_status);
    }
    Ok(verify::finding::exit_bits(&findings))
}
