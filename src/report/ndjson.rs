//! Line-delimited JSON for log pipelines (Wazuh, Vector, Fluent Bit, Elastic): one line per
//! finding, one per path the walk could not check, then one summary line. Each line is derived
//! from the JSON report document (`report::json::document` as `ops::report` extends it), so the
//! two formats cannot disagree.
//!
//! Every line is a complete object with the same run id, host and time, in Elastic Common Schema
//! names where ECS has one (`event.*`, `file.*`, `package.*`, `host.name`, `log.level`) and the
//! rest under `quietwire.*`. Dotted names are written as **nested objects**, not dotted keys:
//! both are valid ECS, but nested objects are what Wazuh's JSON decoder flattens into
//! `file.path`-style fields, what `jq .file.path` and Vector's `.file.path` address directly,
//! and they cannot hold the same field twice (`"file.path"` beside `"file": {"path"}`). No line
//! holds an array of objects (Wazuh's decoder rejects them): the report's per-attribute
//! `details` list is left out (`quietwire.old`/`quietwire.new` carry the same values keyed by
//! attribute), and arrays hold strings only.
//!
//! A path that is not UTF-8 is `file.path` lossily plus `quietwire.path_bytes` (base64), as in
//! the JSON report; serde's escaping keeps a newline in a name inside its line.

use serde_json::{json, Map, Value as J};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Version of the line layout (`quietwire.schema`); raised when a field changes meaning.
pub const SCHEMA: u32 = 1;

/// The ECS version whose field names the lines use.
const ECS_VERSION: &str = "8.11.0";

/// What every line of one run shares.
#[derive(Debug, Clone)]
pub struct Run {
    /// 128 random bits, hex: joins the lines of one run in a pipeline.
    pub id: String,
    pub started: SystemTime,
    pub host: String,
    pub root: String,
}

impl Run {
    /// A new run, starting now, checking `root`.
    pub fn start(root: &Path) -> Run {
        Run {
            id: run_id(),
            started: SystemTime::now(),
            host: crate::host::hostname(),
            root: root.to_string_lossy().into_owned(),
        }
    }
}

/// A random id; where the kernel's random source fails, time and pid (still unique per host,
/// and the host is on every line).
fn run_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    if rand_core::OsRng.try_fill_bytes(&mut b).is_ok() {
        return hex::encode(b);
    }
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}{:09x}{:08x}",
        t.as_secs(),
        t.subsec_nanos(),
        std::process::id()
    )
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-12-05T18:06:27.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    // `utc` gives `YYYY-MM-DD HH:MM:SS UTC`.
    let text = crate::host::utc(secs);
    let (date, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let time = rest.trim_end_matches(" UTC");
    format!("{date}T{time}.{:03}Z", d.subsec_millis())
}

fn log_level(severity: &str) -> &'static str {
    match severity {
        "info" => "info",
        "low" => "notice",
        "medium" => "warning",
        "high" => "error",
        _ => "critical",
    }
}

/// One line being built: its top level, `event` and `quietwire` objects.
struct Line {
    top: Map<String, J>,
    event: Map<String, J>,
    qw: Map<String, J>,
}

impl Line {
    /// The fields every line starts with; `seq` makes `event.id` unique per line (ECS: an
    /// event's own id), while `quietwire.run_id` is the run's.
    fn new(run: &Run, seq: usize, kind: &str) -> Line {
        let mut top = Map::new();
        top.insert("@timestamp".into(), J::String(rfc3339(run.started)));
        top.insert("ecs".into(), json!({ "version": ECS_VERSION }));
        top.insert("host".into(), json!({ "name": run.host }));
        let mut event = Map::new();
        event.insert("id".into(), J::String(format!("{}-{seq}", run.id)));
        event.insert("kind".into(), J::String(kind.into()));
        event.insert("module".into(), J::String("quietwire".into()));
        event.insert("dataset".into(), J::String("quietwire.check".into()));
        let mut qw = Map::new();
        qw.insert("schema".into(), json!(SCHEMA));
        // Not ECS `agent.*`: shippers (Filebeat, Elastic Agent) set that to themselves.
        qw.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
        qw.insert("run_id".into(), J::String(run.id.clone()));
        qw.insert("root".into(), J::String(run.root.clone()));
        Line { top, event, qw }
    }

