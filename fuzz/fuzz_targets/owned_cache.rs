//! Owned-file cache reader: any bytes, as a whole file or as the package lines after a header
//! that passes, must give a cache or an error naming the file; never a panic, a hang or an
//! unbounded allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use quietwire::baseline::owned_cache::{parse, CacheRef};
use quietwire::scan::fs::RootIdentity;
use std::path::Path;

const HEADER: &[u8] = br#"{"format":"quietwire-owned-cache","version":1,"root":"/","identity":{"dev":1,"ino":2,"fs_type":3,"fsid":4},"entries":1}"#;

fuzz_target!(|data: &[u8]| {
    let identity = RootIdentity {
        dev: 1,
        ino: 2,
        fs_type: 3,
        fsid: 4,
    };
    let reference = CacheRef {
        sha256: String::new(),
        entries: 1,
    };
    let (file, root) = (Path::new("fuzz.owned-cache"), Path::new("/"));
    let _ = parse(file, data, &reference, root, &identity);
    let lines = [HEADER, b"\n", data].concat();
    let _ = parse(file, &lines, &reference, root, &identity);
});
