//! apt's index files, as the signed chain needs them: the `SHA256:` section of a Release file
//! (`InRelease`'s signed text) and the package stanzas of a `Packages` index. Pure functions over
//! bytes (fuzzed by `fuzz/fuzz_targets/deb_archives.rs`): a one-line reason on bad input, never a
//! panic.

use std::collections::HashMap;

/// Most entries accepted in one Release file's `SHA256:` section (Debian's main suite lists
/// about 600 files per architecture set).
pub const MAX_RELEASE_ENTRIES: usize = 1 << 20;

/// One file a Release file vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEntry {
    pub sha256: String,
    pub size: u64,
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The `SHA256:` section of a Release file: path relative to the suite → digest and size.
/// Other sections (`MD5Sum:`, `SHA1:`) are ignored: they are too weak to anchor anything.
pub fn release_sha256(text: &str) -> Result<HashMap<String, ReleaseEntry>, String> {
    let mut para = deb822_fast::borrowed::iter_paragraphs_borrowed(text);
    let first = para
        .next()
        .ok_or("no Release paragraph")?
        .map_err(|e| format!("Release paragraph: {e}"))?;
    let lines = first.get("SHA256").ok_or("no SHA256 field")?;
    let mut out = HashMap::new();
    for line in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        if out.len() >= MAX_RELEASE_ENTRIES {
            return Err(format!("more than {MAX_RELEASE_ENTRIES} SHA256 entries"));
        }
        let mut w = line.split_whitespace();
        let (Some(hash), Some(size), Some(path), None) = (w.next(), w.next(), w.next(), w.next())
        else {
            return Err(format!("SHA256: malformed line {line:?}"));
        };
        let size = size
            .parse::<u64>()
            .map_err(|_| format!("SHA256: bad size in {line:?}"))?;
        if !is_sha256_hex(hash) {
            return Err(format!("SHA256: bad digest in {line:?}"));
        }
        out.insert(
            path.to_string(),
            ReleaseEntry {
                sha256: hash.to_ascii_lowercase(),
                size,
            },
        );
    }
    Ok(out)
}

/// A `.deb` a Packages index vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub package: String,
    pub version: String,
    pub arch: String,
    pub size: u64,
    pub sha256: String,
}

/// The stanzas of a Packages index whose `Package` `keep` accepts (the installed names: the
/// main suite's index has some 60 000 stanzas). A stanza without SHA256 vouches for nothing and
/// is skipped; a malformed one is an error.
pub fn parse_packages(data: &[u8], keep: impl Fn(&str) -> bool) -> Result<Vec<Listed>, String> {
    let text =
        std::str::from_utf8(data).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    let mut out = Vec::new();
    for (n, para) in deb822_fast::borrowed::iter_paragraphs_borrowed(text).enumerate() {
        let para = para.map_err(|e| format!("stanza {}: {e}", n + 1))?;
        let Some(package) = para.get_single("Package").map(str::trim) else {
            continue;
        };
        if !keep(package) {
            continue;
        }
        let Some(sha256) = para.get_single("SHA256").map(str::trim) else {
            continue;
        };
        let field = |f: &str| {
            para.get_single(f)
                .map(|v| v.trim().to_string())
                .ok_or_else(|| format!("stanza {} ({package}): no {f} field", n + 1))
        };
        if !is_sha256_hex(sha256) {
            return Err(format!("stanza {} ({package}): bad SHA256", n + 1));
        }
        let size = field("Size")?;
        out.push(Listed {
            package: package.to_string(),
            version: field("Version")?,
            arch: field("Architecture")?,
            size: size
                .parse()
                .map_err(|_| format!("stanza {} ({package}): bad Size {size:?}", n + 1))?,
            sha256: sha256.to_ascii_lowercase(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_section() {
        let h = "a".repeat(64);
        let text = format!(
            "Origin: x\nMD5Sum:\n {} 10 main/binary-amd64/Packages\nSHA256:\n {h} 10 main/binary-amd64/Packages\n {h} 4 main/binary-amd64/Packages.gz\n",
            "b".repeat(32)
        );
        let m = release_sha256(&text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["main/binary-amd64/Packages"].size, 10);
        assert!(release_sha256("Origin: x\n")
            .unwrap_err()
            .contains("no SHA256"));
        assert!(release_sha256("SHA256:\n zz 1 p\n")
            .unwrap_err()
            .contains("bad digest"));
    }

    #[test]
    fn packages_stanzas() {
        let h = "C".repeat(64);
        let text = format!(
            "Package: a\nVersion: 1.0-1\nArchitecture: amd64\nSize: 12\nSHA256: {h}\n\nPackage: b\nVersion: 2\nArchitecture: all\nSize: 1\nSHA256: {h}\n"
        );
        let v = parse_packages(text.as_bytes(), |p| p == "a").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].version, "1.0-1");
        assert_eq!(v[0].sha256, "c".repeat(64));
        let bad = format!("Package: a\nVersion: 1\nArchitecture: amd64\nSize: x\nSHA256: {h}\n");
        assert!(parse_packages(bad.as_bytes(), |_| true)
            .unwrap_err()
            .contains("bad Size"));
        assert!(parse_packages(b"\xff", |_| true).is_err());
    }
}
