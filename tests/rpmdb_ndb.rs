//! ndb `Packages.db` reader: the SLE 15 fixture against its expected list, hand-built databases,
//! and damaged copies (CVE-2026-44605 slot-page overflow, checksum, bounds, overlaps, truncation,
//! byte flips). Nothing here may panic the reader.

mod common;

use quietwire::rpmdb::{ndb, BadRecord, Record, RecordResult};
use std::path::PathBuf;

const FIXTURE: &str = "go-rpmdb-master/sle15-bci/Packages.db";

fn fixture_path(rel: &str) -> Option<PathBuf> {
    Some(common::rpmdb_fixtures()?.join(rel))
}

fn fixture() -> Option<Vec<u8>> {
    let p = fixture_path(FIXTURE)?;
    Some(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// `(hnum, blob_len)` from `expected/<rel with / -> __>.tsv`.
fn expected(rel: &str) -> Option<Vec<(u32, usize)>> {
    Some(common::expected_hnum_len(&common::rpmdb_fixtures()?, rel))
}

fn ok(records: &[RecordResult]) -> Vec<&Record> {
    records.iter().filter_map(|r| r.as_ref().ok()).collect()
}

fn bad(records: &[RecordResult]) -> Vec<&BadRecord> {
    records.iter().filter_map(|r| r.as_ref().err()).collect()
}

fn le32(data: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(data[off..off + 4].try_into().unwrap())
}

fn put32(data: &mut [u8], off: usize, v: u32) {
    data[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Used slots of a well-formed db: `(slot byte offset, pkgidx, blkoff, blkcnt)`, sorted by blkoff.
fn used_slots(data: &[u8]) -> Vec<(usize, u32, u32, u32)> {
    let slotnpages = le32(data, 12) as usize;
    let mut v: Vec<_> = (32..slotnpages * 4096)
        .step_by(16)
        .filter(|&o| le32(data, o + 8) != 0)
        .map(|o| (o, le32(data, o + 4), le32(data, o + 8), le32(data, o + 12)))
        .collect();
    v.sort_by_key(|s| s.2);
    v
}

fn slot_of(data: &[u8], pkgidx: u32) -> (usize, u32, u32, u32) {
    *used_slots(data)
        .iter()
        .find(|s| s.1 == pkgidx)
        .unwrap_or_else(|| panic!("no slot for pkgidx {pkgidx}"))
}

/// Textbook Adler-32 (independent of the reader's chunked version).
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// A well-formed ndb file holding `blobs` in order, as rpm would write a fresh one.
fn build_ndb(slotnpages: u32, blobs: &[(u32, &[u8])]) -> Vec<u8> {
    let mut f = vec![0u8; slotnpages as usize * 4096];
    f[0..4].copy_from_slice(b"RpmP");
    put32(&mut f, 8, 7); // generation
    put32(&mut f, 12, slotnpages);
    put32(&mut f, 16, blobs.iter().map(|b| b.0).max().unwrap_or(0) + 1);
    for off in (32..f.len()).step_by(16) {
        f[off..off + 4].copy_from_slice(b"Slot");
    }
    let mut blkoff = slotnpages * 256;
    for (i, (pkgidx, blob)) in blobs.iter().enumerate() {
        let blkcnt = (16 + blob.len() as u32 + 12).div_ceil(16);
        let slot = 32 + 16 * i;
        put32(&mut f, slot + 4, *pkgidx);
        put32(&mut f, slot + 8, blkoff);
        put32(&mut f, slot + 12, blkcnt);
        let start = f.len();
        f.extend_from_slice(b"BlbS");
        f.extend_from_slice(&pkgidx.to_le_bytes());
        f.extend_from_slice(&7u32.to_le_bytes());
        f.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        f.extend_from_slice(blob);
        f.resize(start + blkcnt as usize * 16 - 12, 0);
        let sum = adler32(&f[start..]);
        f.extend_from_slice(&sum.to_le_bytes());
        f.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        f.extend_from_slice(b"BlbE");
        blkoff += blkcnt;
    }
    f
}

/// Recompute the stored Adler-32 of the blob of `slot` after a deliberate edit.
fn reseal(data: &mut [u8], slot: (usize, u32, u32, u32)) {
    let start = slot.2 as usize * 16;
    let tail = start + slot.3 as usize * 16 - 12;
    let sum = adler32(&data[start..tail]);
    put32(data, tail, sum);
}

#[test]
fn sle15_fixture_matches_expected_list() {
    let (Some(data), Some(want)) = (fixture(), expected(FIXTURE)) else {
        return;
    };
    let records = ndb::read(&data).expect("fixture reads");
    assert!(bad(&records).is_empty(), "{:?}", bad(&records));
    let got: Vec<(u32, usize)> = ok(&records)
        .iter()
        .map(|r| (r.hnum, r.blob.len()))
        .collect();
    assert_eq!(got.len(), 35);
    assert_eq!(got, want);
    // Worked example of spec 3.3: pkgidx 1 is the first blob, 4128 bytes, starting with il/dl.
    assert_eq!(ok(&records)[0].blob.len(), 4128);
    assert_eq!(&ok(&records)[0].blob[..4], &[0, 0, 0, 0x47]);
}

#[test]
fn built_database_round_trips_and_is_sorted_by_blkoff() {
    let blobs: [(u32, &[u8]); 3] = [(5, b"first"), (2, &[0xab; 100]), (9, b"")];
    let mut data = build_ndb(2, &blobs);
    let records = ndb::read(&data).unwrap();
    let got: Vec<(u32, Vec<u8>)> = ok(&records)
        .iter()
        .map(|r| (r.hnum, r.blob.clone()))
        .collect();
    let want: Vec<(u32, Vec<u8>)> = blobs.iter().map(|(i, b)| (*i, b.to_vec())).collect();
    assert_eq!(got, want);
    assert_eq!(records.len(), 3);

    // Swap the first two slots: the order follows blkoff, not the slot position.
    let (a, b) = (32, 48);
    let tmp: Vec<u8> = data[a..a + 16].to_vec();
    data.copy_within(b..b + 16, a);
    data[b..b + 16].copy_from_slice(&tmp);
    let hnums: Vec<u32> = ok(&ndb::read(&data).unwrap())
        .iter()
        .map(|r| r.hnum)
        .collect();
    assert_eq!(hnums, [5, 2, 9]);
}

#[test]
fn empty_database_has_no_records() {
    let data = build_ndb(1, &[]);
    assert_eq!(ndb::read(&data).unwrap(), vec![]);
}

#[test]
fn free_slots_are_skipped() {
    let Some(mut data) = fixture() else { return };
    let s = slot_of(&data, 3);
    put32(&mut data, s.0 + 8, 0); // blkoff 0 = free
    let records = ndb::read(&data).unwrap();
    assert_eq!(records.len(), 34);
    assert!(bad(&records).is_empty());
    assert!(ok(&records).iter().all(|r| r.hnum != 3));
}

#[test]
fn cve_2026_44605_slotnpages_overflow_is_rejected() {
    let Some(mut data) = fixture() else { return };
    // 0x01000000 * 256 wraps a u32 to 0: rpm < f85845c26 then overflowed its slot buffer.
    for slotnpages in [0x0100_0000u32, 0x0100_0001, u32::MAX, 0] {
        put32(&mut data, 12, slotnpages);
        let e = ndb::read(&data).expect_err("slotnpages must be rejected");
        assert!(e.what.contains("slotnpages"), "{e}");
        assert_eq!(e.offset, 12);
    }
    // The largest legal value still has to fit the file.
    put32(&mut data, 12, 0x00ff_ffff);
    let e = ndb::read(&data).expect_err("slot area beyond the file");
    assert!(e.what.contains("slotnpages"), "{e}");
}

#[test]
fn header_checks_are_whole_database_errors() {
    let Some(data) = fixture() else { return };
    let mut d = data.clone();
    d[0] = b'X';
    assert!(ndb::read(&d).unwrap_err().what.contains("magic"));
    let mut d = data.clone();
    put32(&mut d, 4, 1);
    assert!(ndb::read(&d).unwrap_err().what.contains("version"));
    // Length not a multiple of 16.
    let mut d = data.clone();
    d.push(0);
    assert!(ndb::read(&d).unwrap_err().what.contains("multiple of 16"));
    // slotnpages 2 makes page 1 (blob data) part of the slot area: no "Slot" magic there.
    let mut d = data.clone();
    put32(&mut d, 12, 2);
    let e = ndb::read(&d).unwrap_err();
    assert!(e.what.contains("Slot"), "{e}");
    assert_eq!(e.offset, 4096);
}

#[test]
fn bad_magic_in_a_free_slot_fails_like_rpm() {
    let Some(mut data) = fixture() else { return };
    let free = (32..4096)
        .step_by(16)
        .find(|&o| le32(&data, o + 8) == 0)
        .unwrap();
    data[free + 3] ^= 0x20;
    let e = ndb::read(&data).unwrap_err();
    assert_eq!(e.offset, free as u64);
}

#[test]
fn adler32_mismatch_is_a_bad_record() {
    let Some(mut data) = fixture() else { return };
    let s = slot_of(&data, 2);
    let blob_start = s.2 as usize * 16;
    data[blob_start + 16 + 1000] ^= 0x01;
    let records = ndb::read(&data).unwrap();
    assert_eq!(records.len(), 35);
    let b = bad(&records);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].hnum, Some(2));
    assert_eq!(b[0].offset, Some(blob_start as u64));
    assert!(b[0].reason.contains("blob checksum mismatch"), "{}", b[0]);
    // Position is kept: the bad record sits where package 2 was.
    assert!(records[1].is_err());

    // The same for a damaged stored checksum, and for non-zero padding.
    let Some(mut data) = fixture() else { return };
    let tail = blob_start + s.3 as usize * 16 - 12;
    data[tail] ^= 0x80;
    assert!(bad(&ndb::read(&data).unwrap())[0]
        .reason
        .contains("checksum"));
}

#[test]
fn slot_beyond_end_of_file_is_a_bad_record() {
    let Some(data) = fixture() else { return };
    let fileblks = (data.len() / 16) as u32;
    let s = slot_of(&data, 40);
    // blkcnt too large, blkoff too large, and blkoff + blkcnt wrapping a u32.
    for (blkoff, blkcnt) in [
        (s.2, s.3 + 1),
        (fileblks, 1),
        (s.2, u32::MAX),
        (0xffff_fff0, 0x20),
        (u32::MAX, u32::MAX),
    ] {
        let mut d = data.clone();
        put32(&mut d, s.0 + 8, blkoff);
        put32(&mut d, s.0 + 12, blkcnt);
        let records = ndb::read(&d).unwrap();
        let b = bad(&records);
        assert_eq!(b.len(), 1, "blkoff {blkoff} blkcnt {blkcnt}: {b:?}");
        assert_eq!(b[0].hnum, Some(40));
        assert_eq!(ok(&records).len(), 34);
    }
}

#[test]
fn used_slot_checks() {
    let Some(data) = fixture() else { return };
    let s = slot_of(&data, 5);
    let cases: [(usize, u32, &str); 3] = [
        (4, 0, "pkgidx 0"),    // pkgidx
        (12, 0, "blkcnt 0"),   // blkcnt
        (8, 255, "slot area"), // blkoff inside the slot area
    ];
    for (field, value, reason) in cases {
        let mut d = data.clone();
        put32(&mut d, s.0 + field, value);
        let records = ndb::read(&d).unwrap();
        let b = bad(&records);
        assert_eq!(b.len(), 1, "{reason}: {b:?}");
        assert!(b[0].reason.contains(reason), "{}", b[0]);
        assert_eq!(b[0].offset, Some(s.0 as u64));
        assert_eq!(ok(&records).len(), 34);
    }
}

#[test]
fn overlapping_slots_keep_the_first() {
    let Some(mut data) = fixture() else { return };
    let s1 = slot_of(&data, 1);
    let s2 = slot_of(&data, 2);
    // Package 2's slot now claims blocks starting inside package 1's blob.
    put32(&mut data, s2.0 + 8, s1.2 + 1);
    let records = ndb::read(&data).unwrap();
    let b = bad(&records);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].hnum, Some(2));
    assert!(b[0].reason.contains("overlap"), "{}", b[0]);
    assert_eq!(ok(&records)[0].hnum, 1);
    assert_eq!(ok(&records).len(), 34);

    // Identical blkoff: also an overlap, slot order decides which is first.
    let Some(mut data) = fixture() else { return };
    put32(&mut data, s2.0 + 8, s1.2);
    let records = ndb::read(&data).unwrap();
    assert_eq!(bad(&records).len(), 1);
    assert_eq!(ok(&records)[0].hnum, 1);
}

