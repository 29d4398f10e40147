//! `wordpress` and `wordpress fetch`: the WordPress package source's installs and manifests.

use super::config::{ListFormat, Wordpress};
use super::{io_failure, Failure};
use crate::escape::escape_path;
use crate::exit;
use crate::scan::fs::Dir;
use crate::wordpress::db::{check_body, Component, ManifestState, WordPressDb};
use crate::wordpress::fetch::{save, Bases, Client};
use crate::wordpress::{DEFAULT_TREES, MANIFEST_DIR};
use std::io::Write;
use std::path::PathBuf;

#[derive(serde::Serialize)]
struct ComponentJson<'a> {
    install: String,
    kind: &'static str,
    slug: &'a str,
    version: Option<&'a str>,
    locale: Option<&'a str>,
    package: Option<String>,
    manifest: &'static str,
    manifest_file: Option<String>,
    files: Option<usize>,
    problem: Option<&'a str>,
}

fn status(c: &Component) -> (&'static str, Option<&str>) {
    match &c.manifest {
        ManifestState::Loaded { .. } => ("ok", None),
        ManifestState::Missing => ("missing", None),
        ManifestState::Invalid(p) => ("invalid", Some(p)),
        ManifestState::NoVersion(p) => ("no-version", Some(p)),
        ManifestState::Unsupported => ("unsupported", None),
    }
}

fn open(a: &Wordpress) -> Result<WordPressDb, Failure> {
    let trees: Vec<PathBuf> = if a.trees.is_empty() {
        DEFAULT_TREES.iter().map(PathBuf::from).collect()
    } else {
        a.trees.clone()
    };
    if let Some(t) = trees.iter().find(|t| !t.is_absolute()) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--tree {}: must be absolute inside the root",
                escape_path(t)
            ),
        ));
    }
    WordPressDb::open(&a.root, &trees).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))
}

pub(super) fn wordpress(a: &Wordpress) -> Result<u8, Failure> {
    let db = open(a)?;
    match a.fetch {
        false => list(a, &db),
        true => fetch(a, &db),
    }
}

/// One line per core, plugin and theme; problems also on stderr. An unusable manifest or
/// version is a failure: nothing is trusted for that component until it is fixed.
fn list(a: &Wordpress, db: &WordPressDb) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut json = Vec::new();
    for c in &db.components {
        let (st, problem) = status(c);
        if let Some(p) = problem {
            eprintln!("quietwire: {}", p);
            failed = true;
        }
        let manifest_file = c.manifest_name().map(|n| format!("{MANIFEST_DIR}/{n}"));
        match a.format {
            ListFormat::Text => {
                let version = match (&c.version, &c.locale) {
                    (Some(v), Some(l)) => format!("{v} {l}"),
                    (Some(v), None) => v.clone(),
                    (None, _) => "?".to_string(),
                };
                let detail = match &c.manifest {
                    ManifestState::Loaded { manifest, .. } => {
                        format!("{} files", manifest.files.len())
                    }
                    ManifestState::Missing => manifest_file.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    escape_path(&c.install),
                    c.kind.name(),
                    c.slug,
                    version,
                    st,
                    detail
                )
                .map_err(io_failure)?;
            }
            ListFormat::Json => json.push(ComponentJson {
                install: escape_path(&c.install),
                kind: c.kind.name(),
                slug: &c.slug,
                version: c.version.as_deref(),
                locale: c.locale.as_deref(),
                package: c.loaded().map(|_| c.nevra()),
                manifest: st,
                manifest_file,
                files: c.loaded().map(|m| m.files.len()),
                problem,
            }),
        }
    }
    if a.format == ListFormat::Json {
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
        writeln!(out, "{text}").map_err(io_failure)?;
    }
    Ok(if failed { exit::FAILURE } else { exit::CLEAN })
}

/// Download the manifests still needed (missing or invalid), check each body as the check
/// would, and save it atomically. What could not be fetched (or everything, `--offline`) is
/// printed as `URL<TAB>FILE` lines for the administrator to download elsewhere and place.
fn fetch(a: &Wordpress, db: &WordPressDb) -> Result<u8, Failure> {
    let bases = Bases::from_env();
    let client = (!a.offline).then(|| Client::new(&bases));
    let top = Dir::open_root(&a.root).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("{}: {}", escape_path(&a.root), e.message()),
        )
    })?;
    let mut out = std::io::stdout().lock();
    let mut needed = 0usize;
    let mut failed = 0usize;
    for c in &db.components {
        if !matches!(
            c.manifest,
            ManifestState::Missing | ManifestState::Invalid(_)
        ) {
            continue;
        }
        let (Some(url), Some(name)) = (c.manifest_url(&bases), c.manifest_name()) else {
            continue;
        };
        let file = format!("{MANIFEST_DIR}/{name}");
        if let Some(client) = &client {
            let saved = client
                .get(&url)
                .and_then(|body| check_body(c, &body).map(|m| (body, m)))
                .and_then(|(body, m)| save(&top, &name, &body).map(|()| m));
            match saved {
                Ok(m) => {
                    eprintln!("quietwire: saved {file} ({} files)", m.files.len());
                    continue;
                }
                Err(e) => {
                    eprintln!("quietwire: {url}: {e}; nothing saved");
                    failed += 1;
                }
            }
        }
        needed += 1;
        writeln!(out, "{url}\t{file}").map_err(io_failure)?;
    }
    if needed == 0 {
        return Ok(exit::CLEAN);
    }
    eprintln!(
        "quietwire: {needed} manifest(s) still needed: save each URL's body, unchanged, as the \
         file named beside it (inside the root), then run `quietwire wordpress`"
    );
    Ok(if failed > 0 {
        exit::FAILURE
    } else {
        exit::NOT_FOUND
    })
}
