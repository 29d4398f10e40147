//! Berkeley DB hash `Packages` reader (rpm's `bdb` / `bdb_ro` backend), without libdb or librpm.
//!
//! Owns: the meta page checks, the bucket walk in rpm's order, and the reassembly of off-page
//! values from overflow chains. It yields `(hnum, header blob)` records exactly as stored; it does
//! not look inside a blob (`blob.rs` validates those), never opens files and never writes.
//!
//! Layout and checks follow `specs/rpmdb-formats.md` section 2 and Berkeley DB's `db_page.h`; field
//! names are BDB's (`pgno`, `next_pgno`, `hf_offset`, `tlen`, `spares`, `max_bucket`). The input
//! is untrusted: every read goes through [`Bytes`], every page chain has a visited set, and every
//! length is checked against the file before anything is allocated.
//!
//! Error granularity: a bad meta page or a truncated file is a [`FormatError`] for the whole
//! database, because without a trustworthy page size and page count nothing else can be located.
//! Damage below the meta page costs a [`BadRecord`]: a broken bucket page ends that bucket's chain
//! (other buckets are still read), a broken overflow chain costs the one record that owns it.

use std::collections::{HashMap, HashSet};

use super::bytes::{Bytes, Endian};
use super::{BadRecord, FormatError, Record, RecordResult};

/// `DB_HASHMAGIC`, as read little-endian from a database written on a little-endian host.
const DB_HASHMAGIC: u32 = 0x0006_1561;
/// `DB_HASHMAGIC` read little-endian from a big-endian database (s390x, ppc64).
const DB_HASHMAGIC_SWAPPED: u32 = 0x6115_0600;
/// `DB_BTREEMAGIC` in both byte orders: only index files are btrees, so it gets its own message.
const DB_BTREEMAGIC: u32 = 0x0005_3162;
const DB_BTREEMAGIC_SWAPPED: u32 = 0x6231_0500;

/// Bytes of the hash meta page (`HMETA33`) that carry fields; the page itself is `pagesize` long.
const HASHMETA_SIZE: u64 = 512;

// Offsets inside the meta page (`DBMETA` then `HMETA33`).
/// `pgno` of the meta page itself, always 0.
const META_PGNO: u64 = 8;
const META_MAGIC: u64 = 12;
/// Hash access-method version: 8 (BDB 3.2 to 4.5), 9 (4.6 to 5.3), 10 (6.x).
const META_VERSION: u64 = 16;
const META_PAGESIZE: u64 = 20;
const META_ENCRYPT_ALG: u64 = 24;
const META_TYPE: u64 = 25;
const META_METAFLAGS: u64 = 26;
const META_LAST_PGNO: u64 = 32;
/// Hash access-method flags (`DB_HASH_DUP`, `DB_HASH_SUBDB`, `DB_HASH_DUPSORT`).
const META_FLAGS: u64 = 48;
const META_MAX_BUCKET: u64 = 72;
/// `spares[32]`: the page offset of each hash-table split point.
const META_SPARES: u64 = 96;
const NCACHED: usize = 32;

/// Hash versions rpm's `bdb_ro` accepts.
const HASH_VERSIONS: std::ops::RangeInclusive<u32> = 8..=10;
/// `db_page.h`: "Minimum page size is 512"; BDB's largest is 64 KiB.
const MIN_PAGESIZE: u32 = 512;
const MAX_PAGESIZE: u32 = 65536;
/// `DBMETA_CHKSUM | DBMETA_PART_RANGE | DBMETA_PART_CALLBACK`: each moves or splits page data.
const METAFLAGS_UNSUPPORTED: u8 = 0x07;
const DB_HASH_DUP: u32 = 0x01;
const DB_HASH_SUBDB: u32 = 0x02;
const DB_HASH_DUPSORT: u32 = 0x04;

// Page types (`db_page.h`).
const P_INVALID: u8 = 0;
/// Hash bucket page of hash version 8 (BDB < 4.6); same item layout as `P_HASH`.
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

// Hash item types: the first byte of every item on a bucket page.
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;

/// Generic page header (`SIZEOF_PAGE`); the index array (hash pages) or the data (overflow pages)
/// starts right after it. Valid only without checksums or encryption, which the meta checks ensure.
const SIZEOF_PAGE: u64 = 26;
// Offsets inside the generic page header.
const PAGE_PGNO: u64 = 8;
const PAGE_NEXT_PGNO: u64 = 16;
const PAGE_ENTRIES: u64 = 20;
const PAGE_HF_OFFSET: u64 = 22;
const PAGE_TYPE: u64 = 25;

/// `HOFFPAGE`: `u8 type, u8 unused[3], u32 pgno, u32 tlen`.
const HOFFPAGE_SIZE: u64 = 12;
const HOFFPAGE_PGNO: u64 = 4;
const HOFFPAGE_TLEN: u64 = 8;

/// rpm's keys are a u32 header instance number.
const KEY_SIZE: u64 = 4;

/// Largest header blob accepted (rpm's `headerMaxbytes`).
pub const MAX_HEADER_BYTES: u64 = 256 << 20;

/// Every record of the database held in `data`, in rpm's order.
///
/// `data` is the whole `Packages` file. Key 0 (rpm's "last instance" counter) and keys that are not
/// 4 bytes long are skipped, as rpm skips them. A header instance that appears twice is reported
/// as a [`BadRecord`] and the first one is kept.
pub fn read(data: &[u8]) -> Result<Vec<RecordResult>, FormatError> {
    let data = Bytes(data);
    let meta = HashMeta::parse(data)?;
    let mut walk = Walk {
        data,
        meta,
        bucket_pages: HashSet::new(),
        overflow_owner: HashMap::new(),
        next_chain: 0,
        hnums: HashSet::new(),
        out: Vec::new(),
    };
    walk.all_buckets();
    Ok(walk.out)
}

