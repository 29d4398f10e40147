//! Parsers for dpkg's database files. Pure functions over bytes, so that they can be fuzzed
//! (`fuzz/fuzz_targets/dpkg.rs`): each returns a one-line reason on bad input (the caller adds
//! the file name), bounds every line, and never panics.

use std::collections::HashMap;

/// Longest line accepted in any dpkg database file. dpkg's own paths are at most PATH_MAX
/// (4096); descriptions are wrapped at 80 columns.
pub const MAX_LINE: usize = 64 << 10;
/// Most packages in one status file (Debian's whole archive is under 100 000 names).
pub const MAX_PACKAGES: usize = 1 << 20;
/// Longest package file path accepted (Linux PATH_MAX).
pub const MAX_PATH: usize = 4096;

/// One conffile of a package, with the hash of its content as installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conffile {
    pub path: Vec<u8>,
    /// Lower-case MD5 hex, or dpkg's `newconffile` before the package was first configured.
    pub hash: String,
    /// Shipped by an older version only; still on disk.
    pub obsolete: bool,
    /// To be removed on the next upgrade: dpkg does not verify it.
    pub remove_on_upgrade: bool,
}

/// One package paragraph of the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    pub multi_arch_same: bool,
    /// The third word of `Status:` (`installed`, `half-configured`, `config-files`...).
    pub state: String,
    pub conffiles: Vec<Conffile>,
}

impl StatusEntry {
    /// Whether the package has files dpkg would verify: every state but `not-installed` (dpkg
    /// keeps the `.list` and conffile hashes of `config-files` packages too).
    pub fn is_verified(&self) -> bool {
        self.state != "not-installed"
    }

    /// The name of the package's info files.
    pub fn info_name(&self) -> String {
        match (&self.arch, self.multi_arch_same) {
            (Some(a), true) => format!("{}:{a}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// One entry of `diversions`: `from` is installed as `to`; `package` diverted it (`None` for a
/// local diversion, written `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    pub from: Vec<u8>,
    pub to: Vec<u8>,
    pub package: Option<String>,
}

fn check_lines(data: &[u8]) -> Result<(), String> {
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if line.len() > MAX_LINE {
            return Err(format!("line {} is longer than {MAX_LINE} bytes", i + 1));
        }
    }
    Ok(())
}

/// Package names become file names under `info/`: dpkg's own rule (lower-case alphanumerics
/// and `+-.`, starting with an alphanumeric) keeps `/` and `..` out of them.
fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(&c))
}

fn valid_arch(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// An absolute path as dpkg records it: no NUL, no `..` component, at most [`MAX_PATH`].
fn check_path(p: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(p);
    if p.first() != Some(&b'/') {
        return Err(format!("path is not absolute: {shown:?}"));
    }
    if p.len() > MAX_PATH {
        return Err(format!("path longer than {MAX_PATH} bytes"));
    }
    if p.contains(&0) {
        return Err(format!("path contains a NUL byte: {shown:?}"));
    }
    if p.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(format!("path has a '..' component: {shown:?}"));
    }
    Ok(())
}

fn is_md5_hex(s: &[u8]) -> bool {
    s.len() == 32 && s.iter().all(|c| c.is_ascii_hexdigit())
}

/// Parse the status file; every paragraph with a `Package:` field.
pub fn parse_status(data: &[u8]) -> Result<Vec<StatusEntry>, String> {
    check_lines(data)?;
    let text =
        std::str::from_utf8(data).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    let mut out = Vec::new();
    for (n, para) in deb822_fast::borrowed::iter_paragraphs_borrowed(text).enumerate() {
        let para = para.map_err(|e| format!("paragraph {}: {e}", n + 1))?;
        if out.len() >= MAX_PACKAGES {
            return Err(format!("more than {MAX_PACKAGES} packages"));
        }
        let Some(name) = para.get_single("Package") else {
            continue;
        };
        let name = name.trim();
        if !valid_name(name) {
            return Err(format!(
                "paragraph {}: invalid package name {name:?}",
                n + 1
            ));
        }
        let status = para
            .get_single("Status")
            .ok_or_else(|| format!("package {name}: no Status field"))?;
        let words: Vec<&str> = status.split_whitespace().collect();
        let [_, _, state] = words[..] else {
            return Err(format!("package {name}: malformed Status {status:?}"));
        };
        let version = para.get_single("Version").unwrap_or("").trim().to_string();
        if !valid_version(&version) {
            return Err(format!("package {name}: invalid Version {version:?}"));
        }
        let arch = match para.get_single("Architecture").map(str::trim) {
            Some(a) if valid_arch(a) => Some(a.to_string()),
            Some(a) => return Err(format!("package {name}: invalid Architecture {a:?}")),
            None => None,
        };
        let multi_arch_same = para.get_single("Multi-Arch").map(str::trim) == Some("same");
        let mut conffiles = Vec::new();
        if let Some(lines) = para.get("Conffiles") {
            for line in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
                conffiles.push(
                    parse_conffile(line).map_err(|e| format!("package {name}: Conffiles: {e}"))?,
                );
            }
        }
        out.push(StatusEntry {
            name: name.to_string(),
            version,
            arch,
            multi_arch_same,
            state: state.to_string(),
            conffiles,
        });
    }
    Ok(out)
}

