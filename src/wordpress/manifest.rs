//! Checksum manifests in the official JSON formats, exactly the bodies the WordPress APIs
//! return: core (`api.wordpress.org/core/checksums/1.0/?version=V&locale=L`: `{"checksums":
//! {PATH: MD5}}`, or keyed by version first) and plugins (`downloads.wordpress.org/
//! plugin-checksums/SLUG/VERSION.json`: `{"plugin", "version", "files": {PATH: {"md5",
//! "sha256"}}}`, each digest a string or a list of strings). Nothing in a manifest is trusted
//! until all of it has been checked: shape, the claimed version and slug, paths, digests.

use serde_json::Value;
use std::collections::BTreeMap;

/// Largest manifest read (the core one is about 200 KiB).
pub const MAX_MANIFEST_BYTES: u64 = 32 << 20;
/// Most files one manifest may list.
pub const MAX_ENTRIES: usize = 200_000;
/// Most digests one file may list (a plugin release rebuilt a few times).
const MAX_DIGESTS: usize = 16;

/// The digests a manifest accepts for one file: any listed value matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSums {
    /// Lower-case hex.
    pub md5: Vec<String>,
    pub sha256: Vec<String>,
}

/// A checked manifest: path relative to the install or plugin directory → digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub files: BTreeMap<String, FileSums>,
}

/// Parse a core checksums body for `version` (the version `version.php` claims).
pub fn parse_core(body: &[u8], version: &str) -> Result<Manifest, String> {
    let v = parse_json(body)?;
    let sums = v
        .get("checksums")
        .ok_or("not a core checksums body (no \"checksums\")")?;
    let map = match sums {
        Value::Bool(false) => {
            return Err(
                "the API has no checksums for this version and locale (\"checksums\": false)"
                    .to_string(),
            )
        }
        Value::Object(m) => m,
        _ => return Err("\"checksums\" is not an object".to_string()),
    };
    let flat = map.values().all(Value::is_string);
    let files = if flat {
        map
    } else if map.values().all(Value::is_object) {
        match map.get(version) {
            Some(Value::Object(m)) => m,
            _ => {
                let have: Vec<&str> = map.keys().map(String::as_str).take(5).collect();
                return Err(format!(
                    "checksums for version(s) {} only, not for {version}",
                    have.join(", ")
                ));
            }
        }
    } else {
        return Err("\"checksums\" mixes file digests and versions".to_string());
    };
    if files.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} files"));
    }
    let mut out = Manifest::default();
    for (path, sum) in files {
        check_path(path)?;
        let md5 = sum
            .as_str()
            .ok_or_else(|| format!("{path}: the digest is not a string"))?;
        out.files.insert(
            path.clone(),
            FileSums {
                md5: vec![check_hex(path, md5, 32)?],
                sha256: Vec::new(),
            },
        );
    }
    if out.files.is_empty() {
        return Err("no files listed".to_string());
    }
    Ok(out)
}

