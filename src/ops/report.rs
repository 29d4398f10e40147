//! The package-change explanation in the text and JSON reports, and the review-then-accept report
//! file (`check --report-file`, read back by `accept --report`).
//!
//! The report file is the JSON report plus, for every finding from the baseline comparison, the
//! complete current state of its path (`"state"`: the baseline record the walk captured, or
//! `null` when the path is gone). `accept --report` records exactly those states and refuses a
//! path whose state differs from it now. Renderers here never open files; `write_atomic` and
//! `load` are the only I/O.

use crate::baseline::changes::PackageChanges;
use crate::finding::{Finding, Source};
use crate::pkgdb::PackageSnapshot;
use crate::scan::record::Record;
use serde_json::{json, Value as J};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn esc(s: &str) -> String {
    crate::escape::escape_bytes(s.as_bytes())
}

/// The text section after the findings; nothing when no package changed.
pub fn render_text(out: &mut dyn Write, c: &PackageChanges) -> std::io::Result<()> {
    if c.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nPackage changes since the baseline of {} (an explanation, not findings):",
        utc(c.since)
    )?;
    let when = |n: &str| esc(&c.when(n));
    for (o, n) in &c.updated {
        writeln!(
            out,
            "  updated      {} -> {}{}",
            esc(&o.nevra),
            esc(&n.nevra),
            when(&n.nevra)
        )?;
    }
    for p in &c.installed {
        writeln!(out, "  installed    {}{}", esc(&p.nevra), when(&p.nevra))?;
    }
    for (_, n) in &c.reinstalled {
        writeln!(out, "  reinstalled  {}", esc(&n.nevra))?;
    }
    for p in &c.removed {
        writeln!(out, "  removed      {}{}", esc(&p.nevra), when(&p.nevra))?;
    }
    Ok(())
}

fn snap(p: &PackageSnapshot) -> J {
    json!({ "nevra": p.nevra, "install_tid": p.install_tid, "sha256_header": p.sha256_header })
}

/// The top-level `"package_changes"` object.
pub fn changes_json(c: &PackageChanges) -> J {
    let pair = |(o, n): &(PackageSnapshot, PackageSnapshot)| {
        let (name, arch) = crate::baseline::changes::name_arch(&n.nevra);
        json!({ "name": name, "arch": arch, "old": snap(o), "new": snap(n) })
    };
    let mut j = json!({
        "baseline_created": c.since,
        "total": c.count(),
        "installed": c.installed.iter().map(snap).collect::<Vec<_>>(),
        "updated": c.updated.iter().map(pair).collect::<Vec<_>>(),
        "reinstalled": c.reinstalled.iter().map(pair).collect::<Vec<_>>(),
        "removed": c.removed.iter().map(snap).collect::<Vec<_>>(),
    });
    if let (false, Some(o)) = (c.logged.is_empty(), j.as_object_mut()) {
        o.insert("logged".into(), json!(c.logged));
    }
    j
}

/// The JSON document: `report::json::document` plus `package_changes` (when a baseline was
/// compared) and, for baseline findings whose path's current state is known, `state`.
pub fn document(
    findings: &[Finding],
    issues: &[crate::scan::walk::Issue],
    changes: Option<&PackageChanges>,
    states: &HashMap<Vec<u8>, Option<Record>>,
) -> J {
    let mut doc = crate::report::json::document(findings);
    if let Some(obj) = doc.as_object_mut() {
        let list = issues.iter().map(crate::report::json::issue).collect();
        obj.insert("issues".into(), J::Array(list));
    }
    if let Some(list) = doc.get_mut("findings").and_then(J::as_array_mut) {
        for (f, j) in findings.iter().zip(list.iter_mut()) {
            if !matches!(f.source, Source::Baseline { .. }) {
                continue;
            }
            if let (Some(state), Some(obj)) = (states.get(&f.path), j.as_object_mut()) {
                let v = serde_json::to_value(state).unwrap_or(J::Null);
                obj.insert("state".into(), v);
            }
        }
    }
    if let (Some(c), Some(obj)) = (changes, doc.as_object_mut()) {
        obj.insert("package_changes".into(), changes_json(c));
    }
    doc
}

/// Whether `--report-file FILE` gets NDJSON lines rather than the JSON report: by its name,
/// so the JSON report for `accept` and a log shipper's file can be written by one run.
pub fn is_ndjson_name(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ndjson") || e.eq_ignore_ascii_case("jsonl"))
}

/// Write `bytes` to `file` atomically: a temporary file in the same directory (mode 0600),
/// fsync, rename over `file`, fsync the directory.
pub fn write_atomic(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(file, bytes, 0o600)
}

