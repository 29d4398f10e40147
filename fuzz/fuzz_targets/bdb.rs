//! Fuzz the Berkeley DB hash reader: any input must return (never panic, hang or over-allocate),
//! and every record and damage report it yields is walked to the end.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = quietwire::rpmdb::bdb::read(data) {
        for item in items {
            match item {
                Ok(rec) => {
                    assert!(rec.hnum != 0, "key 0 must be skipped");
                    std::hint::black_box(rec.blob.len());
                }
                Err(bad) => {
                    std::hint::black_box(bad.to_string());
                }
            }
        }
    }
});