#[test]
fn duplicate_pkgidx_keeps_the_first() {
    let Some(mut data) = fixture() else { return };
    let s3 = slot_of(&data, 3);
    // Rewrite package 3 as a second pkgidx 1, blob head and checksum included: only the
    // duplicate check can catch it.
    put32(&mut data, s3.0 + 4, 1);
    put32(&mut data, s3.2 as usize * 16 + 4, 1);
    reseal(&mut data, s3);
    let records = ndb::read(&data).unwrap();
    let b = bad(&records);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].hnum, Some(1));
    assert!(b[0].reason.contains("duplicate"), "{}", b[0]);
    assert_eq!(b[0].offset, Some(s3.0 as u64));
    assert_eq!(ok(&records)[0].hnum, 1);
    assert_eq!(ok(&records)[0].blob.len(), 4128);
}

#[test]
fn blob_head_and_tail_checks() {
    let Some(data) = fixture() else { return };
    let s = slot_of(&data, 4);
    let start = s.2 as usize * 16;
    let end = start + s.3 as usize * 16;
    let bloblen = le32(&data, start + 12);
    // (offset, new value, reseal checksum, expected reason)
    let cases: Vec<(usize, u32, bool, &str)> = vec![
        (start, 0, true, "BlbS"),
        (start + 4, 7, true, "pkgidx 7"),
        (start + 12, bloblen + 16, true, "needs"),
        (start + 12, bloblen - 16, true, "needs"),
        (start + 12, u32::MAX, true, "too large"),
        (end - 4, 0, true, "BlbE"),
        (end - 8, bloblen + 1, true, "tail length"),
    ];
    for (off, value, seal, reason) in cases {
        let mut d = data.clone();
        put32(&mut d, off, value);
        if seal && off < end - 12 {
            reseal(&mut d, s);
        }
        let records = ndb::read(&d).unwrap();
        let b = bad(&records);
        assert_eq!(b.len(), 1, "{reason}: {b:?}");
        assert_eq!(b[0].hnum, Some(4));
        assert!(b[0].reason.contains(reason), "{reason}: {}", b[0]);
        assert_eq!(ok(&records).len(), 34);
    }
}

