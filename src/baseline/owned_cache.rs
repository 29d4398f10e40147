//! The file of the verified-state cache of package-owned files (`--trust-ctime`; the cache
//! itself, as verification consults it, is `crate::scan::verified::OwnedCache`): for each regular file
//! whose content and file capabilities last matched its rpmdb header, the device, inode, size,
//! mtime and ctime it had just before it was read. `check --trust-ctime` takes the digest and
//! the capabilities as matching, without reading either, when all five are unchanged; anything
//! else is read as usual.
//!
//! What this trusts: that a change of content or xattrs moves the ctime. Writing a file,
//! `setxattr` and `utimensat` all set the ctime to the current time, and nothing but changing
//! the system clock (root) sets it back; an mtime reset by `touch -d` still shows. A file system that can be modified
//! underneath the kernel (raw block device writes, an image mounted elsewhere) defeats it.
//!
//! Entries are keyed by the package's verified SHA256HEADER and the file's index in that
//! header: a package update or reinstall under a different header invalidates them, and a
//! header whose digest tag does not match its data (or that has none) is never cached. The
//! whole cache records the root path, device, inode and file system it was taken on and is
//! ignored (with a note) under any other. Its SHA-256 is recorded in the baseline header, so the
//! baseline's pin and signature cover it; a cache that does not match is refused.
//!
//! File: `<baseline>.owned-cache`, JSON Lines: one header line, then one line per package
//! `{"h":"<sha256 header>","f":[[index,dev,ino,size,mtime_ns,ctime_ns],…]}`. Untrusted input:
//! lines and counts are bounded, and the digest is checked before anything is parsed.

use super::format::{BaselineError, Bytes};
use crate::scan::fs::RootIdentity;
use crate::scan::verified::{FileKey, OwnedCache, Verified};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const FORMAT_NAME: &str = "quietwire-owned-cache";
const FORMAT_VERSION: u32 = 1;
/// Largest cache file read (about 70 bytes per file: room for some 15 million files).
const MAX_FILE: u64 = 1 << 30;

/// The baseline header's record of the cache written with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRef {
    /// SHA-256 (hex) of the whole cache file.
    pub sha256: String,
    /// Number of file entries.
    pub entries: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheHeader {
    format: String,
    version: u32,
    root: Bytes,
    identity: RootIdentity,
    entries: u64,
}

type Row = (u32, u64, u64, u64, i64, i64);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageLine {
    h: String,
    f: Vec<Row>,
}

/// Where the cache of `baseline` lives.
pub fn cache_path(baseline: &Path) -> PathBuf {
    let mut s = baseline.as_os_str().to_os_string();
    s.push(".owned-cache");
    PathBuf::from(s)
}

/// Why a recorded cache is not used although the baseline names one.
#[derive(Debug)]
pub enum Unusable {
    /// Not an error: the cache was taken elsewhere (another root, device or file system) or is
    /// gone; everything is hashed.
    Ignored(String),
    /// The cache does not match the baseline's record of it: modified, or from another write.
    Refused(BaselineError),
}

/// Load the cache `reference` names for `baseline`, taken on `root` with `identity`.
pub fn load(
    baseline: &Path,
    reference: &CacheRef,
    root: &Path,
    identity: &RootIdentity,
) -> Result<OwnedCache, Unusable> {
    let file = cache_path(baseline);
    let bytes = read_recorded(&file, reference)?;
    parse(&file, &bytes, reference, root, identity)
}

/// The cache in `bytes`, the contents of `file` whose SHA-256 the baseline records
/// (`reference`), taken on `root` with `identity`. Public for the fuzz target.
pub fn parse(
    file: &Path,
    bytes: &[u8],
    reference: &CacheRef,
    root: &Path,
    identity: &RootIdentity,
) -> Result<OwnedCache, Unusable> {
    let corrupt = |what: String| {
        Unusable::Refused(BaselineError::Corrupt {
            file: file.to_path_buf(),
            line: 0,
            what,
        })
    };
    let mut lines = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let head: CacheHeader = lines
        .next()
        .ok_or_else(|| corrupt("empty".into()))
        .and_then(|l| serde_json::from_slice(l).map_err(|e| corrupt(format!("bad header: {e}"))))?;
    if head.format != FORMAT_NAME || head.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "not a version {FORMAT_VERSION} {FORMAT_NAME} file"
        )));
    }
    use std::os::unix::ffi::OsStrExt;
    // `/srv/img/` and `/srv/img` are the same root; nothing else is compared.
    let recorded = Path::new(std::ffi::OsStr::from_bytes(&head.root.0));
    if !recorded.components().eq(root.components()) {
        return Err(Unusable::Ignored(format!(
            "{}: taken on root {}, not {}; every package file is read",
            file.display(),
            String::from_utf8_lossy(&head.root.0),
            root.display()
        )));
    }
    if head.identity != *identity {
        return Err(Unusable::Ignored(format!(
            "{}: taken on another device or file system (then {:?}, now {:?}); every package file is read",
            file.display(),
            head.identity,
            identity
        )));
    }
    let mut cache = OwnedCache::default();
    let mut count = 0u64;
    for (n, line) in lines.enumerate() {
        let p: PackageLine =
            serde_json::from_slice(line).map_err(|e| corrupt(format!("line {}: {e}", n + 2)))?;
        count += p.f.len() as u64;
        let files =
            p.f.into_iter()
                .map(|(index, dev, ino, size, mtime_ns, ctime_ns)| {
                    let key = FileKey {
                        dev,
                        ino,
                        size,
                        mtime_ns,
                        ctime_ns,
                    };
                    (index, key)
                });
        cache.extend(p.h, files);
    }
    if count != head.entries || count != reference.entries {
        return Err(corrupt(format!(
            "{count} entries, header says {} and the baseline {}",
            head.entries, reference.entries
        )));
    }
    Ok(cache)
}

