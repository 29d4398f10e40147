//! rpm's sqlite backend (`rpmdb.sqlite`, `lib/backend/sqlite.cc`), read through `rusqlite`.
//!
//! It reads `SELECT hnum, blob FROM Packages` (rpm's own query, rowid order). It must **never
//! change anything next to the database**: no read-write open of the original, no `-shm`, `-wal`
//! or `-journal` created or removed, no checkpoint, no hot-journal rollback (go-rpmdb #56/#57).
//!
//! - With no sidecar content (no `-wal` or an empty one, no non-empty `-journal`) the file is opened
//!   as `file:...?mode=ro&immutable=1`: SQLite then takes no locks and touches no other file.
//! - Otherwise `immutable=1` would be wrong (it ignores the WAL and silently returns stale data,
//!   spec 4.5; it would read a half-written file under a hot journal). The database and its
//!   `-wal`/`-journal` are copied to a private temporary directory and the copy is opened there, so
//!   SQLite replays the WAL or rolls the journal back on the copy only.
//!
//! Sizes and modification times of the database and its sidecars are compared before and after a
//! read; if a live rpm changed them meanwhile, the read is retried a few times.
//!
//! Per-row problems (an `hnum` that is not a u32, a `blob` that is not a BLOB) are [`BadRecord`]s;
//! a missing table, a wrong schema or a damaged file is a [`DbError::Sqlite`] naming the file.

use super::{BadRecord, DbError, Record, RecordResult};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long to wait for a lock held by a writer before giving up (rpm uses 10 s too).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reads attempted while the database keeps changing underneath.
const MAX_ATTEMPTS: usize = 3;
/// Sidecar files whose content SQLite would apply to the database.
const SIDECARS: [&str; 2] = ["-wal", "-journal"];

/// Every record of `Packages`, in rowid order (`rpm -qa` order).
pub fn read(path: &Path) -> Result<Vec<RecordResult>, DbError> {
    read_into(path, Vec::new)
}

/// A row as read: its header instance and its blob, still in SQLite's buffer.
pub type RecordRef<'a> = Result<(u32, &'a [u8]), BadRecord>;

/// Where [`read_into`] hands each record, in rowid order, as soon as it is read.
pub trait RecordSink {
    fn push(&mut self, record: RecordRef<'_>);
}

impl RecordSink for Vec<RecordResult> {
    fn push(&mut self, record: RecordRef<'_>) {
        Vec::push(
            self,
            record.map(|(hnum, blob)| Record {
                hnum,
                blob: blob.to_vec(),
            }),
        );
    }
}

/// [`read`], handing each record to a sink instead of keeping every blob: a caller that parses
/// and drops each blob holds one at a time. A read retried because the database changed starts
/// over with a fresh sink from `new_sink`.
pub fn read_into<S: RecordSink>(path: &Path, new_sink: impl Fn() -> S) -> Result<S, DbError> {
    let mut last_change = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let before = Snapshot::take(path)?;
        let result = read_once(path, &before, new_sink());
        let after = Snapshot::take(path)?;
        if before == after {
            return result;
        }
        last_change = before.describe_change(&after);
    }
    Err(sqlite_err(
        path,
        format!("database kept changing while being read ({last_change}); try again"),
    ))
}

/// Size and modification time of the database and its sidecars.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    db: FileState,
    sidecars: [Option<FileState>; SIDECARS.len()],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileState {
    len: u64,
    mtime: Option<SystemTime>,
}

