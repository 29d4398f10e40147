//! Mail delivery like Tripwire's: the text report piped to `sendmail -t -oi`, with a subject
//! that names the host and counts the findings. The only process this crate starts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The default `--sendmail` program.
pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail";

/// Why a report could not be mailed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    #[error("invalid mail address {0:?} (control characters, commas or empty)")]
    Address(String),
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the message to {}: {source}", program.display())]
    Write {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} failed: {status}", program.display())]
    Status {
        program: PathBuf,
        status: std::process::ExitStatus,
    },
}

/// Counts the subject states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub packages_changed: usize,
}

/// Only printable ASCII in a header; anything else becomes `?` (no header injection, no
/// encoding needed).
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// Reject what could break out of the `To:` header or smuggle a second recipient list.
pub fn check_address(addr: &str) -> Result<(), MailError> {
    let ok = !addr.trim().is_empty()
        && !addr.starts_with('-')
        && addr.chars().all(|c| (' '..='~').contains(&c) && c != ',');
    if ok {
        Ok(())
    } else {
        Err(MailError::Address(addr.to_string()))
    }
}

/// `quietwire HOST: N findings (A added, R removed, C changed), P package changes`.
pub fn subject(host: &str, root: &Path, c: &Counts) -> String {
    let mut s = format!("quietwire {}", header_text(host));
    if root != Path::new("/") {
        s.push_str(&format!(" (root {})", header_text(&root.to_string_lossy())));
    }
    s.push_str(&format!(
        ": {} finding{} ({} added, {} removed, {} changed)",
        c.total,
        if c.total == 1 { "" } else { "s" },
        c.added,
        c.removed,
        c.changed
    ));
    if c.packages_changed > 0 {
        s.push_str(&format!(
            ", {} package change{}",
            c.packages_changed,
            if c.packages_changed == 1 { "" } else { "s" }
        ));
    }
    s
}

/// The whole message: headers, blank line, body (the text report, already escaped).
pub fn message(to: &[String], subject: &str, body: &[u8]) -> Result<Vec<u8>, MailError> {
    for a in to {
        check_address(a)?;
    }
    let mut m = Vec::with_capacity(body.len() + 256);
    m.extend_from_slice(format!("To: {}\n", to.join(", ")).as_bytes());
    m.extend_from_slice(format!("Subject: {}\n", header_text(subject)).as_bytes());
    m.extend_from_slice(b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n");
    // RFC 5322 caps a line at 998 octets; a report naming a long path would exceed it and be
    // truncated or rejected on the way. Only then is the body encoded, so that ordinary reports
    // stay readable as they are.
    if body.split(|&b| b == b'\n').any(|l| l.len() > MAX_LINE) {
        m.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\n");
        m.extend_from_slice(b"Auto-Submitted: auto-generated\n\n");
        m.extend_from_slice(&quoted_printable(body));
    } else {
        m.extend_from_slice(b"Content-Transfer-Encoding: 8bit\n");
        m.extend_from_slice(b"Auto-Submitted: auto-generated\n\n");
        m.extend_from_slice(body);
    }
    if !m.ends_with(b"\n") {
        m.push(b'\n');
    }
    Ok(m)
}

/// Longest line RFC 5322 allows, without its line break.
const MAX_LINE: usize = 998;

/// Longest encoded line of quoted-printable (RFC 2045), soft break `=` included.
const QP_LINE: usize = 76;

/// Quoted-printable (RFC 2045 section 6.7): line breaks of the body stay hard breaks, long lines
/// get soft breaks, and every byte that is not printable ASCII (or is `=`, or is white space at
/// the end of a line) is written as `=XX`.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 16);
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == line.len();
            let literal =
                (b == b' ' || b == b'\t') && !at_end || (b'!'..=b'~').contains(&b) && b != b'=';
            let width = if literal { 1 } else { 3 };
            // Leave room for the soft break `=` unless this is the line's last byte.
            let room = if at_end { QP_LINE } else { QP_LINE - 1 };
            if col + width > room {
                out.extend_from_slice(b"=\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            col += width;
        }
        if lines.peek().is_some() {
            out.push(b'\n');
        }
    }
    out
}

