//! The baseline file: JSON Lines, sorted by path, with a header and a SHA-256 trailer.
//!
//! ```text
//! {"format":"quietwire-baseline","version":2,"created":…,"host":…,"policy_digest":…,"packages":[…]}
//! {"path":"/etc/hosts","type":"file","mode":420,"uid":0,"gid":0,"size":158,"mtime":…,"ino":…,"ctime":…,"sha256":…}
//! …
//! {"trailer":{"entries":N,"sha256":"<hex of every byte above this line>"}}
//! ```
//!
//! Version 2 added `ctime` (status change time in nanoseconds, for `--trust-ctime`); version 1
//! files (without it) are still read, and an older build refuses a version 2 file by its header.
//!
//! Paths, link targets and SELinux labels are JSON strings when they are UTF-8 without NUL, and
//! `{"hex":"…"}` otherwise, so every name round-trips byte-exactly. Entries are strictly increasing
//! in `Path` order (component-wise, bytes), the order the walk produces.
//!
//! The file is untrusted: every line is bounded, every field checked, order enforced, and the
//! trailer must match; any problem is a [`BaselineError::Corrupt`] naming the file and line.
//! Writes are atomic (temp file in the same directory, fsync, rename, fsync directory) and keep
//! the previous file as `<name>.prev`.

use crate::pkgdb::PackageSnapshot;
pub use crate::scan::record::{valid_record_path, Bytes, Record};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub const FORMAT_NAME: &str = "quietwire-baseline";
pub const FORMAT_VERSION: u32 = 2;
/// Oldest format version this build still reads.
pub const MIN_FORMAT_VERSION: u32 = 1;

/// Longest entry or trailer line accepted. The walk descends 256 levels by `openat`, past
/// PATH_MAX, so a path can be 256 names of 255 bytes (65 KiB), and JSON writes a control byte
/// as six (`\u0001`): about 400 KB; a link target and an SELinux label add at most as much
/// again. A bound below that let a planted tree make the writer emit a line the reader then
/// refused, breaking every later check. The writer refuses a longer line.
pub const MAX_LINE: usize = 2 << 20;
/// Longest header line accepted (the package snapshot: ~150 bytes per package).
pub const MAX_HEADER_LINE: usize = 64 << 20;

const TRAILER_PREFIX: &[u8] = b"{\"trailer\":";

/// Why a baseline could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// No baseline at this location: `quietwire init` creates one.
    #[error("{}: no baseline (create one with `quietwire init`)", file.display())]
    NotFound { file: PathBuf },
    #[error("{}: a baseline already exists (use --force to replace it)", file.display())]
    Exists { file: PathBuf },
    /// Another `init`/`accept` held the writers' lock for the whole wait.
    #[error("{}: another quietwire run is writing the baseline (lock held for {secs} s)", file.display())]
    Locked { file: PathBuf, secs: u64 },
    #[error("{}: line {line}: {what}", file.display())]
    Corrupt {
        file: PathBuf,
        line: u64,
        what: String,
    },
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The checked root (or a watched tree) could not be opened at all.
    #[error("{}: {source}", root.display())]
    Root {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An `accept` pattern is not a valid glob.
    #[error("invalid pattern {pattern:?}: {what}")]
    Pattern { pattern: String, what: String },
}

impl BaselineError {
    pub fn io(file: &Path, source: io::Error) -> BaselineError {
        BaselineError::Io {
            file: file.to_path_buf(),
            source,
        }
    }
}

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// Creation time of this file (seconds since the epoch, UTC).
    pub created: i64,
    /// Host name of the machine that wrote it.
    pub host: String,
    /// The checked root, as given (`/` for the running system).
    pub root: Bytes,
    /// `Policy::digest()` of the policy in force when it was written.
    pub policy_digest: String,
    /// The rpmdb package set when it was written.
    pub packages: Vec<PackageSnapshot>,
    /// The verified-state cache of package-owned files written beside this baseline
    /// (`--trust-ctime`), pinned by its SHA-256 so the baseline's digest and signature cover it.
    /// Absent in baselines written without one (and in every older baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_cache: Option<super::owned_cache::CacheRef>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    entries: u64,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrailerLine {
    trailer: Trailer,
}