/// dpkg's own version characters (deb-version(7): alphanumerics and `.+-~` in the upstream
/// part, `:` after an epoch). dpkg refuses anything else in its status file, so such a version
/// was written by someone else; it would also reach the reports as it is (control bytes,
/// terminal escapes), since versions are printed unescaped.
fn valid_version(v: &str) -> bool {
    v.len() <= 256
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-~:".contains(&b))
}

/// One `Conffiles:` line: `/path hash [obsolete] [remove-on-upgrade]` (the path may hold
/// spaces, so it is split from the end, as dpkg does).
fn parse_conffile(line: &str) -> Result<Conffile, String> {
    let mut rest = line;
    let mut obsolete = false;
    let mut remove_on_upgrade = false;
    loop {
        let (head, last) = rest
            .rsplit_once(' ')
            .ok_or_else(|| format!("malformed line {line:?}"))?;
        match last {
            "obsolete" => obsolete = true,
            "remove-on-upgrade" => remove_on_upgrade = true,
            hash => {
                let path = head.trim_end();
                if !(is_md5_hex(hash.as_bytes()) || hash == "newconffile") {
                    return Err(format!("malformed hash in {line:?}"));
                }
                check_path(path.as_bytes())?;
                return Ok(Conffile {
                    path: path.as_bytes().to_vec(),
                    hash: hash.to_ascii_lowercase(),
                    obsolete,
                    remove_on_upgrade,
                });
            }
        }
        rest = head.trim_end();
    }
}

/// Parse a `.list` file: one absolute path a line. dpkg's `/.` (the root directory) is left out,
/// and so is a path listed again: dpkg never writes one twice, and each repeat would have the
/// same file hashed once more (a list repeating a 4 GiB file is hours of hashing).
pub fn parse_list(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    check_lines(data)?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || line == b"/." {
            continue;
        }
        check_path(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if seen.insert(line) {
            out.push(line.to_vec());
        }
    }
    Ok(out)
}

/// Parse an `.md5sums` file: `HASH  path` a line, the path relative to the root (dpkg prepends
/// `/`). Returns absolute path → lower-case hex.
pub fn parse_md5sums(data: &[u8]) -> Result<HashMap<Vec<u8>, String>, String> {
    check_lines(data)?;
    let mut out = HashMap::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || format!("line {}: expected '<32 hex digits>  <path>'", i + 1);
        let (hash, rest) = (
            line.get(..32).ok_or_else(bad)?,
            line.get(32..).ok_or_else(bad)?,
        );
        if !is_md5_hex(hash) || rest.first() != Some(&b' ') {
            return Err(bad());
        }
        let mut p = rest.trim_ascii_start();
        // md5sum's binary-mode marker.
        if let Some(s) = p.strip_prefix(b"*") {
            p = s;
        }
        let p = p.strip_prefix(b"/").unwrap_or(p);
        if p.is_empty() {
            return Err(bad());
        }
        let mut abs = Vec::with_capacity(p.len() + 1);
        abs.push(b'/');
        abs.extend_from_slice(p);
        check_path(&abs).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.insert(abs, String::from_utf8_lossy(hash).to_ascii_lowercase());
    }
    Ok(out)
}

