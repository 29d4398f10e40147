//! Header blob validation and tag access.
//!
//! A blob (`be32 il, be32 dl, il × 16-byte entries, dl bytes of data`) comes from an untrusted
//! database. [`HeaderBlob::parse`] applies rpm's own import checks (`hdrblobVerifyLengths`,
//! `hdrblobVerifyRegion`, `hdrblobVerifyInfo` and the `regionSwab` length accounting, see
//! `specs/rpmdb-formats.md` §5) so that nothing downstream — our tag readers or the `rpm`
//! crate, which panics or aborts on malformed headers — ever sees an offset or count that does
//! not fit. The typed readers then only hand out data that was proven to be in bounds.

use super::bytes::{Bytes, Endian, FormatError};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// rpm's HEADER_TAGS_MAX.
const MAX_IL: u32 = 0xffff;
/// rpm's HEADER_DATA_MAX.
const MAX_DL: u32 = 0x0fff_ffff;
/// rpm's headerMaxbytes: no header blob may reach this size.
const MAX_BLOB: u64 = 256 << 20;
/// rpm's HEADER_ARRAY_MAX: element count limit of every non-BIN entry.
const MAX_ARRAY: u32 = 0xfffff;
/// The 16-byte trailer that closes an immutable region.
const REGION_TRAILER: u64 = 16;
/// Magic prepended to the region when it is hashed (SHA256HEADER / SHA1HEADER) or signed.
pub const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];

const TAG_HEADERIMAGE: u32 = rpm::IndexTag::RPMTAG_HEADERIMAGE as u32;
const TAG_HEADERSIGNATURES: u32 = rpm::IndexTag::RPMTAG_HEADERSIGNATURES as u32;
const TAG_HEADERIMMUTABLE: u32 = rpm::IndexTag::RPMTAG_HEADERIMMUTABLE as u32;

/// Entry data types (rpm's `rpmTagType`).
pub mod types {
    pub const CHAR: u32 = 1;
    pub const INT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// Why a blob was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("header framing: {0}")]
    Framing(String),
    #[error("header region: {0}")]
    Region(String),
    #[error("header entry {index} (tag {tag}): {what}")]
    Entry { index: u32, tag: u32, what: String },
    #[error("header tag {tag}: {what}")]
    Tag { tag: u32, what: String },
    #[error("header data: {0}")]
    Bounds(#[from] FormatError),
}

/// One index entry, already checked against the data store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub tag: u32,
    pub ty: u32,
    /// Offset into the data store; validated to be in range and aligned.
    pub offset: u32,
    pub count: u32,
    /// Byte length of the entry's data, computed from its type (never from neighbour offsets).
    pub len: u32,
}

/// The immutable (signed) region of an installed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub tag: u32,
    /// Entries in the region, the region entry included.
    pub ril: u32,
    /// Data bytes in the region, its trailer included.
    pub rdl: u32,
}

/// The immutable region as rpm hashes it: `head` (magic, `ril`, `rdl`), then `index`, then
/// `data`.
#[derive(Debug, Clone, Copy)]
pub struct RegionParts<'a> {
    pub head: [u8; 16],
    pub index: &'a [u8],
    pub data: &'a [u8],
}

impl RegionParts<'_> {
    /// Feed the region to a hash.
    pub fn hash_into<D: Digest>(&self, d: &mut D) {
        d.update(self.head);
        d.update(self.index);
        d.update(self.data);
    }

    /// Whether the region's digest under `D` is `want_hex` (either case).
    fn digest_is<D: Digest>(&self, want_hex: &[u8]) -> bool {
        let mut d = D::new();
        self.hash_into(&mut d);
        hex::encode(d.finalize())
            .as_bytes()
            .eq_ignore_ascii_case(want_hex)
    }
}

/// A validated header blob.
#[derive(Debug, Clone)]
pub struct HeaderBlob<'a> {
    blob: &'a [u8],
    data: Bytes<'a>,
    entries: Vec<Entry>,
    region: Option<Region>,
}

fn type_size(ty: u32) -> Option<u64> {
    match ty {
        types::CHAR | types::INT8 | types::BIN => Some(1),
        types::INT16 => Some(2),
        types::INT32 => Some(4),
        types::INT64 => Some(8),
        _ => None,
    }
}