/// Parse a plugin checksums body, which must claim `slug` and `version`.
pub fn parse_plugin(body: &[u8], slug: &str, version: &str) -> Result<Manifest, String> {
    let v = parse_json(body)?;
    let claimed = |key: &str| v.get(key).and_then(Value::as_str);
    match claimed("plugin") {
        Some(s) if s == slug => {}
        Some(s) => return Err(format!("it is the manifest of plugin {s:?}, not {slug:?}")),
        None => return Err("not a plugin checksums body (no \"plugin\")".to_string()),
    }
    match claimed("version") {
        Some(s) if s == version => {}
        Some(s) => {
            return Err(format!(
                "it is the manifest of version {s:?}, not {version:?}"
            ))
        }
        None => return Err("no \"version\"".to_string()),
    }
    let files = v
        .get("files")
        .and_then(Value::as_object)
        .ok_or("\"files\" is missing or not an object")?;
    if files.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} files"));
    }
    let mut out = Manifest::default();
    for (path, sums) in files {
        check_path(path)?;
        let obj = sums
            .as_object()
            .ok_or_else(|| format!("{path}: not an object of digests"))?;
        let list = |key: &str, len: usize| -> Result<Vec<String>, String> {
            let vals: Vec<&Value> = match obj.get(key) {
                None => Vec::new(),
                Some(Value::Array(a)) => a.iter().collect(),
                Some(v) => vec![v],
            };
            if vals.len() > MAX_DIGESTS {
                return Err(format!("{path}: more than {MAX_DIGESTS} {key} values"));
            }
            vals.into_iter()
                .map(|v| {
                    let s = v
                        .as_str()
                        .ok_or_else(|| format!("{path}: {key} is not a string"))?;
                    check_hex(path, s, len)
                })
                .collect()
        };
        let fs = FileSums {
            md5: list("md5", 32)?,
            sha256: list("sha256", 64)?,
        };
        if fs.md5.is_empty() && fs.sha256.is_empty() {
            return Err(format!("{path}: no md5 or sha256"));
        }
        out.files.insert(path.clone(), fs);
    }
    if out.files.is_empty() {
        return Err("no files listed".to_string());
    }
    Ok(out)
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    if body.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!("larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    // serde_json bounds nesting depth (128), so a deeply nested body is an error, not a crash.
    serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))
}

/// A manifest path must name a file below the install: relative, no `.`/`..`/empty
/// components, no NUL or backslash.
fn check_path(p: &str) -> Result<(), String> {
    let bad = p.is_empty()
        || p.len() > 4096
        || p.starts_with('/')
        || p.bytes().any(|b| b == 0 || b == b'\\')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(format!(
            "unsafe file path {:?} (must be relative, without '..')",
            crate::escape::escape_bytes(p.as_bytes())
        ));
    }
    Ok(())
}

fn check_hex(path: &str, s: &str, len: usize) -> Result<String, String> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{path}: {:?} is not a {len}-digit hex digest",
            crate::escape::escape_bytes(s.as_bytes())
        ));
    }
    Ok(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    #[test]
    fn core_both_shapes() {
        let flat = format!(r#"{{"checksums":{{"wp-admin/a.php":"{MD5}"}}}}"#);
        let multi = format!(r#"{{"checksums":{{"6.4.3":{{"wp-admin/a.php":"{MD5}"}}}}}}"#);
        let a = parse_core(flat.as_bytes(), "6.4.3").unwrap();
        let b = parse_core(multi.as_bytes(), "6.4.3").unwrap();
        assert_eq!(a, b);
        assert!(parse_core(multi.as_bytes(), "6.4.2")
            .unwrap_err()
            .contains("6.4.3 only"));
        assert!(parse_core(br#"{"checksums":false}"#, "6.4.3")
            .unwrap_err()
            .contains("no checksums"));
    }

    #[test]
    fn hostile_paths_and_digests() {
        for p in ["../x.php", "/etc/passwd", "a//b", "a/./b", "a\\b", ""] {
            let body = serde_json::json!({"checksums": {p: MD5}}).to_string();
            assert!(parse_core(body.as_bytes(), "1").is_err(), "{p}");
        }
        let body = serde_json::json!({"checksums": {"a": "zz"}}).to_string();
        assert!(parse_core(body.as_bytes(), "1").is_err());
    }

    #[test]
    fn plugin_claims() {
        let body = serde_json::json!({"plugin":"akismet","version":"5.3","files":{
            "a.php": {"md5": [MD5, MD5], "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}})
        .to_string();
        let m = parse_plugin(body.as_bytes(), "akismet", "5.3").unwrap();
        assert_eq!(m.files["a.php"].md5.len(), 2);
        assert!(parse_plugin(body.as_bytes(), "akismet", "5.2").is_err());
        assert!(parse_plugin(body.as_bytes(), "other", "5.3").is_err());
    }
}
