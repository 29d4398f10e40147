//! Fuzz the ndb `Packages.db` reader: any input must give `Err` or a record list, never a panic,
//! a hang or an allocation out of proportion to the input. Seed with
//! `../shared/fixtures/rpmdb/go-rpmdb-master/sle15-bci/Packages.db` and small databases built
//! from it (see the ndb section of the test suite, `tests/rpmdb_ndb.rs`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = quietwire::rpmdb::ndb::read(data) {
        let mut total = 0usize;
        for r in &records {
            match r {
                Ok(rec) => {
                    assert!(rec.hnum != 0, "record with pkgidx 0");
                    total += rec.blob.len();
                }
                Err(bad) => {
                    let _ = bad.to_string();
                }
            }
        }
        // Blobs never overlap, so together they cannot exceed the input.
        assert!(
            total <= data.len(),
            "{total} blob bytes from {} input bytes",
            data.len()
        );
        // At most one record per slot.
        assert!(records.len() <= data.len() / 16);
    }
});
