//! Berkeley DB hash reader against real data.
//!
//! - The BDB fixtures, compared with `expected/*.tsv` (hnum order and blob length).
//! - Databases generated with `db5.3_load` from the blobs of the Mariner sqlite fixture, in both
//!   byte orders and three page sizes, compared with the source records and with the order rpm's
//!   own `bdb_ro` prints.
//! - Corruption sweeps (truncation, byte flips, targeted pointer damage): every call must return,
//!   and specific damage must produce specific errors.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quietwire::rpmdb::bdb;
use quietwire::rpmdb::{Endian, RecordResult};

// ---------------------------------------------------------------------------------------------
// Helpers

fn under_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// `db5.3_load` is needed to generate databases: skip visibly without it, fail under CI.
fn require_db_load(test: &str) -> bool {
    if on_path("db5.3_load") {
        return true;
    }
    if under_ci() {
        panic!("{test}: db5.3_load not found: install db5.3-util (required under CI=true)");
    }
    eprintln!("SKIPPED {test}: db5.3_load not found (install db5.3-util)");
    false
}

/// (hnum, blob_len) in file order from `expected/<name with / as __>.tsv`.
fn expected(fixtures: &Path, name: &str) -> Vec<(u32, usize)> {
    common::expected_hnum_len(fixtures, name)
}

/// All records, failing the test on any `BadRecord`.
fn good_records(results: Vec<RecordResult>) -> Vec<(u32, Vec<u8>)> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(rec) => (rec.hnum, rec.blob),
            Err(bad) => panic!("unexpected bad record: {bad}"),
        })
        .collect()
}

/// A header blob's own idea of its length: `8 + 16*il + dl` from its (big-endian) first 8 bytes.
fn declared_blob_len(blob: &[u8]) -> usize {
    let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;
    let dl = u32::from_be_bytes(blob[4..8].try_into().unwrap()) as usize;
    8 + 16 * il + dl
}

fn check_fixture(name: &str, want_len: usize) -> Option<Vec<(u32, Vec<u8>)>> {
    let fixtures = common::rpmdb_fixtures()?;
    let data = std::fs::read(fixtures.join(name)).unwrap();
    let got = good_records(bdb::read(&data).unwrap());
    let want = expected(&fixtures, name);
    assert_eq!(want.len(), want_len, "{name}: expected list changed");
    let got_lens: Vec<(u32, usize)> = got.iter().map(|(h, b)| (*h, b.len())).collect();
    assert_eq!(got_lens, want, "{name}: (hnum, blob_len) in database order");
    for (hnum, blob) in &got {
        assert_eq!(declared_blob_len(blob), blob.len(), "{name}: hnum {hnum}");
    }
    Some(got)
}

// ---------------------------------------------------------------------------------------------
// Fixtures

#[test]
fn fixture_libuuid_one_header_over_an_overflow_chain() {
    let Some(got) = check_fixture("go-rpmdb-master/libuuid/Packages", 1) else {
        return;
    };
    assert_eq!(got[0].1.len(), 80_880);
}

#[test]
fn fixture_sle15_little_endian_4096() {
    check_fixture("synthetic/sle15-bdb-le-4096/Packages", 35);
}

#[test]
fn fixture_sle15_big_endian_4096_matches_little_endian() {
    let Some(be) = check_fixture("synthetic/sle15-bdb-be-4096/Packages", 35) else {
        return;
    };
    let Some(le) = check_fixture("synthetic/sle15-bdb-le-4096/Packages", 35) else {
        return;
    };
    // Same blobs byte for byte (blobs are big-endian in both), only the page structure differs.
    let be: BTreeMap<u32, Vec<u8>> = be.into_iter().collect();
    let le: BTreeMap<u32, Vec<u8>> = le.into_iter().collect();
    assert_eq!(be, le);
}

