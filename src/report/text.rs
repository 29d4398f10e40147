//! Human-readable lines: kind, escaped path, where the truth came from, and each changed
//! attribute as `expected → actual`. Every path and value goes through [`super::escape`].

use crate::finding::{Change, Finding, Source, Value};
use std::io::Write;

fn value(v: &Value) -> String {
    match v {
        Value::Absent => "none".to_string(),
        Value::Int(i) => i.to_string(),
        Value::Mode(m) => format!("{m:o}"),
        Value::Dev(ma, mi) => format!("{ma},{mi}"),
        Value::Text(t) => crate::escape::escape_bytes(t.as_bytes()),
        Value::Bytes(b) => crate::escape::escape_bytes(b),
    }
}

fn change(c: &Change) -> String {
    if c.unreadable {
        format!("{}: unreadable ({})", c.attr.name(), value(&c.actual))
    } else {
        format!(
            "{}: {} -> {}",
            c.attr.name(),
            value(&c.expected),
            value(&c.actual)
        )
    }
}

/// One line per finding, then a summary line.
pub fn render(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    for f in findings {
        let origin = match &f.source {
            Source::Package { nevra, .. } => {
                format!("package {}", crate::escape::escape_bytes(nevra.as_bytes()))
            }
            Source::Baseline {
                policy_rule,
                package,
            } => {
                let mut s = "baseline".to_string();
                if let Some(r) = policy_rule {
                    s.push_str(&format!(
                        " rule {}",
                        crate::escape::escape_bytes(r.as_bytes())
                    ));
                }
                if let Some(p) = package {
                    s.push_str(&format!(
                        ", package {}",
                        crate::escape::escape_bytes(p.as_bytes())
                    ));
                }
                s
            }
            Source::Manifest { nevra } => format!(
                "wordpress manifest of {}",
                crate::escape::escape_bytes(nevra.as_bytes())
            ),
            Source::Header { nevra, .. } => format!(
                "package {} header",
                crate::escape::escape_bytes(nevra.as_bytes())
            ),
        };
        write!(
            out,
            "{:<8} {:<8} {} [{}]",
            f.kind.name(),
            f.severity.name(),
            crate::escape::escape_bytes(&f.path),
            origin
        )?;
        if let Some(n) = &f.note {
            write!(out, " ({})", crate::escape::escape_bytes(n.as_bytes()))?;
        }
        writeln!(out)?;
        for c in &f.changes {
            writeln!(out, "    {}", change(c))?;
        }
    }
    let count = |k| findings.iter().filter(|f| f.kind == k).count();
    use crate::finding::FindingKind as K;
    writeln!(
        out,
        "{} findings: {} missing, {} removed, {} changed, {} added, {} noted, {} untrusted",
        findings.len(),
        count(K::Missing),
        count(K::Removed),
        count(K::Changed),
        count(K::Added),
        count(K::Noted),
        count(K::Untrusted)
    )
}

/// The paths the walk could not fully check, after the findings (nothing when there are none).
pub fn issues(out: &mut dyn Write, issues: &[crate::scan::walk::Issue]) -> std::io::Result<()> {
    if issues.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nNot fully checked ({}):", issues.len())?;
    for i in issues {
        writeln!(
            out,
            "  {}: {}",
            crate::escape::escape_path(&i.path),
            crate::escape::escape_bytes(i.what.as_bytes())
        )?;
    }
    Ok(())
}

/// The footer that lets an administrator compare the baseline with an off-host record.
pub fn footer(
    out: &mut dyn Write,
    baseline: &std::path::Path,
    sha256: Option<&str>,
) -> std::io::Result<()> {
    if let Some(d) = sha256 {
        writeln!(
            out,
            "baseline sha256 {d} {}",
            crate::escape::escape_path(baseline)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Attr, FindingKind, Severity};

    #[test]
    fn crafted_name_cannot_reach_the_terminal() {
        let f = Finding {
            path: b"/tmp/\x1b]0;owned\x07\xff".to_vec(),
            kind: FindingKind::Changed,
            source: Source::Package {
                name: "p".into(),
                nevra: "p-1-1.noarch".into(),
                pkg_index: 0,
                file_index: 0,
                class: crate::pkgdb::FileClass::Plain,
                manager_flags: 0,
            },
            changes: vec![Change {
                attr: Attr::Mode,
                expected: Value::Mode(0o100644),
                actual: Value::Mode(0o100600),
                unreadable: false,
            }],
            severity: Severity::Critical,
            rule: "owned.changed".into(),
            note: None,
            verify_line: None,
        };
        let mut out = Vec::new();
        render(&mut out, &[f]).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains('\x1b') && !s.contains('\x07'));
        assert!(s.contains("/tmp/\\x1b]0;owned\\x07\\xff"));
        assert!(s.contains("mode: 100644 -> 100600"));
        assert!(s.contains("p-1-1.noarch"));
    }
}
