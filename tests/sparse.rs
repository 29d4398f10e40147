//! Issue 13 point 5: sparse files and the per-file hashing cap, end to end through the binary.
//!
//! A `truncate -s 100G` (or 16T) file in a watched tree must not stall `init` or `check`: holes
//! are skipped, and the hole map is part of the content (moving data, or changing the holes, is
//! a content change). A file holding more data than `max_hash_bytes` is hashed up to the cap
//! and listed as not fully checked. Nothing here asserts a time: a regression shows as a test
//! that takes minutes.

mod support;

use support::{qw, text};

use serde_json::Value;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::process::Output;
use support::TestRoot;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

/// A root watching only `/srv`, with `extra` added to its policy override.
fn root_with(extra: &str) -> TestRoot {
    let root = TestRoot::new();
    std::fs::create_dir_all(root.join("/etc/quietwire")).unwrap();
    std::fs::write(
        root.join("/etc/quietwire/policy.toml"),
        format!("version = 1\nwatch = [\"/srv\"]\n{extra}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("/srv/upload")).unwrap();
    root
}

/// A sparse file of logical size `size` with `data` at `offset` (the rest holes), mtime fixed
/// so that only the content can tell two versions apart.
fn sparse(root: &TestRoot, path: &str, size: u64, offset: u64, data: &[u8]) {
    let p = root.join(path);
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    f.set_len(size).unwrap();
    if !data.is_empty() {
        f.write_all_at(data, offset).unwrap();
    }
    drop(f);
    root.set_mtime(path, 1_600_000_000);
}

/// The largest sparse file the test file system takes, up to 16 TiB (ext4 stops just short).
fn huge_size(root: &TestRoot) -> u64 {
    let probe = root.join("/srv/probe");
    let f = std::fs::File::create(&probe).unwrap();
    let mut size = 16u64 << 40;
    while f.set_len(size).is_err() {
        size -= 1 << 30;
    }
    drop(f);
    std::fs::remove_file(probe).unwrap();
    size
}

fn check_json(root: &TestRoot) -> (Value, i32) {
    let out = qw(root, &["check", "--no-progress", "--format", "json"]);
    (json(&out), out.status.code().unwrap_or(-1))
}

fn finding_paths(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn huge_sparse_files_are_checked_without_reading_their_holes() {
    let root = root_with("");
    let huge = huge_size(&root);
    sparse(&root, "/srv/upload/100g", 100 << 30, 0, b"");
    sparse(&root, "/srv/upload/huge", huge, huge / 2, b"payload");
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));

    let (doc, code) = check_json(&root);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["issues"], Value::Array(vec![]), "{doc}");

    // The same bytes one block further on, same size and mtime: a content change.
    sparse(&root, "/srv/upload/huge", huge, huge / 2 + 4096, b"payload");
    // Data written into a hole of the empty one, then zeroed again: still data, not a hole. The
    // logical content is unchanged, but the hole map is not: also a change.
    sparse(&root, "/srv/upload/100g", 100 << 30, 50 << 30, &[0u8; 4096]);
    let (doc, code) = check_json(&root);
    let paths = finding_paths(&doc);
    assert!(paths.contains(&"/srv/upload/huge".to_string()), "{doc}");
    assert!(paths.contains(&"/srv/upload/100g".to_string()), "{doc}");
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/srv/upload/huge")
        .unwrap();
    assert!(f.to_string().contains("sha256"), "{f}");
    assert_eq!(code & 4, 4, "{doc}");

    // `accept` hashes it again (and must finish as quickly), and then it is quiet.
    let out = qw(&root, &["accept", "/srv/upload/huge", "/srv/upload/100g"]);
    assert_eq!(out.status.code(), Some(0), "accept: {}", text(&out.stderr));
    let (doc, code) = check_json(&root);
    assert_eq!((code, finding_paths(&doc)), (0, vec![]), "{doc}");
}

