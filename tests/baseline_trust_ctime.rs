//! `--trust-ctime` (CompareOptions::trust_ctime): an unchanged file is not re-hashed (asserted
//! with the comparison's own counters, `hashed` and `trusted`, which count files actually read
//! and hashed versus files whose baselined digest was reused), and a content change whose mtime
//! was put back is still detected, because writing and `utimensat` both move the ctime.
//! Also: version 1 baselines (no ctime) are still read, and then everything is hashed.

use quietwire::baseline::{self, Attr, CompareOptions, Kind};
use quietwire::pkgdb::OwnedIndex;
use quietwire::policy::Policy;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    baseline: PathBuf,
    policy: Policy,
    owned: OwnedIndex,
}

fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("srv/data/sub")).unwrap();
    for (name, body) in [
        ("srv/data/a.txt", "alpha\n"),
        ("srv/data/b.txt", "bravo\n"),
        ("srv/data/sub/c.txt", "charlie\n"),
    ] {
        fs::write(root.join(name), body).unwrap();
    }
    let pfile = tmp.path().join("policy.toml");
    fs::write(
        &pfile,
        "version = 1\ninherit = false\nwatch = [\"/srv\"]\n\
         [class.normal]\nadded = \"medium\"\nremoved = \"medium\"\ncontent = \"medium\"\nmetadata = \"high\"\n",
    )
    .unwrap();
    let policy =
        Policy::from_override_bytes(&pfile.display().to_string(), fs::read(&pfile).unwrap())
            .unwrap();
    let baseline = tmp.path().join("baseline");
    let owned = OwnedIndex::new();
    baseline::init(&root, &policy, &owned, &[], &baseline, false).unwrap();
    Tree {
        _tmp: tmp,
        root,
        baseline,
        policy,
        owned,
    }
}

fn compare(t: &Tree, trust_ctime: bool) -> baseline::CompareOutcome {
    baseline::compare_with(
        &t.root,
        &t.policy,
        &t.owned,
        &t.baseline,
        CompareOptions { trust_ctime },
    )
    .unwrap()
}

fn mtime(p: &Path) -> SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn unchanged_files_are_not_rehashed() {
    let t = tree();
    let full = compare(&t, false);
    assert!(full.findings.is_empty(), "{:?}", full.findings);
    assert_eq!((full.hashed, full.trusted), (3, 0));
    let fast = compare(&t, true);
    assert!(fast.findings.is_empty(), "{:?}", fast.findings);
    assert_eq!(
        (fast.hashed, fast.trusted),
        (0, 3),
        "no file was read for hashing"
    );
}

#[test]
fn content_change_with_restored_mtime_is_detected() {
    let t = tree();
    let f = t.root.join("srv/data/b.txt");
    let before = mtime(&f);
    // Make sure the ctime can move even on a coarse clock.
    std::thread::sleep(Duration::from_millis(20));
    // Same size, different content, mtime put back: only the ctime (and the digest) tell.
    fs::write(&f, "BRAVO\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(before)
        .unwrap();
    assert_eq!(mtime(&f), before);
    let fast = compare(&t, true);
    assert_eq!(fast.trusted, 2, "the two untouched files are trusted");
    assert_eq!(fast.hashed, 1, "the touched file is re-hashed");
    assert_eq!(fast.findings.len(), 1, "{:?}", fast.findings);
    let finding = &fast.findings[0];
    assert_eq!(finding.fs_path(), Path::new("/srv/data/b.txt"));
    assert_eq!(finding.kind, Kind::Changed);
    assert!(
        finding.changes.iter().any(|c| c.attr == Attr::Digest),
        "{finding:?}"
    );
    assert!(!finding.changes.iter().any(|c| c.attr == Attr::Mtime));
}

#[test]
fn version_1_baseline_is_read_and_fully_hashed() {
    let t = tree();
    // Rewrite the baseline as version 1 would have: no ctime, version 1, fresh trailer.
    let text = fs::read_to_string(&t.baseline).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.pop(); // trailer
    lines[0] = lines[0].replace("\"version\":2", "\"version\":1");
    for l in lines.iter_mut().skip(1) {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        v.as_object_mut().unwrap().remove("ctime");
        *l = serde_json::to_string(&v).unwrap();
    }
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let trailer = format!(
        "{{\"trailer\":{{\"entries\":{},\"sha256\":\"{digest}\"}}}}\n",
        lines.len() - 1
    );
    fs::write(&t.baseline, body + &trailer).unwrap();
    let fast = compare(&t, true);
    assert!(fast.findings.is_empty(), "{:?}", fast.findings);
    assert_eq!((fast.hashed, fast.trusted), (3, 0));
    // A version this build does not know is refused with a clear message.
    let newer =
        fs::read_to_string(&t.baseline)
            .unwrap()
            .replacen("\"version\":1", "\"version\":99", 1);
    fs::write(&t.baseline, newer).unwrap();
    let e = baseline::compare(&t.root, &t.policy, &t.owned, &t.baseline)
        .unwrap_err()
        .to_string();
    assert!(e.contains("format version 99 is not supported"), "{e}");
}
