//! `rpm -V` output, byte for byte (spec section 4.8):
//! `<9 columns>  <attr> <path>[ (<state>)]` and `missing   <attr> <path>[ (<strerror>)][ (<state>)]`.
//! Paths are printed raw, as rpm does (this format exists for scripts that parse rpm's output).

use crate::rpmdb::verify::{attr_char, state_text, vf};
use crate::verify::finding::{Finding, RpmVerdict};
use std::io::Write;

/// rpm's 9 result columns (`VS()`): `S M 5 D L U G T P`, `?` for read/readlink failures.
pub fn columns(r: u32) -> [u8; 9] {
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

/// One rpm line (without the newline) for a verdict.
pub fn line(path: &[u8], v: &RpmVerdict, verbose: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 32);
    let ac = attr_char(v.file_flags) as u8;
    if v.result & vf::LSTATFAIL != 0 {
        out.extend_from_slice(b"missing   ");
        out.push(ac);
        out.push(b' ');
        out.extend_from_slice(path);
        if let Some(e) = v.errno.filter(|&e| e != libc::ENOENT) {
            out.extend_from_slice(format!(" ({})", crate::scan::fs::strerror(e)).as_bytes());
        }
    } else {
        out.extend_from_slice(&columns(v.result));
        out.extend_from_slice(b"  ");
        out.push(ac);
        out.push(b' ');
        out.extend_from_slice(path);
    }
    if let Some(s) = state_text(v.state, verbose) {
        out.extend_from_slice(format!(" ({s})").as_bytes());
    }
    out
}

/// Render every package-owned finding as `rpm -V` prints it (non-verbose).
pub fn render(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    for f in findings {
        if let Some(v) = &f.rpm {
            out.write_all(&line(&f.path, v, false))?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// Render raw results like `rpm -V[v]` (lets callers print clean files too with `verbose`).
pub fn render_results(
    out: &mut dyn Write,
    db: &crate::rpmdb::Database,
    results: &[crate::rpmdb::verify::OwnedResult],
    verbose: bool,
) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    for r in results {
        let Some(f) = db.packages.get(r.pkg).and_then(|p| p.files.get(r.file)) else {
            continue;
        };
        if !crate::rpmdb::verify::rpm_prints(r.result, f, verbose) {
            continue;
        }
        let v = RpmVerdict {
            result: r.result,
            errno: r.errno.filter(|_| r.is_missing()).map(|e| e.0),
            file_flags: f.flags,
            state: f.state,
        };
        out.write_all(&line(f.path.as_os_str().as_bytes(), &v, verbose))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmdb::verify::ff;
    use crate::rpmdb::FileState;

    fn v(result: u32, errno: Option<i32>, flags: u32, state: FileState) -> RpmVerdict {
        RpmVerdict {
            result,
            errno,
            file_flags: flags,
            state,
        }
    }

    fn s(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn rpm_lines() {
        let n = FileState::Normal;
        assert_eq!(
            s(line(
                b"/usr/bin/hello",
                &v(vf::MODE | vf::DIGEST | vf::MTIME, None, 0, n),
                false
            )),
            ".M5....T.    /usr/bin/hello"
        );
        assert_eq!(
            s(line(
                b"/etc/foo",
                &v(vf::SIZE | vf::DIGEST | vf::MTIME, None, ff::CONFIG, n),
                false
            )),
            "S.5....T.  c /etc/foo"
        );
        assert_eq!(
            s(line(
                b"/d/FAQ",
                &v(vf::LSTATFAIL, Some(libc::ENOENT), ff::DOC, n),
                false
            )),
            "missing   d /d/FAQ"
        );
        assert_eq!(
            s(line(
                b"/opt/vt/reg",
                &v(vf::LSTATFAIL, Some(libc::EACCES), 0, n),
                false
            )),
            "missing     /opt/vt/reg (Permission denied)"
        );
        assert_eq!(
            s(line(
                b"/opt/sh/shared",
                &v(0, None, 0, FileState::Replaced),
                false
            )),
            ".........    /opt/sh/shared (replaced)"
        );
        assert_eq!(
            s(line(
                b"/r",
                &v(
                    vf::READFAIL | vf::DIGEST | vf::MODE,
                    None,
                    0,
                    FileState::Missing
                ),
                false
            )),
            ".M?......    /r (no state)"
        );
        assert_eq!(
            s(line(
                b"/l",
                &v(
                    vf::READLINKFAIL | vf::LINKTO | vf::CAPS | vf::USER | vf::GROUP | vf::RDEV,
                    None,
                    ff::GHOST,
                    n
                ),
                false
            )),
            "...D?UG.P  g /l"
        );
        assert_eq!(
            s(line(
                b"/w",
                &v(vf::LSTATFAIL, None, 0, FileState::WrongColor),
                true
            )),
            "missing     /w (wrong color)"
        );
    }
}
