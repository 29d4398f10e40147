//! Content digests in a package's algorithm, read once with a large per-thread buffer.
//!
//! Owns no policy: callers decide which algorithm and which descriptor. Never opens files.

use super::fs;
use crate::pkgdb::DigestAlgo;
use std::cell::RefCell;
use std::io::Read;

/// Read buffer size: large reads keep syscall overhead negligible next to hashing.
pub const BUF_SIZE: usize = 256 * 1024;
/// How much of a range longer than [`BUF_SIZE`] is announced to the kernel before it is read.
const READ_AHEAD: u64 = 8 << 20;

/// Up to this size a file hashed with holes as zeros is read whole, holes included.
const SMALL_FILE: u64 = 1 << 20;

/// Longest digest we produce (SHA-512).
pub const MAX_DIGEST: usize = 64;

/// A computed digest (inline, no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    bytes: [u8; MAX_DIGEST],
    len: usize,
}

impl Digest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algo: DigestAlgo) -> Hasher {
        use sha2::Digest as _;
        match algo {
            // rpm hashes an algorithm its crypto backend does not know as MD5.
            DigestAlgo::Md5 | DigestAlgo::Unknown(_) => Hasher::Md5(md5::Md5::new()),
            DigestAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            DigestAlgo::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            DigestAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            DigestAlgo::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            DigestAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        use sha2::Digest as _;
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> Digest {
        use sha2::Digest as _;
        let mut out = Digest {
            bytes: [0; MAX_DIGEST],
            len: 0,
        };
        let mut put = |b: &[u8]| {
            out.bytes[..b.len()].copy_from_slice(b);
            out.len = b.len();
        };
        match self {
            Hasher::Md5(h) => put(&h.finalize()),
            Hasher::Sha1(h) => put(&h.finalize()),
            Hasher::Sha224(h) => put(&h.finalize()),
            Hasher::Sha256(h) => put(&h.finalize()),
            Hasher::Sha384(h) => put(&h.finalize()),
            Hasher::Sha512(h) => put(&h.finalize()),
        }
        out
    }
}

thread_local! {
    /// One read buffer per worker thread, allocated on first use and reused for every file.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hash everything `reader` yields until EOF.
pub fn hash_reader<R: Read>(algo: DigestAlgo, mut reader: R) -> std::io::Result<Digest> {
    with_buf(|buf| {
        let mut h = Hasher::new(algo);
        loop {
            match reader.read(buf) {
                Ok(0) => break,
                Ok(n) => h.update(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(h.finish())
    })
}

/// Bytes of data hashed per file when the policy does not say (`max_hash_bytes`).
pub use crate::policy::DEFAULT_MAX_HASH_BYTES;

/// What to do with the holes of a sparse file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holes {
    /// Hash the data extents and the extent map, never the holes: a `truncate -s 16T` costs
    /// nothing. The digest of a file without holes stays its plain digest.
    Skip,
    /// Hash the logical content, holes as zeros (what rpm hashes), without reading them.
    Zeros,
}

/// The digest of a regular file and whether all of it was hashed.
#[derive(Debug, Clone, Copy)]
pub struct FileDigest {
    pub digest: Digest,
    /// False when the file holds more than the cap: only its first `cap` bytes were hashed.
    pub complete: bool,
    /// True when the digest is over the sparse encoding (extent map and data), not the plain
    /// content: the encoding's bytes could be some other file's content, so whoever stores the
    /// digest must keep the two apart.
    pub sparse: bool,
}

/// Domain separators: a sparse or a capped digest can never equal a plain digest of some other
/// content, so a baseline digest always means what it was computed as.
const SPARSE_TAG: &[u8] = b"quietwire sparse file v1\0";
const CAPPED_TAG: &[u8] = b"quietwire capped digest v1\0";

/// Call `each(start, end)` for the data extents of `f` within its first `size` bytes, in order,
/// until it returns false. Ends at `size` however the file grows meanwhile, so a file being
/// written cannot keep the caller reading; the caller compares `fstat` before and after.
fn walk_extents(
    f: &std::fs::File,
    size: u64,
    mut each: impl FnMut(u64, u64) -> bool,
) -> std::io::Result<()> {
    let mut pos = 0u64;
    while pos < size {
        let Some(start) = fs::seek(f, pos, libc::SEEK_DATA)? else {
            break;
        };
        if start >= size {
            break;
        }
        let end = fs::seek(f, start, libc::SEEK_HOLE)?
            .unwrap_or(size)
            .min(size);
        if end <= start {
            return Err(std::io::Error::other(
                "inconsistent hole map (changed while read)",
            ));
        }
        pos = end;
        if !each(start, end) {
            break;
        }
    }
    Ok(())
}

/// The data extents of `f` within its first `size` bytes, in order, as `(start, end)`.
fn extents(f: &std::fs::File, size: u64, budget: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut data = 0u64;
    walk_extents(f, size, |start, end| {
        out.push((start, end));
        data = data.saturating_add(end - start);
        // Past the cap the rest is not hashed: no need to map it (an extent costs a syscall).
        data <= budget
    })?;
    Ok(out)
}

/// How many of the first `size` bytes of `f` are holes (read as zeros, no data on disk). Holes
/// unwritten on the file system (fallocate's) count as holes, as `SEEK_HOLE` reports them. Two
/// `lseek`s for a file without holes; one more pair per extent, so the cost is bounded by the
/// data the file really holds. Moves the file offset (positioned reads are unaffected).
pub fn hole_bytes(f: &std::fs::File, size: u64) -> std::io::Result<u64> {
    let mut data = 0u64;
    walk_extents(f, size, |start, end| {
        data = data.saturating_add(end - start);
        true
    })?;
    Ok(size.saturating_sub(data))
}

/// Feed `[start, end)` of `f` to `h` by positioned reads; a short file is an error (it shrank
/// while being read).
fn feed(
    h: &mut Hasher,
    f: &std::fs::File,
    buf: &mut [u8],
    start: u64,
    end: u64,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    if end.saturating_sub(start) > buf.len() as u64 {
        // More than one read: queue the first READ_AHEAD bytes at once (cold cache), bounded so
        // that a large sparse range cannot fill the page cache with zeros.
        crate::scan::fs::advise_willneed(f, start, (end - start).min(READ_AHEAD));
    }
    let mut pos = start;
    while pos < end {
        let want = usize::try_from(end - pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match f.read_at(&mut buf[..want], pos) {
            Ok(0) => {
                return Err(std::io::Error::other(
                    "content changed while it was being read",
                ))
            }
            Ok(n) => {
                h.update(&buf[..n]);
                pos += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// Hash the first `size` bytes of the regular file `f` (its `fstat` size), at most `cap` bytes.
///
/// A file without holes hashes to its plain digest. With [`Holes::Skip`], a sparse file hashes
/// to a tagged digest over its extent map and data: moving data, or a change of the hole layout,
/// changes it. With [`Holes::Zeros`], holes are hashed as zeros from a static buffer (rpm's
/// digest) and count towards the cap, since hashing zeros costs as much as hashing data.
/// Over the cap, a tagged digest of what was hashed is returned with `complete == false`.
pub fn hash_file(
    algo: DigestAlgo,
    f: &std::fs::File,
    size: u64,
    cap: u64,
    holes: Holes,
) -> std::io::Result<FileDigest> {
    // Holes read as zeros, so mapping them only saves reading them: not worth two `lseek`s
    // per file when the whole file is small.
    let map = match (holes, size) {
        (_, 0) => Vec::new(),
        (Holes::Zeros, 1..=SMALL_FILE) => vec![(0, size)],
        _ => extents(f, size, cap)?,
    };
    let dense = match map.as_slice() {
        [] => size == 0,
        [(0, end)] => *end == size,
        _ => false,
    };
    let charged = if dense || holes == Holes::Zeros {
        size
    } else {
        map.iter().map(|(s, e)| e - s).sum()
    };
    let complete = charged <= cap;
    with_buf(|buf| {
        let mut h = Hasher::new(algo);
        if !complete {
            h.update(CAPPED_TAG);
        }
        if dense || holes == Holes::Zeros {
            let mut pos = 0u64;
            let limit = size.min(cap);
            for &(s, e) in &map {
                if pos >= limit {
                    break;
                }
                // The hole before this extent, as zeros.
                let hole_end = s.min(limit);
                while pos < hole_end {
                    let n = usize::try_from(hole_end - pos)
                        .unwrap_or(usize::MAX)
                        .min(ZEROS.len());
                    h.update(&ZEROS[..n]);
                    pos += n as u64;
                }
                let e = e.min(limit);
                if e > pos {
                    feed(&mut h, f, buf, pos, e)?;
                    pos = e;
                }
            }
            while pos < limit {
                let n = usize::try_from(limit - pos)
                    .unwrap_or(usize::MAX)
                    .min(ZEROS.len());
                h.update(&ZEROS[..n]);
                pos += n as u64;
            }
        } else {
            h.update(SPARSE_TAG);
            h.update(&size.to_le_bytes());
            let mut left = cap;
            for &(s, e) in &map {
                if left == 0 {
                    break;
                }
                let e = e.min(s.saturating_add(left));
                // The extent's place and length go in before its bytes: the same bytes at
                // another offset, or split differently by holes, hash differently.
                h.update(&s.to_le_bytes());
                h.update(&(e - s).to_le_bytes());
                feed(&mut h, f, buf, s, e)?;
                left -= e - s;
            }
        }
        Ok(FileDigest {
            digest: h.finish(),
            complete,
            sparse: !(dense || holes == Holes::Zeros),
        })
    })
}

/// rpm's digest of an open regular file: its logical content, holes hashed as zeros without
/// being read. A file whose logical size is over `cap` is not hashed at all (`EFBIG`): a
/// `truncate -s 16T` package file must not stall the run, and a digest of part of it cannot
/// equal the package's, so the caller reports it as unreadable (not fully checked).
pub fn hash_logical(algo: DigestAlgo, f: &std::fs::File, cap: u64) -> std::io::Result<Digest> {
    hash_logical_sized(algo, f, f.metadata()?.len(), cap)
}

/// [`hash_logical`] of a file whose size the caller has just taken from `fstat` of this very
/// inode (saves a system call per file).
pub fn hash_logical_sized(
    algo: DigestAlgo,
    f: &std::fs::File,
    size: u64,
    cap: u64,
) -> std::io::Result<Digest> {
    if size > cap {
        return Err(std::io::Error::from_raw_os_error(libc::EFBIG));
    }
    hash_file(algo, f, size, cap, Holes::Zeros).map(|d| d.digest)
}

/// Run `f` with the per-thread read buffer.
fn with_buf<T>(f: impl FnOnce(&mut [u8]) -> std::io::Result<T>) -> std::io::Result<T> {
    BUF.with(|cell| {
        let mut guard = cell.try_borrow_mut();
        let mut local;
        // Re-entrancy cannot happen here, but fall back to a fresh buffer rather than panic.
        let buf: &mut Vec<u8> = match guard {
            Ok(ref mut b) => b,
            Err(_) => {
                local = Vec::new();
                &mut local
            }
        };
        if buf.len() < BUF_SIZE {
            buf.resize(BUF_SIZE, 0);
        }
        f(&mut buf[..])
    })
}

/// Decode a FILEDIGESTS entry the way rpm does: two characters per byte, any non-hex character
/// counting as nibble 0 (rpm's `rnibble`). The caller has checked the length.
pub fn decode_rpm_hex(hex: &[u8], out: &mut [u8]) {
    fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0,
        }
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let d = |a| hash_reader(a, &b"abc"[..]).unwrap().to_hex();
        assert_eq!(d(DigestAlgo::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            d(DigestAlgo::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            d(DigestAlgo::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d(DigestAlgo::Sha224).len(), 56);
        assert_eq!(d(DigestAlgo::Sha384).len(), 96);
        assert_eq!(d(DigestAlgo::Sha512).len(), 128);
        assert_eq!(d(DigestAlgo::Unknown(99)), d(DigestAlgo::Md5));
    }

    #[test]
    fn large_input_spans_buffers() {
        let data = vec![7u8; BUF_SIZE * 2 + 17];
        let a = hash_reader(DigestAlgo::Sha256, &data[..]).unwrap();
        use sha2::Digest as _;
        assert_eq!(a.as_bytes(), &sha2::Sha256::digest(&data)[..]);
    }

    fn file_with(size: u64, data: &[(u64, &[u8])]) -> (tempfile::NamedTempFile, Vec<u8>) {
        use std::os::unix::fs::FileExt;
        let t = tempfile::NamedTempFile::new().unwrap();
        t.as_file().set_len(size).unwrap();
        let end = data
            .iter()
            .map(|(o, d)| o + d.len() as u64)
            .max()
            .unwrap_or(0);
        let mut logical = vec![0u8; size.max(end) as usize];
        for (off, d) in data {
            t.as_file().write_all_at(d, *off).unwrap();
            logical[*off as usize..*off as usize + d.len()].copy_from_slice(d);
        }
        (t, logical)
    }

    fn sha(b: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        sha2::Sha256::digest(b).to_vec()
    }

    #[test]
    fn a_file_without_holes_keeps_its_plain_digest() {
        let data = vec![9u8; BUF_SIZE + 5];
        let (t, logical) = file_with(0, &[(0, &data)]);
        let d = hash_file(
            DigestAlgo::Sha256,
            t.as_file(),
            logical.len() as u64,
            u64::MAX,
            Holes::Skip,
        )
        .unwrap();
        assert!(d.complete);
        assert_eq!(d.digest.as_bytes(), &sha(&logical)[..]);
        let (e, _) = file_with(0, &[]);
        let d = hash_file(DigestAlgo::Sha256, e.as_file(), 0, u64::MAX, Holes::Skip).unwrap();
        assert_eq!(d.digest.as_bytes(), &sha(b"")[..]);
    }

    #[test]
    fn holes_are_part_of_a_sparse_digest_and_zeros_for_rpm() {
        const M: u64 = 1 << 20;
        let (a, logical) = file_with(8 * M, &[(2 * M, b"data")]);
        let skip = |t: &tempfile::NamedTempFile| {
            hash_file(
                DigestAlgo::Sha256,
                t.as_file(),
                8 * M,
                u64::MAX,
                Holes::Skip,
            )
            .unwrap()
            .digest
        };
        // rpm's digest: the logical content, holes as zeros.
        let z = hash_logical(DigestAlgo::Sha256, a.as_file(), u64::MAX).unwrap();
        assert_eq!(z.as_bytes(), &sha(&logical)[..]);
        // Skipping holes is not the plain digest, and moving the data changes it.
        assert_ne!(skip(&a).as_bytes(), &sha(&logical)[..]);
        let (b, _) = file_with(8 * M, &[(3 * M, b"data")]);
        assert_ne!(skip(&a), skip(&b));
        // Same logical content, zeros written as data instead of a hole: the hole map differs.
        let (c, logical_c) = file_with(8 * M, &[(2 * M, b"data"), (5 * M, &[0u8; 4096])]);
        assert_eq!(logical, logical_c);
        assert_ne!(skip(&a), skip(&c));
        let (a2, _) = file_with(8 * M, &[(2 * M, b"data")]);
        assert_eq!(skip(&a), skip(&a2));
    }

    #[test]
    fn hole_bytes_counts_what_has_no_data() {
        const M: u64 = 1 << 20;
        let (dense, _) = file_with(0, &[(0, &[1u8; 10_000])]);
        assert_eq!(hole_bytes(dense.as_file(), 10_000).unwrap(), 0);
        let (sparse, _) = file_with(64 * M, &[(8 * M, &[1u8; 4096])]);
        let holes = hole_bytes(sparse.as_file(), 64 * M).unwrap();
        // File systems allocate in blocks: the data may cover a little more than was written.
        assert!(holes > 63 * M && holes <= 64 * M - 4096, "{holes}");
        let (empty, _) = file_with(0, &[]);
        assert_eq!(hole_bytes(empty.as_file(), 0).unwrap(), 0);
    }

    #[test]
    fn the_cap_bounds_what_is_hashed_and_marks_the_digest() {
        let (t, logical) = file_with(0, &[(0, &[1u8; 10_000])]);
        let d = hash_file(DigestAlgo::Sha256, t.as_file(), 10_000, 4096, Holes::Skip).unwrap();
        assert!(!d.complete);
        assert_ne!(d.digest.as_bytes(), &sha(&logical[..4096])[..]);
        let again = hash_file(DigestAlgo::Sha256, t.as_file(), 10_000, 4096, Holes::Skip).unwrap();
        assert_eq!(d.digest, again.digest);
        let e = hash_logical(DigestAlgo::Sha256, t.as_file(), 4096).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EFBIG));
        // A size taken before the file grew bounds the read.
        let d = hash_file(DigestAlgo::Sha256, t.as_file(), 100, u64::MAX, Holes::Skip).unwrap();
        assert_eq!(d.digest.as_bytes(), &sha(&logical[..100])[..]);
    }

    #[test]
    fn rpm_hex_decoding_treats_garbage_as_zero() {
        let mut out = [0u8; 2];
        decode_rpm_hex(b"fFzz", &mut out);
        assert_eq!(out, [0xff, 0x00]);
    }
}