impl FileState {
    fn of(path: &Path) -> Result<Option<FileState>, DbError> {
        // Not following a symlink: the database's path has none left (`super::locate`), and a
        // sidecar that is one (or a FIFO, a device) is nothing rpm writes.
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.is_file() => Err(sqlite_err(path, "not a regular file")),
            Ok(m) => Ok(Some(FileState {
                len: m.len(),
                mtime: m.modified().ok(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DbError::io(path, e)),
        }
    }
}

impl Snapshot {
    fn take(path: &Path) -> Result<Snapshot, DbError> {
        let db = FileState::of(path)?
            .ok_or_else(|| DbError::io(path, std::io::Error::from(std::io::ErrorKind::NotFound)))?;
        let mut sidecars = [None; SIDECARS.len()];
        for (slot, suffix) in sidecars.iter_mut().zip(SIDECARS) {
            *slot = FileState::of(&sidecar(path, suffix))?;
        }
        Ok(Snapshot { db, sidecars })
    }

    /// Whether SQLite would need a sidecar file to read the database correctly.
    fn needs_sidecars(&self) -> bool {
        self.sidecars.iter().flatten().any(|s| s.len > 0)
    }

    fn describe_change(&self, after: &Snapshot) -> String {
        let mut changed = Vec::new();
        if self.db != after.db {
            changed.push("database");
        }
        for ((b, a), suffix) in self.sidecars.iter().zip(&after.sidecars).zip(SIDECARS) {
            if b != a {
                changed.push(suffix);
            }
        }
        format!("changed: {}", changed.join(", "))
    }
}

/// `<path><suffix>`, e.g. `rpmdb.sqlite-wal`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

fn sqlite_err(path: &Path, message: impl Into<String>) -> DbError {
    DbError::Sqlite {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_once<S: RecordSink>(path: &Path, snap: &Snapshot, sink: S) -> Result<S, DbError> {
    if snap.db.len == 0 {
        return Err(sqlite_err(path, "empty file, not a database"));
    }
    check_length(path, snap.db.len)?;
    if !snap.needs_sidecars() {
        // SQLite opens by path. With NOFOLLOW it refuses a symbolic link anywhere in the path,
        // so a link swapped in since the path was resolved inside the root is refused instead
        // of followed out of it; the directory is given with the host's own links (a --root
        // reached through a symlink) already resolved, since those are the administrator's.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let real = real_directory(path).map_err(|e| DbError::io(path, e))?;
        let uri = file_uri(&real, "mode=ro&immutable=1").map_err(|e| DbError::io(path, e))?;
        let conn = Connection::open_with_flags(uri, flags)
            .map_err(|e| sqlite_err(path, format!("cannot open: {e}")))?;
        return query(&conn, path, sink);
    }

    // Pending WAL frames or a hot journal: let SQLite apply them to a private copy.
    let dir = tempfile::Builder::new()
        .prefix("quietwire-rpmdb-")
        .tempdir()
        .map_err(|e| DbError::io(&std::env::temp_dir(), e))?;
    let copy = dir.path().join("rpmdb.sqlite");
    copy_private(path, &copy)?;
    for suffix in SIDECARS {
        match copy_private(&sidecar(path, suffix), &sidecar(&copy, suffix)) {
            Err(DbError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    // Read-write so that SQLite may recover the WAL index or roll back the journal, in `dir` only.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let uri = file_uri(&copy, "mode=rw").map_err(|e| DbError::io(&copy, e))?;
    let conn = Connection::open_with_flags(uri, flags).map_err(|e| {
        sqlite_err(
            path,
            format!("cannot open a copy with its WAL/journal: {e}"),
        )
    })?;
    let result = query(&conn, path, sink);
    drop(conn);
    // `dir` is removed when it goes out of scope; a failure to remove it is not the caller's problem.
    result
}

/// `path` with its directory's symbolic links resolved on the host; the file name is kept as it is.
fn real_directory(path: &Path) -> std::io::Result<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(path.to_path_buf());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Ok(std::fs::canonicalize(dir)?.join(name))
}

/// SQLite reads a truncated file without complaint as long as the pages it needs are there, so a
/// cut-off database could list fewer packages silently. The file header says how long the file
/// must be: whole pages, and at least the page count recorded with the last write (trusted only
/// when the change counter at 24 equals the version-valid-for field at 92).
fn check_length(path: &Path, len: u64) -> Result<(), DbError> {
    use std::io::Read;
    let mut header = [0u8; 100];
    let f = super::open_regular(path)?;
    // SQLite reads the pages one at a time, most of them in file order: on a cold cache,
    // queueing the whole file now turns thousands of small waits into one.
    crate::scan::fs::advise_willneed(&f, 0, len);
    f.take(100).read_exact(&mut header).map_err(|e| {
        sqlite_err(
            path,
            format!("not a database (cannot read a 100-byte header: {e})"),
        )
    })?;
    if !header.starts_with(b"SQLite format 3\0") {
        return Err(sqlite_err(path, "not a database (no SQLite header)"));
    }
    let h = super::bytes::Bytes(&header);
    let be = super::Endian::Big;
    let corrupt = |e: super::FormatError| sqlite_err(path, e.to_string());
    let page_size = match h.u16_at(16, be).map_err(corrupt)? {
        1 => 65536,
        n => u64::from(n),
    };
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return Err(sqlite_err(
            path,
            format!("invalid page size {page_size} in the file header"),
        ));
    }
    if !len.is_multiple_of(page_size) {
        return Err(sqlite_err(
            path,
            format!("truncated: {len} bytes is not a whole number of {page_size}-byte pages"),
        ));
    }
    let counter = h.u32_at(24, be).map_err(corrupt)?;
    let pages = u64::from(h.u32_at(28, be).map_err(corrupt)?);
    let valid_for = h.u32_at(92, be).map_err(corrupt)?;
    if counter == valid_for && pages * page_size > len {
        return Err(sqlite_err(
            path,
            format!("truncated: the header records {pages} pages of {page_size} bytes but the file has {len} bytes"),
        ));
    }
    Ok(())
}

/// Copy `src` to the new file `dst`, owner-writable whatever the source mode (a read-only copy
/// could not have its journal rolled back). `src` is opened as the database is (regular files
/// only, no symlink followed): a planted `-wal` cannot make the copy read a FIFO or the host.
fn copy_private(src: &Path, dst: &Path) -> Result<(), DbError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut from = super::open_regular(src)?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)
        .map_err(|e| DbError::io(dst, e))?;
    // Exactly owner-writable, whatever the umask took away at creation.
    to.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| DbError::io(dst, e))?;
    std::io::copy(&mut from, &mut to).map_err(|e| DbError::io(src, e))?;
    Ok(())
}

/// A `file:` URI for `path` with every byte outside the unreserved set percent-encoded, so that
/// `?`, `#`, `%` and non-UTF-8 bytes in the path cannot be taken for URI syntax.
fn file_uri(path: &Path, query: &str) -> std::io::Result<String> {
    let abs = std::path::absolute(path)?;
    let mut uri = String::from("file://");
    for &b in abs.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push('?');
    uri.push_str(query);
    Ok(uri)
}

/// Check the schema, then read every row.
fn query<S: RecordSink>(conn: &Connection, path: &Path, mut sink: S) -> Result<S, DbError> {
    let err = |what: &str, e: rusqlite::Error| sqlite_err(path, format!("{what}: {e}"));
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| err("cannot set busy timeout", e))?;
    // Belt and braces: no statement of ours may write.
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| err("cannot set query_only", e))?;
    // One pass over the table reads each page once: SQLite's default 2 MiB page cache would only
    // add to the peak memory (issue 15). Negative: a size in KiB.
    conn.pragma_update(None, "cache_size", -128)
        .map_err(|e| err("cannot set cache_size", e))?;

