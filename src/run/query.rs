//! `packages`, `owner` and `policy`: queries of the rpm database and the effective policy.

use super::config::{ListFormat, OwnerQuery, PackagesQuery, PolicyQuery};
use super::{
    io_failure, load_keyring, load_keyring_paths, load_policy, open_db, warn_keys, Failure, PkgDb,
};
use crate::escape::escape_path;
use crate::exit;
use crate::rpmdb;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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

pub(super) fn packages(a: &PackagesQuery) -> Result<u8, Failure> {
    let keyring = if a.keys.is_empty() {
        let policy = load_policy(&a.target.root, a.policy.as_deref())?;
        load_keyring(&a.target.root, &policy)?
    } else {
        load_keyring_paths(&a.keys)?
    };
    let (pdb, status) = open_db(&a.target, Some(&keyring))?;
    let db = match &pdb {
        PkgDb::Rpm(db) => db,
        PkgDb::Dpkg(ddb) => return dpkg_packages(a, ddb).map(|()| status),
    };
    if a.signatures || a.format == ListFormat::Json {
        warn_keys(&keyring, &pdb);
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
            // serde_json keeps the I/O error's kind: a closed pipe is no failure here either.
            serde_json::to_writer_pretty(&mut out, &list).map_err(|e| io_failure(e.into()))?;
            writeln!(out).map_err(io_failure)?;
        }
    }
    out.flush().map_err(io_failure)?;
    Ok(status)
}

#[derive(serde::Serialize)]
struct DpkgPackageJson<'a> {
    name: &'a str,
    version: &'a str,
    arch: Option<&'a str>,
    /// `name_version_arch`: what quietwire's reports and `--packages` use.
    full_name: String,
    /// dpkg's state (`installed`, `config-files`, ...).
    state: &'a str,
    files: usize,
    conffiles: usize,
    /// SHA-256 of the md5sums file; `null` when the package has none (no digests).
    md5sums_sha256: Option<&'a str>,
}

/// `packages` on a dpkg root: one `name_version_arch` per line (dpkg keeps no signatures, so
/// `--signatures` adds `unsigned`), or JSON.
fn dpkg_packages(a: &PackagesQuery, db: &crate::dpkg::DpkgDb) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match a.format {
        ListFormat::Text => {
            for p in &db.packages {
                match a.signatures {
                    true => writeln!(out, "{}\tunsigned\t-", p.full_name()),
                    false => writeln!(out, "{}", p.full_name()),
                }
                .map_err(io_failure)?;
            }
        }
        ListFormat::Json => {
            let list: Vec<DpkgPackageJson> = db
                .packages
                .iter()
                .map(|p| DpkgPackageJson {
                    name: &p.entry.name,
                    version: &p.entry.version,
                    arch: p.entry.arch.as_deref(),
                    full_name: p.full_name(),
                    state: &p.entry.state,
                    files: p.files.len(),
                    conffiles: p.entry.conffiles.len(),
                    md5sums_sha256: p.md5sums_digest.as_deref(),
                })
                .collect();
            // serde_json keeps the I/O error's kind: a closed pipe is no failure here either.
            serde_json::to_writer_pretty(&mut out, &list).map_err(|e| io_failure(e.into()))?;
            writeln!(out).map_err(io_failure)?;
        }
    }
    out.flush().map_err(io_failure)
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
    crate::scan::fs::join_in_root(Path::new("/"), &absolute)
}

pub(super) fn owner(a: &OwnerQuery) -> Result<u8, Failure> {
    let (db, mut status) = open_db(&a.target, None)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for query in &a.paths {
        let wanted = normalise(query);
        let owners = owners_of(&db, &a.target.root, &wanted);
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
fn owners_of(db: &PkgDb, root: &Path, wanted: &Path) -> Vec<String> {
    let Some(base) = wanted.file_name() else {
        return Vec::new();
    };
    let resolve_dir = |p: &Path| {
        p.parent().map(|d| {
            crate::scan::fs::resolve_in_root(root, d, true).unwrap_or_else(|_| d.to_path_buf())
        })
    };
    let wanted_dir = resolve_dir(wanted);
    let same = |path: &Path| {
        path == wanted
            || (path.file_name().map(|b| b.as_bytes()) == Some(base.as_bytes())
                && resolve_dir(path) == wanted_dir)
    };
    let mut owners = Vec::new();
    match db {
        PkgDb::Rpm(db) => {
            for p in &db.packages {
                if p.files.iter().any(|f| same(&f.path())) {
                    owners.push(p.nvra());
                }
            }
        }
        PkgDb::Dpkg(db) => {
            for p in &db.packages {
                let owns = p.files.iter().any(|f| {
                    let on_disk = db.path_on_disk(&p.entry.name, f);
                    same(Path::new(std::ffi::OsStr::from_bytes(on_disk)))
                });
                if owns {
                    owners.push(p.full_name());
                }
            }
        }
    }
    owners
}

pub(super) fn policy(a: &PolicyQuery) -> Result<u8, Failure> {
    let policy = load_policy(&a.root, a.policy.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(policy.to_toml().as_bytes())
        .map_err(io_failure)?;
    out.flush().map_err(io_failure)?;
    Ok(exit::CLEAN)
}