/// Write `verified` as the cache of `baseline` (atomically: a temp file in the same
/// directory, fsync, rename, fsync of the directory) and return the reference the new
/// baseline's header must carry.
pub fn write(
    baseline: &Path,
    root: &Path,
    identity: &RootIdentity,
    mut verified: Vec<Verified>,
) -> Result<CacheRef, BaselineError> {
    use std::os::unix::ffi::OsStrExt;
    let file = cache_path(baseline);
    let ioe = |e: io::Error| BaselineError::io(&file, e);
    verified.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    verified.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    let mut out = Vec::with_capacity(verified.len() * 72 + 256);
    let head = CacheHeader {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        root: Bytes(root.as_os_str().as_bytes().to_vec()),
        identity: *identity,
        entries: verified.len() as u64,
    };
    serde_json::to_writer(&mut out, &head).map_err(|e| ioe(io::Error::other(e)))?;
    out.push(b'\n');
    for group in verified.chunk_by(|a, b| a.0 == b.0) {
        let line = PackageLine {
            h: group.first().map(|v| v.0.clone()).unwrap_or_default(),
            f: group
                .iter()
                .map(|(_, i, k)| (*i, k.dev, k.ino, k.size, k.mtime_ns, k.ctime_ns))
                .collect(),
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| ioe(io::Error::other(e)))?;
        out.push(b'\n');
    }
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".owned-cache.")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(|e| BaselineError::io(&dir, e))?;
    tmp.write_all(&out).map_err(ioe)?;
    tmp.as_file().sync_all().map_err(ioe)?;
    // The baseline that records the new cache is written after it: until then the old
    // baseline's record must still find the old cache, or a crash in between would leave
    // a cache every `check --trust-ctime` refuses.
    match std::fs::rename(&file, previous_path(&file)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ioe(e)),
    }
    tmp.persist(&file).map_err(|e| ioe(e.error))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BaselineError::io(&dir, e))?;
    Ok(CacheRef {
        sha256: hex::encode(Sha256::digest(&out)),
        entries: verified.len() as u64,
    })
}

/// The cache file kept, while a new one replaces it, for the baseline that records it.
fn previous_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_os_string();
    s.push(".prev");
    PathBuf::from(s)
}

/// The bytes of the cache whose SHA-256 the baseline records: the cache file, else the previous
/// one when a run stopped between writing a new cache and the baseline that records it. A cache
/// file that matches neither is refused: it was modified or replaced.
fn read_recorded(file: &Path, reference: &CacheRef) -> Result<Vec<u8>, Unusable> {
    let recorded =
        |b: &[u8]| hex::encode(Sha256::digest(b)).eq_ignore_ascii_case(&reference.sha256);
    let current = match read_bounded(file) {
        Ok(b) if recorded(&b) => return Ok(b),
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Unusable::Refused(BaselineError::io(file, e))),
    };
    if let Ok(b) = read_bounded(&previous_path(file)) {
        if recorded(&b) {
            return Ok(b);
        }
    }
    match current {
        None => Err(Unusable::Ignored(format!(
            "{}: missing; every package file is read",
            file.display()
        ))),
        Some(b) => Err(Unusable::Refused(BaselineError::Corrupt {
            file: file.to_path_buf(),
            line: 0,
            what: format!(
                "SHA-256 {}, but the baseline records {}: the cache was modified or replaced (run `quietwire accept --all --trust-ctime` to rebuild it)",
                hex::encode(Sha256::digest(&b)),
                reference.sha256
            ),
        })),
    }
}