    /// `event.category`, `event.type` (one value each) and `event.action`.
    fn what(&mut self, category: &str, etype: &str, action: String) {
        self.event.insert("category".into(), json!([category]));
        self.event.insert("type".into(), json!([etype]));
        self.event.insert("action".into(), J::String(action));
    }

    fn finish(mut self) -> J {
        self.top.insert("event".into(), J::Object(self.event));
        self.top.insert("quietwire".into(), J::Object(self.qw));
        J::Object(self.top)
    }
}

/// `[E:]V-R` and arch from `name-[E:]V-R.arch`.
fn version_arch<'a>(name: &str, nevra: &'a str) -> (Option<&'a str>, Option<&'a str>) {
    let Some(evra) = nevra.strip_prefix(name).and_then(|r| r.strip_prefix('-')) else {
        return (None, None);
    };
    match evra.rsplit_once('.') {
        Some((evr, arch)) if evr.contains('-') => (Some(evr), Some(arch)),
        _ => (Some(evra), None),
    }
}

/// `file.*` from what the report knows of the path's current state: the baseline record
/// (`state`) for baseline findings, the changed attributes' new values for package ones.
fn file_fields(f: &J, file: &mut Map<String, J>) {
    let state = f.get("state").filter(|s| s.is_object());
    let new = f.get("new");
    let text = |v: Option<&J>| v.and_then(J::as_str).map(str::to_string);
    if let Some(s) = state {
        if let Some(m) = s.get("mode").and_then(J::as_u64) {
            file.insert("mode".into(), J::String(format!("{:04o}", m & 0o7777)));
        }
        for (from, to) in [("uid", "uid"), ("gid", "gid")] {
            if let Some(n) = s.get(from).and_then(J::as_u64) {
                file.insert(to.into(), J::String(n.to_string()));
            }
        }
        if let Some(n) = s.get("size").and_then(J::as_u64) {
            file.insert("size".into(), json!(n));
        }
        if let Some(t) = text(s.get("type")) {
            file.insert("type".into(), J::String(t));
        }
        if let Some(h) = text(s.get("sha256")) {
            file.insert("hash".into(), json!({ "sha256": h }));
        }
        if let Some(t) = text(s.get("target")) {
            file.insert("target_path".into(), J::String(t));
        }
    }
    let Some(new) = new else { return };
    if !file.contains_key("mode") {
        // rpm's modes carry the file type bits; ECS's `file.mode` is the permissions.
        if let Some(m) = text(new.get("mode")).and_then(|m| u32::from_str_radix(&m, 8).ok()) {
            file.insert("mode".into(), J::String(format!("{:04o}", m & 0o7777)));
        }
    }
    if let Some(u) = text(new.get("user")) {
        file.insert("owner".into(), J::String(u));
    }
    if let Some(g) = text(new.get("group")) {
        file.insert("group".into(), J::String(g));
    }
    if !file.contains_key("size") {
        if let Some(n) = new.get("size").and_then(J::as_u64) {
            file.insert("size".into(), json!(n));
        }
    }
    if !file.contains_key("hash") {
        // Package digests may be MD5 or SHA-1 (old packages) or SHA-512: only SHA-256 fits.
        if let Some(h) = text(new.get("digest"))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            file.insert("hash".into(), json!({ "sha256": h }));
        }
    }
    if !file.contains_key("target_path") {
        if let Some(t) = text(new.get("link")) {
            file.insert("target_path".into(), J::String(t));
        }
    }
}