/// Parse `diversions`: three lines per entry (from, to, diverting package or `:`).
pub fn parse_diversions(data: &[u8]) -> Result<Vec<Diversion>, String> {
    check_lines(data)?;
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    if !lines.len().is_multiple_of(3) {
        return Err(format!("{} lines, not a multiple of 3", lines.len()));
    }
    let mut out = Vec::with_capacity(lines.len() / 3);
    for (n, c) in lines.chunks_exact(3).enumerate() {
        let (from, to, pkg) = (c[0], c[1], c[2]);
        for p in [from, to] {
            check_path(p).map_err(|e| format!("entry {}: {e}", n + 1))?;
        }
        let package = match pkg {
            b":" => None,
            p => {
                let s = String::from_utf8_lossy(p);
                if !valid_name(&s) {
                    return Err(format!("entry {}: invalid package name {s:?}", n + 1));
                }
                Some(s.into_owned())
            }
        };
        out.push(Diversion {
            from: from.to_vec(),
            to: to.to_vec(),
            package,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_conffiles_and_states() {
        let s = b"Package: cron\nStatus: install ok half-configured\nArchitecture: amd64\nVersion: 3.0\nConffiles:\n /etc/default/cron eae0d979b5007d2af41540d8c2631359\n /etc/old c0ffee0d979b5007d2af41540d8c2631 obsolete\n /etc/with space newconffile\nDescription: x\n y\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1\n\nPackage: gone\nStatus: deinstall ok not-installed\n";
        let v = parse_status(s).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].conffiles.len(), 3);
        assert!(v[0].conffiles[1].obsolete);
        assert_eq!(v[0].conffiles[2].path, b"/etc/with space");
        assert_eq!(v[0].info_name(), "cron");
        assert_eq!(v[1].info_name(), "zlib1g:amd64");
        assert!(!v[2].is_verified());
    }

    #[test]
    fn hostile_names_and_paths_are_errors() {
        assert!(parse_status(b"Package: ../../etc\nStatus: install ok installed\n").is_err());
        assert!(parse_list(b"/usr/../../etc/shadow\n").is_err());
        assert!(parse_list(b"relative\n").is_err());
        assert!(parse_md5sums(b"30c14089fd21badeb0bd586ad81e4894  usr/\0x\n").is_err());
        assert!(parse_md5sums(b"30c14089fd21badeb0bd586ad81e489  usr/bin/x\n").is_err());
        assert!(parse_md5sums(b"zzc14089fd21badeb0bd586ad81e4894  usr/bin/x\n").is_err());
        assert!(parse_md5sums(b"30c14089fd21badeb0bd586ad81e4894").is_err());
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(parse_list(&long).unwrap_err().contains("longer than"));
        assert!(parse_diversions(b"/a\n/b\n").is_err());
        let escape =
            b"Package: hello\nStatus: install ok installed\nVersion: 1.0\x1b[2K\rhigh: FAKE\n";
        let e = parse_status(escape).unwrap_err();
        assert!(e.contains("invalid Version") && !e.contains('\x1b'), "{e}");
        let real =
            b"Package: x\nStatus: install ok installed\nVersion: 1:2.3.4+dfsg~rc1-0+deb12u1\n";
        assert_eq!(
            parse_status(real).unwrap()[0].version,
            "1:2.3.4+dfsg~rc1-0+deb12u1"
        );
    }

    #[test]
    fn a_path_listed_twice_is_kept_once() {
        let v = parse_list(b"/.\n/usr\n/usr/bin/z\n/usr\n/usr/bin/z\n/usr/bin/y\n").unwrap();
        assert_eq!(
            v,
            vec![
                b"/usr".to_vec(),
                b"/usr/bin/z".to_vec(),
                b"/usr/bin/y".to_vec()
            ]
        );
    }

    #[test]
    fn md5sums_and_diversions() {
        let m = parse_md5sums(b"30C14089fd21badeb0bd586ad81e4894  usr/bin/hello\n").unwrap();
        assert_eq!(
            m[&b"/usr/bin/hello".to_vec()],
            "30c14089fd21badeb0bd586ad81e4894"
        );
        let d = parse_diversions(b"/a\n/a.real\n:\n/b\n/b.x\npkg\n").unwrap();
        assert_eq!(d[0].package, None);
        assert_eq!(d[1].package.as_deref(), Some("pkg"));
    }
}