/// The meta page fields the reader needs, already validated and in host byte order.
#[derive(Debug, Clone)]
struct HashMeta {
    /// Byte order of every structural field (decided by the magic).
    endian: Endian,
    /// Hash version; only recorded for error messages, since versions 8..=10 share the page layout.
    version: u32,
    pagesize: u32,
    /// Last page number in the file; every page reference must be in `1..=last_pgno`.
    last_pgno: u32,
    /// Highest bucket number in use; buckets are `0..=max_bucket`.
    max_bucket: u32,
    /// `spares[bit_length(bucket)] + bucket` is the first page of `bucket`.
    spares: [u32; NCACHED],
}

impl HashMeta {
    /// Spec 2.9, items 1 to 3: anything wrong here makes every page offset meaningless.
    fn parse(data: Bytes<'_>) -> Result<HashMeta, FormatError> {
        if data.len() < HASHMETA_SIZE {
            return Err(FormatError::new(
                0,
                format!(
                    "file is {} bytes, shorter than the {HASHMETA_SIZE}-byte Berkeley DB meta page",
                    data.len()
                ),
            ));
        }
        let endian = match data.u32_at(META_MAGIC, Endian::Little)? {
            DB_HASHMAGIC => Endian::Little,
            DB_HASHMAGIC_SWAPPED => Endian::Big,
            DB_BTREEMAGIC | DB_BTREEMAGIC_SWAPPED => {
                return Err(FormatError::new(
                    META_MAGIC,
                    "Berkeley DB btree (an rpm index file), not the hash Packages database",
                ))
            }
            m => {
                return Err(FormatError::new(
                    META_MAGIC,
                    format!("not a Berkeley DB hash database (magic {m:#010x})"),
                ))
            }
        };
        let u32_at = |off| data.u32_at(off, endian);
        let pgno = u32_at(META_PGNO)?;
        if pgno != 0 {
            return Err(FormatError::new(
                META_PGNO,
                format!("meta page pgno is {pgno}, expected 0"),
            ));
        }
        let version = u32_at(META_VERSION)?;
        if !HASH_VERSIONS.contains(&version) {
            return Err(FormatError::new(
                META_VERSION,
                format!("unsupported hash version {version} (supported: 8 to 10)"),
            ));
        }
        let pagesize = u32_at(META_PAGESIZE)?;
        if !pagesize.is_power_of_two() || !(MIN_PAGESIZE..=MAX_PAGESIZE).contains(&pagesize) {
            return Err(FormatError::new(
                META_PAGESIZE,
                format!("page size {pagesize} is not a power of two in 512..=65536"),
            ));
        }
        let encrypt_alg = data.u8_at(META_ENCRYPT_ALG)?;
        if encrypt_alg != 0 {
            return Err(FormatError::new(
                META_ENCRYPT_ALG,
                format!("encrypted database (encrypt_alg {encrypt_alg}); rpm never encrypts"),
            ));
        }
        let page_type = data.u8_at(META_TYPE)?;
        if page_type != P_HASHMETA {
            return Err(FormatError::new(
                META_TYPE,
                format!("meta page type is {page_type}, expected {P_HASHMETA} (hash meta)"),
            ));
        }
        let metaflags = data.u8_at(META_METAFLAGS)?;
        if metaflags & METAFLAGS_UNSUPPORTED != 0 {
            return Err(FormatError::new(
                META_METAFLAGS,
                format!(
                    "metaflags {metaflags:#04x}: page checksums or partitioning, never used by rpm"
                ),
            ));
        }
        let flags = u32_at(META_FLAGS)?;
        if flags & (DB_HASH_DUP | DB_HASH_SUBDB | DB_HASH_DUPSORT) != 0 {
            return Err(FormatError::new(
                META_FLAGS,
                format!("hash flags {flags:#x}: duplicates or sub-databases, never used by rpm"),
            ));
        }
        let last_pgno = u32_at(META_LAST_PGNO)?;
        if last_pgno == 0 {
            return Err(FormatError::new(
                META_LAST_PGNO,
                "last_pgno is 0: the database has no bucket page",
            ));
        }
        // u64 cannot overflow: (2^32) * 2^16.
        let needed = (u64::from(last_pgno) + 1) * u64::from(pagesize);
        if needed > data.len() {
            return Err(FormatError::new(
                META_LAST_PGNO,
                format!(
                    "database truncated: last_pgno {last_pgno} with {pagesize}-byte pages needs \
                     {needed} bytes, the file has {}",
                    data.len()
                ),
            ));
        }
        let max_bucket = u32_at(META_MAX_BUCKET)?;
        // Every bucket owns at least one page of its own, so more buckets than pages is corruption;
        // this also bounds the bucket loop by the file size.
        if max_bucket >= last_pgno {
            return Err(FormatError::new(
                META_MAX_BUCKET,
                format!("max_bucket {max_bucket} needs more pages than last_pgno {last_pgno}"),
            ));
        }
        let mut spares = [0u32; NCACHED];
        for (i, spare) in (0u64..).zip(spares.iter_mut()) {
            *spare = u32_at(META_SPARES + 4 * i)?;
        }
        Ok(HashMeta {
            endian,
            version,
            pagesize,
            last_pgno,
            max_bucket,
            spares,
        })
    }

    /// File offset of page `pgno`.
    fn page_offset(&self, pgno: u32) -> u64 {
        u64::from(pgno) * u64::from(self.pagesize)
    }
}

