//! File capabilities: libcap's text form (FILECAPS, `cap_to_text` output) and the kernel's
//! `security.capability` xattr (VFS revisions 1, 2 and 3), compared like `cap_compare`.
//!
//! Implemented here rather than linking libcap, following libcap 2.x `cap_from_text`,
//! `_fcaps_load` and `cap_compare`. Pure functions: nothing here touches the filesystem.

/// Capability names from `linux/capability.h`, indexed by number (0..=40, CAP_LAST_CAP in 5.9+).
pub const CAP_NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// libcap's `__CAP_MAXBITS`: numeric capability names must be below this.
const CAP_MAXBITS: u64 = 64;

/// Mask of the capabilities `all` stands for (libcap: every bit below `cap_max_bits()`, the
/// running kernel's CAP_LAST_CAP + 1; 41 on every kernel since 5.9).
const ALL: u64 = (1u64 << CAP_NAMES.len()) - 1;

/// A capability state: three 64-bit sets (libcap keeps two 32-bit words per set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

impl CapSet {
    /// A readable rendering (`cap_to_text`-like but simplified), for reports.
    pub fn to_text(&self) -> String {
        let mut clauses: Vec<String> = Vec::new();
        // Group capabilities by their (e, i, p) combination, like libcap, without the
        // "most common state" optimisation.
        for combo in 1u8..8 {
            let names: Vec<String> = (0..64u32)
                .filter(|&b| self.flags_of(b) == combo)
                .map(|b| {
                    CAP_NAMES
                        .get(b as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| b.to_string())
                })
                .collect();
            if names.is_empty() {
                continue;
            }
            let mut f = String::new();
            if combo & 1 != 0 {
                f.push('e');
            }
            if combo & 2 != 0 {
                f.push('i');
            }
            if combo & 4 != 0 {
                f.push('p');
            }
            clauses.push(format!("{}={}", names.join(","), f));
        }
        if clauses.is_empty() {
            "=".to_string()
        } else {
            clauses.join(" ")
        }
    }

    fn flags_of(&self, bit: u32) -> u8 {
        let m = 1u64 << bit;
        u8::from(self.effective & m != 0)
            | (u8::from(self.inheritable & m != 0) << 1)
            | (u8::from(self.permitted & m != 0) << 2)
    }
}

/// Parse libcap's text form (`cap_from_text`). `None` where libcap returns NULL (syntax error,
/// unknown name); rpm then treats the header side as "no capabilities".
pub fn from_text(text: &str) -> Option<CapSet> {
    const EFF: u8 = 1;
    const INH: u8 = 2;
    const PER: u8 = 4;
    let s = text.as_bytes();
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let is_name_start = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut res = CapSet::default();
    let mut i = 0usize;
    loop {
        while at(i).is_ascii_whitespace() {
            i += 1;
        }
        if at(i) == 0 {
            return Some(res);
        }
        // The capabilities this clause names.
        let mut list = 0u64;
        let mut listed = false;
        if is_name_start(at(i)) {
            loop {
                if let Some(end) = namcmp(s, i, "all") {
                    i = end;
                    list |= ALL;
                } else {
                    let (n, end) = lookup_name(s, i)?;
                    i = end;
                    list |= 1u64 << n;
                }
                if at(i) != b',' {
                    break;
                }
                i += 1;
                if !is_name_start(at(i)) {
                    return None;
                }
            }
            listed = true;
        } else if at(i) == b'+' || at(i) == b'-' {
            return None; // + and - need an explicit list
        } else {
            list = ALL;
        }
        // First operator; `=+` and `=-` reset then add/remove.
        let mut op = at(i);
        i += 1;
        if op == b'=' && (at(i) == b'+' || at(i) == b'-') {
            if !listed {
                return None;
            }
            op = if at(i) == b'+' { b'P' } else { b'M' };
            i += 1;
        } else if op != b'+' && op != b'-' && op != b'=' {
            return None;
        }
        let mut flags = 0u8;
        loop {
            let c = at(i);
            if c != 0 && !c.is_ascii_whitespace() {
                i += 1;
                flags |= match c {
                    b'e' => EFF,
                    b'i' => INH,
                    b'p' => PER,
                    _ => return None,
                };
            } else if op != b'=' {
                return None; // only `=` may stand alone
            }
            let apply = |res: &mut CapSet, set: bool| {
                let f = |v: &mut u64, on: bool| {
                    if on {
                        if set {
                            *v |= list
                        } else {
                            *v &= !list
                        }
                    }
                };
                f(&mut res.effective, flags & EFF != 0);
                f(&mut res.permitted, flags & PER != 0);
                f(&mut res.inheritable, flags & INH != 0);
            };
            match op {
                b'=' | b'P' | b'M' => {
                    res.effective &= !list;
                    res.permitted &= !list;
                    res.inheritable &= !list;
                    if op == b'M' {
                        apply(&mut res, false);
                    } else {
                        apply(&mut res, true);
                    }
                }
                b'+' => apply(&mut res, true),
                _ => apply(&mut res, false),
            }
            if at(i) == b'+' || at(i) == b'-' {
                if !listed {
                    return None;
                }
                flags = 0;
                op = at(i);
                i += 1;
                if !at(i).is_ascii_alphabetic() {
                    return None;
                }
            }
            if at(i) == 0 || at(i).is_ascii_whitespace() {
                break;
            }
        }
    }
}

