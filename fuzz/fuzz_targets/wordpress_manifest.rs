//! WordPress checksum manifests and version.php: any bytes give a checked manifest (relative
//! paths without `..`, hex digests) or an error; never a panic, a hang or an unbounded
//! allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use quietwire::wordpress::{detect, manifest};

fuzz_target!(|data: &[u8]| {
    for m in [
        manifest::parse_core(data, "6.4.3"),
        manifest::parse_plugin(data, "akismet", "5.3"),
    ]
    .into_iter()
    .flatten()
    {
        for path in m.files.keys() {
            assert!(!path.starts_with('/') && !path.split('/').any(|c| c == ".."));
        }
    }
    if let Ok((v, l)) = detect::parse_version_php(data) {
        assert!(quietwire::wordpress::valid_version(&v) && quietwire::wordpress::valid_locale(&l));
    }
    let _ = detect::header_field(data, "Version");
});
