//! User and group names of the **checked root** (`ROOT/etc/passwd`, `ROOT/etc/group`), resolved
//! like rpm 4.18's `getpwnam`/`getgrnam` through glibc's nss_files inside the chroot: the first
//! valid line with the name wins, and `root` is 0 without any lookup.
//!
//! The host's user database is never consulted.

use super::fs::Root;
use std::collections::HashMap;
use std::io::Read;

/// Largest passwd/group file read (a bigger one is treated as unreadable, not loaded).
const MAX_DB_BYTES: u64 = 64 << 20;

/// Name → id tables of one root.
#[derive(Debug, Default, Clone)]
pub struct Ids {
    users: HashMap<Vec<u8>, u32>,
    groups: HashMap<Vec<u8>, u32>,
}

impl Ids {
    /// Load `/etc/passwd` and `/etc/group` from inside `root`. A missing or unreadable file
    /// leaves its table empty (every name but `root` is then unresolvable, as with rpm).
    pub fn load(root: &Root) -> Ids {
        Ids {
            users: read_db(root, b"/etc/passwd")
                .map(|d| parse(&d, 4))
                .unwrap_or_default(),
            groups: read_db(root, b"/etc/group")
                .map(|d| parse(&d, 3))
                .unwrap_or_default(),
        }
    }

    /// Build from file contents (tests, or callers that read the files themselves).
    pub fn from_contents(passwd: &[u8], group: &[u8]) -> Ids {
        Ids {
            users: parse(passwd, 4),
            groups: parse(group, 3),
        }
    }

    /// rpm's `rpmugUid`: `root` is 0; otherwise the first matching passwd line.
    pub fn uid(&self, name: &str) -> Option<u32> {
        if name == "root" {
            return Some(0);
        }
        self.users.get(name.as_bytes()).copied()
    }

    /// rpm's `rpmugGid`.
    pub fn gid(&self, name: &str) -> Option<u32> {
        if name == "root" {
            return Some(0);
        }
        self.groups.get(name.as_bytes()).copied()
    }
}

fn read_db(root: &Root, path: &[u8]) -> Option<Vec<u8>> {
    let f = root.open_config(path).ok()?;
    let mut out = Vec::new();
    f.take(MAX_DB_BYTES + 1).read_to_end(&mut out).ok()?;
    if out.len() as u64 > MAX_DB_BYTES {
        return None;
    }
    Some(out)
}

/// Parse nss_files lines: `name:passwd:id[:...]`. `min_fields` is 4 for passwd (uid and gid
/// must both parse) and 3 for group. Leading whitespace is skipped, empty and `#` lines ignored,
/// a line whose numbers do not parse is skipped, and names starting with `+`/`-` (NIS compat
/// markers) never match, as in glibc.
fn parse(data: &[u8], min_fields: usize) -> HashMap<Vec<u8>, u32> {
    let mut map = HashMap::new();
    for line in data.split(|&b| b == b'\n') {
        let start = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let line = &line[start..];
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut fields = line.splitn(min_fields + 1, |&b| b == b':');
        let (Some(name), Some(_pw), Some(id)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some(id) = parse_id(id) else { continue };
        if min_fields == 4 {
            // passwd: the gid field must be a number too, or glibc rejects the line.
            match fields.next() {
                Some(g) if parse_id(g).is_some() => {}
                _ => continue,
            }
        }
        if name.is_empty() || name[0] == b'+' || name[0] == b'-' {
            continue;
        }
        map.entry(name.to_vec()).or_insert(id);
    }
    map
}

/// glibc's `INT_FIELD`: `strtoul` (leading blanks, optional sign, at least one digit; a negative
/// value wraps) and nothing else in the field.
fn parse_id(field: &[u8]) -> Option<u32> {
    let s = field.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let mut f = &field[s..];
    let mut neg = false;
    if let Some((&c, rest)) = f.split_first() {
        if c == b'+' || c == b'-' {
            neg = c == b'-';
            f = rest;
        }
    }
    if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in f {
        v = v.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    // strtoul saturates at ULONG_MAX; glibc then truncates to 32 bits.
    let v = if neg { v.wrapping_neg() } else { v };
    Some(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_and_root_is_fixed() {
        let ids = Ids::from_contents(
            b"root:x:5:5::/root:/bin/sh\n# comment\n  bin:x:1:1::/:/x\nbin:x:99:99::/:/x\nnogid:x:7:\nbad:x:abc:1\n+nis:x:3:3\n",
            b"root:x:9:\nwheel:x:10:a,b\nwheel:x:11:\nshort:x\n",
        );
        assert_eq!(ids.uid("root"), Some(0));
        assert_eq!(ids.uid("bin"), Some(1));
        assert_eq!(ids.uid("nogid"), None);
        assert_eq!(ids.uid("bad"), None);
        assert_eq!(ids.uid("+nis"), None);
        assert_eq!(ids.uid("nobody"), None);
        assert_eq!(ids.gid("root"), Some(0));
        assert_eq!(ids.gid("wheel"), Some(10));
        assert_eq!(ids.gid("short"), None);
    }

    #[test]
    fn reads_the_roots_files_not_the_hosts() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            b"zzuser:x:4242:4242::/:/bin/sh\n",
        )
        .unwrap();
        let ids = Ids::load(&Root::open(t.path()).unwrap());
        assert_eq!(ids.uid("zzuser"), Some(4242));
        // The host surely has "daemon"/"bin"; the root does not.
        assert_eq!(ids.uid("bin"), None);
        assert_eq!(ids.gid("zzuser"), None);
    }
}