/// libcap's `namcmp`: case-insensitive match of `name` at `i`, which must not be followed by
/// another name character. Returns the index after the match.
fn namcmp(s: &[u8], i: usize, name: &str) -> Option<usize> {
    let n = name.as_bytes();
    let end = i.checked_add(n.len())?;
    let cand = s.get(i..end)?;
    if !cand
        .iter()
        .zip(n)
        .all(|(a, b)| a.to_ascii_lowercase() == *b)
    {
        return None;
    }
    match s.get(end) {
        Some(&c) if c.is_ascii_alphanumeric() || c == b'_' => None,
        _ => Some(end),
    }
}

/// libcap's `lookupname`: a number (`strtoul` base 0: decimal, `0x` hex, `0` octal) below 64,
/// or a known name.
fn lookup_name(s: &[u8], i: usize) -> Option<(u32, usize)> {
    let c = *s.get(i)?;
    if c.is_ascii_digit() {
        let (radix, start) = if c == b'0'
            && matches!(s.get(i + 1), Some(b'x') | Some(b'X'))
            && s.get(i + 2).is_some_and(|d| d.is_ascii_hexdigit())
        {
            (16, i + 2)
        } else if c == b'0' {
            (8, i)
        } else {
            (10, i)
        };
        let mut j = start;
        let mut v: u64 = 0;
        while let Some(d) = s.get(j).and_then(|&b| (b as char).to_digit(radix)) {
            v = v
                .saturating_mul(u64::from(radix))
                .saturating_add(u64::from(d));
            j += 1;
        }
        if v >= CAP_MAXBITS {
            return None;
        }
        return Some((v as u32, j));
    }
    // Later names first, as libcap scans from the top.
    for (n, name) in CAP_NAMES.iter().enumerate().rev() {
        if let Some(end) = namcmp(s, i, name) {
            return Some((n as u32, end));
        }
    }
    None
}

const VFS_CAP_REVISION_MASK: u32 = 0xFF00_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;
const VFS_CAP_REVISION_1: u32 = 0x0100_0000;
const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_REVISION_3: u32 = 0x0300_0000;

