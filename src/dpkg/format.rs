//! `dpkg --verify`'s output format (dpkg 1.21, `--verify-format rpm`, its only one): nine
//! columns of which only the digest one is known (`??5??????`), or `missing  `; then `c` for a
//! conffile or a blank; then the path. An `lstat` failure other than "not found" adds its
//! error in parentheses.

use super::verify::{DpkgResult, Problem};

/// One line, without the newline.
pub fn line(r: &DpkgResult) -> String {
    let (cols, err) = match &r.problem {
        Problem::Missing(e) if e.0 == libc::ENOENT => ("missing  ", String::new()),
        Problem::Missing(e) => ("missing  ", format!(" ({})", e.message())),
        Problem::Digest { .. } | Problem::Unreadable(_) | Problem::NotVerified(_) => {
            ("??5??????", String::new())
        }
    };
    let attr = if r.conffile { 'c' } else { ' ' };
    format!("{cols} {attr} {}{err}", String::from_utf8_lossy(&r.path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::fs::Errno;

    #[test]
    fn dpkg_columns() {
        let mut r = DpkgResult {
            path: b"/etc/default/cron".to_vec(),
            package: "cron".into(),
            pkg_index: 0,
            file_index: 0,
            conffile: true,
            expected: String::new(),
            problem: Problem::Digest {
                found: String::new(),
            },
        };
        assert_eq!(line(&r), "??5?????? c /etc/default/cron");
        r.conffile = false;
        r.problem = Problem::Missing(Errno(libc::ENOENT));
        assert_eq!(line(&r), "missing     /etc/default/cron");
    }
}