fn type_align(ty: u32) -> u64 {
    type_size(ty).unwrap_or(1)
}

/// rpm's `dataLength`: the bytes an entry occupies, proving each string is NUL-terminated.
fn data_length(data: Bytes<'_>, ty: u32, offset: u64, count: u32) -> Result<u64, String> {
    match ty {
        types::STRING | types::STRING_ARRAY | types::I18NSTRING => {
            if ty == types::STRING && count != 1 {
                return Err(format!("STRING with count {count}"));
            }
            let mut pos = offset;
            for _ in 0..count {
                let s = data.cstr_at(pos).map_err(|e| e.what)?;
                pos += s.len() as u64 + 1;
            }
            Ok(pos - offset)
        }
        _ => match type_size(ty) {
            Some(size) => {
                let len = size * u64::from(count);
                if offset + len > data.len() {
                    return Err(format!("{len} bytes of data run past the data store"));
                }
                Ok(len)
            }
            None => Err(format!("invalid type {ty}")),
        },
    }
}

impl<'a> HeaderBlob<'a> {
    /// Validate `blob` with rpm's import rules.
    pub fn parse(blob: &'a [u8]) -> Result<HeaderBlob<'a>, BlobError> {
        let b = Bytes(blob);
        if b.len() < 8 {
            return Err(BlobError::Framing(format!(
                "{} bytes, need at least 8",
                b.len()
            )));
        }
        let il = b.u32_at(0, Endian::Big)?;
        let dl = b.u32_at(4, Endian::Big)?;
        if il > MAX_IL {
            return Err(BlobError::Framing(format!(
                "{il} index entries (limit {MAX_IL})"
            )));
        }
        if dl > MAX_DL {
            return Err(BlobError::Framing(format!(
                "{dl} data bytes (limit {MAX_DL})"
            )));
        }
        let pvlen = 8 + 16 * u64::from(il) + u64::from(dl);
        if pvlen >= MAX_BLOB {
            return Err(BlobError::Framing(format!(
                "{pvlen} bytes exceed the 256 MiB header limit"
            )));
        }
        if pvlen != b.len() {
            return Err(BlobError::Framing(format!(
                "il {il} and dl {dl} describe {pvlen} bytes but the blob has {}",
                b.len()
            )));
        }
        if il == 0 {
            return Err(BlobError::Framing("no index entries".into()));
        }
        let index = b.sub(8, 16 * u64::from(il))?;
        let data = b.sub(8 + 16 * u64::from(il), u64::from(dl))?;
        let mut raw = Vec::with_capacity(il as usize);
        for i in 0..u64::from(il) {
            raw.push((
                index.u32_at(i * 16, Endian::Big)?,
                index.u32_at(i * 16 + 4, Endian::Big)?,
                index.i32_at(i * 16 + 8, Endian::Big)?,
                index.u32_at(i * 16 + 12, Endian::Big)?,
            ));
        }
        let region = Self::verify_region(&raw, data, il, dl)?;
        let entries = Self::verify_info(&raw, data, dl, region)?;
        let hb = HeaderBlob {
            blob,
            data,
            entries,
            region,
        };
        hb.verify_accounting(dl)?;
        Ok(hb)
    }

    /// `hdrblobVerifyRegion`: find and check the immutable region, if entry 0 opens one.
    fn verify_region(
        raw: &[(u32, u32, i32, u32)],
        data: Bytes<'_>,
        il: u32,
        dl: u32,
    ) -> Result<Option<Region>, BlobError> {
        let Some(&(tag, ty, offset, count)) = raw.first() else {
            return Err(BlobError::Region("no tags".into()));
        };
        if !matches!(
            tag,
            TAG_HEADERIMAGE | TAG_HEADERSIGNATURES | TAG_HEADERIMMUTABLE
        ) {
            return Ok(None);
        }
        if ty != types::BIN || count != 16 {
            return Err(BlobError::Region(format!(
                "region tag {tag} has type {ty} count {count}, expected BIN 16"
            )));
        }
        let off = u64::try_from(offset)
            .map_err(|_| BlobError::Region(format!("negative region offset {offset}")))?;
        if off + REGION_TRAILER > u64::from(dl) {
            return Err(BlobError::Region(format!(
                "region trailer at {off} lies outside the data"
            )));
        }
        let t_tag = data.u32_at(off, Endian::Big)?;
        let t_ty = data.u32_at(off + 4, Endian::Big)?;
        let t_off = data.i32_at(off + 8, Endian::Big)?;
        let t_count = data.u32_at(off + 12, Endian::Big)?;
        let tag_ok = t_tag == tag || (tag == TAG_HEADERSIGNATURES && t_tag == TAG_HEADERIMAGE);
        if !tag_ok || t_ty != types::BIN || t_count != 16 {
            return Err(BlobError::Region(format!(
                "trailer (tag {t_tag}, type {t_ty}, count {t_count}) does not close region {tag}"
            )));
        }
        let neg = -i64::from(t_off);
        if neg <= 0 || neg % 16 != 0 {
            return Err(BlobError::Region(format!(
                "trailer offset {t_off} is not a negative multiple of 16"
            )));
        }
        let ril = neg / 16;
        let rdl = off + REGION_TRAILER;
        if ril > i64::from(il) || rdl > u64::from(dl) {
            return Err(BlobError::Region(format!(
                "region of {ril} entries and {rdl} bytes exceeds the header ({il} entries, {dl} bytes)"
            )));
        }
        Ok(Some(Region {
            tag,
            ril: ril as u32,
            rdl: rdl as u32,
        }))
    }

    /// `hdrblobVerifyInfo`: every entry's tag, type, count, alignment, range and overlap.
    fn verify_info(
        raw: &[(u32, u32, i32, u32)],
        data: Bytes<'_>,
        dl: u32,
        region: Option<Region>,
    ) -> Result<Vec<Entry>, BlobError> {
        let mut entries = Vec::with_capacity(raw.len());
        let mut end: u64 = 0;
        for (i, &(tag, ty, offset, count)) in raw.iter().enumerate() {
            let index = i as u32;
            let err = |what: String| BlobError::Entry { index, tag, what };
            if i == 0 {
                if let Some(r) = region {
                    // The region entry's data is its trailer, already checked.
                    entries.push(Entry {
                        tag,
                        ty,
                        offset: r.rdl - REGION_TRAILER as u32,
                        count,
                        len: REGION_TRAILER as u32,
                    });
                    continue;
                }
            }
            let off =
                u64::try_from(offset).map_err(|_| err(format!("negative offset {offset}")))?;
            if end > off {
                return Err(err(format!(
                    "data at {off} overlaps the previous entry (ends at {end})"
                )));
            }
            if tag < 100 {
                return Err(err("tag number below 100".into()));
            }
            if !(types::CHAR..=types::I18NSTRING).contains(&ty) {
                return Err(err(format!("invalid type {ty}")));
            }
            if count == 0 || count > dl {
                return Err(err(format!("count {count} out of range")));
            }
            if ty != types::BIN && count > MAX_ARRAY {
                return Err(err(format!("count {count} exceeds the array limit")));
            }
            if off % type_align(ty) != 0 {
                return Err(err(format!("offset {off} misaligned for type {ty}")));
            }
            if off > u64::from(dl) {
                return Err(err(format!("offset {off} beyond the data ({dl} bytes)")));
            }
            let len = data_length(data, ty, off, count).map_err(err)?;
            if len == 0 {
                return Err(err("empty data".into()));
            }
            end = off + len;
            if end > u64::from(dl) {
                return Err(err(format!(
                    "data ends at {end}, beyond the data ({dl} bytes)"
                )));
            }
            if let Some(r) = region {
                let rdl = u64::from(r.rdl);
                if end > rdl - REGION_TRAILER && off < rdl {
                    return Err(err("data overlaps the region trailer".into()));
                }
            }
            entries.push(Entry {
                tag,
                ty,
                offset: off as u32,
                count,
                len: len as u32,
            });
        }
        Ok(entries)
    }

    /// `hdrblobImport`'s accounting: the entries, with alignment padding, must fill the data
    /// store exactly (plus the region trailer), so no bytes hide between entries.
    fn verify_accounting(&self, dl: u32) -> Result<(), BlobError> {
        let skip = usize::from(self.region.is_some());
        let mut rdlen: u64 = 0;
        for e in self.entries.iter().skip(skip) {
            let align = type_align(e.ty);
            if align > 1 {
                let diff = align - (rdlen % align);
                if diff != align {
                    rdlen += diff;
                }
            }
            rdlen += u64::from(e.len);
        }
        if self.region.is_some() {
            rdlen += REGION_TRAILER;
        }
        if rdlen != u64::from(dl) {
            return Err(BlobError::Framing(format!(
                "entries account for {rdlen} data bytes but dl is {dl}"
            )));
        }
        Ok(())
    }

    /// The whole blob as stored.
    pub fn bytes(&self) -> &'a [u8] {
        self.blob
    }