/// Streaming reader: the header at open, then records in order; the trailer is checked when
/// the last record has been read (so a caller must read to the end before trusting anything).
pub struct Reader<R> {
    input: R,
    file: PathBuf,
    line: u64,
    hasher: Sha256,
    entries: u64,
    last: Option<PathBuf>,
    header: Header,
    done: bool,
    buf: Vec<u8>,
}

/// A baseline file that hashes every byte read from it, so that the digest a pin or signature is
/// checked against is the digest of exactly the bytes parsed from this one descriptor (a rename
/// between a separate hashing open and the parse cannot substitute another baseline).
pub struct HashingFile {
    file: File,
    hasher: Sha256,
}

impl Read for HashingFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Open a baseline for reading like any untrusted file: not through a symlink, not blocking (a
/// FIFO), a regular file only. A missing file is [`BaselineError::NotFound`].
fn open_baseline(file: &Path) -> Result<File, BaselineError> {
    // Pinned and checked before it is opened: a device node planted there is never opened.
    crate::scan::fs::open_regular_file(file, false).map_err(|e| match e.0 {
        libc::ENOENT => BaselineError::NotFound {
            file: file.to_path_buf(),
        },
        libc::EINVAL => BaselineError::Corrupt {
            file: file.to_path_buf(),
            line: 0,
            what: "not a regular file".into(),
        },
        errno => BaselineError::io(file, io::Error::from_raw_os_error(errno)),
    })
}

/// The SHA-256 (hex) of a baseline file, opened as [`Reader::open`] does.
pub fn file_sha256(file: &Path) -> Result<String, BaselineError> {
    let mut f = HashingFile {
        file: open_baseline(file)?,
        hasher: Sha256::new(),
    };
    io::copy(&mut f, &mut io::sink()).map_err(|e| BaselineError::io(file, e))?;
    Ok(hex::encode(f.hasher.finalize()))
}

/// A baseline being read from its file.
pub type FileReader = Reader<BufReader<HashingFile>>;

/// Test hook, read only when this clearly test-named variable is set: a directory in which the
/// reader creates `waiting` just before it opens the baseline, then waits (up to 10 s) for `go`,
/// so that a test can replace the baseline after `check` hashed it for its pin and before the
/// records are read.
const TEST_PAUSE_ENV: &str = "QW_TEST_PAUSE_BEFORE_BASELINE_READ";

fn test_pause() {
    let Some(dir) = std::env::var_os(TEST_PAUSE_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let _ = std::fs::write(dir.join("waiting"), b"");
    let start = std::time::Instant::now();
    while !dir.join("go").exists() && start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Reader<BufReader<HashingFile>> {
    /// The SHA-256 of the whole file, once it has been read to its verified trailer (and end).
    pub fn file_sha256(&self) -> Option<String> {
        self.done
            .then(|| hex::encode(self.input.get_ref().hasher.clone().finalize()))
    }

    /// Open a baseline file. A missing file is [`BaselineError::NotFound`].
    pub fn open(file: &Path) -> Result<FileReader, BaselineError> {
        test_pause();
        Self::open_now(file)
    }

    /// The header and the SHA-256 of the whole file, read to its verified trailer through one
    /// descriptor (what a pin or signature is checked against), without the test pause.
    pub fn verified_header(file: &Path) -> Result<(Header, String), BaselineError> {
        let mut r = Self::open_now(file)?;
        while r.next_record()?.is_some() {}
        let sha = r.file_sha256().unwrap_or_default();
        Ok((r.header, sha))
    }

    /// Only the header, for warnings about the file; not the read the check compares against,
    /// so the test pause (which marks that read) is not taken.
    pub fn peek_header(file: &Path) -> Result<Header, BaselineError> {
        Ok(Self::open_now(file)?.header().clone())
    }

    fn open_now(file: &Path) -> Result<FileReader, BaselineError> {
        let f = open_baseline(file)?;
        let f = HashingFile {
            file: f,
            hasher: Sha256::new(),
        };
        Reader::new(BufReader::with_capacity(256 * 1024, f), file)
    }
}

impl<R: BufRead> Reader<R> {
    /// Read a baseline from any buffered input; `file` names it in errors.
    pub fn new(input: R, file: &Path) -> Result<Reader<R>, BaselineError> {
        let mut r = Reader {
            input,
            file: file.to_path_buf(),
            line: 0,
            hasher: Sha256::new(),
            entries: 0,
            last: None,
            header: Header {
                format: String::new(),
                version: 0,
                created: 0,
                host: String::new(),
                root: Bytes(Vec::new()),
                policy_digest: String::new(),
                packages: Vec::new(),
                owned_cache: None,
            },
            done: false,
            buf: Vec::new(),
        };
        if !r.read_line(MAX_HEADER_LINE)? {
            return Err(r.corrupt("empty file: no header"));
        }
        r.hasher.update(&r.buf);
        let header: Header =
            serde_json::from_slice(&r.buf).map_err(|e| r.corrupt(format!("bad header: {e}")))?;
        if header.format != FORMAT_NAME {
            return Err(r.corrupt(format!(
                "not a quietwire baseline (format {:?})",
                header.format
            )));
        }
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&header.version) {
            return Err(r.corrupt(format!(
                "baseline format version {} is not supported (this build reads versions {MIN_FORMAT_VERSION} to {FORMAT_VERSION}; a newer quietwire wrote it, or run `quietwire init --force`)",
                header.version
            )));
        }
        r.header = header;
        Ok(r)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    fn corrupt(&self, what: impl Into<String>) -> BaselineError {
        BaselineError::Corrupt {
            file: self.file.clone(),
            line: self.line,
            what: what.into(),
        }
    }

    /// Read one `\n`-terminated line (kept with its newline) into `buf`, at most `max` bytes.
    /// `Ok(false)` at a clean end of file.
    fn read_line(&mut self, max: usize) -> Result<bool, BaselineError> {
        self.buf.clear();
        self.line += 1;
        let n = (&mut self.input)
            .take(max as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| BaselineError::io(&self.file, e))?;
        if n == 0 {
            return Ok(false);
        }
        if self.buf.last() != Some(&b'\n') {
            return Err(if n > max {
                self.corrupt(format!("line longer than {max} bytes"))
            } else {
                self.corrupt("truncated: last line has no newline (no trailer)")
            });
        }
        Ok(true)
    }

    /// The next record, `Ok(None)` after a valid trailer.
    pub fn next_record(&mut self) -> Result<Option<Record>, BaselineError> {
        if self.done {
            return Ok(None);
        }
        if !self.read_line(MAX_LINE)? {
            return Err(self.corrupt("truncated: end of file before the trailer"));
        }
        if self.buf.starts_with(TRAILER_PREFIX) {
            let t: TrailerLine = serde_json::from_slice(&self.buf)
                .map_err(|e| self.corrupt(format!("bad trailer: {e}")))?;
            let digest = hex::encode(self.hasher.clone().finalize());
            if t.trailer.entries != self.entries {
                return Err(self.corrupt(format!(
                    "trailer counts {} entries, file has {}",
                    t.trailer.entries, self.entries
                )));
            }
            if t.trailer.sha256 != digest {
                return Err(self.corrupt(
                    "checksum mismatch: the baseline was modified or damaged after it was written",
                ));
            }
            let mut rest = [0u8; 1];
            let extra = self
                .input
                .read(&mut rest)
                .map_err(|e| BaselineError::io(&self.file, e))?;
            if extra != 0 {
                self.line += 1;
                return Err(self.corrupt("data after the trailer"));
            }
            self.done = true;
            return Ok(None);
        }
        self.hasher.update(&self.buf);
        let rec: Record = serde_json::from_slice(&self.buf)
            .map_err(|e| self.corrupt(format!("bad entry: {e}")))?;
        rec.validate().map_err(|e| self.corrupt(e))?;
        let path = rec.path();
        if let Some(last) = &self.last {
            if *last >= path {
                return Err(self.corrupt(format!(
                    "entries out of order or duplicated ({} after {})",
                    crate::escape::escape_path(&path),
                    crate::escape::escape_path(last)
                )));
            }
        }
        self.last = Some(path);
        self.entries += 1;
        Ok(Some(rec))
    }

    /// Line number of the last line read (for messages).
    pub fn line(&self) -> u64 {
        self.line
    }
}

/// `Write` adapter that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a new baseline next to its final location and puts it in place atomically.
pub struct Writer {
    out: HashingWriter<BufWriter<tempfile::NamedTempFile>>,
    file: PathBuf,
    entries: u64,
    last: Option<PathBuf>,
}

impl Writer {
    /// Start writing `file` (a temp file in its directory; the directory is created with mode
    /// 0700 if missing).
    pub fn create(file: &Path, header: &Header) -> Result<Writer, BaselineError> {
        let dir = parent_dir(file);
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| BaselineError::io(&dir, e))?;
            // `mode` above is filtered by the umask; the promise is 0700.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| BaselineError::io(&dir, e))?;
        }
        let tmp = tempfile::Builder::new()
            .prefix(".baseline.")
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(&dir)
            .map_err(|e| BaselineError::io(&dir, e))?;
        let mut w = Writer {
            out: HashingWriter {
                inner: BufWriter::with_capacity(256 * 1024, tmp),
                hasher: Sha256::new(),
            },
            file: file.to_path_buf(),
            entries: 0,
            last: None,
        };
        w.line(header, MAX_HEADER_LINE)?;
        Ok(w)
    }

    /// Write `v` as one line of at most `limit` bytes (the reader's limit for that line).
    fn line<T: Serialize>(&mut self, v: &T, limit: usize) -> Result<(), BaselineError> {
        let file = self.file.clone();
        let mut text =
            serde_json::to_vec(v).map_err(|e| BaselineError::io(&file, io::Error::other(e)))?;
        // Never write what `Reader` would refuse: the baseline would be unreadable for good.
        if text.len() > limit {
            return Err(BaselineError::io(
                &file,
                io::Error::other(format!(
                    "internal error: a line of {} bytes, over the {limit}-byte limit",
                    text.len()
                )),
            ));
        }
        text.push(b'\n');
        self.out
            .write_all(&text)
            .map_err(|e| BaselineError::io(&file, e))
    }

    /// Append a record; records must come in strictly increasing path order.
    pub fn record(&mut self, r: &Record) -> Result<(), BaselineError> {
        let path = r.path();
        if self.last.as_ref().is_some_and(|l| *l >= path) {
            return Err(BaselineError::io(
                &self.file,
                io::Error::other(format!(
                    "internal error: record {} written out of order",
                    crate::escape::escape_path(&path)
                )),
            ));
        }
        self.line(r, MAX_LINE)?;
        self.last = Some(path);
        self.entries += 1;
        Ok(())
    }

    /// Write the trailer, flush and fsync, keep the old file as `<name>.prev`, rename into place
    /// and fsync the directory. Returns the number of records.
    pub fn finish(mut self) -> Result<u64, BaselineError> {
        let file = self.file.clone();
        let ioe = |e: io::Error| BaselineError::io(&file, e);
        let trailer = TrailerLine {
            trailer: Trailer {
                entries: self.entries,
                sha256: hex::encode(self.out.hasher.clone().finalize()),
            },
        };
        serde_json::to_writer(&mut self.out.inner, &trailer)
            .map_err(|e| ioe(io::Error::other(e)))?;
        self.out.inner.write_all(b"\n").map_err(ioe)?;
        let tmp = self
            .out
            .inner
            .into_inner()
            .map_err(|e| ioe(e.into_error()))?;
        tmp.as_file().sync_all().map_err(ioe)?;
        keep_previous(&file)?;
        tmp.persist(&file).map_err(|e| ioe(e.error))?;
        let dir = parent_dir(&file);
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| BaselineError::io(&dir, e))?;
        Ok(self.entries)
    }
}

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `<file>.prev`.
pub fn prev_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_os_string();
    s.push(".prev");
    PathBuf::from(s)
}