/// [`write_atomic`] with the file's permission bits (the metrics file must be world-readable).
pub fn write_atomic_mode(file: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".quietwire-report.")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(file).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Why a report file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a quietwire report: {what}", file.display())]
    Invalid { file: PathBuf, what: String },
}

/// What a report says about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// A baseline finding: the state to accept (`None`: the path is gone).
    State(Option<Record>),
    /// Only package findings: rpm's verdict, which the baseline cannot change.
    Package(String),
    /// A baseline finding without the state to accept (a `--packages-changed` leftover).
    NoState,
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

/// Longest report file read (a report lists findings, not the whole tree).
pub const MAX_REPORT: u64 = 512 << 20;

/// Read a report written by `check --report-file`: path → what to accept.
pub fn load(file: &Path) -> Result<BTreeMap<PathBuf, Reported>, ReportError> {
    use std::io::Read;
    let invalid = |what: String| ReportError::Invalid {
        file: file.to_path_buf(),
        what,
    };
    let io = |source| ReportError::Io {
        file: file.to_path_buf(),
        source,
    };
    let mut text = Vec::new();
    std::fs::File::open(file)
        .map_err(io)?
        .take(MAX_REPORT + 1)
        .read_to_end(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_REPORT {
        return Err(invalid(format!("larger than {MAX_REPORT} bytes")));
    }
    if crate::report::ndjson::is_ndjson(&text) {
        // Log lines carry no state to accept; the review copy is the JSON report.
        return Err(invalid(
            "an NDJSON report is for log pipelines; accept needs the JSON report (a --report-file not named *.ndjson or *.jsonl)".into(),
        ));
    }
    let doc: J = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    let list = doc
        .get("findings")
        .and_then(J::as_array)
        .ok_or_else(|| invalid("no \"findings\" array".into()))?;
    let mut out = BTreeMap::new();
    for (i, f) in list.iter().enumerate() {
        let path = match (f.get("path_bytes").and_then(J::as_str), f.get("path")) {
            (Some(b), _) => {
                decode_base64(b).ok_or_else(|| invalid(format!("finding {i}: bad path_bytes")))?
            }
            (None, Some(J::String(p))) => p.clone().into_bytes(),
            _ => return Err(invalid(format!("finding {i}: no path"))),
        };
        let path = PathBuf::from(std::ffi::OsString::from_vec(path));
        if !path.is_absolute() {
            return Err(invalid(format!("finding {i}: path is not absolute")));
        }
        match (f.get("source").and_then(J::as_str), f.get("state")) {
            (Some("baseline"), Some(state)) => {
                let state: Option<Record> = serde_json::from_value(state.clone())
                    .map_err(|e| invalid(format!("finding {i}: state: {e}")))?;
                if state.as_ref().is_some_and(|r| r.path() != path) {
                    return Err(invalid(format!("finding {i}: state is for another path")));
                }
                out.insert(path, Reported::State(state));
            }
            (Some("baseline"), None) => {
                out.entry(path).or_insert(Reported::NoState);
            }
            // Notes (an accepted %config edit) need no acceptance.
            _ if f.get("kind").and_then(J::as_str) == Some("noted") => {}
            _ => {
                let pkg = f
                    .get("package")
                    .and_then(J::as_str)
                    .unwrap_or("a package")
                    .to_string();
                out.entry(path).or_insert(Reported::Package(pkg));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_577_836_800), "2020-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"/x\xff\x00\x1b"] {
            assert_eq!(
                decode_base64(&crate::report::base64(data)).as_deref(),
                Some(data)
            );
        }
        assert_eq!(decode_base64("!!!!"), None);
    }

    #[test]
    fn report_without_state_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("r.json");
        std::fs::write(
            &file,
            r#"{"findings":[{"path":"/etc/x","source":"baseline","kind":"changed"}]}"#,
        )
        .unwrap();
        assert_eq!(
            load(&file).unwrap().get(Path::new("/etc/x")),
            Some(&Reported::NoState)
        );
        std::fs::write(
            &file,
            r#"{"findings":[{"path":"etc/x","source":"baseline"}]}"#,
        )
        .unwrap();
        assert!(matches!(load(&file), Err(ReportError::Invalid { .. })));
        std::fs::write(&file, "not json").unwrap();
        assert!(matches!(load(&file), Err(ReportError::Invalid { .. })));
        write_atomic(
            &file,
            br#"{"findings":[{"path":"/usr/bin/x","source":"package","package":"p-1-1.noarch"}]}"#,
        )
        .unwrap();
        let m = load(&file).unwrap();
        assert_eq!(
            m.get(Path::new("/usr/bin/x")),
            Some(&Reported::Package("p-1-1.noarch".into()))
        );
    }
}
