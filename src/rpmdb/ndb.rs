//! rpm's native ndb `Packages.db` (`lib/backend/ndb/rpmpkg.c`), read from an in-memory copy.
//!
//! Layout (spec section 3; all integers little-endian u32): a 32-byte header, then `slotnpages`
//! pages of 4096 bytes holding 16-byte slots (`Slot`, `pkgidx`, `blkoff`, `blkcnt`), then blobs
//! addressed in 16-byte blocks. Each blob is `BlbS pkgidx generation bloblen`, the header blob,
//! zero padding, and `adler32 bloblen BlbE`.
//!
//! Whole-database errors (bad magic or version, a `slotnpages` that cannot fit the file or would
//! overflow — CVE-2026-44605 —, a slot without its magic) are a [`FormatError`]. Everything that
//! concerns one slot or one blob (bounds, overlaps, duplicate `pkgidx`, blob head or tail, Adler-32)
//! costs one [`BadRecord`]. Records come out sorted by `blkoff`, which is rpm's (`rpm -qa`) order.
//!
//! This module never opens files and never indexes the input directly: every read goes through
//! [`Bytes`].

use super::bytes::{Bytes, Endian};
use super::{BadRecord, FormatError, Record, RecordResult};

/// File header magic, `'R' | 'p'<<8 | 'm'<<16 | 'P'<<24`.
const PKGDB_MAGIC: &[u8; 4] = b"RpmP";
/// Supported file format version.
const PKGDB_VERSION: u32 = 0;
/// Size of the file header at offset 0 (it occupies slots 0 and 1 of page 0).
const PKGDB_HEADER_SIZE: u64 = 32;
/// Magic of every slot, free ones included.
const SLOT_MAGIC: &[u8; 4] = b"Slot";
/// Size of one slot.
const SLOT_SIZE: u64 = 16;
/// Size of one slot page.
const PAGE_SIZE: u64 = 4096;
/// Slots per slot page.
const SLOT_PER_PAGE: u64 = PAGE_SIZE / SLOT_SIZE;
/// Blobs are addressed and sized in blocks of this many bytes.
const BLK_SIZE: u64 = 16;
/// Largest `slotnpages` for which `slotnpages * SLOT_PER_PAGE` fits a u32 (the CVE-2026-44605 bound).
const MAX_SLOTNPAGES: u32 = u32::MAX / SLOT_PER_PAGE as u32;
/// Magic at the start of a blob.
const BLOBHEAD_MAGIC: &[u8; 4] = b"BlbS";
/// Magic at the end of a blob.
const BLOBTAIL_MAGIC: &[u8; 4] = b"BlbE";
/// `BlbS pkgidx generation bloblen`.
const BLOBHEAD_SIZE: u64 = 16;
/// `adler32 bloblen BlbE`.
const BLOBTAIL_SIZE: u64 = 12;
/// rpm's `PKGDB_MAX_BLOBSIZE` bound on `bloblen`.
const PKGDB_MAX_BLOBSIZE: u32 = u32::MAX - 43;

const LE: Endian = Endian::Little;

/// One used slot, as stored (field names follow `rpmpkg.c`).
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Byte offset of the slot in the file.
    offset: u64,
    /// Package index: the header instance (`hnum`).
    pkgidx: u32,
    /// First block of the blob (in units of [`BLK_SIZE`]); 0 marks a free slot.
    blkoff: u32,
    /// Number of blocks of the blob.
    blkcnt: u32,
}

impl Slot {
    /// Byte offset of the blob.
    fn blob_offset(&self) -> u64 {
        u64::from(self.blkoff) * BLK_SIZE
    }

    /// One past the last block (no overflow: both are u32 widened to u64).
    fn blkend(&self) -> u64 {
        u64::from(self.blkoff) + u64::from(self.blkcnt)
    }
}

