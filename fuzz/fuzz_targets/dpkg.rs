//! dpkg database parsers (status, .list, .md5sums, diversions) and dpkg.log: any bytes must give entries or
//! a one-line reason; never a panic, a hang or an unbounded allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use quietwire::dpkg::parse;

fuzz_target!(|data: &[u8]| {
    let _ = parse::parse_status(data);
    let _ = parse::parse_list(data);
    let _ = parse::parse_md5sums(data);
    let _ = parse::parse_diversions(data);
    quietwire::dpkg::log::parse(data, &mut quietwire::dpkg::log::Actions::default());
});