    let columns = packages_columns(conn).map_err(|e| err("cannot read the schema", e))?;
    if columns.is_empty() {
        return Err(sqlite_err(path, "no Packages table"));
    }
    for want in ["hnum", "blob"] {
        if !columns.iter().any(|c| c.eq_ignore_ascii_case(want)) {
            return Err(sqlite_err(
                path,
                format!(
                    "Packages table has no {want} column (columns: {})",
                    columns.join(", ")
                ),
            ));
        }
    }

    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages")
        .map_err(|e| err("cannot query Packages", e))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| err("cannot query Packages", e))?;
    while let Some(row) = rows.next().map_err(|e| err("reading Packages failed", e))? {
        let hnum = row.get_ref(0).map_err(|e| err("reading hnum failed", e))?;
        let blob = row.get_ref(1).map_err(|e| err("reading blob failed", e))?;
        sink.push(record(hnum, blob));
    }
    Ok(sink)
}

/// Column names of the `Packages` table; empty if there is no such table.
fn packages_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('Packages')")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    names.collect()
}

fn record<'a>(hnum: ValueRef<'_>, blob: ValueRef<'a>) -> RecordRef<'a> {
    let hnum = match hnum {
        ValueRef::Integer(i) => match u32::try_from(i) {
            Ok(h) if h != 0 => h,
            _ => {
                return Err(bad(
                    None,
                    format!("hnum {i} is not a header instance (1..=4294967295)"),
                ))
            }
        },
        other => {
            return Err(bad(
                None,
                format!("hnum holds {} instead of an integer", type_name(other)),
            ))
        }
    };
    match blob {
        ValueRef::Blob(b) => Ok((hnum, b)),
        other => Err(bad(
            Some(hnum),
            format!("blob column holds {} instead of a BLOB", type_name(other)),
        )),
    }
}

fn bad(hnum: Option<u32>, reason: String) -> BadRecord {
    BadRecord {
        hnum,
        offset: None,
        reason,
    }
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an INTEGER",
        ValueRef::Real(_) => "a REAL",
        ValueRef::Text(_) => "TEXT",
        ValueRef::Blob(_) => "a BLOB",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_special_characters() {
        let uri = file_uri(Path::new("/tmp/a b/x?y#z%&=.sqlite"), "mode=ro").unwrap_or_default();
        assert_eq!(uri, "file:///tmp/a%20b/x%3Fy%23z%25%26%3D.sqlite?mode=ro");
        let uri = file_uri(Path::new("//srv/db"), "mode=ro").unwrap_or_default();
        assert_eq!(uri, "file:////srv/db?mode=ro");
    }

    #[test]
    fn rows_of_the_wrong_type_are_bad_records() {
        assert!(record(ValueRef::Integer(1), ValueRef::Blob(b"x")).is_ok());
        let e = record(ValueRef::Integer(1), ValueRef::Text(b"x")).err();
        assert_eq!(e.and_then(|b| b.hnum), Some(1));
        for h in [0, -1, 1 << 32] {
            let e = record(ValueRef::Integer(h), ValueRef::Blob(b"x")).err();
            assert!(e.is_some_and(|b| b.hnum.is_none()), "hnum {h}");
        }
        assert!(record(ValueRef::Null, ValueRef::Blob(b"x")).is_err());
    }
}