/// Decode a `security.capability` value like libcap's `_fcaps_load` (`cap_get_file`): the size
/// must match the revision exactly (12, 20 or 24 bytes); effective = permitted | inheritable
/// when the effective flag is set. `None` where libcap returns NULL. The v3 root id is ignored:
/// `cap_compare` does not look at it.
pub fn from_xattr(raw: &[u8]) -> Option<CapSet> {
    let word = |k: usize| -> Option<u32> {
        let b = raw.get(k * 4..k * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = word(0)?;
    let (words, size) = match magic & VFS_CAP_REVISION_MASK {
        VFS_CAP_REVISION_1 => (1, 12),
        VFS_CAP_REVISION_2 => (2, 20),
        VFS_CAP_REVISION_3 => (2, 24),
        _ => return None,
    };
    if raw.len() != size {
        return None;
    }
    let mut c = CapSet::default();
    for w in 0..words {
        let permitted = u64::from(word(1 + 2 * w)?);
        let inheritable = u64::from(word(2 + 2 * w)?);
        c.permitted |= permitted << (32 * w);
        c.inheritable |= inheritable << (32 * w);
    }
    if magic & VFS_CAP_FLAGS_EFFECTIVE != 0 {
        c.effective = c.permitted | c.inheritable;
    }
    Some(c)
}

/// rpm's caps verdict: `(cap || fcap) && cap_compare(cap, fcap) != 0`, where a NULL side makes
/// `cap_compare` fail (-1). So "none" against "empty set" (`=`) differs.
pub fn differ(expected: Option<&CapSet>, actual: Option<&CapSet>) -> bool {
    match (expected, actual) {
        (None, None) => false,
        (Some(a), Some(b)) => a != b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: u64 = 1 << 13; // cap_net_raw
    const BIND: u64 = 1 << 10; // cap_net_bind_service

    #[test]
    fn parses_common_forms() {
        let c = from_text("cap_net_raw=ep").unwrap();
        assert_eq!((c.effective, c.permitted, c.inheritable), (RAW, RAW, 0));
        let c = from_text("cap_net_raw,cap_net_bind_service+ep").unwrap();
        assert_eq!((c.effective, c.permitted), (RAW | BIND, RAW | BIND));
        let c = from_text("CAP_NET_RAW+p").unwrap();
        assert_eq!((c.effective, c.permitted), (0, RAW));
        assert_eq!(from_text("=").unwrap(), CapSet::default());
        assert_eq!(from_text("").unwrap(), CapSet::default());
        let c = from_text("all=ep cap_net_raw-e").unwrap();
        assert_eq!(c.permitted, ALL);
        assert_eq!(c.effective, ALL & !RAW);
        let c = from_text("=ep").unwrap();
        assert_eq!(c.effective, ALL);
        let c = from_text("cap_net_raw+e-e+p").unwrap();
        assert_eq!((c.effective, c.permitted), (0, RAW));
        let c = from_text("13=i").unwrap();
        assert_eq!(c.inheritable, RAW);
        let c = from_text("0xd=i 40+p").unwrap();
        assert_eq!((c.inheritable, c.permitted), (RAW, 1 << 40));
        let c = from_text("cap_checkpoint_restore=eip").unwrap();
        assert_eq!(c.inheritable, 1 << 40);
        let c = from_text("cap_net_raw=+ep").unwrap();
        assert_eq!(c.effective, RAW);
    }

    #[test]
    fn rejects_what_libcap_rejects() {
        for bad in [
            "cap_nosuch=ep",
            "+ep",
            "cap_net_raw+",
            "cap_net_raw=x",
            "cap_net_raw,=e",
            "cap_net_rawx=e",
            "=+e",
            "64=e",
            "cap_net_raw=e,",
        ] {
            assert!(from_text(bad).is_none(), "{bad}");
        }
    }

    fn raw(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn decodes_each_vfs_revision() {
        let v2 = raw(&[0x0200_0001, RAW as u32, 0, 0, 0]);
        assert_eq!(from_xattr(&v2), from_text("cap_net_raw=ep"));
        let v1 = raw(&[0x0100_0000, RAW as u32, 0]);
        assert_eq!(from_xattr(&v1), from_text("cap_net_raw=p"));
        let v3 = raw(&[0x0300_0001, 0, RAW as u32, 1 << 8, 0, 1000]);
        let c = from_xattr(&v3).unwrap();
        assert_eq!((c.inheritable, c.permitted), (RAW, 1 << 40));
        assert_eq!(c.effective, RAW | (1 << 40));
        // wrong sizes and revisions are rejected like libcap does
        assert!(from_xattr(&v2[..16]).is_none());
        assert!(from_xattr(&raw(&[0x0400_0000, 0, 0, 0, 0])).is_none());
        assert!(from_xattr(&[]).is_none());
    }

    #[test]
    fn none_versus_empty_set_differs() {
        let empty = from_text("=").unwrap();
        assert!(differ(Some(&empty), None));
        assert!(differ(None, Some(&empty)));
        assert!(!differ(None, None));
        assert!(!differ(Some(&empty), Some(&CapSet::default())));
    }

    #[test]
    fn to_text_round_trips() {
        for t in [
            "cap_net_raw=ep",
            "=",
            "cap_net_raw,cap_net_bind_service=eip cap_chown=i",
        ] {
            let c = from_text(t).unwrap();
            assert_eq!(from_text(&c.to_text()).unwrap(), c, "{t}");
        }
    }
}
