//! The RPM installed-package database, read without librpm.
//!
//! `open` finds the database under a root, detects its backend by content (sqlite, Berkeley DB
//! hash in either byte order, ndb), reads every `(hnum, header blob)` record, validates each blob
//! (`blob`) and turns the good ones into [`Package`]s. A bad record costs one [`BadRecord`], not
//! the database.
//!
//! It is the rpm implementation of the package seam ([`crate::pkgdb::PackageDb`], in `db`):
//! `verify` holds rpm -V's rules for owned files, `vline` the lines rpm -V prints, `trust` judges header signatures. Only this
//! module interprets rpm's FILEFLAGS, FILEVERIFYFLAGS and FILESTATES numbers.

pub mod bdb;
pub mod blob;
pub mod bytes;
pub mod db;
pub mod files;
pub mod ndb;
pub mod package;
pub mod sqlite;
pub mod trust;
pub mod verify;
pub mod vline;

use std::fmt;
use std::path::{Path, PathBuf};

pub use bytes::{Endian, FormatError};
pub use db::LEFTOVER_SUFFIXES;
pub use package::{DigestAlgo, FileInfo, FileList, FileState, HeaderDigest, NewFile, Package};

/// Largest database file read into memory; beyond it the file is rejected rather than
/// exhausting memory (real rpmdbs stay far below this).
pub const MAX_DB_FILE_BYTES: u64 = 4 << 30;

/// The storage format of the `Packages` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    BerkeleyDb(Endian),
    Ndb,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Sqlite => f.write_str("sqlite"),
            Backend::BerkeleyDb(e) => write!(f, "Berkeley DB hash ({e})"),
            Backend::Ndb => f.write_str("ndb"),
        }
    }
}

/// One stored package: its header instance number and the raw header blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub hnum: u32,
    pub blob: Vec<u8>,
}

/// A record that could not be read or whose header is invalid; the rest of the database is still used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// Header instance, when the damage left it readable.
    pub hnum: Option<u32>,
    /// Byte offset of the damage in the database file, when known.
    pub offset: Option<u64>,
    pub reason: String,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hnum {
            Some(h) => write!(f, "package #{h}: ")?,
            None => f.write_str("record: ")?,
        }
        f.write_str(&self.reason)?;
        if let Some(o) = self.offset {
            write!(f, " (file offset {o})")?;
        }
        Ok(())
    }
}

/// What a backend reader yields, in database (`rpm -qa`) order.
pub type RecordResult = Result<Record, BadRecord>;

/// A problem that stops the whole database from being read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error("no rpm database found under {root}: looked for {tried}")]
    NotFound { root: PathBuf, tried: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an rpm database: {what}")]
    UnknownFormat { path: PathBuf, what: String },
    #[error("{path}: corrupt {backend} database: {source}")]
    Corrupt {
        path: PathBuf,
        backend: Backend,
        #[source]
        source: FormatError,
    },
    #[error("{path}: sqlite: {message}")]
    Sqlite { path: PathBuf, message: String },
}

