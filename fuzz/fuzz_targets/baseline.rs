//! Baseline reader: any bytes must give records and a verified trailer, or an error naming the
//! file and line; never a panic, a hang or an unbounded allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let input = std::io::Cursor::new(data);
    if let Ok(mut r) = quietwire::baseline::format::Reader::new(input, Path::new("fuzz")) {
        let _ = r.header().packages.len();
        while let Ok(Some(rec)) = r.next_record() {
            let _ = rec.path();
        }
    }
});