/// Read a whole cache file opened like the baseline: no symlink, no FIFO, a regular file of at
/// most [`MAX_FILE`] bytes.
fn read_bounded(file: &Path) -> io::Result<Vec<u8>> {
    let f = crate::scan::fs::open_regular_path(file, false)?;
    let meta = f.metadata()?;
    if meta.len() > MAX_FILE {
        return Err(io::Error::other(format!("larger than {MAX_FILE} bytes")));
    }
    // Megabytes read while the rpmdb is: on a cold cache, queue them all at once.
    crate::scan::fs::advise_willneed(&f, 0, meta.len());
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    f.take(MAX_FILE).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> RootIdentity {
        RootIdentity {
            dev: 1,
            ino: 2,
            fs_type: 3,
            fsid: 4,
        }
    }

    fn key(n: u64) -> FileKey {
        FileKey {
            dev: 1,
            ino: n,
            size: 10,
            mtime_ns: -5,
            ctime_ns: 7,
        }
    }

    /// What the fuzz target feeds `parse`: a header that passes, then package lines.
    #[test]
    fn parse_takes_package_lines_after_a_header_and_names_the_file_otherwise() {
        let header = br#"{"format":"quietwire-owned-cache","version":1,"root":"/","identity":{"dev":1,"ino":2,"fs_type":3,"fsid":4},"entries":2}"#;
        let reference = CacheRef {
            sha256: String::new(),
            entries: 2,
        };
        let file = Path::new("x.owned-cache");
        let good = [
            &header[..],
            b"\n",
            br#"{"h":"aa","f":[[1,1,1,10,-5,7],[3,1,3,10,-5,7]]}"#,
        ]
        .concat();
        let c = parse(file, &good, &reference, Path::new("/"), &identity()).unwrap();
        assert_eq!(
            (c.get("aa", 1), c.get("aa", 3)),
            (Some(&key(1)), Some(&key(3)))
        );
        for bad in [&b"{"[..], &good[..good.len() - 2], b"\n\n"] {
            match parse(file, bad, &reference, Path::new("/"), &identity()) {
                Err(Unusable::Refused(e)) => {
                    assert!(e.to_string().contains("x.owned-cache"), "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_run_stopped_before_its_baseline_was_written_leaves_the_old_cache_usable() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path().join("baseline");
        let r = Path::new("/r");
        let old = write(&b, r, &identity(), vec![("aa".into(), 1, key(1))]).unwrap();
        // A new cache, then the crash: the baseline still records the old one.
        let new = write(&b, r, &identity(), vec![("aa".into(), 1, key(2))]).unwrap();
        let c = load(&b, &old, r, &identity()).unwrap();
        assert_eq!(c.get("aa", 1), Some(&key(1)));
        let c = load(&b, &new, r, &identity()).unwrap();
        assert_eq!(c.get("aa", 1), Some(&key(2)));
        // Only the one before is kept: older records are refused, never half-trusted.
        write(&b, r, &identity(), vec![("aa".into(), 1, key(3))]).unwrap();
        assert!(matches!(
            load(&b, &old, r, &identity()),
            Err(Unusable::Refused(_))
        ));
    }

    #[test]
    fn the_same_root_spelled_with_a_trailing_slash_uses_the_cache() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path().join("baseline");
        let entries = vec![("aa".into(), 1, key(1))];
        let r = write(&b, Path::new("/srv/img"), &identity(), entries).unwrap();
        assert!(load(&b, &r, Path::new("/srv/img/"), &identity()).is_ok());
        assert!(load(&b, &r, Path::new("/srv/./img"), &identity()).is_ok());
        assert!(matches!(
            load(&b, &r, Path::new("/srv/img2"), &identity()),
            Err(Unusable::Ignored(_))
        ));
    }

    #[test]
    fn round_trip_and_refusals() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path().join("baseline");
        let v = vec![
            ("bb".to_string(), 3, key(3)),
            ("aa".to_string(), 1, key(1)),
            ("bb".to_string(), 0, key(9)),
        ];
        let r = write(&b, Path::new("/r"), &identity(), v).unwrap();
        assert_eq!(r.entries, 3);
        let c = load(&b, &r, Path::new("/r"), &identity()).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("bb", 0), Some(&key(9)));
        assert_eq!(c.get("aa", 3), None);

        let other = RootIdentity {
            dev: 9,
            ..identity()
        };
        assert!(matches!(
            load(&b, &r, Path::new("/r"), &other),
            Err(Unusable::Ignored(_))
        ));
        assert!(matches!(
            load(&b, &r, Path::new("/other"), &identity()),
            Err(Unusable::Ignored(_))
        ));
        let wrong = CacheRef {
            sha256: "00".repeat(32),
            ..r.clone()
        };
        assert!(matches!(
            load(&b, &wrong, Path::new("/r"), &identity()),
            Err(Unusable::Refused(_))
        ));
        std::fs::remove_file(cache_path(&b)).unwrap();
        assert!(matches!(
            load(&b, &r, Path::new("/r"), &identity()),
            Err(Unusable::Ignored(_))
        ));
    }
}