/// Pipe `message` to `sendmail -t -oi` (recipients from the headers; a lone `.` line does not
/// end the message) and wait for it.
pub fn send(sendmail: &Path, message: &[u8]) -> Result<(), MailError> {
    let mut child = Command::new(sendmail)
        .args(["-t", "-oi"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|source| MailError::Spawn {
            program: sendmail.to_path_buf(),
            source,
        })?;
    let written = match child.stdin.take() {
        Some(mut stdin) => stdin.write_all(message).and_then(|()| stdin.flush()),
        None => Ok(()),
    };
    // Always reap the child, then report the first failure.
    let status = child.wait().map_err(|source| MailError::Spawn {
        program: sendmail.to_path_buf(),
        source,
    })?;
    if !status.success() {
        return Err(MailError::Status {
            program: sendmail.to_path_buf(),
            status,
        });
    }
    written.map_err(|source| MailError::Write {
        program: sendmail.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_and_headers_cannot_be_injected() {
        let c = Counts {
            total: 3,
            added: 1,
            removed: 0,
            changed: 2,
            packages_changed: 1,
        };
        assert_eq!(
            subject("web1", Path::new("/"), &c),
            "quietwire web1: 3 findings (1 added, 0 removed, 2 changed), 1 package change"
        );
        let m = message(&["root@x".into()], "a\nBcc: evil@x", b"body").unwrap();
        let m = String::from_utf8(m).unwrap();
        assert!(m.starts_with("To: root@x\nSubject: a?Bcc: evil@x\n"), "{m}");
        assert!(m.ends_with("\n\nbody\n"));
        assert!(message(&["a@x\nBcc: b@y".into()], "s", b"").is_err());
        assert!(message(&["-oQ/tmp".into()], "s", b"").is_err());
        assert!(message(&["a@x, b@y".into()], "s", b"").is_err());
    }

    /// RFC 2045 decoding, enough for the test: soft breaks and `=XX`.
    fn qp_decode(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&b) = text.get(i) {
            if b != b'=' {
                out.push(b);
                i += 1;
            } else if text.get(i + 1) == Some(&b'\n') {
                i += 2;
            } else {
                let hex = std::str::from_utf8(&text[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
        }
        out
    }

    #[test]
    fn long_lines_are_quoted_printable_and_decode_back() {
        let path = format!("/srv/{}", "a=b é\t ".repeat(700));
        let body = format!("Added (high):\n  {path} \n\nend\n");
        assert!(path.len() > 5000);
        let m = message(&["root@x".into()], "s", body.as_bytes()).unwrap();
        let (head, enc) = m
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| (&m[..i], &m[i + 2..]))
            .unwrap();
        let head = String::from_utf8(head.to_vec()).unwrap();
        assert!(
            head.contains("\nContent-Transfer-Encoding: quoted-printable"),
            "{head}"
        );
        for line in m.split(|&b| b == b'\n') {
            assert!(line.len() <= 998, "line of {} octets", line.len());
        }
        for line in enc.split(|&b| b == b'\n') {
            assert!(line.len() <= 76, "encoded line of {} octets", line.len());
            assert!(line
                .iter()
                .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)));
            assert!(!line.ends_with(b" ") && !line.ends_with(b"\t"));
        }
        assert_eq!(String::from_utf8(qp_decode(enc)).unwrap(), body);
        // An ordinary report is left as it is.
        let m = message(&["root@x".into()], "s", b"short = fine\n").unwrap();
        let m = String::from_utf8(m).unwrap();
        assert!(m.contains("Content-Transfer-Encoding: 8bit\n"));
        assert!(m.ends_with("\n\nshort = fine\n"));
    }
}