/// The line of one finding of the JSON report.
fn finding_line(run: &Run, seq: usize, f: &J) -> J {
    let s = |k: &str| f.get(k).and_then(J::as_str).unwrap_or_default();
    let (kind, source, severity) = (s("kind"), s("source"), s("severity"));
    let mut line = Line::new(run, seq, if severity == "info" { "event" } else { "alert" });
    let header = source == "header";
    let etype = match kind {
        "added" => "creation",
        "removed" | "missing" => "deletion",
        "changed" => "change",
        _ => "info",
    };
    let category = if header { "package" } else { "file" };
    line.what(category, etype, format!("{category}-{kind}"));
    let m = &mut line.top;
    m.insert("log".into(), json!({ "level": log_level(severity) }));

    let mut file = Map::new();
    file.insert("path".into(), f.get("path").cloned().unwrap_or(J::Null));
    file_fields(f, &mut file);
    m.insert("file".into(), J::Object(file));

    let nevra = f.get("package").and_then(J::as_str);
    if let Some(nevra) = nevra {
        let mut p = Map::new();
        // Baseline findings of package files carry only the NEVRA; version and release never
        // contain '-', so the name is what precedes the last two.
        let name = f
            .get("package_name")
            .and_then(J::as_str)
            .or_else(|| nevra.rsplitn(3, '-').nth(2));
        if let Some(name) = name {
            p.insert("name".into(), J::String(name.into()));
            let (version, arch) = version_arch(name, nevra);
            if let Some(v) = version {
                p.insert("version".into(), J::String(v.into()));
            }
            if let Some(a) = arch {
                p.insert("architecture".into(), J::String(a.into()));
            }
        }
        p.insert("type".into(), J::String("rpm".into()));
        m.insert("package".into(), J::Object(p));
    }

    let q = &mut line.qw;
    q.insert("type".into(), J::String("finding".into()));
    for key in ["kind", "source", "severity", "rule"] {
        q.insert(key.into(), f.get(key).cloned().unwrap_or(J::Null));
    }
    if let Some(n) = f.get("note").filter(|n| !n.is_null()) {
        q.insert("reason".into(), n.clone());
    }
    if let Some(line) = f.get("rpm").and_then(J::as_str) {
        if let Some(letters) = line.split_whitespace().next() {
            q.insert("rpm_verify".into(), J::String(letters.into()));
        }
    }
    let changed: Vec<J> = f
        .get("changes")
        .and_then(J::as_array)
        .map(|a| a.iter().filter(|c| c.is_string()).cloned().collect())
        .unwrap_or_default();
    q.insert("changed_attributes".into(), J::Array(changed));
    for key in [
        "old",
        "new",
        "path_bytes",
        "file_flags",
        "policy_rule",
        "signature",
    ] {
        if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
            q.insert(key.into(), v.clone());
        }
    }
    if let Some(nevra) = nevra {
        q.insert("package_nevra".into(), J::String(nevra.into()));
    }
    line.finish()
}

/// The line of one path the walk could not fully check.
fn issue_line(run: &Run, seq: usize, i: &J) -> J {
    let mut line = Line::new(run, seq, "event");
    line.what("file", "info", "file-not-checked".into());
    line.top.insert("log".into(), json!({ "level": "warning" }));
    line.top.insert(
        "file".into(),
        json!({ "path": i.get("path").cloned().unwrap_or(J::Null) }),
    );
    let q = &mut line.qw;
    q.insert("type".into(), J::String("issue".into()));
    q.insert("reason".into(), i.get("what").cloned().unwrap_or(J::Null));
    if let Some(b) = i.get("path_bytes") {
        q.insert("path_bytes".into(), b.clone());
    }
    line.finish()
}

/// The last line: the report's summary, the number of unchecked paths, and the package changes
/// since the baseline as lists of NEVRAs (the report's lists of objects would not decode).
fn summary_line(run: &Run, seq: usize, doc: &J) -> J {
    let mut line = Line::new(run, seq, "event");
    line.what("file", "info", "check-summary".into());
    let loud = doc
        .get("findings")
        .and_then(J::as_array)
        .is_some_and(|a| a.iter().any(|f| f.get("severity") != Some(&json!("info"))));
    let level = if loud { "warning" } else { "info" };
    line.top.insert("log".into(), json!({ "level": level }));
    let q = &mut line.qw;
    q.insert("type".into(), J::String("summary".into()));
    q.insert(
        "summary".into(),
        doc.get("summary").cloned().unwrap_or(J::Null),
    );
    let issues = doc.get("issues").and_then(J::as_array).map_or(0, Vec::len);
    q.insert("issues".into(), json!(issues));
    if let Some(c) = doc.get("package_changes") {
        fn plain(p: &J) -> Option<&J> {
            p.get("nevra").filter(|n| n.is_string())
        }
        fn newer(p: &J) -> Option<&J> {
            p.get("new").and_then(plain)
        }
        let nevras = |key: &str, pick: fn(&J) -> Option<&J>| -> J {
            J::Array(
                c.get(key)
                    .and_then(J::as_array)
                    .map(|a| a.iter().filter_map(pick).cloned().collect())
                    .unwrap_or_default(),
            )
        };
        q.insert(
            "package_changes".into(),
            json!({
                "baseline_created": c.get("baseline_created"),
                "total": c.get("total"),
                "installed": nevras("installed", plain),
                "updated": nevras("updated", newer),
                "reinstalled": nevras("reinstalled", newer),
                "removed": nevras("removed", plain),
            }),
        );
    }
    line.finish()
}

