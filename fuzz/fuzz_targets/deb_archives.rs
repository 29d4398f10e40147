//! `--deb-archives` parsers: a `.deb` (ar, control.tar, its compressions), a tar image, a
//! Release file's SHA256 section and a Packages index; any bytes give a value or a one-line
//! reason, never a panic, a hang or an unbounded allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use quietwire::dpkg::anchor::{deb, index};

fuzz_target!(|data: &[u8]| {
    let _ = deb::scan(data);
    let _ = deb::tar_member(data, "md5sums");
    for name in [
        "control.tar",
        "control.tar.gz",
        "control.tar.xz",
        "control.tar.zst",
    ] {
        let _ = deb::md5sums_of_control(name, data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = index::release_sha256(text);
    }
    let _ = index::parse_packages(data, |_| true);
});