impl DbError {
    pub fn io(path: &Path, source: std::io::Error) -> DbError {
        DbError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// File names of the primary store, in the order rpm prefers them when several exist.
const STORE_NAMES: [&str; 3] = ["rpmdb.sqlite", "Packages.db", "Packages"];
/// Database directories relative to the root, tried in order.
const DB_DIRS: [&str; 2] = ["var/lib/rpm", "usr/lib/sysimage/rpm"];

/// Detect the backend from the first bytes of a file.
pub fn sniff(head: &[u8]) -> Option<Backend> {
    if head.starts_with(b"SQLite format 3\0") {
        return Some(Backend::Sqlite);
    }
    if head.starts_with(b"RpmP") {
        return Some(Backend::Ndb);
    }
    let magic = bytes::Bytes(head).u32_at(12, Endian::Little).ok()?;
    match magic {
        0x0006_1561 => Some(Backend::BerkeleyDb(Endian::Little)),
        0x6115_0600 => Some(Backend::BerkeleyDb(Endian::Big)),
        _ => None,
    }
}

/// The primary store found for a root: its file and detected backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: PathBuf,
    pub backend: Backend,
}

/// Find the database. `dbpath`, like rpm's `--dbpath`, is a directory taken inside `root`.
pub fn locate(root: &Path, dbpath: Option<&Path>) -> Result<Located, DbError> {
    let dirs: Vec<PathBuf> = match dbpath {
        Some(d) => vec![d.to_path_buf()],
        None => DB_DIRS.iter().map(PathBuf::from).collect(),
    };
    let mut tried = Vec::new();
    for dir in &dirs {
        for name in STORE_NAMES {
            let inside = dir.join(name);
            // Every symlink on the way, the file's own included, is resolved inside the root
            // (image roots often link /var/lib/rpm to /usr/lib/sysimage/rpm with an absolute
            // symlink): a link planted as the database cannot lead to a file of the host.
            let file = crate::scan::fs::resolve_in_root(root, &inside, true)
                .map_err(|e| DbError::io(&crate::scan::fs::join_in_root(root, &inside), e))?;
            tried.push(file.display().to_string());
            let head = match read_head(&file) {
                Ok(Some(h)) => h,
                Ok(None) => continue,
                Err(e) => return Err(e),
            };
            return match sniff(&head) {
                Some(backend) => Ok(Located { file, backend }),
                None => Err(DbError::UnknownFormat {
                    path: file,
                    what: "unrecognised magic (expected sqlite, Berkeley DB hash or ndb)".into(),
                }),
            };
        }
    }
    Err(DbError::NotFound {
        root: root.to_path_buf(),
        tried: tried.join(", "),
    })
}

/// Open a database file (a host path with no symlink left, see [`locate`]) for reading. It is
/// pinned and checked before it is opened: a FIFO planted in a checked root would block a plain
/// open, and a device node would be opened on the host. Anything but a regular file is refused,
/// as is a symlink (one swapped in after [`locate`] resolved the path).
fn open_regular(file: &Path) -> Result<std::fs::File, DbError> {
    crate::scan::fs::open_regular_file(file, false).map_err(|e| match e.0 {
        libc::EINVAL | libc::ELOOP => DbError::UnknownFormat {
            path: file.to_path_buf(),
            what: "not a regular file".into(),
        },
        errno => DbError::io(file, std::io::Error::from_raw_os_error(errno)),
    })
}

/// First 512 bytes of a file, `None` if it does not exist.
fn read_head(file: &Path) -> Result<Option<Vec<u8>>, DbError> {
    use std::io::Read;
    let f = match open_regular(file) {
        Ok(f) => f,
        Err(DbError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut head = Vec::with_capacity(512);
    f.take(512)
        .read_to_end(&mut head)
        .map_err(|e| DbError::io(file, e))?;
    Ok(Some(head))
}

/// Read a whole database file into memory, refusing absurd sizes.
pub(crate) fn read_file(file: &Path) -> Result<Vec<u8>, DbError> {
    use std::io::Read;
    let f = open_regular(file)?;
    let meta = f.metadata().map_err(|e| DbError::io(file, e))?;
    if meta.len() > MAX_DB_FILE_BYTES {
        return Err(DbError::UnknownFormat {
            path: file.to_path_buf(),
            what: format!(
                "file of {} bytes is larger than any rpm database",
                meta.len()
            ),
        });
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    f.take(MAX_DB_FILE_BYTES)
        .read_to_end(&mut buf)
        .map_err(|e| DbError::io(file, e))?;
    Ok(buf)
}

/// Every record of the store, in database order.
pub fn read_records(located: &Located) -> Result<Vec<RecordResult>, DbError> {
    let path = &located.file;
    let corrupt = |source| DbError::Corrupt {
        path: path.clone(),
        backend: located.backend,
        source,
    };
    match located.backend {
        Backend::Sqlite => sqlite::read(path),
        Backend::BerkeleyDb(_) => bdb::read(&read_file(path)?).map_err(corrupt),
        Backend::Ndb => ndb::read(&read_file(path)?).map_err(corrupt),
    }
}

/// An opened, fully read database.
#[derive(Debug)]
pub struct Database {
    pub located: Located,
    /// Packages in database order (`rpm -qa` order).
    pub packages: Vec<Package>,
    /// Records skipped because they were unreadable or their header is invalid.
    pub bad: Vec<BadRecord>,
}

/// Find, read and parse the database of `root`.
pub fn open(root: &Path, dbpath: Option<&Path>) -> Result<Database, DbError> {
    let located = locate(root, dbpath)?;
    open_located(located)
}

/// [`open`], judging every header's signature with `keys` (see [`trust`]).
pub fn open_with_keys(
    root: &Path,
    dbpath: Option<&Path>,
    keys: &trust::Keyring,
) -> Result<Database, DbError> {
    open_located_with_keys(locate(root, dbpath)?, Some(keys))
}

/// Read and parse a database whose location is already known.
pub fn open_located(located: Located) -> Result<Database, DbError> {
    open_located_with_keys(located, None)
}

/// [`open_located`], judging signatures when `keys` is given.
pub fn open_located_with_keys(
    located: Located,
    keys: Option<&trust::Keyring>,
) -> Result<Database, DbError> {
    let path = &located.file;
    let sink = match located.backend {
        Backend::Sqlite => sqlite::read_into(path, || Parser::new(keys))?,
        Backend::BerkeleyDb(_) | Backend::Ndb => {
            // These backends are parsed from the whole file in memory; the file buffer is
            // dropped before the headers are, and each blob once its batch is parsed.
            let records = read_records(&located)?;
            let mut p = Parser::new(keys);
            for r in records {
                p.add(r);
            }
            p
        }
    };
    let (packages, bad) = sink.finish();
    Ok(Database {
        located,
        packages,
        bad,
    })
}

/// Blob bytes parsed together: a batch of typical headers (5 to 50 KiB) keeps every thread
/// busy, while only about this much raw header data (plus one batch's parse buffers) is held at
/// a time instead of the whole database, as rpm holds one header (peak RSS, issue 15).
const BATCH_BYTES: usize = 1 << 20;
/// Records parsed together at most, for databases of many small headers.
const BATCH_RECORDS: usize = 64;

/// Turns records into packages in bounded batches, parallel within a batch, keeping the
/// database order.
struct Parser<'k> {
    keys: Option<&'k trust::Keyring>,
    batch: Vec<RecordResult>,
    batch_bytes: usize,
    packages: Vec<Package>,
    bad: Vec<BadRecord>,
}

impl<'k> Parser<'k> {
    fn new(keys: Option<&'k trust::Keyring>) -> Parser<'k> {
        Parser {
            keys,
            batch: Vec::new(),
            batch_bytes: 0,
            packages: Vec::new(),
            bad: Vec::new(),
        }
    }

    fn parse(hnum: u32, blob: &[u8], keys: Option<&trust::Keyring>) -> Result<Package, BadRecord> {
        Package::from_blob_with_keys(hnum, blob, keys).map_err(|e| BadRecord {
            hnum: Some(hnum),
            offset: None,
            reason: format!("invalid header: {e}"),
        })
    }

    fn keep(&mut self, parsed: Result<Package, BadRecord>) {
        match parsed {
            Ok(p) => self.packages.push(p),
            Err(b) => self.bad.push(b),
        }
    }

    fn flush(&mut self) {
        use rayon::prelude::*;
        let keys = self.keys;
        let parsed: Vec<Result<Package, BadRecord>> = std::mem::take(&mut self.batch)
            .into_par_iter()
            .map(|rec| rec.and_then(|r| Self::parse(r.hnum, &r.blob, keys)))
            .collect();
        self.batch_bytes = 0;
        for p in parsed {
            self.keep(p);
        }
    }

    /// Queue an owned record, parsing the batch when it is full.
    fn add(&mut self, record: RecordResult) {
        if let Ok(r) = &record {
            self.batch_bytes += r.blob.len();
        }
        self.batch.push(record);
        if self.batch_bytes >= BATCH_BYTES || self.batch.len() >= BATCH_RECORDS {
            self.flush();
        }
    }

    fn finish(mut self) -> (Vec<Package>, Vec<BadRecord>) {
        self.flush();
        self.packages.shrink_to_fit();
        (self.packages, self.bad)
    }
}

impl sqlite::RecordSink for Parser<'_> {
    fn push(&mut self, record: sqlite::RecordRef<'_>) {
        match record {
            // A header as large as a whole batch is parsed where SQLite left it, after the
            // records before it: copying it would hold it twice.
            Ok((hnum, blob)) if blob.len() >= BATCH_BYTES => {
                self.flush();
                let parsed = Self::parse(hnum, blob, self.keys);
                self.keep(parsed);
            }
            Ok((hnum, blob)) => self.add(Ok(Record {
                hnum,
                blob: blob.to_vec(),
            })),
            Err(b) => self.add(Err(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_the_database_order() {
        use sqlite::RecordSink;
        let mut p = Parser::new(None);
        let big = vec![0; BATCH_BYTES];
        // Far more records than one batch: alternately unreadable and invalid headers, with
        // some as large as a batch (parsed in place).
        for h in 1..=3 * BATCH_RECORDS as u32 {
            p.push(match h % 2 {
                0 if h % 10 == 0 => Ok((h, &big[..])),
                0 => Ok((h, &[0u8; 12][..])),
                _ => Err(BadRecord {
                    hnum: Some(h),
                    offset: None,
                    reason: "unreadable".into(),
                }),
            });
        }
        let (packages, bad) = p.finish();
        assert!(packages.is_empty());
        let order: Vec<Option<u32>> = bad.iter().map(|b| b.hnum).collect();
        let want: Vec<Option<u32>> = (1..=3 * BATCH_RECORDS as u32).map(Some).collect();
        assert_eq!(order, want);
        assert!(bad[1].reason.starts_with("invalid header: "), "{}", bad[1]);
    }

    #[test]
    fn sniff_each_backend() {
        assert_eq!(sniff(b"SQLite format 3\0rest"), Some(Backend::Sqlite));
        assert_eq!(sniff(b"RpmP\0\0\0\0"), Some(Backend::Ndb));
        let mut le = vec![0u8; 16];
        le[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
        assert_eq!(sniff(&le), Some(Backend::BerkeleyDb(Endian::Little)));
        let mut be = vec![0u8; 16];
        be[12..16].copy_from_slice(&0x0006_1561u32.to_be_bytes());
        assert_eq!(sniff(&be), Some(Backend::BerkeleyDb(Endian::Big)));
        assert_eq!(sniff(b"short"), None);
        assert_eq!(sniff(&[0u8; 64]), None);
    }
}
