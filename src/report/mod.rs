//! Renderers: findings in, bytes out (`rpm`: exactly `rpm -V`'s lines; `text`: for people;
//! `json`: lossless, for machines). Renderers never touch the filesystem or the rpmdb.

pub mod json;
pub mod rpm;
pub mod text;

/// Escape a path (or any bytes) for a terminal: printable UTF-8 passes, control characters,
/// DEL, C1 controls, bidi/zero-width format characters and invalid UTF-8 become `\xNN`/`\u{..}`,
/// and a backslash becomes `\\`, so a crafted name cannot rewrite the screen or impersonate
/// another path.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if is_invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// C1 controls and Unicode format characters that reorder or hide text.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f
        | 0x200b..=0x200f
        | 0x202a..=0x202e
        | 0x2060..=0x2069
        | 0xfeff)
}

/// Standard base64 (RFC 4648, with padding), for exact bytes in JSON.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(c.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(c.get(2).copied().unwrap_or(0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_attack_names() {
        assert_eq!(escape(b"/etc/ok"), "/etc/ok");
        assert_eq!(escape("/tmp/caf\u{e9}".as_bytes()), "/tmp/caf\u{e9}");
        assert_eq!(escape(b"/x\x1b[2J\n"), "/x\\x1b[2J\\x0a");
        assert_eq!(escape(b"/bad\xff\xfe"), "/bad\\xff\\xfe");
        assert_eq!(escape("/a\u{202e}gpj.exe".as_bytes()), "/a\\u{202e}gpj.exe");
        assert_eq!(escape(b"/a\\x41"), "/a\\\\x41");
    }

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }
}
