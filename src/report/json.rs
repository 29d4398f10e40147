//! `{"findings":[...],"summary":{...}}`, lossless: a path or value that is not UTF-8 is given
//! as `path_bytes` / `{"bytes": base64}` next to a lossy `path` for display.

use crate::finding::{Change, Finding, FindingKind, Source, Value};
use serde_json::{json, Map, Value as J};
use std::os::unix::ffi::OsStrExt;

fn bytes(b: &[u8]) -> J {
    match std::str::from_utf8(b) {
        Ok(s) => J::String(s.to_string()),
        Err(_) => json!({ "bytes": super::base64(b) }),
    }
}

fn value(v: &Value) -> J {
    match v {
        Value::Absent => J::Null,
        Value::Int(i) => json!(i),
        Value::Mode(m) => J::String(format!("{m:o}")),
        Value::Dev(ma, mi) => json!({ "major": ma, "minor": mi }),
        Value::Text(t) => J::String(t.clone()),
        Value::Bytes(b) => bytes(b),
    }
}

fn change(c: &Change) -> J {
    let mut m = Map::new();
    m.insert("attr".into(), J::String(c.attr.name().into()));
    if let Some(l) = c.attr.rpm_letter() {
        m.insert(
            "rpm".into(),
            J::String(if c.unreadable {
                "?".into()
            } else {
                l.to_string()
            }),
        );
    }
    m.insert("old".into(), value(&c.expected));
    m.insert("new".into(), value(&c.actual));
    if c.unreadable {
        m.insert("unreadable".into(), J::Bool(true));
    }
    J::Object(m)
}

/// `path`, and `path_bytes` (base64) when the path is not UTF-8.
fn insert_path(m: &mut Map<String, J>, path: &[u8]) {
    m.insert(
        "path".into(),
        J::String(String::from_utf8_lossy(path).into_owned()),
    );
    if std::str::from_utf8(path).is_err() {
        m.insert("path_bytes".into(), J::String(super::base64(path)));
    }
}

/// The JSON value of one path the walk could not fully check: `path` and `what`.
pub fn issue(i: &crate::scan::walk::Issue) -> J {
    let mut m = Map::new();
    insert_path(&mut m, i.path.as_os_str().as_bytes());
    m.insert("what".into(), J::String(i.what.clone()));
    J::Object(m)
}

/// The JSON value of one finding.
pub fn finding(f: &Finding) -> J {
    let mut m = Map::new();
    insert_path(&mut m, &f.path);
    m.insert("kind".into(), J::String(f.kind.name().into()));
    // `changes` names the attributes; `old`/`new` map each to its value; `details` keeps the
    // per-attribute record (rpm letter, unreadable) for consumers that want it.
    m.insert(
        "changes".into(),
        J::Array(
            f.changes
                .iter()
                .map(|c| J::String(c.attr.name().into()))
                .collect(),
        ),
    );
    let side = |pick: fn(&Change) -> &Value| {
        J::Object(
            f.changes
                .iter()
                .map(|c| (c.attr.name().to_string(), value(pick(c))))
                .collect(),
        )
    };
    m.insert("old".into(), side(|c| &c.expected));
    m.insert("new".into(), side(|c| &c.actual));
    m.insert(
        "details".into(),
        J::Array(f.changes.iter().map(change).collect()),
    );
    match &f.source {
        Source::Package {
            name,
            nevra,
            manager_flags,
            ..
        } => {
            m.insert("source".into(), J::String("package".into()));
            m.insert("package".into(), J::String(nevra.clone()));
            m.insert("package_name".into(), J::String(name.clone()));
            m.insert("file_flags".into(), json!(manager_flags));
        }
        Source::Baseline {
            policy_rule,
            package,
        } => {
            m.insert("source".into(), J::String("baseline".into()));
            m.insert("package".into(), json!(package));
            m.insert("policy_rule".into(), json!(policy_rule));
        }
        Source::Manifest { nevra } => {
            m.insert("source".into(), J::String("wordpress".into()));
            m.insert("package".into(), J::String(nevra.clone()));
        }
        Source::Header {
            name,
            nevra,
            status,
            key_id,
            ..
        } => {
            m.insert("source".into(), J::String("header".into()));
            m.insert("package".into(), J::String(nevra.clone()));
            m.insert("package_name".into(), J::String(name.clone()));
            m.insert(
                "signature".into(),
                json!({ "status": status, "key_id": key_id }),
            );
        }
    }
    m.insert("rule".into(), J::String(f.rule.clone()));
    m.insert("severity".into(), J::String(f.severity.name().into()));
    if let Some(n) = &f.note {
        m.insert("note".into(), J::String(n.clone()));
    }
    if let Some(v) = &f.verify_line {
        m.insert(
            "rpm".into(),
            J::String(String::from_utf8_lossy(&v.line(b"")).trim_end().to_string()),
        );
    }
    J::Object(m)
}

/// The whole document.
pub fn document(findings: &[Finding]) -> J {
    let count = |k| findings.iter().filter(|f| f.kind == k).count();
    json!({
        "findings": findings.iter().map(finding).collect::<Vec<_>>(),
        "summary": {
            "total": findings.len(),
            "missing": count(FindingKind::Missing),
            "removed": count(FindingKind::Removed),
            "changed": count(FindingKind::Changed),
            "added": count(FindingKind::Added),
            "noted": count(FindingKind::Noted),
            "untrusted": count(FindingKind::Untrusted),
            "exit_bits": crate::finding::exit_bits(findings),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Attr, Severity};

    #[test]
    fn non_utf8_path_is_lossless() {
        let f = Finding {
            path: b"/x\xff".to_vec(),
            kind: FindingKind::Changed,
            source: Source::Baseline {
                policy_rule: None,
                package: None,
            },
            changes: vec![Change {
                attr: Attr::LinkTo,
                expected: Value::Bytes(b"a".to_vec()),
                actual: Value::Bytes(vec![0xfe]),
                unreadable: false,
            }],
            severity: Severity::Medium,
            rule: "t".into(),
            note: None,
            verify_line: None,
        };
        let d = document(&[f]);
        assert_eq!(d["findings"][0]["path_bytes"], "L3j/");
        assert_eq!(d["findings"][0]["details"][0]["old"], "a");
        assert_eq!(d["findings"][0]["details"][0]["new"]["bytes"], "/g==");
        assert_eq!(d["findings"][0]["changes"][0], "link");
        assert_eq!(d["findings"][0]["new"]["link"]["bytes"], "/g==");
        assert_eq!(d["summary"]["changed"], 1);
        assert_eq!(d["summary"]["exit_bits"], 4);
    }
}