/// The generic page header (`PAGE` in `db_page.h`), fields in host byte order.
#[derive(Debug, Clone, Copy)]
struct PageHeader {
    /// The page's own number; must equal the number it was reached by.
    pgno: u32,
    /// Next page of the same bucket chain or overflow chain; 0 ends the chain.
    next_pgno: u32,
    /// Hash pages: number of index slots (key and data alternate).
    entries: u16,
    /// Hash pages: lowest used byte. Overflow pages: `OV_LEN`, the data bytes on this page.
    hf_offset: u16,
    page_type: u8,
}

/// One pass over the buckets, collecting records and damage reports.
struct Walk<'a> {
    data: Bytes<'a>,
    meta: HashMeta,
    /// Bucket pages already walked by any bucket: a repeat is a cycle or two chains sharing a page.
    bucket_pages: HashSet<u32>,
    /// Overflow page -> the chain that consumed it. BDB hash never shares overflow pages without
    /// duplicates, so a page seen again is a cycle (same chain) or cross-linked (other chain);
    /// refusing both bounds the bytes copied by the file size.
    overflow_owner: HashMap<u32, usize>,
    next_chain: usize,
    /// Header instances already seen, to report duplicates.
    hnums: HashSet<u32>,
    out: Vec<RecordResult>,
}

/// Where the damage is and what it is; becomes a [`BadRecord`] once the hnum is known.
type Damage = FormatError;

impl<'a> Walk<'a> {
    fn bad(&mut self, hnum: Option<u32>, damage: Damage) {
        self.out.push(Err(BadRecord {
            hnum,
            offset: Some(damage.offset),
            reason: damage.what,
        }));
    }

    /// rpm's order: buckets `0..=max_bucket`, each from its first page along `next_pgno`.
    fn all_buckets(&mut self) {
        for bucket in 0..=self.meta.max_bucket {
            // BDB's `BUCKET_TO_PAGE`: bucket + spares[__db_log2(bucket + 1)], i.e. the bit length.
            let bit_length = (u32::BITS - bucket.leading_zeros()) as usize;
            let spare_off = META_SPARES + 4 * bit_length as u64;
            let first = self
                .meta
                .spares
                .get(bit_length)
                .and_then(|spare| bucket.checked_add(*spare));
            match first {
                Some(pgno) => self.bucket_chain(bucket, pgno, spare_off),
                None => self.bad(
                    None,
                    Damage::new(
                        spare_off,
                        format!("bucket {bucket}: spares entry overflows"),
                    ),
                ),
            }
        }
    }

    /// Walk one bucket chain. `from` is the file offset of the pointer that named `pgno`.
    fn bucket_chain(&mut self, bucket: u32, mut pgno: u32, mut from: u64) {
        let mut first = true;
        loop {
            if pgno == 0 && !first {
                return;
            }
            let hdr = match self.bucket_page(bucket, pgno, from, first) {
                Ok(Some(hdr)) => hdr,
                // A never-written first page: the bucket is empty.
                Ok(None) => return,
                Err(damage) => return self.bad(None, damage),
            };
            let base = self.meta.page_offset(pgno);
            match self.index_array(base, hdr) {
                Ok(inp) => self.pairs(base, &inp),
                Err(damage) => self.bad(None, damage),
            }
            first = false;
            from = base + PAGE_NEXT_PGNO;
            pgno = hdr.next_pgno;
        }
    }

    /// Check page `pgno` as a member of `bucket`'s chain. `Ok(None)` for an all-zero first page,
    /// which BDB leaves behind for buckets that never received a record (an empty database).
    fn bucket_page(
        &mut self,
        bucket: u32,
        pgno: u32,
        from: u64,
        first: bool,
    ) -> Result<Option<PageHeader>, Damage> {
        self.check_pgno(pgno, from, "bucket")?;
        if !self.bucket_pages.insert(pgno) {
            return Err(Damage::new(
                from,
                format!("bucket {bucket}: chain reaches page {pgno} again (cycle or cross-linked chains)"),
            ));
        }
        let base = self.meta.page_offset(pgno);
        if first && self.is_zero_page(base)? {
            return Ok(None);
        }
        let hdr = self.header(pgno)?;
        if hdr.pgno != pgno {
            return Err(self.wrong_pgno(pgno, hdr, "bucket"));
        }
        if hdr.page_type != P_HASH && hdr.page_type != P_HASH_UNSORTED {
            return Err(Damage::new(
                base + PAGE_TYPE,
                format!(
                    "bucket {bucket}: page {pgno} has type {}, expected a hash page ({P_HASH} or {P_HASH_UNSORTED})",
                    hdr.page_type
                ),
            ));
        }
        Ok(Some(hdr))
    }

    /// Page references must stay in `1..=last_pgno`; page 0 is the meta page.
    fn check_pgno(&self, pgno: u32, from: u64, what: &str) -> Result<(), Damage> {
        if pgno == 0 || pgno > self.meta.last_pgno {
            return Err(Damage::new(
                from,
                format!(
                    "{what} page reference {pgno} outside 1..={}",
                    self.meta.last_pgno
                ),
            ));
        }
        Ok(())
    }

    fn is_zero_page(&self, base: u64) -> Result<bool, Damage> {
        let page = self.data.bytes_at(base, u64::from(self.meta.pagesize))?;
        Ok(page.iter().all(|&b| b == 0))
    }