#[test]
fn a_file_over_max_hash_bytes_is_hashed_up_to_the_cap_and_not_fully_checked() {
    let root = root_with("max_hash_bytes = \"1M\"");
    let big = root.join("/srv/upload/big");
    std::fs::write(&big, vec![b'a'; 3 << 20]).unwrap();
    root.set_mtime("/srv/upload/big", 1_600_000_000);
    std::fs::write(root.join("/srv/upload/small"), b"small\n").unwrap();
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));

    let out = qw(&root, &["check", "--no-progress"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Not fully checked (1):\n  /srv/upload/big"),
        "{stdout}"
    );
    assert!(stdout.contains("max_hash_bytes"), "{stdout}");
    let (doc, _) = check_json(&root);
    let issues = doc["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{doc}");
    assert_eq!(issues[0]["path"], "/srv/upload/big");
    assert!(issues[0]["what"]
        .as_str()
        .unwrap()
        .contains("not fully checked"));

    // A change inside the hashed part is still found; one past the cap cannot be (and the
    // issue says so).
    let f = OpenOptions::new().write(true).open(&big).unwrap();
    f.write_all_at(b"b", 1000).unwrap();
    drop(f);
    root.set_mtime("/srv/upload/big", 1_600_000_000);
    let (doc, code) = check_json(&root);
    assert_eq!(finding_paths(&doc), vec!["/srv/upload/big"], "{doc}");
    assert_eq!(code & 4, 4);
}

#[test]
fn max_hash_bytes_must_be_a_size() {
    for bad in ["\"4X\"", "\"lots\"", "0", "\"99999999999T\""] {
        let root = root_with(&format!("max_hash_bytes = {bad}"));
        let out = qw(&root, &["policy"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(19), "{bad}: {err}");
        assert!(err.contains("policy.toml"), "{bad}: {err}");
        assert!(err.contains("max_hash_bytes"), "{bad}: {err}");
    }
    let root = root_with("max_hash_bytes = 1048576");
    let out = qw(&root, &["policy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("max_hash_bytes = 1048576"));
}

/// A package file truncated to 100 GiB: rpm's digest would hash 100 GiB of zeros. The check
/// reports the file (size, and a digest it did not compute) instead of stalling on it.
#[test]
fn a_package_file_made_huge_is_reported_not_hashed_for_ever() {
    let _ = support::build_packages();
    let root = root_with("[signatures]\nunsigned_allowed = [\"qw-*\"]");
    root.install(&["qw-files"]);
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    let f = OpenOptions::new()
        .write(true)
        .open(root.join("/opt/qw-files/reg"))
        .unwrap();
    f.set_len(100 << 30).unwrap();
    drop(f);
    let (doc, code) = check_json(&root);
    assert!(
        finding_paths(&doc).contains(&"/opt/qw-files/reg".to_string()),
        "{doc}"
    );
    assert_ne!(code & 4, 0, "{doc}");
}

/// A sparse file's digest is over an encoding of its extent map and data; a dense file whose
/// bytes are exactly that encoding (same size, same mtime, same inode) has the same SHA-256.
/// The recorded digests must still differ, or the swap goes unseen.
#[test]
fn a_dense_file_holding_a_sparse_files_encoding_is_a_content_change() {
    use std::os::unix::fs::MetadataExt;
    let root = root_with("");
    let data = vec![b'x'; 4096];
    // 4096 bytes of data and a 49-byte trailing hole: the encoding below is as long.
    let mut encoding = b"quietwire sparse file v1\0".to_vec();
    let size = encoding.len() as u64 + 8 + 16 + data.len() as u64;
    assert_eq!(size, 4145);
    encoding.extend_from_slice(&size.to_le_bytes());
    encoding.extend_from_slice(&0u64.to_le_bytes());
    encoding.extend_from_slice(&(data.len() as u64).to_le_bytes());
    encoding.extend_from_slice(&data);
    sparse(&root, "/srv/upload/s", size, 0, &data);
    let md = std::fs::metadata(root.join("/srv/upload/s")).unwrap();
    assert!(
        md.blocks() * 512 < size,
        "the test file system made no hole"
    );
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    let (doc, code) = check_json(&root);
    assert_eq!((code, finding_paths(&doc)), (0, vec![]), "{doc}");

    sparse(&root, "/srv/upload/s", size, 0, &encoding);
    let md2 = std::fs::metadata(root.join("/srv/upload/s")).unwrap();
    assert_eq!(
        (md2.ino(), md2.size(), md2.mtime()),
        (md.ino(), size, md.mtime())
    );
    let (doc, code) = check_json(&root);
    assert_eq!(
        finding_paths(&doc),
        vec!["/srv/upload/s".to_string()],
        "{doc}"
    );
    assert!(doc["findings"][0].to_string().contains("sha256"), "{doc}");
    assert_eq!(code & 4, 4, "{doc}");
}