    pub fn region(&self) -> Option<Region> {
        self.region
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The bytes rpm hashes and signs: magic, `ril`, `rdl`, the region's entries and data.
    /// `None` for a legacy header without a region.
    pub fn immutable_region(&self) -> Option<Vec<u8>> {
        let p = self.immutable_region_parts()?;
        let mut out = Vec::with_capacity(p.head.len() + p.index.len() + p.data.len());
        for part in [&p.head[..], p.index, p.data] {
            out.extend_from_slice(part);
        }
        Some(out)
    }

    /// [`immutable_region`](Self::immutable_region) in its three pieces, to hash it without
    /// copying the region (a copy is as large as the header: megabytes for big packages).
    pub fn immutable_region_parts(&self) -> Option<RegionParts<'a>> {
        let r = self.region?;
        let b = Bytes(self.blob);
        let index = b.bytes_at(8, 16 * u64::from(r.ril)).ok()?;
        let data = self.data.bytes_at(0, u64::from(r.rdl)).ok()?;
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&HEADER_MAGIC);
        head[8..12].copy_from_slice(&r.ril.to_be_bytes());
        head[12..].copy_from_slice(&r.rdl.to_be_bytes());
        Some(RegionParts { head, index, data })
    }

    /// The entry for `tag`. Entries appended at install time (after the region) replace region
    /// entries of the same tag, as in rpm.
    pub fn entry(&self, tag: u32) -> Option<Entry> {
        let split = self
            .region
            .map_or(0, |r| r.ril as usize)
            .min(self.entries.len());
        let (region, dribble) = self.entries.split_at(split);
        dribble
            .iter()
            .chain(region.iter().skip(usize::from(self.region.is_some())))
            .find(|e| e.tag == tag)
            .copied()
    }

    /// A new blob (no region) holding only the entries of `tags` that are present, with the
    /// same types and data: for a parser that would otherwise build every entry of a header of
    /// megabytes to read a few of them.
    pub fn subset(&self, tags: &[u32]) -> Result<Vec<u8>, BlobError> {
        let mut index = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for e in tags.iter().filter_map(|&t| self.entry(t)) {
            while !(data.len() as u64).is_multiple_of(type_align(e.ty)) {
                data.push(0);
            }
            let offset = u32::try_from(data.len())
                .map_err(|_| BlobError::Framing("subset larger than 4 GiB".into()))?;
            for word in [e.tag, e.ty, offset, e.count] {
                index.extend_from_slice(&word.to_be_bytes());
            }
            data.extend_from_slice(self.entry_bytes(e)?);
        }
        let mut out = Vec::with_capacity(8 + index.len() + data.len());
        for n in [index.len() / 16, data.len()] {
            let n = u32::try_from(n)
                .map_err(|_| BlobError::Framing("subset larger than 4 GiB".into()))?;
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&index);
        out.extend_from_slice(&data);
        Ok(out)
    }

    fn entry_of(&self, tag: u32, allowed: &[u32]) -> Result<Option<Entry>, BlobError> {
        match self.entry(tag) {
            Some(e) if allowed.contains(&e.ty) => Ok(Some(e)),
            Some(e) => Err(BlobError::Tag {
                tag,
                what: format!("unexpected type {}", e.ty),
            }),
            None => Ok(None),
        }
    }

    fn entry_bytes(&self, e: Entry) -> Result<&'a [u8], BlobError> {
        Ok(self.data.bytes_at(u64::from(e.offset), u64::from(e.len))?)
    }

    /// Strings of a STRING, STRING_ARRAY or I18NSTRING entry (for I18NSTRING: every locale).
    pub fn strings(&self, tag: u32) -> Result<Option<Vec<&'a [u8]>>, BlobError> {
        self.string_iter(tag)?
            .map(|it| it.collect::<Result<Vec<_>, _>>())
            .transpose()
    }

    /// [`strings`](Self::strings) one at a time, read in place: a file list walks a dozen
    /// per-file arrays in step, and collecting each would add megabytes to the peak memory of
    /// a package with tens of thousands of files.
    pub fn string_iter(&self, tag: u32) -> Result<Option<StringIter<'a>>, BlobError> {
        let Some(e) = self.entry_of(
            tag,
            &[types::STRING, types::STRING_ARRAY, types::I18NSTRING],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(StringIter {
            rest: self.entry_bytes(e)?,
            left: e.count,
            tag,
        }))
    }

    /// The first string of a string-class entry (the "C" locale for I18NSTRING).
    pub fn string(&self, tag: u32) -> Result<Option<&'a [u8]>, BlobError> {
        self.string_iter(tag)?
            .and_then(|mut it| it.next())
            .transpose()
    }

    /// A string as UTF-8 (lossy for the rare non-UTF-8 header).
    pub fn string_lossy(&self, tag: u32) -> Result<Option<String>, BlobError> {
        Ok(self
            .string(tag)?
            .map(|s| String::from_utf8_lossy(s).into_owned()))
    }

    /// Raw bytes of a CHAR, INT8 or BIN entry.
    pub fn raw_bytes(&self, tag: u32) -> Result<Option<&'a [u8]>, BlobError> {
        match self.entry_of(tag, &[types::CHAR, types::INT8, types::BIN])? {
            Some(e) => Ok(Some(self.entry_bytes(e)?)),
            None => Ok(None),
        }
    }

    /// An INT16, INT32 or INT64 entry (`ty`) read in place; see [`IntArray`].
    pub fn ints(&self, tag: u32, ty: u32) -> Result<Option<IntArray<'a>>, BlobError> {
        let Some(e) = self.entry_of(tag, &[ty])? else {
            return Ok(None);
        };
        let width = match ty {
            types::INT16 => 2,
            types::INT32 => 4,
            types::INT64 => 8,
            _ => {
                return Err(BlobError::Tag {
                    tag,
                    what: format!("type {ty} is not an integer array"),
                })
            }
        };
        Ok(Some(IntArray {
            bytes: Bytes(self.entry_bytes(e)?),
            width,
            count: e.count as usize,
        }))
    }

    fn int_vec<T>(
        &self,
        tag: u32,
        ty: u32,
        narrow: impl Fn(u64) -> T,
    ) -> Result<Option<Vec<T>>, BlobError> {
        let Some(v) = self.ints(tag, ty)? else {
            return Ok(None);
        };
        (0..v.len())
            .map(|i| {
                v.get(i).map(&narrow).ok_or_else(|| BlobError::Tag {
                    tag,
                    what: format!("element {i} runs past the data"),
                })
            })
            .collect::<Result<Vec<_>, BlobError>>()
            .map(Some)
    }

    pub fn u16_array(&self, tag: u32) -> Result<Option<Vec<u16>>, BlobError> {
        // The value was read from two bytes: the narrowing cannot lose anything.
        self.int_vec(tag, types::INT16, |x| x as u16)
    }

    pub fn u32_array(&self, tag: u32) -> Result<Option<Vec<u32>>, BlobError> {
        self.int_vec(tag, types::INT32, |x| x as u32)
    }

    pub fn u64_array(&self, tag: u32) -> Result<Option<Vec<u64>>, BlobError> {
        self.int_vec(tag, types::INT64, |x| x)
    }

    /// First element of an INT32 entry.
    pub fn u32(&self, tag: u32) -> Result<Option<u32>, BlobError> {
        Ok(self
            .ints(tag, types::INT32)?
            .and_then(|v| v.get(0))
            .map(|x| x as u32))
    }

    /// Check SHA256HEADER, else SHA1HEADER, against the immutable region.
    pub fn digest_status(&self) -> Result<super::HeaderDigest, BlobError> {
        use super::HeaderDigest;
        let sha256 = self.string(rpm::IndexTag::RPMTAG_SHA256HEADER as u32)?;
        let sha1 = self.string(rpm::IndexTag::RPMTAG_SHA1HEADER as u32)?;
        if sha256.is_none() && sha1.is_none() {
            return Ok(HeaderDigest::Missing);
        }
        let Some(region) = self.immutable_region_parts() else {
            // A digest without a region to check it against cannot be vouched for.
            return Ok(HeaderDigest::Mismatch);
        };
        // SHA-1 only when there is no SHA-256: both cover the same region, so once the stronger
        // one matches the weaker adds nothing but a second pass over every header.
        let ok = match (sha256, sha1) {
            (Some(want), _) => region.digest_is::<Sha256>(want),
            (None, Some(want)) => region.digest_is::<Sha1>(want),
            (None, None) => false,
        };
        Ok(if ok {
            HeaderDigest::Ok
        } else {
            HeaderDigest::Mismatch
        })
    }
}

