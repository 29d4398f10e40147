//! Scale: a root of more than 30,000 real package files (Debian packages converted with
//! `alien --to-rpm` by `scripts/make-big-root`, installed with rpm). Clean, quietwire reports
//! nothing, like `rpm -Va`; a one-byte change that keeps size and mtime is found, like rpm.
//! Building the root needs network access to Debian's mirror the first time (then it is cached
//! in ~/.cache/quietwire/big-root); without it the test fails and says why.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::assert_lines_eq_sorted;

fn big_root() -> PathBuf {
    support::require_rpm_tools();
    support::require_tool("alien", "alien");
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("big-root");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/make-big-root");
    let out = Command::new(&script)
        .arg(&root)
        .output()
        .expect("run scripts/make-big-root");
    assert!(
        out.status.success(),
        "scripts/make-big-root failed (it needs Debian's mirror the first time):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

fn rpm_va(root: &Path) -> Vec<String> {
    let out = Command::new("rpm")
        .env("LC_ALL", "C")
        .args([
            "-Va",
            "--nodeps",
            "--noscripts",
            "--dbpath",
            "/var/lib/rpm",
            "--root",
        ])
        .arg(root)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn quietwire_va(root: &Path) -> (Vec<String>, Option<i32>) {
    // Packages converted by alien are unsigned (issue 7: unsigned is a finding by default).
    let policy = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        policy.path(),
        "version = 1\n[signatures]\nunsigned_allowed = [\"*\"]\n",
    )
    .unwrap();
    let out = Command::new(support::quietwire_bin())
        .args([
            "check",
            "--owned-only",
            "--no-progress",
            "--format",
            "rpm",
            "--root",
        ])
        .arg(root)
        .arg("--policy")
        .arg(policy.path())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    (lines, out.status.code())
}

#[test]
fn thirty_thousand_real_files_clean_then_one_byte_changed() {
    let root = big_root();
    let db = quietwire::rpmdb::open(&root, None).unwrap();
    let files: usize = db.packages.iter().map(|p| p.files.len()).sum();
    assert!(
        files >= 30_000,
        "only {files} package files in {}",
        root.display()
    );

    let want = rpm_va(&root);
    let (got, code) = quietwire_va(&root);
    assert_lines_eq_sorted("clean big root", &want, &got);
    assert!(got.is_empty(), "a clean root must give no finding: {got:?}");
    assert_eq!(code, Some(0));

    // Pick a regular file of a few KiB and flip one byte, keeping size and mtime.
    let target = db
        .packages
        .iter()
        .flat_map(|p| &p.files)
        .find(|f| {
            f.mode() & 0o170000 == 0o100000
                && (4096..65536).contains(&f.size())
                && !f.path().starts_with("/etc")
        })
        .map(|f| root.join(f.path().strip_prefix("/").unwrap()))
        .expect("a regular file of a few KiB");
    let original = std::fs::read(&target).unwrap();
    let meta = std::fs::metadata(&target).unwrap();
    let mut changed = original.clone();
    changed[100] ^= 0x20;
    support::rewrite_keep_mtime_at(&target, &changed);
    assert_eq!(std::fs::metadata(&target).unwrap().size(), meta.size());

    let want = rpm_va(&root);
    let (got, code) = quietwire_va(&root);
    support::rewrite_keep_mtime_at(&target, &original);
    assert_lines_eq_sorted("one byte changed", &want, &got);
    let rel = format!("/{}", target.strip_prefix(&root).unwrap().display());
    assert_eq!(got, vec![format!("..5......    {rel}")]);
    assert_eq!(code, Some(quietwire::exit::CHANGED as i32));
}