    fn header(&self, pgno: u32) -> Result<PageHeader, Damage> {
        let base = self.meta.page_offset(pgno);
        let e = self.meta.endian;
        Ok(PageHeader {
            pgno: self.data.u32_at(base + PAGE_PGNO, e)?,
            next_pgno: self.data.u32_at(base + PAGE_NEXT_PGNO, e)?,
            entries: self.data.u16_at(base + PAGE_ENTRIES, e)?,
            hf_offset: self.data.u16_at(base + PAGE_HF_OFFSET, e)?,
            page_type: self.data.u8_at(base + PAGE_TYPE)?,
        })
    }

    fn wrong_pgno(&self, pgno: u32, hdr: PageHeader, what: &str) -> Damage {
        let base = self.meta.page_offset(pgno);
        let reason = if hdr.pgno == 0 && hdr.page_type == P_INVALID {
            format!("{what} page {pgno} was never written (pgno 0, type 0)")
        } else {
            format!("{what} page {pgno} says it is page {}", hdr.pgno)
        };
        Damage::new(base + PAGE_PGNO, reason)
    }

    /// The item offsets (`inp[]`) of a hash page, checked per spec 2.9 item 5 so that every item
    /// length computed from them is at least 1 and items cannot overlap.
    fn index_array(&self, base: u64, hdr: PageHeader) -> Result<Vec<u16>, Damage> {
        let pagesize = u64::from(self.meta.pagesize);
        let entries = u64::from(hdr.entries);
        let lowest = SIZEOF_PAGE + 2 * entries;
        if entries % 2 != 0 || lowest > pagesize {
            return Err(Damage::new(
                base + PAGE_ENTRIES,
                format!(
                    "hash page has {entries} index entries (must be even and fit in the page; hash version {})",
                    self.meta.version
                ),
            ));
        }
        let mut inp = Vec::with_capacity(usize::from(hdr.entries));
        let mut above = pagesize;
        for i in 0..entries {
            let at = base + SIZEOF_PAGE + 2 * i;
            let off = self.data.u16_at(at, self.meta.endian)?;
            if u64::from(off) < lowest || u64::from(off) >= above {
                return Err(Damage::new(
                    at,
                    format!(
                        "hash page index entry {i} is {off}, outside {lowest}..{above} \
                         (items must lie below the index and below the previous item)"
                    ),
                ));
            }
            above = u64::from(off);
            inp.push(off);
        }
        Ok(inp)
    }

    /// Every key/data pair of one hash page, in index order.
    fn pairs(&mut self, base: u64, inp: &[u16]) {
        let pagesize = u64::from(self.meta.pagesize);
        let mut above = pagesize;
        for pair in inp.chunks_exact(2) {
            let &[koff, doff] = pair else { continue };
            let (koff, doff) = (u64::from(koff), u64::from(doff));
            // `LEN_HITEM`: an item runs up to the item above it (or the page end).
            let (key_at, klen) = (base + koff, above - koff);
            let (data_at, dlen) = (base + doff, koff - doff);
            above = doff;
            match self.key(key_at, klen) {
                Ok(Some(hnum)) => self.record(hnum, data_at, dlen),
                Ok(None) => {}
                Err(damage) => self.bad(None, damage),
            }
        }
    }

    /// The hnum of a key item; `None` for keys rpm skips (not 4 bytes, or 0).
    fn key(&self, at: u64, len: u64) -> Result<Option<u32>, Damage> {
        match self.data.u8_at(at)? {
            H_KEYDATA if len == 1 + KEY_SIZE => {
                let hnum = self.data.u32_at(at + 1, self.meta.endian)?;
                Ok((hnum != 0).then_some(hnum))
            }
            // rpm's `pkgdbKey` turns any other key length into 0, which its iterator skips.
            H_KEYDATA => Ok(None),
            // BDB moves only items over pagesize/4 (at least 128 bytes) off-page, so an off-page
            // key can never be a 4-byte hnum: skipped like other odd-sized keys.
            H_OFFPAGE if len == HOFFPAGE_SIZE => Ok(None),
            H_OFFPAGE => Err(Damage::new(
                at,
                format!("off-page key item is {len} bytes, expected {HOFFPAGE_SIZE}"),
            )),
            t => Err(item_type_damage(at, t, "key")),
        }
    }

    /// Read the value of `hnum` and record it (or the reason it is unreadable).
    fn record(&mut self, hnum: u32, at: u64, len: u64) {
        if !self.hnums.insert(hnum) {
            return self.bad(
                Some(hnum),
                Damage::new(
                    at,
                    "header instance appears twice in the database; the first one is kept",
                ),
            );
        }
        match self.value(at, len) {
            Ok(blob) => self.out.push(Ok(Record { hnum, blob })),
            Err(damage) => self.bad(Some(hnum), damage),
        }
    }

    /// A data item: inline (`H_KEYDATA`) or off-page (`H_OFFPAGE`). The blob is returned as stored.
    fn value(&mut self, at: u64, len: u64) -> Result<Vec<u8>, Damage> {
        match self.data.u8_at(at)? {
            H_KEYDATA => Ok(self.data.bytes_at(at + 1, len - 1)?.to_vec()),
            H_OFFPAGE if len == HOFFPAGE_SIZE => {
                let pgno = self.data.u32_at(at + HOFFPAGE_PGNO, self.meta.endian)?;
                let tlen = self.data.u32_at(at + HOFFPAGE_TLEN, self.meta.endian)?;
                self.overflow(at, pgno, tlen)
            }
            H_OFFPAGE => Err(Damage::new(
                at,
                format!("off-page item is {len} bytes, expected {HOFFPAGE_SIZE}"),
            )),
            t => Err(item_type_damage(at, t, "data")),
        }
    }