/// The strings of one string-class entry, in order, borrowed from the blob.
#[derive(Clone)]
pub struct StringIter<'a> {
    rest: &'a [u8],
    left: u32,
    tag: u32,
}

impl StringIter<'_> {
    /// How many strings the entry holds (its count, whether or not they were read yet).
    pub fn count_left(&self) -> usize {
        self.left as usize
    }
}

impl<'a> Iterator for StringIter<'a> {
    type Item = Result<&'a [u8], BlobError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let Some(n) = self.rest.iter().position(|&c| c == 0) else {
            self.left = 0;
            return Some(Err(BlobError::Tag {
                tag: self.tag,
                what: "unterminated string".into(),
            }));
        };
        let (s, tail) = self.rest.split_at(n);
        self.rest = tail.get(1..).unwrap_or_default();
        Some(Ok(s))
    }
}

/// A big-endian integer array entry of a header, borrowed from the blob; elements are decoded
/// on demand.
#[derive(Clone, Copy)]
pub struct IntArray<'a> {
    bytes: Bytes<'a>,
    width: u64,
    count: usize,
}

impl IntArray<'_> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Element `i`, widened to `u64`; `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        if i >= self.count {
            return None;
        }
        let at = (i as u64).checked_mul(self.width)?;
        match self.width {
            2 => self.bytes.u16_at(at, Endian::Big).ok().map(u64::from),
            4 => self.bytes.u32_at(at, Endian::Big).ok().map(u64::from),
            _ => self.bytes.u64_at(at, Endian::Big).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a blob from (tag, type, count, data) entries with rpm's layout: a region entry 63
    /// whose trailer follows the region's data, then optional dribble entries.
    pub(crate) fn build(
        region: &[(u32, u32, u32, Vec<u8>)],
        dribble: &[(u32, u32, u32, Vec<u8>)],
    ) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        let push =
            |data: &mut Vec<u8>, index: &mut Vec<[u32; 4]>, tag, ty, count, bytes: &Vec<u8>| {
                let a = type_align(ty) as usize;
                while !data.len().is_multiple_of(a) {
                    data.push(0);
                }
                index.push([tag, ty, data.len() as u32, count]);
                data.extend_from_slice(bytes);
            };
        for (tag, ty, count, bytes) in region {
            push(&mut data, &mut index, *tag, *ty, *count, bytes);
        }
        let ril = index.len() as u32 + 1;
        let trailer_off = data.len() as u32;
        data.extend_from_slice(&63u32.to_be_bytes());
        data.extend_from_slice(&7u32.to_be_bytes());
        data.extend_from_slice(&(-(ril as i32 * 16)).to_be_bytes());
        data.extend_from_slice(&16u32.to_be_bytes());
        for (tag, ty, count, bytes) in dribble {
            push(&mut data, &mut index, *tag, *ty, *count, bytes);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(index.len() as u32 + 1).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for w in [63u32, 7, trailer_off, 16] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for e in &index {
            for w in e {
                out.extend_from_slice(&w.to_be_bytes());
            }
        }
        out.extend_from_slice(&data);
        out
    }

    fn s(x: &str) -> Vec<u8> {
        let mut v = x.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn sample() -> Vec<u8> {
        build(
            &[
                (1000, types::STRING, 1, s("demo")),
                (1001, types::STRING, 1, s("1.0")),
                (
                    1028,
                    types::INT32,
                    2,
                    [7u32.to_be_bytes(), 9u32.to_be_bytes()].concat(),
                ),
            ],
            &[(1008, types::INT32, 1, 42u32.to_be_bytes().to_vec())],
        )
    }

    #[test]
    fn valid_blob_reads_back() {
        let blob = sample();
        let h = HeaderBlob::parse(&blob).unwrap();
        assert_eq!(h.region().map(|r| r.ril), Some(4));
        assert_eq!(h.string(1000).unwrap(), Some(&b"demo"[..]));
        assert_eq!(h.u32_array(1028).unwrap(), Some(vec![7, 9]));
        assert_eq!(h.u32(1008).unwrap(), Some(42));
        assert_eq!(h.u32(1009).unwrap(), None);
        assert!(h.u16_array(1028).is_err(), "type mismatch must be an error");
        assert_eq!(
            h.digest_status().unwrap(),
            crate::rpmdb::HeaderDigest::Missing
        );
    }

    #[test]
    fn subset_keeps_only_the_named_entries_with_their_data() {
        let blob = sample();
        let h = HeaderBlob::parse(&blob).unwrap();
        // "demo\0" (5 bytes) before 1028 (INT32s): the copy must realign the integers.
        let sub = h.subset(&[1000, 1028, 1008, 4242]).unwrap();
        let s = HeaderBlob::parse(&sub).unwrap();
        assert_eq!(s.region(), None);
        assert_eq!(s.entries().len(), 3, "the absent tag 4242 adds nothing");
        assert_eq!(s.string(1001).unwrap(), None);
        assert_eq!(s.string(1000).unwrap(), Some(&b"demo"[..]));
        assert_eq!(s.u32_array(1028).unwrap(), Some(vec![7, 9]));
        assert_eq!(
            s.u32(1008).unwrap(),
            Some(42),
            "the entry in force is copied"
        );
    }

    #[test]
    fn dribble_entry_replaces_region_entry() {
        let blob = build(
            &[(1008, types::INT32, 1, 1u32.to_be_bytes().to_vec())],
            &[(1008, types::INT32, 1, 2u32.to_be_bytes().to_vec())],
        );
        let h = HeaderBlob::parse(&blob).unwrap();
        assert_eq!(h.u32(1008).unwrap(), Some(2));
    }

    #[test]
    fn rejects_each_kind_of_damage() {
        let good = sample();
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut t = good.clone();
        t.truncate(t.len() - 1);
        cases.push(("truncated", t));
        let mut t = good.clone();
        t[0..4].copy_from_slice(&0x10000u32.to_be_bytes());
        cases.push(("il too large", t));
        let mut t = good.clone();
        // entry 1 offset (index starts at 8, entry 1 at 24, offset field at +8)
        t[32..36].copy_from_slice(&0x7fff_0000u32.to_be_bytes());
        cases.push(("offset past data", t));
        let mut t = good.clone();
        t[32..36].copy_from_slice(&(-4i32).to_be_bytes());
        cases.push(("negative offset", t));
        let mut t = good.clone();
        t[28..32].copy_from_slice(&42u32.to_be_bytes());
        cases.push(("bad type", t));
        let mut t = good.clone();
        t[36..40].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
        cases.push(("huge count", t));
        let mut t = good.clone();
        t[24..28].copy_from_slice(&5u32.to_be_bytes());
        cases.push(("tag below 100", t));
        for (what, blob) in cases {
            assert!(HeaderBlob::parse(&blob).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn every_truncation_and_flip_is_handled() {
        let good = sample();
        for n in 0..good.len() {
            let _ = HeaderBlob::parse(&good[..n]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut t = good.clone();
                t[i] ^= 1 << bit;
                if let Ok(h) = HeaderBlob::parse(&t) {
                    for e in h.entries().to_vec() {
                        let _ = h.strings(e.tag);
                        let _ = h.u32_array(e.tag);
                        let _ = h.raw_bytes(e.tag);
                    }
                    let _ = h.digest_status();
                }
            }
        }
    }
}
