//! When a package was installed, upgraded or removed, from dpkg's own log
//! (`/var/log/dpkg.log` and the `dpkg.log.1` logrotate leaves beside it): the change explanation
//! of `check` names the time. The log is root-writable and may be huge or hostile: only its last
//! [`MAX_TAIL`] bytes are read, lines longer than [`MAX_LINE`] are skipped, and a line that does
//! not parse is ignored (the log explains; it never decides a verdict).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes read from the end of each log file: months of apt runs on a busy server.
pub const MAX_TAIL: u64 = 16 << 20;
/// Longest line considered (a dpkg.log line is a date, an action and three short words).
pub const MAX_LINE: usize = 1024;
/// The logs read, newest last, so that a later entry for the same package wins.
pub const LOGS: [&str; 2] = ["/var/log/dpkg.log.1", "/var/log/dpkg.log"];

/// The latest logged action per package: full name (`name_version_arch`, the version being the
/// one installed by the action, or removed) → (`YYYY-MM-DD HH:MM:SS` as logged, action).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    pub by_package: HashMap<String, (String, &'static str)>,
}

impl Actions {
    /// `upgrade on 2024-05-01 10:11:12 (dpkg.log)` for a package's full name, when logged.
    pub fn describe(&self, full_name: &str) -> Option<String> {
        self.by_package
            .get(full_name)
            .map(|(when, what)| format!("{what} logged at {when} (dpkg.log)"))
    }
}

/// Parse log text (already bounded by the caller) into `into`.
pub fn parse(text: &[u8], into: &mut Actions) {
    for line in text.split(|&b| b == b'\n') {
        if line.len() > MAX_LINE {
            continue;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let w: Vec<&str> = line.split_ascii_whitespace().collect();
        let [date, time, action, pkg, old, new] = w.as_slice() else {
            continue;
        };
        let (action, version): (&'static str, &str) = match *action {
            "install" => ("install", new),
            "upgrade" => ("upgrade", new),
            "remove" => ("remove", old),
            "purge" => ("purge", old),
            _ => continue,
        };
        if !plausible_time(date, time) || version == "<none>" {
            continue;
        }
        let Some((name, arch)) = pkg.split_once(':') else {
            continue;
        };
        into.by_package.insert(
            format!("{name}_{version}_{arch}"),
            (format!("{date} {time}"), action),
        );
    }
}

fn plausible_time(date: &str, time: &str) -> bool {
    // `9` stands for any digit in the pattern.
    let shape = |s: &str, pattern: &str| {
        s.len() == pattern.len()
            && s.bytes().zip(pattern.bytes()).all(|(b, p)| match p {
                b'9' => b.is_ascii_digit(),
                _ => b == p,
            })
    };
    shape(date, "9999-99-99") && shape(time, "99:99:99")
}

/// Read the logs present in `root` (confined to it, regular files only). Missing or unreadable
/// logs give nothing.
pub fn read(root: &Path) -> Actions {
    let mut actions = Actions::default();
    let Ok(r) = crate::scan::fs::Root::open(root) else {
        return actions;
    };
    for log in LOGS {
        let Ok(mut f) = r.open_config(log.as_bytes()) else {
            continue;
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(MAX_TAIL);
        if f.seek(SeekFrom::Start(start)).is_err() {
            continue;
        }
        let mut buf = Vec::new();
        if f.take(MAX_TAIL).read_to_end(&mut buf).is_err() {
            continue;
        }
        // A tail that starts mid-line drops that partial line.
        let text = match (start, buf.iter().position(|&b| b == b'\n')) {
            (0, _) => &buf[..],
            (_, Some(i)) => buf.get(i + 1..).unwrap_or_default(),
            (_, None) => &[],
        };
        parse(text, &mut actions);
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_action_per_package() {
        let mut a = Actions::default();
        parse(
            b"2024-05-01 10:11:12 startup archives unpack\n\
              2024-05-01 10:11:13 upgrade hello:amd64 2.10-2 2.10-3\n\
              2024-05-01 10:11:14 status installed hello:amd64 2.10-3\n\
              2024-05-02 09:00:00 install cowsay:all <none> 3.03+dfsg2-8\n\
              2024-05-03 09:00:00 remove sl:amd64 5.02-1 <none>\n\
              garbage line\n\
              2024-13-xx 09:00:00 install bad:amd64 <none> 1\n",
            &mut a,
        );
        assert_eq!(
            a.describe("hello_2.10-3_amd64").as_deref(),
            Some("upgrade logged at 2024-05-01 10:11:13 (dpkg.log)")
        );
        assert!(a.describe("cowsay_3.03+dfsg2-8_all").is_some());
        assert!(a.describe("sl_5.02-1_amd64").unwrap().starts_with("remove"));
        assert!(a.describe("bad_1_amd64").is_none());
        assert_eq!(a.by_package.len(), 3);
    }

    #[test]
    fn hostile_lines_are_skipped() {
        let mut a = Actions::default();
        let mut long = b"2024-05-01 10:11:13 install x:amd64 <none> ".to_vec();
        long.extend(std::iter::repeat_n(b'1', 5000));
        long.extend(b"\n\xff\xfe 1 2 3 4 5\n");
        parse(&long, &mut a);
        assert!(a.by_package.is_empty());
    }
}