/// Every record of the database held in `data`, in rpm's order (sorted by `blkoff`).
pub fn read(data: &[u8]) -> Result<Vec<RecordResult>, FormatError> {
    let bytes = Bytes(data);
    let file_len = bytes.len();

    // 3.4 (1): header.
    let magic = bytes.bytes_at(0, 4).map_err(|_| too_short(file_len))?;
    if magic != PKGDB_MAGIC {
        return Err(FormatError::new(0, "bad ndb magic (expected \"RpmP\")"));
    }
    if file_len < PKGDB_HEADER_SIZE {
        return Err(too_short(file_len));
    }
    let version = bytes.u32_at(4, LE)?;
    if version != PKGDB_VERSION {
        return Err(FormatError::new(
            4,
            format!("unsupported ndb version {version} (expected {PKGDB_VERSION})"),
        ));
    }
    let slotnpages = bytes.u32_at(12, LE)?;
    if slotnpages == 0 || slotnpages > MAX_SLOTNPAGES {
        return Err(FormatError::new(
            12,
            format!("slotnpages {slotnpages:#x} out of range 1..={MAX_SLOTNPAGES:#x}"),
        ));
    }
    if file_len % BLK_SIZE != 0 {
        return Err(FormatError::new(
            file_len,
            format!("file length {file_len} is not a multiple of {BLK_SIZE}"),
        ));
    }
    let fileblks = file_len / BLK_SIZE;
    if fileblks > u64::from(u32::MAX) {
        return Err(FormatError::new(
            file_len,
            format!("file length {file_len} is too large for ndb block numbers"),
        ));
    }
    // u32 * 4096 always fits a u64.
    let slot_area_len = u64::from(slotnpages) * PAGE_SIZE;
    if slot_area_len > file_len {
        return Err(FormatError::new(
            12,
            format!(
                "slotnpages {slotnpages} needs {slot_area_len} bytes of slots but the file has {file_len}"
            ),
        ));
    }
    // Blobs start after the slot area; fits a u32 thanks to MAX_SLOTNPAGES.
    let first_blob_blk = u64::from(slotnpages) * SLOT_PER_PAGE;

    // 3.4 (2)-(3): slots.
    let mut slots = Vec::new();
    let mut out: Vec<(u64, RecordResult)> = Vec::new();
    let mut offset = PKGDB_HEADER_SIZE;
    while offset < slot_area_len {
        let s = bytes.sub(offset, SLOT_SIZE)?;
        if s.bytes_at(0, 4)? != SLOT_MAGIC {
            return Err(FormatError::new(offset, "slot without \"Slot\" magic"));
        }
        let slot = Slot {
            offset,
            pkgidx: s.u32_at(4, LE)?,
            blkoff: s.u32_at(8, LE)?,
            blkcnt: s.u32_at(12, LE)?,
        };
        offset += SLOT_SIZE;
        if slot.blkoff == 0 {
            continue; // free slot
        }
        match check_slot(&slot, first_blob_blk, fileblks) {
            Ok(()) => slots.push(slot),
            Err(reason) => out.push((
                u64::from(slot.blkoff),
                Err(BadRecord {
                    hnum: (slot.pkgidx != 0).then_some(slot.pkgidx),
                    offset: Some(slot.offset),
                    reason,
                }),
            )),
        }
    }

    // 3.4 (4): in blkoff order (rpmpkgOrderSlots), drop overlaps and repeated pkgidx, keeping the first.
    slots.sort_by_key(|s| (s.blkoff, s.offset));
    let mut seen = std::collections::HashMap::new();
    let mut prev: Option<Slot> = None;
    for slot in slots {
        let key = u64::from(slot.blkoff);
        if let Some(p) = prev.filter(|p| key < p.blkend()) {
            out.push((
                key,
                Err(BadRecord {
                    hnum: Some(slot.pkgidx),
                    offset: Some(slot.offset),
                    reason: format!(
                        "slot blocks {}..{} overlap those of package #{} ({}..{})",
                        slot.blkoff,
                        slot.blkend(),
                        p.pkgidx,
                        p.blkoff,
                        p.blkend()
                    ),
                }),
            ));
            continue;
        }
        if let Some(&first) = seen.get(&slot.pkgidx) {
            out.push((
                key,
                Err(BadRecord {
                    hnum: Some(slot.pkgidx),
                    offset: Some(slot.offset),
                    reason: format!(
                        "duplicate pkgidx {} (first slot at file offset {first})",
                        slot.pkgidx
                    ),
                }),
            ));
            continue;
        }
        seen.insert(slot.pkgidx, slot.offset);
        prev = Some(slot);
        // 3.4 (5)-(6): the blob.
        let rec = read_blob(bytes, &slot).map(|blob| Record {
            hnum: slot.pkgidx,
            blob,
        });
        out.push((key, rec));
    }

    // Stable: ties keep slot order, and rejected slots sit where their blkoff puts them.
    out.sort_by_key(|(key, _)| *key);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

fn too_short(file_len: u64) -> FormatError {
    FormatError::new(
        0,
        format!("file of {file_len} bytes is shorter than the {PKGDB_HEADER_SIZE}-byte ndb header"),
    )
}

/// rpm's `rpmpkgReadSlots` checks on a used slot, as a reason string.
fn check_slot(slot: &Slot, first_blob_blk: u64, fileblks: u64) -> Result<(), String> {
    if slot.pkgidx == 0 {
        return Err(format!("used slot (blkoff {}) has pkgidx 0", slot.blkoff));
    }
    if slot.blkcnt == 0 {
        return Err(format!("slot has blkcnt 0 (blkoff {})", slot.blkoff));
    }
    if u64::from(slot.blkoff) < first_blob_blk {
        return Err(format!(
            "slot blkoff {} points into the slot area (blobs start at block {first_blob_blk})",
            slot.blkoff
        ));
    }
    if slot.blkoff >= u32::MAX - slot.blkcnt || slot.blkend() > fileblks {
        return Err(format!(
            "slot blocks {}..{} extend beyond the end of the file ({fileblks} blocks)",
            slot.blkoff,
            slot.blkend()
        ));
    }
    Ok(())
}

/// The header blob of a slot that passed [`check_slot`], with head, tail and Adler-32 verified.
fn read_blob(bytes: Bytes<'_>, slot: &Slot) -> Result<Vec<u8>, BadRecord> {
    let start = slot.blob_offset();
    let bad = |reason: String| BadRecord {
        hnum: Some(slot.pkgidx),
        offset: Some(start),
        reason,
    };
    let short = |e: FormatError| bad(format!("blob: {}", e.what));
    let len = u64::from(slot.blkcnt) * BLK_SIZE;
    let b = bytes.sub(start, len).map_err(short)?;

    if b.bytes_at(0, 4).map_err(short)? != BLOBHEAD_MAGIC {
        return Err(bad("blob without \"BlbS\" head magic".into()));
    }
    let pkgidx = b.u32_at(4, LE).map_err(short)?;
    if pkgidx != slot.pkgidx {
        return Err(bad(format!(
            "blob head names pkgidx {pkgidx}, slot says {}",
            slot.pkgidx
        )));
    }
    let bloblen = b.u32_at(12, LE).map_err(short)?;
    if bloblen > PKGDB_MAX_BLOBSIZE {
        return Err(bad(format!("blob length {bloblen} is too large")));
    }
    let want_blkcnt = (BLOBHEAD_SIZE + u64::from(bloblen) + BLOBTAIL_SIZE).div_ceil(BLK_SIZE);
    if want_blkcnt != u64::from(slot.blkcnt) {
        return Err(bad(format!(
            "blob length {bloblen} needs {want_blkcnt} blocks, slot has {}",
            slot.blkcnt
        )));
    }
    // len >= BLOBHEAD_SIZE + BLOBTAIL_SIZE here, since want_blkcnt == blkcnt.
    let tail = len - BLOBTAIL_SIZE;
    if b.bytes_at(tail + 8, 4).map_err(short)? != BLOBTAIL_MAGIC {
        return Err(bad("blob without \"BlbE\" tail magic".into()));
    }
    let tail_len = b.u32_at(tail + 4, LE).map_err(short)?;
    if tail_len != bloblen {
        return Err(bad(format!(
            "blob tail length {tail_len} differs from head length {bloblen}"
        )));
    }
    let stored = b.u32_at(tail, LE).map_err(short)?;
    let computed = adler32(b.bytes_at(0, tail).map_err(short)?);
    if stored != computed {
        return Err(bad(format!(
            "blob checksum mismatch (stored adler32 {stored:#010x}, computed {computed:#010x})"
        )));
    }
    Ok(b.bytes_at(BLOBHEAD_SIZE, u64::from(bloblen))
        .map_err(short)?
        .to_vec())
}

/// RFC 1950 Adler-32 with initial value 1, as zlib's `adler32(1, ...)`.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // Largest n with 255n(n+1)/2 + (n+1)(MOD-1) <= u32::MAX: no overflow before reducing.
    const NMAX: usize = 5552;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(NMAX) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"a"), 0x0062_0062);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long input crosses several NMAX chunks; value from zlib.
        let big = vec![0xffu8; 100_000];
        assert_eq!(adler32(&big), reference_adler32(&big));
    }

    /// Naive definition (reduce after every byte) to cross-check the chunked version.
    fn reference_adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u64, 0u64);
        for &x in data {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        ((b << 16) | a) as u32
    }
}