/// Every line of `doc` (a JSON report document), summary last.
pub fn lines(doc: &J, run: &Run) -> Vec<J> {
    let list = |k: &str| {
        doc.get(k)
            .and_then(J::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for f in list("findings") {
        out.push(finding_line(run, out.len(), &f));
    }
    for i in list("issues") {
        out.push(issue_line(run, out.len(), &i));
    }
    out.push(summary_line(run, out.len(), doc));
    out
}

/// Longest line written. Wazuh's logcollector cuts lines near 64 KiB (and a cut line is no
/// longer JSON, so the finding would be lost); an attacker controls names and link targets.
pub const MAX_LINE: usize = 60_000;

/// Longest `file.path` (in characters) kept in a line that had to be shortened.
const SHORT_PATH: usize = 2048;

/// Make an over-long line fit: first drop the attribute values, then shorten the path (its
/// exact bytes go too). `quietwire.truncated` says that the JSON report has the whole record.
fn shorten(line: &mut J) {
    let Some(top) = line.as_object_mut() else {
        return;
    };
    if let Some(J::Object(q)) = top.get_mut("quietwire") {
        for key in ["old", "new", "signature"] {
            q.remove(key);
        }
        q.insert("truncated".into(), J::Bool(true));
    }
    if let Some(J::Object(f)) = top.get_mut("file") {
        f.remove("target_path");
    }
    let long = serde_json::to_vec(&*top).map_or(true, |b| b.len() > MAX_LINE);
    if !long {
        return;
    }
    if let Some(J::Object(f)) = top.get_mut("file") {
        if let Some(J::String(p)) = f.get_mut("path") {
            *p = p.chars().take(SHORT_PATH).collect();
        }
    }
    if let Some(J::Object(q)) = top.get_mut("quietwire") {
        q.remove("path_bytes");
        q.remove("reason");
    }
}

/// Only what says that there is a finding and how bad: ECS `event`, `log`, `host`, the
/// shortened `file.path` and quietwire's verdict fields (each cut to [`SHORT_PATH`]).
fn minimal(line: &mut J) {
    let Some(top) = line.as_object_mut() else {
        return;
    };
    top.retain(|k, _| {
        [
            "@timestamp",
            "ecs",
            "host",
            "event",
            "log",
            "file",
            "quietwire",
        ]
        .contains(&k.as_str())
    });
    let cut = |v: &mut J| {
        if let J::String(s) = v {
            *s = s.chars().take(SHORT_PATH).collect();
        }
    };
    if let Some(J::Object(f)) = top.get_mut("file") {
        f.retain(|k, _| k == "path");
        f.values_mut().for_each(cut);
    }
    if let Some(J::Object(q)) = top.get_mut("quietwire") {
        q.retain(|k, _| {
            [
                "schema",
                "version",
                "run_id",
                "type",
                "kind",
                "source",
                "severity",
                "rule",
                "truncated",
            ]
            .contains(&k.as_str())
        });
        q.values_mut().for_each(cut);
    }
}

/// Write the lines of `doc`, each followed by a newline and at most [`MAX_LINE`] bytes long.
pub fn render(out: &mut dyn Write, doc: &J, run: &Run) -> std::io::Result<()> {
    for mut line in lines(doc, run) {
        let mut bytes = serde_json::to_vec(&line)?;
        if bytes.len() > MAX_LINE {
            shorten(&mut line);
            bytes = serde_json::to_vec(&line)?;
        }
        if bytes.len() > MAX_LINE {
            // Something else is huge (a crafted package name in the rpmdb): keep the verdict.
            minimal(&mut line);
            bytes = serde_json::to_vec(&line)?;
        }
        out.write_all(&bytes)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Whether `text` is a report in this format (its first line is one of these objects), so
/// that `accept --report` can say so instead of a JSON syntax error.
pub fn is_ndjson(text: &[u8]) -> bool {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    serde_json::from_slice::<J>(first)
        .ok()
        .is_some_and(|v| v.get("quietwire").and_then(|q| q.get("schema")).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run {
            id: "r".into(),
            started: UNIX_EPOCH + Duration::from_millis(1_709_210_096_007),
            host: "h".into(),
            root: "/".into(),
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(run().started), "2024-02-29T12:34:56.007Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn versions_come_from_the_nevra() {
        assert_eq!(
            version_arch("bash", "bash-1:5.1-2.el9.x86_64"),
            (Some("1:5.1-2.el9"), Some("x86_64"))
        );
        assert_eq!(version_arch("bash", "other-1-1.noarch"), (None, None));
        assert_eq!("a-b-c-1.0-2.x".rsplitn(3, '-').nth(2), Some("a-b-c"));
    }

    #[test]
    fn lines_have_no_arrays_of_objects_and_stay_one_line() {
        let doc = json!({
            "findings": [{
                "path": "/etc/a\nb\u{fffd}", "path_bytes": "L2V0Yy9hCmL/",
                "kind": "changed", "source": "package", "severity": "high",
                "package": "qw-files-1.0-1.noarch", "package_name": "qw-files",
                "changes": ["digest", "mode"], "rule": "r", "rpm": "S.5....T.  c",
                "old": {"mode": "100644"}, "new": {"mode": "100600", "digest": "ab".repeat(32)},
                "details": [{"attr": "digest"}],
            }],
            "issues": [{"path": "/x", "what": "unreadable"}],
            "summary": {"total": 1},
            "package_changes": {"total": 1, "baseline_created": 5,
                "updated": [{"old": {"nevra": "a-1-1.noarch"}, "new": {"nevra": "a-2-1.noarch"}}]},
        });
        let mut out = Vec::new();
        render(&mut out, &doc, &run()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<J> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        fn no_object_arrays(v: &J) -> bool {
            match v {
                J::Array(a) => a.iter().all(|x| !x.is_object() && no_object_arrays(x)),
                J::Object(o) => o.values().all(no_object_arrays),
                _ => true,
            }
        }
        assert!(lines.iter().all(no_object_arrays));
        let f = &lines[0];
        assert_eq!(f["file"]["path"], "/etc/a\nb\u{fffd}");
        assert_eq!(f["file"]["mode"], "0600");
        assert_eq!(f["file"]["hash"]["sha256"], "ab".repeat(32));
        assert_eq!(f["package"]["version"], "1.0-1");
        assert_eq!(f["quietwire"]["rpm_verify"], "S.5....T.");
        assert_eq!(f["quietwire"]["path_bytes"], "L2V0Yy9hCmL/");
        assert_eq!(f["event"]["action"], "file-changed");
        assert_eq!(lines[1]["quietwire"]["type"], "issue");
        assert_eq!(
            lines[2]["quietwire"]["package_changes"]["updated"][0],
            "a-2-1.noarch"
        );
        assert!(lines.iter().all(|l| l["quietwire"]["run_id"] == "r"));
        assert!(is_ndjson(text.as_bytes()));

        // A hostile link target and path are cut to fit, never split across lines.
        let long = "\u{1}".repeat(9000);
        let doc = json!({"findings": [{
            "path": format!("/{long}"), "path_bytes": "x".repeat(12000),
            "kind": "changed", "source": "baseline", "severity": "high",
            "old": {"link": long}, "new": {"link": long}, "changes": ["link"],
            "state": {"target": long},
        }]});
        let mut out = Vec::new();
        render(&mut out, &doc, &run()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        let first = text.lines().next().unwrap();
        assert!(first.len() <= MAX_LINE, "{}", first.len());
        let f: J = serde_json::from_str(first).unwrap();
        assert_eq!(f["quietwire"]["truncated"], true);
        assert_eq!(f["quietwire"]["kind"], "changed");
        assert!(f["file"]["path"].as_str().unwrap().starts_with("/\u{1}"));

        // A crafted package name too: the verdict still arrives, on one line.
        let doc = json!({"findings": [{
            "path": "/usr/bin/x", "kind": "changed", "source": "package", "severity": "high",
            "package": "p".repeat(70_000), "package_name": "p".repeat(70_000), "rule": "r",
        }]});
        let mut out = Vec::new();
        render(&mut out, &doc, &run()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.len() <= MAX_LINE, "{}", first.len());
        let f: J = serde_json::from_str(first).unwrap();
        assert_eq!(f["quietwire"]["severity"], "high");
        assert_eq!(f["file"]["path"], "/usr/bin/x");
        assert!(!is_ndjson(br#"{"findings":[]}"#));
    }
}
