//! Header blob validator and model builder: any bytes must give a package or an error, never a
//! panic or an abort, and a validated blob must survive the `rpm` crate's parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = quietwire::rpmdb::blob::HeaderBlob::parse(data) {
        for e in h.entries().to_vec() {
            let _ = h.strings(e.tag);
            let _ = h.u16_array(e.tag);
            let _ = h.u32_array(e.tag);
            let _ = h.u64_array(e.tag);
            let _ = h.raw_bytes(e.tag);
        }
        let _ = h.immutable_region();
        let _ = h.digest_status();
    }
    let _ = quietwire::rpmdb::Package::from_blob(1, data);
});