    /// Reassemble an off-page item from its overflow chain (spec 2.6): each page contributes
    /// `OV_LEN` (`hf_offset`) bytes until exactly `tlen` bytes are collected.
    fn overflow(&mut self, item_at: u64, pgno: u32, tlen: u32) -> Result<Vec<u8>, Damage> {
        let tlen_at = item_at + HOFFPAGE_TLEN;
        let want = u64::from(tlen);
        if want == 0 {
            return Err(Damage::new(tlen_at, "off-page item with tlen 0"));
        }
        if want > MAX_HEADER_BYTES {
            return Err(Damage::new(
                tlen_at,
                format!(
                    "off-page item tlen {tlen} exceeds the {MAX_HEADER_BYTES}-byte header limit"
                ),
            ));
        }
        let per_page = u64::from(self.meta.pagesize) - SIZEOF_PAGE;
        let capacity = u64::from(self.meta.last_pgno) * per_page;
        if want > capacity {
            return Err(Damage::new(
                tlen_at,
                format!(
                    "off-page item tlen {tlen} is more than the file's pages can hold ({capacity})"
                ),
            ));
        }
        let chain = self.next_chain;
        self.next_chain += 1;
        // `want` is at most the file size (checked above), so this allocation is bounded by it.
        let mut out = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        let mut pgno = pgno;
        let mut from = item_at + HOFFPAGE_PGNO;
        let mut got = 0u64;
        while got < want {
            // Page 0 as the first page is a bad reference (below); later it ends the chain early.
            if pgno == 0 && got > 0 {
                return Err(Damage::new(
                    from,
                    format!("overflow chain ends after {got} of tlen {tlen} bytes"),
                ));
            }
            self.check_pgno(pgno, from, "overflow")?;
            if let Some(owner) = self.overflow_owner.insert(pgno, chain) {
                let reason = if owner == chain {
                    format!("overflow chain reaches page {pgno} again (cycle)")
                } else {
                    format!("overflow page {pgno} already belongs to another record")
                };
                return Err(Damage::new(from, reason));
            }
            let hdr = self.header(pgno)?;
            let base = self.meta.page_offset(pgno);
            if hdr.pgno != pgno {
                return Err(self.wrong_pgno(pgno, hdr, "overflow"));
            }
            if hdr.page_type != P_OVERFLOW {
                return Err(Damage::new(
                    base + PAGE_TYPE,
                    format!(
                        "overflow chain page {pgno} has type {}, expected {P_OVERFLOW}",
                        hdr.page_type
                    ),
                ));
            }
            // OV_LEN: bytes of item data on this page.
            let n = u64::from(hdr.hf_offset);
            if n == 0 || SIZEOF_PAGE + n > u64::from(self.meta.pagesize) || got + n > want {
                return Err(Damage::new(
                    base + PAGE_HF_OFFSET,
                    format!(
                        "overflow page {pgno} holds {n} bytes (OV_LEN must be 1..={per_page} \
                         and stay within tlen {tlen}; {got} bytes collected)"
                    ),
                ));
            }
            out.extend_from_slice(self.data.bytes_at(base + SIZEOF_PAGE, n)?);
            got += n;
            from = base + PAGE_NEXT_PGNO;
            pgno = hdr.next_pgno;
        }
        // Like rpm, a non-zero next_pgno after exactly tlen bytes is not an error: the item is
        // complete and its length is the one the bucket page declared.
        Ok(out)
    }
}

