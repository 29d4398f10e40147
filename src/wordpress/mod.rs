//! WordPress as a second package source. WordPress updates its own core and plugins, rewriting
//! hundreds of PHP files under the web root; the project publishes what each file must contain
//! (core checksums per version and locale, plugin checksums per version). Each detected core
//! and each plugin with a local checksum manifest is a package: its manifest vouches for its
//! files, which then leave the baseline rules like rpm-owned files do.
//!
//! Flow: [`detect`] finds installs under the watched trees (reading `version.php` and plugin
//! headers without executing PHP) → [`manifest`] parses the official JSON bodies saved under
//! [`MANIFEST_DIR`] → [`db::WordPressDb`] implements [`crate::pkgdb::PackageDb`] → [`verify`]
//! compares the files. The check never touches the network; `quietwire wordpress fetch` names
//! the URLs to save.
//!
//! Every file is read inside the root through [`crate::scan::fs::Dir`] (no symlink in any
//! component, regular files only, bounded sizes).

pub mod db;
pub mod detect;
pub mod fetch;
pub mod manifest;
pub mod verify;

use crate::scan::fs::{Dir, Errno};
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where manifests are read from, inside the root.
pub const MANIFEST_DIR: &str = "/var/lib/quietwire/wordpress";

/// The trees searched for installs when none are given.
pub const DEFAULT_TREES: [&str; 3] = ["/var/www", "/srv/www", "/usr/share/wordpress"];

/// An error about one file: the file (inside the root) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub file: PathBuf,
    pub problem: String,
}

impl Error {
    pub fn new(file: impl Into<PathBuf>, problem: impl Into<String>) -> Error {
        Error {
            file: file.into(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            crate::escape::escape_path(&self.file),
            self.problem
        )
    }
}

impl std::error::Error for Error {}

/// Open the directory `path` (absolute inside the root) without following a symlink anywhere.
pub(crate) fn open_dir(top: &Dir, path: &Path) -> Result<Dir, Errno> {
    top.open_dir_path(path)
}

/// Why a small file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Missing,
    Other(String),
}

/// Read the regular file `name` of `dir`, at most `limit` bytes (more is an error when
/// `whole`, else the first `limit` bytes are returned).
pub(crate) fn read_small(
    dir: &Dir,
    name: &OsStr,
    limit: u64,
    whole: bool,
) -> Result<Vec<u8>, ReadError> {
    let st = dir.lstat(name).map_err(|e| match e.0 {
        libc::ENOENT => ReadError::Missing,
        _ => ReadError::Other(e.message()),
    })?;
    if !st.is_reg() {
        return Err(ReadError::Other(format!(
            "not a regular file ({})",
            st.ftype.name()
        )));
    }
    if whole && st.size > limit {
        return Err(ReadError::Other(format!(
            "{} bytes, more than the limit of {limit}",
            st.size
        )));
    }
    let (f, _) = dir
        .open_regular(name, &st)
        .map_err(|e| ReadError::Other(e.to_string()))?;
    let mut out = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| ReadError::Other(e.to_string()))?;
    if out.len() as u64 > limit {
        if whole {
            return Err(ReadError::Other(format!(
                "grew past the limit of {limit} bytes while read"
            )));
        }
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(out)
}

/// Whether `s` is a version string safe to put in a file name and a URL: 1 to 64 of ASCII
/// letters, digits, `.` and `-`, starting with a digit, without `..`.
pub fn valid_version(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !s.contains("..")
}

/// Whether `s` is a locale as WordPress names them (`en_US`, `de_DE_formal`, `pt_PT_ao90`).
pub fn valid_locale(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `s` is a plugin or theme directory name usable in a file name and a URL.
pub fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        && !s.contains("..")
}

/// The WordPress source as `check`, `init` and `accept` use it: installs under
/// [`DEFAULT_TREES`], problems (an unusable manifest or version) warned about on stderr. The
/// check never fetches; a root without WordPress gives an empty source.
pub fn open_for_check(root: &Path) -> Option<db::WordPressDb> {
    let trees: Vec<PathBuf> = DEFAULT_TREES.iter().map(PathBuf::from).collect();
    match db::WordPressDb::open(root, &trees) {
        Ok(db) => {
            for c in &db.components {
                if let db::ManifestState::Invalid(p) | db::ManifestState::NoVersion(p) = &c.manifest
                {
                    eprintln!(
                        "quietwire: warning: {p}: {} {} files stay under the baseline rules",
                        c.kind.name(),
                        c.slug
                    );
                }
            }
            Some(db)
        }
        Err(e) => {
            eprintln!("quietwire: warning: WordPress installs not read: {e}");
            None
        }
    }
}

/// Add the files WordPress manifests vouch for to `index`; a path a package of `index`
/// already owns stays its (rpm's verdict stands).
pub fn extend_index(db: &db::WordPressDb, index: &mut crate::pkgdb::OwnedIndex) {
    use crate::pkgdb::PackageDb;
    for (path, file) in db.owned_index().iter() {
        index.insert(path.to_path_buf(), file.clone());
    }
}

/// Add the WordPress packages to a package snapshot (kept sorted), so that the baseline
/// explains a core or plugin update like an rpm transaction.
pub fn extend_snapshot(db: &db::WordPressDb, snapshot: &mut Vec<crate::pkgdb::PackageSnapshot>) {
    use crate::pkgdb::PackageDb;
    snapshot.extend(db.snapshot());
    snapshot.sort();
}

/// Whether a snapshot's full name is a WordPress package's (not the rpm database's).
pub fn is_wordpress_nevra(nevra: &str) -> bool {
    nevra.ends_with(&format!(".{}", db::ARCH)) && nevra.contains('@')
}
