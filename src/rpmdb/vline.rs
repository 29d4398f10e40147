//! rpm -V's output line for one owned file (spec section 4.8), byte for byte:
//! `<9 columns>  <attr> <path>[ (<state>)]` and `missing   <attr> <path>[ (<strerror>)][ (<state>)]`.
//! What decides a line (which result bits, which attribute letter, which state suffix, whether
//! rpm prints the file at all) is rpm's, so it lives here, filling the package-neutral
//! [`VerifyLine`] that a finding carries; `crate::report::rpm` only writes the lines out.

use super::db::file_class;
use super::package::{FileInfo, FileState};
use super::verify::{rpm_prints, state_text, vf, OwnedResult};
use super::Database;
use crate::finding::VerifyLine;
use std::os::unix::ffi::OsStrExt;

/// rpm's verify line for `file` from a verification result; `verbose` is rpm's `-v` (it shows
/// more state notes).
pub fn verify_line(r: &OwnedResult, file: FileInfo<'_>, verbose: bool) -> VerifyLine {
    let errno = r.errno.filter(|_| r.is_missing()).map(|e| e.0);
    make(r.result, errno, file.flags(), file.state(), verbose)
}

/// The line from rpm's raw values: RPMVERIFY_* result bits (LSTATFAIL: missing, with the
/// lstat errno), FILEFLAGS and FILESTATES.
fn make(
    result: u32,
    errno: Option<i32>,
    flags: u32,
    state: FileState,
    verbose: bool,
) -> VerifyLine {
    let missing = result & vf::LSTATFAIL != 0;
    VerifyLine {
        columns: (!missing).then(|| columns(result)),
        class: file_class(flags),
        reason: errno
            .filter(|&e| missing && e != libc::ENOENT)
            .map(crate::scan::fs::strerror),
        state: state_text(state, verbose),
    }
}

/// rpm's 9 result columns (`VS()`): `S M 5 D L U G T P`, `?` for read/readlink failures.
fn columns(r: u32) -> [u8; 9] {
    let pick = |bit: u32, c: u8| if r & bit != 0 { c } else { b'.' };
    [
        pick(vf::SIZE, b'S'),
        pick(vf::MODE, b'M'),
        if r & vf::READFAIL != 0 {
            b'?'
        } else {
            pick(vf::DIGEST, b'5')
        },
        pick(vf::RDEV, b'D'),
        if r & vf::READLINKFAIL != 0 {
            b'?'
        } else {
            pick(vf::LINKTO, b'L')
        },
        pick(vf::USER, b'U'),
        pick(vf::GROUP, b'G'),
        pick(vf::MTIME, b'T'),
        pick(vf::CAPS, b'P'),
    ]
}

/// The lines `rpm -V[v]` prints for raw results, in their order: with `verbose`, clean files
/// too (those are not findings, so they are not rendered from findings).
pub fn lines(db: &Database, results: &[OwnedResult], verbose: bool) -> Vec<Vec<u8>> {
    results
        .iter()
        .filter_map(|r| {
            let f = db.packages.get(r.pkg).and_then(|p| p.files.get(r.file))?;
            rpm_prints(r.result, f, verbose)
                .then(|| verify_line(r, f, verbose).line(f.path().as_os_str().as_bytes()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmdb::verify::ff;

    /// rpm's raw values for one file: result bits, lstat errno, FILEFLAGS, FILESTATES.
    struct V(u32, Option<i32>, u32, FileState);

    impl V {
        fn line(&self, path: &[u8], verbose: bool) -> Vec<u8> {
            make(self.0, self.1, self.2, self.3, verbose).line(path)
        }
    }

    fn v(result: u32, errno: Option<i32>, flags: u32, state: FileState) -> V {
        V(result, errno, flags, state)
    }

    fn s(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn rpm_lines() {
        let n = FileState::Normal;
        assert_eq!(
            s(v(vf::MODE | vf::DIGEST | vf::MTIME, None, 0, n).line(b"/usr/bin/hello", false)),
            ".M5....T.    /usr/bin/hello"
        );
        assert_eq!(
            s(v(vf::SIZE | vf::DIGEST | vf::MTIME, None, ff::CONFIG, n).line(b"/etc/foo", false)),
            "S.5....T.  c /etc/foo"
        );
        assert_eq!(
            s(v(vf::LSTATFAIL, Some(libc::ENOENT), ff::DOC, n).line(b"/d/FAQ", false)),
            "missing   d /d/FAQ"
        );
        assert_eq!(
            s(v(vf::LSTATFAIL, Some(libc::EACCES), 0, n).line(b"/opt/vt/reg", false)),
            "missing     /opt/vt/reg (Permission denied)"
        );
        assert_eq!(
            s(v(0, None, 0, FileState::Replaced).line(b"/opt/sh/shared", false)),
            ".........    /opt/sh/shared (replaced)"
        );
        assert_eq!(
            s(v(
                vf::READFAIL | vf::DIGEST | vf::MODE,
                None,
                0,
                FileState::Missing
            )
            .line(b"/r", false)),
            ".M?......    /r (no state)"
        );
        assert_eq!(
            s(v(
                vf::READLINKFAIL | vf::LINKTO | vf::CAPS | vf::USER | vf::GROUP | vf::RDEV,
                None,
                ff::GHOST,
                n
            )
            .line(b"/l", false)),
            "...D?UG.P  g /l"
        );
        assert_eq!(
            s(v(vf::LSTATFAIL, None, 0, FileState::WrongColor).line(b"/w", true)),
            "missing     /w (wrong color)"
        );
    }
}