#[test]
fn truncation_at_many_offsets() {
    let Some(data) = fixture() else { return };
    let slots = used_slots(&data);
    let mut lengths: Vec<usize> = (0..data.len()).step_by(4096).collect();
    lengths.extend((0..64).chain(4080..4128).chain(data.len() - 40..data.len()));
    lengths.extend((0..data.len()).step_by(777));
    for len in lengths {
        let d = &data[..len];
        match ndb::read(d) {
            Err(e) => assert!(
                len < 4096 || len % 16 != 0,
                "len {len}: unexpected whole-db error {e}"
            ),
            Ok(records) => {
                assert!(len >= 4096 && len % 16 == 0, "len {len} accepted");
                assert_eq!(records.len(), 35, "len {len}");
                for (r, s) in records.iter().zip(&slots) {
                    let fits = (s.2 as usize + s.3 as usize) * 16 <= len;
                    assert_eq!(r.is_ok(), fits, "len {len}, pkgidx {}", s.1);
                }
            }
        }
    }
}

#[test]
fn every_byte_flip_in_blob_data_is_detected() {
    let Some(data) = fixture() else { return };
    let slots = used_slots(&data);
    // Sampled positions over the whole blob area (every position of a small db is covered below).
    for pos in (4096..data.len()).step_by(4093) {
        let mut d = data.clone();
        d[pos] ^= 0x5a;
        let records = ndb::read(&d).unwrap();
        assert_eq!(records.len(), 35);
        for (r, s) in records.iter().zip(&slots) {
            let start = s.2 as usize * 16;
            let inside = (start..start + s.3 as usize * 16).contains(&pos);
            assert_eq!(r.is_err(), inside, "flip at {pos}, pkgidx {}", s.1);
        }
    }
}

#[test]
fn byte_flips_everywhere_never_panic() {
    let blobs: [(u32, &[u8]); 3] = [(1, b"abc"), (3, &[7; 40]), (4, b"")];
    let data = build_ndb(1, &blobs);
    let slots = used_slots(&data);
    for pos in 0..data.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut d = data.clone();
            d[pos] ^= x;
            let result = ndb::read(&d);
            if pos >= 4096 {
                let records = result.unwrap_or_else(|e| panic!("flip at {pos}: {e}"));
                assert_eq!(records.len(), 3);
                for (r, s) in records.iter().zip(&slots) {
                    let start = s.2 as usize * 16;
                    let inside = (start..start + s.3 as usize * 16).contains(&pos);
                    assert_eq!(r.is_err(), inside, "flip {x:#x} at {pos}");
                }
            }
        }
    }
    // Flips in the fixture's header and slot area: no panic, whatever the outcome.
    let Some(data) = fixture() else { return };
    // Header and every used slot byte, then a sample of the free slots.
    for pos in (0..704).chain((704..4096).step_by(37)) {
        let mut d = data.clone();
        d[pos] ^= 0xff;
        let _ = ndb::read(&d);
    }
}
