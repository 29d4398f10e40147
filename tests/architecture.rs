//! The module graph follows the data flow: package sources and the policy, then the scan, the
//! verdicts, the baseline, the renderers, the operations, the run layer and the command line (see
//! the module doc of `src/lib.rs`). Reads `src/**/*.rs`, collects each top-level module's `crate::MOD` references
//! outside comments and `#[cfg(test)]` code (and any `super::super` escape out of a module), and
//! asserts that every edge is in the table below and that the graph has no cycle. A new edge is
//! a design decision: add it to the table with its reason, or move the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every allowed `from -> to` import between top-level modules, with why it follows the flow.
const ALLOWED: &[(&str, &str, &str)] = &[
    // The vocabulary at the bottom.
    ("finding", "pkgdb", "a package-owned finding names its file's package-neutral class"),
    ("finding", "exit", "a finding's exit bit is one of the documented exit values"),
    ("policy", "finding", "the policy chooses severities on the findings' one scale"),
    // The file layer sits on the package seam and the policy.
    ("scan", "pkgdb", "hashes in the algorithm a package vouches with; records carry why an owned file is recorded"),
    ("scan", "policy", "the walk visits the trees the policy watches, never the ones it never enters"),
    // Package sources: read their databases and the root through the file layer.
    ("rpmdb", "pkgdb", "rpm implements the package seam"),
    ("rpmdb", "scan", "rpm's verification reads the root through the one file layer"),
    ("rpmdb", "finding", "rpm's verification produces findings"),
    ("dpkg", "pkgdb", "dpkg implements the package seam"),
    ("dpkg", "scan", "dpkg's verification reads the root through the one file layer"),
    ("dpkg", "finding", "dpkg's verification produces findings"),
    ("wordpress", "pkgdb", "WordPress manifests implement the package seam"),
    ("wordpress", "scan", "manifest verification reads the root through the one file layer"),
    ("wordpress", "finding", "manifest verification produces findings"),
    ("wordpress", "escape", "names from inside the root are escaped in messages"),
    ("dpkg", "escape", "paths from inside the root are escaped in messages"),
    // Verdicts on what the scan captured.
    ("verify", "finding", "verdicts are findings"),
    ("verify", "pkgdb", "verdicts name packages and their header trust"),
    ("verify", "policy", "the policy classifies paths and sets severities"),
    ("verify", "scan", "verdicts judge the records the scan captures"),
    ("verify", "rpmdb", "header signature findings judge rpm's trust verdicts"),
    // The baseline drives the verdicts and keeps the state.
    ("baseline", "verify", "the comparison hands both record streams to the verdicts"),
    ("baseline", "scan", "the baseline stores the scan's records and walks the root"),
    ("baseline", "policy", "the baseline records which policy it was taken under"),
    ("baseline", "pkgdb", "the header keeps the package-set snapshot and owned reasons"),
    ("baseline", "finding", "the comparison produces findings"),
    ("baseline", "host", "the header states where it was written"),
    ("baseline", "escape", "paths are escaped in messages"),
    // Renderers: findings in, bytes out.
    ("report", "finding", "renderers render findings"),
    ("report", "scan", "renderers list the paths the walk could not check"),
    ("report", "host", "reports state where and when they were made"),
    ("report", "escape", "every name is escaped for terminals"),
    ("report", "exit", "metrics export the exit status"),
    // Operations after a check: report files, mail, accepted edits.
    ("ops", "report", "operations write the rendered reports"),
    ("ops", "baseline", "accepted edits are judged against the baseline's records"),
    ("ops", "scan", "accepted edits are re-captured through the file layer"),
    ("ops", "finding", "operations act on findings"),
    ("ops", "pkgdb", "the package-change section names package snapshots"),
    ("ops", "host", "mail names the host and the time"),
    ("ops", "escape", "names are escaped in mail and reports"),
    ("ops", "exit", "operations report failures with exit values"),
    // The run layer wires everything; the command line (clap, used by main.rs only) on top.
    ("cli", "run", "the parsed command line converts into the run layer's plain Config"),
    ("cli", "ops", "flags default to and convert into the operations' plain values (mail, targets)"),
    ("cli", "dpkg", "the --deb-archives flag defaults to dpkg's archive directory"),
    ("run", "ops", "runs the operations after a check"),
    ("run", "report", "chooses the renderer"),
    ("run", "baseline", "reads and writes the baseline"),
    ("run", "verify", "runs the verdicts"),
    ("run", "rpmdb", "opens the rpm database"),
    ("run", "dpkg", "opens the dpkg database"),
    ("run", "wordpress", "opens the WordPress manifests"),
    ("run", "scan", "opens the root and reads files inside it"),
    ("run", "policy", "loads the policy"),
    ("run", "pkgdb", "works through the package seam"),
    ("run", "finding", "collects the findings"),
    ("run", "host", "compares the baseline's host with this one"),
    ("run", "nice", "lowers its own priority"),
    ("run", "escape", "escapes names in messages"),
    ("run", "exit", "maps failures to exit values"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments and string or character literals, so that only code is left.
fn strip_comments_and_literals(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push(b'\n');
                    }
                    i += 1;
                }
            }
        } else if rest.starts_with(b"r\"")
            || (rest.starts_with(b"r#") && rest[1..].iter().find(|&&c| c != b'#') == Some(&b'"'))
        {
            // Raw string: r"...", r#"..."#, ...
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                if b[i] == b'\n' {
                    out.push(b'\n');
                }
                i += 1;
            }
            i += close.len();
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\n' {
                    out.push(b'\n');
                }
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'\'' && (rest.get(1) == Some(&b'\\') || rest.get(2) == Some(&b'\'')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.extend_from_slice(b"' '");
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The code without `#[cfg(test)]` items (a test may reach anywhere; the shipped code may
/// not): each guarded item up to the end of its first `{...}` block, or its `;`. Newlines are
/// kept so that line numbers stay right.
fn code_only(src: &str) -> String {
    let code = strip_comments_and_literals(src);
    let b = code.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"#[cfg(test)]") {
            i += b"#[cfg(test)]".len();
            let mut depth = 0;
            while i < b.len() {
                let c = b[i];
                i += 1;
                match c {
                    b'\n' => out.push(b'\n'),
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b';' if depth == 0 => break,
                    _ => {}
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level module a source file belongs to (`None` for the crate roots).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `from -> to -> [file:line, ...]` for every reference in the code under `src`.
fn module_graph(src: &Path) -> BTreeMap<(String, String), Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let mut graph: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("source is UTF-8");
        let code = code_only(&text);
        let rel = file
            .strip_prefix(src)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in code.lines().enumerate() {
            let b = line.as_bytes();
            let mut targets = Vec::new();
            for (at, _) in line.match_indices("crate::") {
                if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b'$') {
                    continue;
                }
                let rest = &line[at + "crate::".len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    // `crate::{a, b::c}`: each first segment.
                    let inner = group.split('}').next().unwrap_or("");
                    for part in inner.split(',') {
                        let seg: String = part
                            .trim()
                            .chars()
                            .take_while(|&c| is_ident(c as u8))
                            .collect();
                        if !seg.is_empty() {
                            targets.push(seg);
                        }
                    }
                } else {
                    let seg: String = rest
                        .chars()
                        .take_while(|&c| c.is_ascii() && is_ident(c as u8))
                        .collect();
                    if !seg.is_empty() {
                        targets.push(seg);
                    }
                }
            }
            if line.contains("super::super") {
                targets.push("super::super".to_string());
            }
            for to in targets {
                if to != from {
                    graph
                        .entry((from.clone(), to))
                        .or_default()
                        .push(format!("{rel}:{}", n + 1));
                }
            }
        }
    }
    graph
}

/// A cycle in the graph, when there is one.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    // 0 unvisited, 1 on the path, 2 done.
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n).copied().unwrap_or(0) {
            1 => {
                let start = path.iter().position(|&p| p == n).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            2 => return None,
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for &m in next.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(c) = visit(m, next, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    let nodes: Vec<&str> = next.keys().copied().collect();
    for n in nodes {
        let mut path = Vec::new();
        if let Some(c) = visit(n, &next, &mut state, &mut path) {
            return Some(c);
        }
    }
    None
}

/// Every problem with the graph, one line each: edges outside the table, and a cycle.
fn violations(graph: &BTreeMap<(String, String), Vec<String>>) -> Vec<String> {
    let allowed: BTreeSet<(&str, &str)> = ALLOWED.iter().map(|&(a, b, _)| (a, b)).collect();
    let mut out = Vec::new();
    for ((from, to), at) in graph {
        if !allowed.contains(&(from.as_str(), to.as_str())) {
            out.push(format!(
                "{from} -> {to} is not in the allowed table (at {})",
                at.join(", ")
            ));
        }
    }
    let edges: BTreeSet<(String, String)> = graph.keys().cloned().collect();
    if let Some(c) = find_cycle(&edges) {
        out.push(format!("cycle: {}", c.join(" -> ")));
    }
    out
}

#[test]
fn the_allowed_table_is_itself_acyclic() {
    let edges: BTreeSet<(String, String)> = ALLOWED
        .iter()
        .map(|&(a, b, _)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(find_cycle(&edges), None);
    assert!(ALLOWED.iter().all(|(_, _, why)| !why.is_empty()));
}

#[test]
fn imports_follow_the_data_flow_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let v = violations(&graph);
    assert!(v.is_empty(), "module graph violations:\n{}", v.join("\n"));
}

#[test]
fn the_checker_sees_what_it_must_refuse() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = t.path();
    // Enough files for the sanity bound, then an import against the flow, a cycle, and
    // references that must not count (comments, strings, test code).
    for i in 0..21 {
        std::fs::write(src.join(format!("leaf{i}.rs")), "").expect("write");
    }
    std::fs::create_dir_all(src.join("scan")).expect("mkdir");
    std::fs::write(
        src.join("scan/mod.rs"),
        "use crate::{baseline::X, pkgdb};\n// crate::report in a comment\nconst S: &str = \"crate::ops\";\n#[cfg(test)]\nmod tests { use crate::run; }\n",
    )
    .expect("write");
    std::fs::write(src.join("baseline.rs"), "use crate::scan::Y;\n").expect("write");
    let graph = module_graph(src);
    let edges: Vec<String> = graph.keys().map(|(a, b)| format!("{a} -> {b}")).collect();
    assert_eq!(
        edges,
        ["baseline -> scan", "scan -> baseline", "scan -> pkgdb"]
    );
    let v = violations(&graph);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].starts_with("scan -> baseline is not in the allowed table (at scan/mod.rs:1)"),
        "{v:?}"
    );
    assert!(v[1].starts_with("cycle: "), "{v:?}");
}