/// Make `<file>.prev` a copy of the current baseline, atomically, before it is replaced: a hard
/// link under a temporary name renamed over `.prev`, so that at every moment both a baseline and
/// (after the first write) a previous one exist.
fn keep_previous(file: &Path) -> Result<(), BaselineError> {
    match std::fs::symlink_metadata(file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BaselineError::io(file, e)),
    }
    let prev = prev_path(file);
    let mut tmp = prev.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(file, &tmp).is_err() {
        // File systems without hard links: a copy is as good, only slower.
        std::fs::copy(file, &tmp).map_err(|e| BaselineError::io(&tmp, e))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| BaselineError::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, &prev).map_err(|e| {
        // The link under the temporary name would outlive the failed run otherwise.
        let _ = std::fs::remove_file(&tmp);
        BaselineError::io(&prev, e)
    })
}

/// Current time in seconds since the epoch (0 if the clock is before it).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::capture::FileType;

    fn header() -> Header {
        Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            created: 1,
            host: "h".into(),
            root: Bytes(b"/".to_vec()),
            policy_digest: "d".into(),
            packages: vec![],
            owned_cache: None,
        }
    }

    fn rec(path: &[u8]) -> Record {
        Record {
            path: Bytes(path.to_vec()),
            ftype: FileType::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            mtime: 2,
            ino: 3,
            ctime: Some(4),
            rdev: None,
            sha256: Some("00".repeat(32)),
            target: None,
            selinux: None,
            caps: None,
            package: None,
            reason: None,
        }
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Record>, BaselineError> {
        let mut r = Reader::new(io::Cursor::new(bytes), Path::new("/x/baseline"))?;
        let mut v = Vec::new();
        while let Some(rec) = r.next_record()? {
            v.push(rec);
        }
        Ok(v)
    }

    fn write(dir: &Path, recs: &[Record]) -> Vec<u8> {
        let f = dir.join("baseline");
        let mut w = Writer::create(&f, &header()).unwrap();
        for r in recs {
            w.record(r).unwrap();
        }
        w.finish().unwrap();
        std::fs::read(&f).unwrap()
    }

    #[test]
    fn round_trip_with_odd_names() {
        let t = tempfile::tempdir().unwrap();
        let recs = vec![
            rec(b"/a"),
            rec(b"/a/b"),
            rec(b"/a/b\nc"),
            rec(b"/a-b"),
            rec(b"/x\xff\x1b[2J"),
        ];
        let bytes = write(t.path(), &recs);
        assert_eq!(read_all(&bytes).unwrap(), recs);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(r#"{"hex":"2f78ff1b5b324a"}"#), "{text}");
        // Second write keeps the first as .prev.
        let bytes2 = write(t.path(), &recs[..1]);
        assert_eq!(
            std::fs::read(t.path().join("baseline.prev")).unwrap(),
            bytes
        );
        assert_eq!(read_all(&bytes2).unwrap().len(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "no temp files left: {leftovers:?}");
    }

    #[test]
    fn damage_is_detected_with_line_numbers() {
        let t = tempfile::tempdir().unwrap();
        let bytes = write(t.path(), &[rec(b"/a"), rec(b"/b"), rec(b"/c")]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let err = |b: &[u8]| read_all(b).unwrap_err().to_string();

        // Truncated anywhere.
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            let e = err(&bytes[..cut]);
            assert!(e.starts_with("/x/baseline: line "), "{cut}: {e}");
        }
        // A whole line removed (the trailer line is intact).
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let dropped: String = [lines[0], lines[1], lines[3], lines[4]].concat();
        assert!(err(dropped.as_bytes()).contains("line 4: trailer counts 3"));
        // An edited value.
        let edited = text.replace("\"mode\":420", "\"mode\":2541");
        assert!(err(edited.as_bytes()).contains("checksum mismatch"));
        // Order.
        let swapped: String = [lines[0], lines[2], lines[1], lines[3], lines[4]].concat();
        assert!(err(swapped.as_bytes()).contains("line 3: entries out of order"));
        // Garbage after the trailer.
        let mut more = bytes.clone();
        more.extend_from_slice(b"x");
        assert!(err(&more).contains("data after the trailer"));
        // Not a baseline at all.
        assert!(err(b"hello\n").contains("line 1: bad header"));
        assert!(err(b"").contains("line 1: empty file"));
    }

    #[test]
    fn invalid_fields_are_rejected() {
        let h = serde_json::to_string(&header()).unwrap();
        for (line, want) in [
            (
                r#"{"path":"rel","type":"file","mode":1,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0}"#,
                "absolute",
            ),
            (
                r#"{"path":"/a/../b","type":"file","mode":1,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0}"#,
                "absolute",
            ),
            (
                r#"{"path":"/a\u0000","type":"file","mode":1,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0}"#,
                "NUL",
            ),
            (
                r#"{"path":"/a","type":"file","mode":99999,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0}"#,
                "mode",
            ),
            (
                r#"{"path":"/a","type":"dir","mode":1,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0,"sha256":"zz"}"#,
                "sha256",
            ),
            (
                r#"{"path":"/a","type":"file","mode":1,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0,"extra":1}"#,
                "unknown field",
            ),
            (
                r#"{"path":{"hex":"zz"},"type":"file","mode":1,"uid":0,"gid":0,"size":0,"mtime":0,"ino":0}"#,
                "bad entry",
            ),
        ] {
            let doc = format!("{h}\n{line}\n");
            let e = read_all(doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("line 2") && e.contains(want), "{line}: {e}");
        }
    }
}
