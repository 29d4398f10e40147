//! `packages`, `owner` and `policy`: queries of the rpm database and the effective policy.

use super::{
    io_failure, load_keyring, load_keyring_paths, load_policy, open_db, open_db_with_keys,
    warn_keys, Failure,
};
use crate::cli::{ListFormat, OwnerArgs, PackagesArgs, PolicyArgs};
use crate::escape::escape_path;
use crate::exit;
use crate::rpmdb::{self, Database};
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

pub(super) fn packages(a: &PackagesArgs) -> Result<u8, Failure> {
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

pub(super) fn owner(a: &OwnerArgs) -> Result<u8, Failure> {
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

pub(super) fn policy(a: &PolicyArgs) -> Result<u8, Failure> {
    let policy = load_policy(&a.root, a.policy.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(policy.to_toml().as_bytes())
        .map_err(io_failure)?;
    out.flush().map_err(io_failure)?;
    Ok(exit::CLEAN)
}