#[test]
fn fixture_rpm4_empty_has_no_records() {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    let data = std::fs::read(fixtures.join("snyk-rpm-parser/rpm4_empty/Packages")).unwrap();
    assert_eq!(bdb::read(&data).unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Databases generated with db5.3_load

/// (hnum, blob) of every package in the Mariner sqlite fixture, read without writing next to it.
fn mariner_records(fixtures: &Path) -> Vec<(u32, Vec<u8>)> {
    use rusqlite::{Connection, OpenFlags};
    let path = fixtures.join("go-rpmdb-master/cbl-mariner-2.0/rpmdb.sqlite");
    // The file is in WAL mode: `immutable=1` keeps sqlite from creating -wal/-shm in the fixtures.
    let uri = format!("file:{}?immutable=1", path.display());
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap();
    let records: Vec<(u32, Vec<u8>)> = rows.map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 129);
    records
}

fn u32_bytes(v: u32, endian: Endian) -> [u8; 4] {
    match endian {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn hex_line(out: &mut String, bytes: &[u8]) {
    out.push(' ');
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out.push('\n');
}

/// Build `dir/Packages` the way rpm lays it out: u32 keys in the database byte order, key 0 holding
/// the largest hnum, values the header blobs.
fn generate(dir: &Path, records: &[(u32, Vec<u8>)], pagesize: u32, endian: Endian) -> PathBuf {
    let lorder = match endian {
        Endian::Little => 1234,
        Endian::Big => 4321,
    };
    let mut dump = format!(
        "VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize={pagesize}\ndb_lorder={lorder}\nHEADER=END\n"
    );
    let max = records.iter().map(|r| r.0).max().unwrap_or(0);
    hex_line(&mut dump, &u32_bytes(0, endian));
    hex_line(&mut dump, &u32_bytes(max, endian));
    for (hnum, blob) in records {
        hex_line(&mut dump, &u32_bytes(*hnum, endian));
        hex_line(&mut dump, blob);
    }
    dump.push_str("DATA=END\n");
    let dump_file = dir.join("dump.txt");
    std::fs::write(&dump_file, dump).unwrap();
    let db = dir.join("Packages");
    let out = Command::new("db5.3_load")
        .arg("-f")
        .arg(&dump_file)
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "db5.3_load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&dump_file).unwrap();
    db
}

/// The order rpm's `bdb_ro` lists the database in, or `None` (visibly) when rpm is missing.
fn rpm_order(dir: &Path) -> Option<Vec<u32>> {
    if !on_path("rpm") {
        if under_ci() {
            panic!("rpm not found: install Debian's rpm package (required under CI=true)");
        }
        eprintln!("SKIPPED part: rpm not found, order not compared with bdb_ro");
        return None;
    }
    let out = Command::new("rpm")
        .args(["--define", "_db_backend bdb_ro", "--dbpath"])
        .arg(dir)
        .args(["-qa", "--qf", "%{DBINSTANCE}\\n"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm -qa failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect(),
    )
}

/// Generate, read, and compare with the source set and rpm's order. `edit` may rewrite the file
/// before it is read (used for the hash-v8 variant). Returns the file for further checks.
fn generated_roundtrip(
    test: &str,
    pagesize: u32,
    endian: Endian,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Option<Vec<u8>> {
    let fixtures = common::rpmdb_fixtures()?;
    if !require_db_load(test) {
        return None;
    }
    let source = mariner_records(&fixtures);
    let tmp = tempfile::tempdir().unwrap();
    let file = generate(tmp.path(), &source, pagesize, endian);
    let mut data = std::fs::read(&file).unwrap();
    edit(&mut data);
    std::fs::write(&file, &data).unwrap();

    let got = good_records(bdb::read(&data).unwrap());
    let got_set: BTreeMap<u32, Vec<u8>> = got.iter().cloned().collect();
    assert_eq!(got_set.len(), got.len(), "{test}: duplicate hnums returned");
    let want_set: BTreeMap<u32, Vec<u8>> = source.into_iter().collect();
    assert!(
        got_set == want_set,
        "{test}: records differ from the sqlite source"
    );

    if let Some(order) = rpm_order(tmp.path()) {
        let got_order: Vec<u32> = got.iter().map(|r| r.0).collect();
        assert_eq!(got_order, order, "{test}: order differs from rpm bdb_ro");
    }
    Some(data)
}

macro_rules! generated {
    ($($name:ident: $pagesize:expr, $endian:expr;)*) => {$(
        #[test]
        fn $name() {
            generated_roundtrip(stringify!($name), $pagesize, $endian, |_| {});
        }
    )*};
}

generated! {
    generated_le_512: 512, Endian::Little;
    generated_le_4096: 4096, Endian::Little;
    generated_le_65536: 65536, Endian::Little;
    generated_be_512: 512, Endian::Big;
    generated_be_4096: 4096, Endian::Big;
    generated_be_65536: 65536, Endian::Big;
}

/// A version-9 file rewritten as hash version 8 ("unsorted" P_HASH_UNSORTED bucket pages, as BDB
/// < 4.6 wrote them on RHEL 5 / SLES 11): the layout is identical apart from the version and the
/// page type byte. rpm 4.18's bdb_ro reads type 2 as well, so the order check still applies.
#[test]
fn generated_hash_v8_unsorted_pages() {
    for endian in [Endian::Little, Endian::Big] {
        let mut rewritten = 0;
        generated_roundtrip("generated_hash_v8_unsorted_pages", 4096, endian, |data| {
            data[16..20].copy_from_slice(&u32_bytes(8, endian));
            for page in data.chunks_mut(4096).skip(1) {
                if page[25] == 13 {
                    page[25] = 2;
                    rewritten += 1;
                }
            }
        });
        if common::rpmdb_fixtures().is_some() && on_path("db5.3_load") {
            assert!(rewritten > 0, "no P_HASH page found to rewrite");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Corruption

/// Runs `sweep` on a worker thread and fails the test if it stops making progress: a safety net
/// against an infinite loop in the reader, not a timing assertion. The sweep reports each case
/// through the returned `Progress`.
fn with_watchdog(name: &str, sweep: impl FnOnce(&Progress) + Send + 'static) {
    let progress = Progress::default();
    let worker_progress = progress.clone();
    let handle = std::thread::spawn(move || sweep(&worker_progress));
    let mut last = (0, Instant::now());
    while !handle.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let n = progress.count.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            let case = progress.case.lock().unwrap().clone();
            panic!("{name}: no progress for 60 s, probably looping on case {case}");
        }
    }
    if let Err(e) = handle.join() {
        std::panic::resume_unwind(e);
    }
}

#[derive(Clone, Default)]
struct Progress {
    count: Arc<AtomicUsize>,
    case: Arc<Mutex<String>>,
}

impl Progress {
    fn start(&self, case: String) {
        *self.case.lock().unwrap() = case;
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every read of a damaged file must return; a returned `Vec` must be walkable.
fn read_damaged(data: &[u8]) -> Result<Vec<RecordResult>, quietwire::rpmdb::FormatError> {
    let r = bdb::read(data);
    if let Ok(items) = &r {
        for item in items {
            if let Err(bad) = item {
                assert!(bad.offset.is_some(), "bad record without offset: {bad}");
                assert!(
                    bad.offset.unwrap() < data.len() as u64,
                    "offset past the file: {bad}"
                );
            }
        }
    }
    r
}

/// The files swept: the BDB fixtures plus a generated 512-byte-page database (long overflow
/// chains) built from 24 Mariner headers to keep the sweep short.
fn corpus(test: &str) -> Vec<(String, Vec<u8>, u32)> {
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return vec![];
    };
    let mut files = Vec::new();
    for name in [
        "go-rpmdb-master/libuuid/Packages",
        "synthetic/sle15-bdb-le-4096/Packages",
        "synthetic/sle15-bdb-be-4096/Packages",
        "snyk-rpm-parser/rpm4_empty/Packages",
    ] {
        files.push((
            name.to_string(),
            std::fs::read(fixtures.join(name)).unwrap(),
            4096,
        ));
    }
    if require_db_load(test) {
        let source: Vec<(u32, Vec<u8>)> = mariner_records(&fixtures).into_iter().take(24).collect();
        for endian in [Endian::Little, Endian::Big] {
            let tmp = tempfile::tempdir().unwrap();
            let data = std::fs::read(generate(tmp.path(), &source, 512, endian)).unwrap();
            files.push((format!("generated-512-{endian}"), data, 512));
        }
    }
    files
}

#[test]
fn truncation_anywhere_is_reported_as_truncation() {
    let files = corpus("truncation_anywhere_is_reported_as_truncation");
    with_watchdog("truncation", move |progress| {
        for (name, data, pagesize) in &files {
            let ps = *pagesize as usize;
            let mut cuts: Vec<usize> = (0..data.len()).step_by(97).collect();
            for page_end in (ps..data.len()).step_by(ps) {
                cuts.extend([page_end - 1, page_end, page_end + 1]);
            }
            for len in cuts.into_iter().filter(|&l| l < data.len()) {
                progress.start(format!("{name} cut at {len}"));
                let err =
                    read_damaged(&data[..len]).expect_err("a truncated file must be an error");
                let want = if len < 512 {
                    "shorter than"
                } else {
                    "truncated"
                };
                assert!(err.what.contains(want), "{name} cut at {len}: {err}");
            }
        }
    });
}

/// File offsets of structural fields worth damaging: meta fields, and on hash pages (plus a sample
/// of the others) the header fields, the first index slots and the items they point at.
fn structural_offsets(data: &[u8], pagesize: usize, endian: Endian) -> Vec<usize> {
    let mut offs: Vec<usize> = (0..224).collect();
    let u16_at = |o: usize| {
        let b = [data[o], data[o + 1]];
        match endian {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    };
    // Every hash page, and about 40 of the other (overflow, zero) pages.
    let npages = data.len() / pagesize;
    let stride = (npages / 40).max(1);
    for (pgno, base) in (0..data.len()).step_by(pagesize).enumerate().skip(1) {
        let t = data[base + 25];
        let hash_page = t == 13 || t == 2;
        if !hash_page && pgno % stride != 0 {
            continue;
        }
        offs.extend([8, 11, 16, 17, 19, 20, 21, 22, 23, 25].map(|o| base + o));
        if hash_page {
            let entries = usize::from(u16_at(base + 20)).min(6);
            for i in 0..entries {
                let slot = base + 26 + 2 * i;
                offs.extend([slot, slot + 1]);
                let item = base + usize::from(u16_at(slot));
                if item + 12 <= base + pagesize {
                    // Type byte, HOFFPAGE pgno and tlen (or key bytes).
                    offs.extend([0, 1, 4, 5, 7, 8, 9, 11].map(|o| item + o));
                }
            }
        }
    }
    offs
}

fn endian_of(data: &[u8]) -> Endian {
    if data[12] == 0x61 {
        Endian::Little
    } else {
        Endian::Big
    }
}

#[test]
fn byte_damage_never_panics_or_hangs() {
    let files = corpus("byte_damage_never_panics_or_hangs");
    with_watchdog("byte damage", move |progress| {
        for (name, data, pagesize) in &files {
            let mut offs = structural_offsets(data, *pagesize as usize, endian_of(data));
            // Spread over the data too, bounded so that big fixtures do not dominate the run.
            let step = (data.len() / 300).max(97);
            offs.extend((0..data.len()).step_by(step));
            offs.sort_unstable();
            offs.dedup();
            let mut damaged = data.clone();
            for off in offs {
                for value in [data[off] ^ 0xff, 0, data[off].wrapping_add(1)] {
                    progress.start(format!("{name} byte {off} = {value:#04x}"));
                    damaged[off] = value;
                    let _ = read_damaged(&damaged);
                }
                damaged[off] = data[off];
            }
        }
    });
}

/// Minimal test-side view of a BDB file, to aim damage at specific structures.
struct Layout<'a> {
    data: &'a [u8],
    endian: Endian,
    pagesize: usize,
}

/// An off-page value as found by a linear scan: where its HOFFPAGE item is, its key and chain.
#[derive(Debug, Clone)]
struct OffPage {
    hnum: u32,
    item: usize,
    pgno: u32,
    tlen: u32,
}

impl<'a> Layout<'a> {
    fn new(data: &'a [u8]) -> Layout<'a> {
        let endian = endian_of(data);
        let mut l = Layout {
            data,
            endian,
            pagesize: 0,
        };
        l.pagesize = l.u32(20) as usize;
        l
    }
    fn u32(&self, o: usize) -> u32 {
        let b: [u8; 4] = self.data[o..o + 4].try_into().unwrap();
        match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
    fn u16(&self, o: usize) -> usize {
        let b = [self.data[o], self.data[o + 1]];
        usize::from(match self.endian {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        })
    }
    fn enc32(&self, v: u32) -> [u8; 4] {
        u32_bytes(v, self.endian)
    }
    fn page(&self, pgno: u32) -> usize {
        pgno as usize * self.pagesize
    }
    /// Every off-page value with a 4-byte key, in page order.
    fn offpage_values(&self) -> Vec<OffPage> {
        let mut found = Vec::new();
        for base in (self.pagesize..self.data.len()).step_by(self.pagesize) {
            if self.data[base + 25] != 13 {
                continue;
            }
            let entries = self.u16(base + 20);
            for k in (0..entries).step_by(2) {
                let koff = self.u16(base + 26 + 2 * k);
                let doff = self.u16(base + 28 + 2 * k);
                let above = if k == 0 {
                    self.pagesize
                } else {
                    self.u16(base + 24 + 2 * k)
                };
                let (key, item) = (base + koff, base + doff);
                if above - koff == 5 && self.data[key] == 1 && self.data[item] == 3 {
                    found.push(OffPage {
                        hnum: self.u32(key + 1),
                        item,
                        pgno: self.u32(item + 4),
                        tlen: self.u32(item + 8),
                    });
                }
            }
        }
        found
    }
    /// The overflow pages of a chain, in order.
    fn chain(&self, first: u32) -> Vec<u32> {
        let mut pages = vec![first];
        loop {
            let next = self.u32(self.page(*pages.last().unwrap()) + 16);
            if next == 0 {
                return pages;
            }
            pages.push(next);
        }
    }
}

/// A damage to apply to a copy of a database file.
type Edit = Box<dyn FnOnce(&mut Vec<u8>)>;

/// Read `data` after `edit` and return the damage reported for `hnum` (exactly one report).
fn damage_for(data: &[u8], hnum: u32, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut d = data.to_vec();
    edit(&mut d);
    let results = read_damaged(&d).expect("damage below the meta page is per record");
    let mut reports = Vec::new();
    let mut ok = 0;
    for r in results {
        match r {
            Ok(rec) => {
                assert_ne!(rec.hnum, hnum, "damaged record {hnum} was returned");
                ok += 1;
            }
            Err(bad) => reports.push(bad),
        }
    }
    assert!(ok > 0, "the other records must still be read");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].hnum, Some(hnum), "{reports:?}");
    reports[0].reason.clone()
}

#[test]
fn targeted_overflow_damage_gives_specific_errors() {
    let test = "targeted_overflow_damage_gives_specific_errors";
    let Some(fixtures) = common::rpmdb_fixtures() else {
        return;
    };
    if !require_db_load(test) {
        return;
    }
    let source: Vec<(u32, Vec<u8>)> = mariner_records(&fixtures).into_iter().take(24).collect();
    for endian in [Endian::Little, Endian::Big] {
        let tmp = tempfile::tempdir().unwrap();
        let data = std::fs::read(generate(tmp.path(), &source, 512, endian)).unwrap();
        let l = Layout::new(&data);
        let values = l.offpage_values();
        assert_eq!(
            values.len(),
            24,
            "all 24 headers are off-page with 512-byte pages"
        );
        let v = values
            .iter()
            .find(|v| l.chain(v.pgno).len() >= 3)
            .expect("a chain of 3 pages")
            .clone();
        let chain = l.chain(v.pgno);
        let (first, second) = (l.page(chain[0]), l.page(chain[1]));
        let last_pgno = l.u32(32);
        let cases: Vec<(&str, Edit)> = vec![
            ("cycle", {
                let p = l.enc32(chain[0]);
                Box::new(move |d| d[first + 16..first + 20].copy_from_slice(&p))
            }),
            ("cycle", {
                let p = l.enc32(chain[0]);
                Box::new(move |d| d[second + 16..second + 20].copy_from_slice(&p))
            }),
            ("outside 1..=", {
                let p = l.enc32(last_pgno + 1);
                Box::new(move |d| d[first + 16..first + 20].copy_from_slice(&p))
            }),
            ("ends after", {
                let p = l.enc32(0);
                Box::new(move |d| d[first + 16..first + 20].copy_from_slice(&p))
            }),
            (
                "holds 0 bytes",
                Box::new(move |d| d[first + 22..first + 24].fill(0)),
            ),
            ("holds 0 bytes", {
                // OV_LEN 0 on a self-loop: rpm's bdb_ro spins forever here.
                let p = l.enc32(chain[0]);
                Box::new(move |d| {
                    d[first + 16..first + 20].copy_from_slice(&p);
                    d[first + 22..first + 24].fill(0);
                })
            }),
            ("expected 7", Box::new(move |d| d[second + 25] = 13)),
            (
                "never written",
                Box::new(move |d| d[second..second + 512].fill(0)),
            ),
            (
                "outside 1..=",
                Box::new(move |d| d[v.item + 4..v.item + 8].fill(0)),
            ),
            (
                "tlen 0",
                Box::new(move |d| d[v.item + 8..v.item + 12].fill(0)),
            ),
            (
                "header limit",
                Box::new(move |d| d[v.item + 8..v.item + 12].fill(0xff)),
            ),
            ("stay within tlen", {
                let t = l.enc32(v.tlen - 1);
                Box::new(move |d| d[v.item + 8..v.item + 12].copy_from_slice(&t))
            }),
            ("ends after", {
                let t = l.enc32(v.tlen + 1);
                Box::new(move |d| d[v.item + 8..v.item + 12].copy_from_slice(&t))
            }),
            ("duplicates", Box::new(move |d| d[v.item] = 4)),
        ];
        for (needle, edit) in cases {
            let reason = damage_for(&data, v.hnum, edit);
            assert!(
                reason.contains(needle),
                "{endian}: wanted {needle:?}, got {reason:?}"
            );
        }
        // Two values sharing one chain: whichever the bucket walk reaches second is refused.
        let w = values.iter().find(|w| w.hnum != v.hnum).unwrap().clone();
        let mut d = data.clone();
        d[w.item + 4..w.item + 12].copy_from_slice(&data[v.item + 4..v.item + 12]);
        let results = read_damaged(&d).unwrap();
        let bad: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].reason.contains("already belongs to another record"),
            "{bad:?}"
        );
        let refused = bad[0].hnum.unwrap();
        assert!(refused == v.hnum || refused == w.hnum, "{bad:?}");
        let kept = if refused == v.hnum { w.hnum } else { v.hnum };
        let kept_blob = results
            .iter()
            .find_map(|r| r.as_ref().ok().filter(|rec| rec.hnum == kept))
            .expect("the first reader of the chain keeps it");
        let source_v = &source.iter().find(|s| s.0 == v.hnum).unwrap().1;
        assert_eq!(&kept_blob.blob, source_v, "the shared chain holds v's blob");
    }
}