fn item_type_damage(at: u64, item_type: u8, what: &str) -> Damage {
    let reason = match item_type {
        H_DUPLICATE | H_OFFDUP => {
            format!("{what} item of type {item_type} (duplicates), which rpm's Packages never uses")
        }
        t => format!("{what} item has unknown type {t}"),
    };
    Damage::new(at, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built hash database: page 0 is filled from the fields below by `build`.
    struct TestDb {
        endian: Endian,
        pagesize: usize,
        version: u32,
        max_bucket: u32,
        spares: [u32; NCACHED],
        pages: Vec<Vec<u8>>,
    }

    impl TestDb {
        /// `npages` pages of 512 bytes (page 0 included), one bucket on page 1.
        fn new(endian: Endian, npages: usize) -> TestDb {
            let mut spares = [0u32; NCACHED];
            spares[0] = 1;
            spares[1] = 1;
            TestDb {
                endian,
                pagesize: 512,
                version: 9,
                max_bucket: 0,
                spares,
                pages: vec![vec![0u8; 512]; npages],
            }
        }

        fn u32(&self, v: u32) -> [u8; 4] {
            match self.endian {
                Endian::Little => v.to_le_bytes(),
                Endian::Big => v.to_be_bytes(),
            }
        }

        fn u16(&self, v: u16) -> [u8; 2] {
            match self.endian {
                Endian::Little => v.to_le_bytes(),
                Endian::Big => v.to_be_bytes(),
            }
        }

        fn header(&mut self, pgno: usize, page_type: u8, next_pgno: u32, entries: u16, hf: u16) {
            let (p, n, e, h) = (
                self.u32(pgno as u32),
                self.u32(next_pgno),
                self.u16(entries),
                self.u16(hf),
            );
            let page = &mut self.pages[pgno];
            page[8..12].copy_from_slice(&p);
            page[16..20].copy_from_slice(&n);
            page[20..22].copy_from_slice(&e);
            page[22..24].copy_from_slice(&h);
            page[25] = page_type;
        }

        /// A bucket page holding `pairs` (complete items, type byte included), packed from the end.
        fn hash_page(
            &mut self,
            pgno: usize,
            page_type: u8,
            next_pgno: u32,
            pairs: &[(Vec<u8>, Vec<u8>)],
        ) {
            let mut top = self.pagesize;
            let mut inp = Vec::new();
            for (k, d) in pairs {
                for item in [k, d] {
                    top -= item.len();
                    self.pages[pgno][top..top + item.len()].copy_from_slice(item);
                    inp.push(top as u16);
                }
            }
            for (i, off) in inp.iter().enumerate() {
                let b = self.u16(*off);
                self.pages[pgno][26 + 2 * i..28 + 2 * i].copy_from_slice(&b);
            }
            self.header(pgno, page_type, next_pgno, inp.len() as u16, top as u16);
        }

        fn overflow_page(&mut self, pgno: usize, next_pgno: u32, data: &[u8]) {
            self.pages[pgno][26..26 + data.len()].copy_from_slice(data);
            self.header(pgno, P_OVERFLOW, next_pgno, 1, data.len() as u16);
        }

        fn key(&self, hnum: u32) -> Vec<u8> {
            let mut v = vec![H_KEYDATA];
            v.extend_from_slice(&self.u32(hnum));
            v
        }

        fn offpage(&self, pgno: u32, tlen: u32) -> Vec<u8> {
            let mut v = vec![H_OFFPAGE, 0, 0, 0];
            v.extend_from_slice(&self.u32(pgno));
            v.extend_from_slice(&self.u32(tlen));
            v
        }

        fn build(&self) -> Vec<u8> {
            let mut out = Vec::new();
            for (i, page) in self.pages.iter().enumerate() {
                let mut page = page.clone();
                if i == 0 {
                    let magic = match self.endian {
                        Endian::Little => DB_HASHMAGIC.to_le_bytes(),
                        Endian::Big => DB_HASHMAGIC_SWAPPED.to_le_bytes(),
                    };
                    page[12..16].copy_from_slice(&magic);
                    page[16..20].copy_from_slice(&self.u32(self.version));
                    page[20..24].copy_from_slice(&self.u32(self.pagesize as u32));
                    page[25] = P_HASHMETA;
                    page[32..36].copy_from_slice(&self.u32(self.pages.len() as u32 - 1));
                    page[72..76].copy_from_slice(&self.u32(self.max_bucket));
                    for (j, s) in self.spares.iter().enumerate() {
                        page[96 + 4 * j..100 + 4 * j].copy_from_slice(&self.u32(*s));
                    }
                }
                out.extend_from_slice(&page);
            }
            out
        }
    }

    fn inline(bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![H_KEYDATA];
        v.extend_from_slice(bytes);
        v
    }

    fn blob(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Records as (hnum, blob) and damage as (hnum, reason).
    type Split = (Vec<(u32, Vec<u8>)>, Vec<(Option<u32>, String)>);

    fn split(results: Vec<RecordResult>) -> Split {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for r in results {
            match r {
                Ok(rec) => ok.push((rec.hnum, rec.blob)),
                Err(b) => bad.push((b.hnum, b.reason)),
            }
        }
        (ok, bad)
    }

    /// Where `sample` puts the `tlen` of hnum 7's off-page item: items are packed down from 512
    /// (key 0, its value, key 5, 41-byte inline value, key 7, then the 12-byte item).
    const SAMPLE_TLEN_AT: usize = 512 - 5 - 5 - 5 - 41 - 5 - 12 + 8;

    /// Page 1: key 0, hnum 5 inline, hnum 7 off-page over pages 2 and 3 (486 + 214 bytes).
    fn sample(endian: Endian) -> (TestDb, Vec<u8>, Vec<u8>) {
        let mut db = TestDb::new(endian, 4);
        let small = blob(40, 1);
        let big = blob(700, 2);
        let pairs = vec![
            (db.key(0), inline(&db.u32(7))),
            (db.key(5), inline(&small)),
            (db.key(7), db.offpage(2, 700)),
        ];
        db.hash_page(1, P_HASH, 0, &pairs);
        db.overflow_page(2, 3, &big[..486]);
        db.overflow_page(3, 0, &big[486..]);
        (db, small, big)
    }

    #[test]
    fn inline_and_offpage_values_in_both_byte_orders() {
        for endian in [Endian::Little, Endian::Big] {
            let (db, small, big) = sample(endian);
            let (ok, bad) = split(read(&db.build()).unwrap());
            assert_eq!(bad, vec![], "{endian}");
            assert_eq!(ok, vec![(5, small.clone()), (7, big.clone())], "{endian}");
        }
    }

    #[test]
    fn hash_v8_unsorted_pages_are_read_like_sorted_ones() {
        for endian in [Endian::Little, Endian::Big] {
            let (mut db, small, big) = sample(endian);
            db.version = 8;
            db.pages[1][25] = P_HASH_UNSORTED;
            let (ok, bad) = split(read(&db.build()).unwrap());
            assert!(bad.is_empty(), "{bad:?}");
            assert_eq!(ok, vec![(5, small.clone()), (7, big.clone())]);
        }
    }

    #[test]
    fn never_written_bucket_page_is_an_empty_bucket() {
        let db = TestDb::new(Endian::Little, 2);
        assert_eq!(read(&db.build()).unwrap(), vec![]);
    }

    #[test]
    fn bucket_walk_follows_next_pgno_before_the_next_bucket() {
        // Bucket 0 = page 1 -> page 3; bucket 1 = page 1 + spares[1] = page 2.
        let mut db = TestDb::new(Endian::Big, 4);
        db.max_bucket = 1;
        let (k1, k2, k3) = (db.key(1), db.key(2), db.key(3));
        db.hash_page(1, P_HASH, 3, &[(k1, inline(b"one"))]);
        db.hash_page(2, P_HASH, 0, &[(k2, inline(b"two"))]);
        db.hash_page(3, P_HASH, 0, &[(k3, inline(b"three"))]);
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert!(bad.is_empty(), "{bad:?}");
        let hnums: Vec<u32> = ok.iter().map(|r| r.0).collect();
        assert_eq!(hnums, vec![1, 3, 2]);
    }

    #[test]
    fn bucket_chain_cycle_is_reported_and_other_buckets_still_read() {
        let mut db = TestDb::new(Endian::Little, 3);
        db.max_bucket = 1;
        let (k1, k2) = (db.key(1), db.key(2));
        db.hash_page(1, P_HASH, 1, &[(k1, inline(b"one"))]);
        db.hash_page(2, P_HASH, 0, &[(k2, inline(b"two"))]);
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert_eq!(ok, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, None);
        assert!(bad[0].1.contains("cycle"), "{bad:?}");
    }

    #[test]
    fn bucket_chain_to_page_zero_or_past_the_end_is_reported() {
        for next in [u32::MAX, 9] {
            let (mut db, ..) = sample(Endian::Little);
            let n = db.u32(next);
            db.pages[1][16..20].copy_from_slice(&n);
            let (ok, bad) = split(read(&db.build()).unwrap());
            assert_eq!(ok.len(), 2);
            assert!(bad[0].1.contains("outside 1..=3"), "{bad:?}");
        }
    }

    #[test]
    fn bucket_page_of_wrong_type_or_number_is_reported() {
        let (mut db, ..) = sample(Endian::Little);
        db.pages[1][25] = P_OVERFLOW;
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert!(ok.is_empty());
        assert!(bad[0].1.contains("expected a hash page"), "{bad:?}");

        let (mut db, ..) = sample(Endian::Little);
        db.pages[1][8] = 2;
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert!(ok.is_empty());
        assert!(bad[0].1.contains("says it is page 2"), "{bad:?}");
    }

    #[test]
    fn bad_index_arrays_are_reported() {
        // Odd entry count.
        let (mut db, ..) = sample(Endian::Little);
        db.pages[1][20] = 5;
        let (_, bad) = split(read(&db.build()).unwrap());
        assert!(bad[0].1.contains("5 index entries"), "{bad:?}");
        // Offsets not decreasing (swap the first two).
        let (mut db, ..) = sample(Endian::Little);
        let (a, b) = (db.pages[1][26], db.pages[1][28]);
        db.pages[1][26] = b;
        db.pages[1][28] = a;
        let (_, bad) = split(read(&db.build()).unwrap());
        assert!(bad[0].1.contains("index entry 1"), "{bad:?}");
        // An offset inside the index array.
        let (mut db, ..) = sample(Endian::Little);
        db.pages[1][30] = 30;
        db.pages[1][31] = 0;
        let (_, bad) = split(read(&db.build()).unwrap());
        assert!(bad[0].1.contains("index entry 2 is 30"), "{bad:?}");
    }

    #[test]
    fn key_zero_and_keys_not_four_bytes_are_skipped() {
        let mut db = TestDb::new(Endian::Little, 2);
        let k9 = db.key(9);
        let pairs = vec![
            (db.key(0), inline(b"last")),
            (inline(b"abc"), inline(b"short key")),
            (inline(b"abcdefgh"), inline(b"long key")),
            (k9, inline(b"nine")),
        ];
        db.hash_page(1, P_HASH, 0, &pairs);
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(ok, vec![(9, b"nine".to_vec())]);
    }

    #[test]
    fn duplicate_hnum_is_reported_and_the_first_kept() {
        let mut db = TestDb::new(Endian::Big, 2);
        let pairs = vec![
            (db.key(4), inline(b"first")),
            (db.key(4), inline(b"second")),
        ];
        db.hash_page(1, P_HASH, 0, &pairs);
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert_eq!(ok, vec![(4, b"first".to_vec())]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, Some(4));
        assert!(bad[0].1.contains("twice"));
    }

    #[test]
    fn duplicate_item_types_are_rejected() {
        for t in [H_DUPLICATE, H_OFFDUP] {
            let mut db = TestDb::new(Endian::Little, 2);
            let pairs = vec![(db.key(3), vec![t, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])];
            db.hash_page(1, P_HASH, 0, &pairs);
            let (ok, bad) = split(read(&db.build()).unwrap());
            assert!(ok.is_empty());
            assert_eq!(bad[0].0, Some(3));
            assert!(bad[0].1.contains("duplicates"), "{bad:?}");
            // The same type byte on a key.
            let mut db = TestDb::new(Endian::Little, 2);
            db.hash_page(1, P_HASH, 0, &[(vec![t, 1, 0, 0, 0], inline(b"x"))]);
            let (_, bad) = split(read(&db.build()).unwrap());
            assert_eq!(bad[0].0, None);
            assert!(bad[0].1.contains("key item of type"), "{bad:?}");
        }
    }

    #[test]
    fn offpage_item_must_be_twelve_bytes() {
        let mut db = TestDb::new(Endian::Little, 2);
        let pairs = vec![(db.key(3), vec![H_OFFPAGE, 0, 0, 0, 2, 0, 0, 0])];
        db.hash_page(1, P_HASH, 0, &pairs);
        let (_, bad) = split(read(&db.build()).unwrap());
        assert!(bad[0].1.contains("is 8 bytes, expected 12"), "{bad:?}");
    }

    /// Rewrite the overflow pages of `sample` and return the damage for hnum 7.
    fn overflow_damage(edit: impl FnOnce(&mut TestDb)) -> Split {
        let (mut db, ..) = sample(Endian::Big);
        edit(&mut db);
        split(read(&db.build()).unwrap())
    }

    fn assert_hnum7_bad(result: Split, needle: &str) {
        let (ok, bad) = result;
        assert_eq!(
            ok.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![5],
            "{bad:?}"
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].0, Some(7));
        assert!(bad[0].1.contains(needle), "wanted {needle:?} in {bad:?}");
    }

    #[test]
    fn overflow_self_loop_is_a_cycle() {
        let r = overflow_damage(|db| {
            let n = db.u32(2);
            db.pages[2][16..20].copy_from_slice(&n);
        });
        assert_hnum7_bad(r, "cycle");
    }

    #[test]
    fn overflow_self_loop_with_ov_len_zero_terminates() {
        // rpm's bdb_ro spins forever on this page.
        let r = overflow_damage(|db| {
            let (n, z) = (db.u32(2), db.u16(0));
            db.pages[2][16..20].copy_from_slice(&n);
            db.pages[2][22..24].copy_from_slice(&z);
        });
        assert_hnum7_bad(r, "holds 0 bytes");
    }

    #[test]
    fn overflow_chain_into_a_zeroed_page_is_reported() {
        // go-rpmdb #37 hangs here.
        let r = overflow_damage(|db| db.pages[3] = vec![0u8; 512]);
        assert_hnum7_bad(r, "never written");
    }

    #[test]
    fn overflow_chain_into_a_non_overflow_page_is_reported() {
        let r = overflow_damage(|db| {
            let n = db.u32(1);
            db.pages[2][16..20].copy_from_slice(&n);
        });
        assert_hnum7_bad(r, "expected 7");
    }

    #[test]
    fn overflow_chain_shorter_or_longer_than_tlen_is_reported() {
        let r = overflow_damage(|db| {
            let z = db.u32(0);
            db.pages[2][16..20].copy_from_slice(&z);
        });
        assert_hnum7_bad(r, "ends after 486 of tlen 700");
        let r = overflow_damage(|db| {
            let t = db.u32(600);
            db.pages[1][SAMPLE_TLEN_AT..SAMPLE_TLEN_AT + 4].copy_from_slice(&t);
        });
        assert_hnum7_bad(r, "stay within tlen 600");
    }

    #[test]
    fn overflow_tlen_zero_or_beyond_the_file_is_reported() {
        for (tlen, needle) in [
            (0, "tlen 0"),
            (u32::MAX, "header limit"),
            (3 * 486 + 1, "more than the file's pages can hold"),
        ] {
            let r = overflow_damage(|db| {
                let t = db.u32(tlen);
                db.pages[1][SAMPLE_TLEN_AT..SAMPLE_TLEN_AT + 4].copy_from_slice(&t);
            });
            assert_hnum7_bad(r, needle);
        }
    }

    #[test]
    fn overflow_pages_shared_by_two_records_are_reported() {
        let mut db = TestDb::new(Endian::Little, 3);
        let data = blob(100, 3);
        let pairs = vec![
            (db.key(1), db.offpage(2, 100)),
            (db.key(2), db.offpage(2, 100)),
        ];
        db.hash_page(1, P_HASH, 0, &pairs);
        db.overflow_page(2, 0, &data);
        let (ok, bad) = split(read(&db.build()).unwrap());
        assert_eq!(ok, vec![(1, data)]);
        assert_eq!(bad[0].0, Some(2));
        assert!(
            bad[0].1.contains("already belongs to another record"),
            "{bad:?}"
        );
    }

    #[test]
    fn meta_page_problems_fail_the_whole_database() {
        let cases: Vec<(usize, &[u8], &str)> = vec![
            (12, &[0, 0, 0, 0], "not a Berkeley DB hash"),
            (12, &[0x62, 0x31, 0x05, 0], "btree"),
            (8, &[1, 0, 0, 0], "meta page pgno is 1"),
            (16, &[7, 0, 0, 0], "hash version 7"),
            (16, &[11, 0, 0, 0], "hash version 11"),
            (20, &[0, 1, 0, 0], "page size 256"),
            (20, &[0xe8, 3, 0, 0], "page size 1000"),
            (20, &[0, 0, 2, 0], "page size 131072"),
            (24, &[1], "encrypted"),
            (25, &[9], "meta page type is 9"),
            (26, &[1], "metaflags"),
            (48, &[1, 0, 0, 0], "duplicates"),
            (48, &[2, 0, 0, 0], "sub-databases"),
            (32, &[0, 0, 0, 0], "last_pgno is 0"),
            (32, &[4, 0, 0, 0], "truncated"),
            (72, &[3, 0, 0, 0], "max_bucket 3"),
        ];
        for (off, bytes, needle) in cases {
            let (db, ..) = sample(Endian::Little);
            let mut data = db.build();
            data[off..off + bytes.len()].copy_from_slice(bytes);
            let err = read(&data).unwrap_err();
            assert!(
                err.what.contains(needle),
                "offset {off}: wanted {needle:?}, got {err}"
            );
            assert_eq!(err.offset, off as u64, "{err}");
        }
    }

    #[test]
    fn truncated_files_are_an_error() {
        let (db, ..) = sample(Endian::Big);
        let data = db.build();
        for len in [0, 100, 511] {
            let err = read(&data[..len]).unwrap_err();
            assert!(err.what.contains("shorter than"), "{err}");
        }
        for len in [512, 1024, 2047] {
            let err = read(&data[..len]).unwrap_err();
            assert!(err.what.contains("truncated"), "{err}");
        }
    }
}
