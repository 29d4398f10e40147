//! Safe display of untrusted names (file paths from disk or from the rpmdb).
//!
//! A crafted file name could carry terminal escape sequences or newlines that rewrite an
//! administrator's screen or forge report lines; human output shows such bytes as `\xNN`
//! (and `\n`, `\t`, `\\`) instead. JSON carries the exact bytes separately.

use std::fmt::Write;

/// Escape control characters, backslashes and invalid UTF-8 for a terminal or a text report.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() || is_invisible_format(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Bidirectional overrides and zero-width characters, which can make a name look like another.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Escape a path for human output.
pub fn escape_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape_bytes(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invalid_bytes_are_escaped() {
        assert_eq!(escape_bytes(b"/tmp/a b"), "/tmp/a b");
        assert_eq!(escape_bytes("/tmp/caf\u{e9}".as_bytes()), "/tmp/caf\u{e9}");
        assert_eq!(escape_bytes(b"/x\n/etc/passwd"), "/x\\n/etc/passwd");
        assert_eq!(escape_bytes(b"\x1b[2J"), "\\x1b[2J");
        assert_eq!(escape_bytes(b"a\xffb"), "a\\xffb");
        assert_eq!(escape_bytes("\u{202e}txt".as_bytes()), "\\xe2\\x80\\xaetxt");
    }
}
