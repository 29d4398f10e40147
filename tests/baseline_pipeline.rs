//! The compare pipeline over many batches: a tree far larger than one batch (entries and
//! directories), with changes at batch boundaries, the first and the last path, and a rotated log
//! deep in the walk. Findings must be exactly the expected ones, in path order, and identical
//! with one thread and with several (the pipeline reads one batch while judging another).

use quietwire::baseline::{self, CompareOptions, Finding, Kind};
use quietwire::pkgdb::OwnedIndex;
use quietwire::policy::Policy;
use quietwire::scan::walk::{BATCH_DIRS, BATCH_ENTRIES};
use std::fs;
use std::path::{Path, PathBuf};

const DIRS: usize = 3 * BATCH_DIRS + 7;
const FILES_PER_DIR: usize = BATCH_ENTRIES / BATCH_DIRS + 3;

const POLICY: &str = r#"
version = 1
inherit = false
watch = ["/srv"]
[class.normal]
added = "medium"
removed = "medium"
content = "medium"
metadata = "high"
[class.log]
log = true
added = "none"
removed = "none"
content = "medium"
metadata = "high"
[[rule]]
name = "logs"
class = "log"
paths = ["/srv/zz-logs"]
"#;

fn dir_name(d: usize) -> String {
    format!("d{d:04}")
}

fn build(root: &Path) {
    for d in 0..DIRS {
        let dir = root.join("srv").join(dir_name(d));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            fs::write(dir.join(format!("f{f:03}")), format!("{d}/{f}\n")).unwrap();
        }
    }
    let logs = root.join("srv/zz-logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join("app.log"), "line 1\nline 2\n").unwrap();
    fs::write(logs.join("other.log"), "x\n").unwrap();
}

fn compare(root: &Path, policy: &Policy, file: &Path, threads: usize) -> Vec<Finding> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let out = pool
        .install(|| {
            baseline::compare_with(
                root,
                policy,
                &OwnedIndex::new(),
                file,
                CompareOptions::default(),
            )
        })
        .unwrap();
    assert!(out.issues.is_empty(), "{:?}", out.issues);
    assert_eq!(
        out.hashed as usize,
        DIRS * FILES_PER_DIR + 3,
        "every regular file is hashed once (one removed, one added: as many), and the three \
         logs now present (log families need their digests)"
    );
    out.findings
}

#[test]
fn many_batches_give_exact_findings_with_one_or_more_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    build(&root);
    let policy = Policy::from_override_str("pipeline", POLICY).unwrap();
    let file = tmp.path().join("baseline");
    let stats = baseline::init(&root, &policy, &OwnedIndex::new(), &[], &file, false).unwrap();
    // /srv, the directories, their files, the log directory and its two logs.
    let total = 1 + DIRS * (1 + FILES_PER_DIR) + 3;
    assert_eq!(stats.entries as usize, total);
    assert!(total > 3 * BATCH_ENTRIES);

    let srv = root.join("srv");
    let first = srv.join("d0000/f000");
    let boundary = srv.join(dir_name(BATCH_DIRS)).join("f000");
    let before_boundary = srv
        .join(dir_name(BATCH_DIRS - 1))
        .join(format!("f{:03}", FILES_PER_DIR - 1));
    let middle_removed = srv.join(dir_name(2 * BATCH_DIRS + 1)).join("f005");
    let last_dir = srv.join(dir_name(DIRS - 1));
    let added = last_dir.join("new-file");
    fs::write(&first, "changed 0\n").unwrap();
    fs::write(&boundary, "changed boundary\n").unwrap();
    fs::write(&before_boundary, "changed before boundary\n").unwrap();
    fs::remove_file(&middle_removed).unwrap();
    fs::write(&added, "new\n").unwrap();
    // A rotated log (new inode, sibling app.log.1 holds the old one) is quiet; a log that shrank
    // without any rotation sibling is a content change.
    let logs = srv.join("zz-logs");
    fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    fs::write(logs.join("app.log"), "fresh\n").unwrap();
    fs::write(logs.join("other.log"), "").unwrap();

    let rel = |p: &Path| PathBuf::from("/").join(p.strip_prefix(&root).unwrap());
    let mut expected = vec![
        (rel(&first), Kind::Changed),
        (rel(&before_boundary), Kind::Changed),
        (rel(&boundary), Kind::Changed),
        (rel(&middle_removed), Kind::Removed),
        (rel(&added), Kind::Added),
        (PathBuf::from("/srv/zz-logs/other.log"), Kind::Changed),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    // The directories' mtimes moved too: at most info, filtered out here.
    let summary = |f: &[Finding]| -> Vec<(PathBuf, Kind)> {
        f.iter()
            .filter(|f| f.severity > quietwire::policy::Severity::Info)
            .map(|f| (f.fs_path().to_path_buf(), f.kind))
            .collect()
    };
    let serial = compare(&root, &policy, &file, 1);
    let parallel = compare(&root, &policy, &file, 2);
    let parallel4 = compare(&root, &policy, &file, 4);
    let paths: Vec<_> = serial.iter().map(|f| f.fs_path().to_path_buf()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "findings come in path order");
    assert_eq!(summary(&serial), expected);
    assert_eq!(serial, parallel);
    assert_eq!(serial, parallel4);
}

/// A service started with a small soft `LimitNOFILE` still walks a deep tree: the binary raises
/// the soft limit to what the walk's stack and pipeline may hold (within the hard limit).
#[test]
fn deep_tree_under_a_small_open_file_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mut deep = root.join("srv");
    for level in 0..120 {
        deep = deep.join(format!("l{level:03}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom"), "deepest file\n").unwrap();
    fs::write(tmp.path().join("policy.toml"), POLICY).unwrap();
    let status = std::process::Command::new("rpm")
        .args(["--root"])
        .arg(&root)
        .args(["--dbpath", "/var/lib/rpm", "--initdb"])
        .status()
        .expect("rpm (apt-get install rpm)");
    assert!(status.success());
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 40 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_quietwire"))
        .args(["init", "--jobs", "2", "--root"])
        .arg(&root)
        .arg("--policy")
        .arg(tmp.path().join("policy.toml"))
        .arg("--baseline")
        .arg(tmp.path().join("baseline"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    // /srv, 120 directories, the file.
    assert!(stderr.contains("created with 122 entries"), "{stderr}");
}
