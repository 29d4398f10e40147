//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod dpkg;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `quietwire` binary built by cargo for this test run.
pub fn quietwire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quietwire"))
}

/// The quietwire binary with `args`, on `root` (`--root` appended): the one way tests run it.
pub fn qw_cmd(root: impl AsRef<Path>, args: &[&str]) -> Command {
    let mut c = Command::new(quietwire_bin());
    c.args(args).arg("--root").arg(root.as_ref());
    c
}

/// Run the quietwire binary with `args` on `root` (`--root` appended).
pub fn qw(root: impl AsRef<Path>, args: &[&str]) -> Output {
    qw_cmd(root, args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", quietwire_bin().display()))
}

/// `../shared/fixtures/rpmdb` next to the repository, or `None` (with a visible message) when this
/// clone has no fixtures. Under `CI=true` a missing fixture folder fails the test instead.
pub fn rpmdb_fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/rpmdb");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "fixture folder {} is missing (required under CI=true)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: fixture folder {} not found; this clone has no ../shared",
        dir.display()
    );
    None
}

/// Whether real `rpm` tooling and root privileges are available; without them a test that needs
/// them fails with a message saying what to install (it does not silently pass).
pub fn require_rpm_tools() {
    for tool in ["rpm", "rpmbuild"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "`{tool}` not found: install Debian's `rpm` package (apt-get install rpm)"
        );
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test builds and installs RPMs into a test root: run it as root"
    );
}

/// The rows of `expected/<rel with / replaced by __>.tsv` (columns: hnum, epoch, name, version,
/// release, arch, sigmd5, blob_len), in database order.
pub fn expected_rows(fixtures: &std::path::Path, rel: &str) -> Vec<Vec<String>> {
    let file = fixtures
        .join("expected")
        .join(format!("{}.tsv", rel.replace('/', "__")));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<String> = l.split('\t').map(str::to_owned).collect();
            assert_eq!(cols.len(), 8, "{}: bad line {l:?}", file.display());
            cols
        })
        .collect()
}

/// `(hnum, blob_len)` of every expected package, in database order.
pub fn expected_hnum_len(fixtures: &std::path::Path, rel: &str) -> Vec<(u32, usize)> {
    expected_rows(fixtures, rel)
        .iter()
        .map(|c| {
            let hnum = c[0]
                .parse()
                .unwrap_or_else(|e| panic!("{rel}: hnum {:?}: {e}", c[0]));
            let len = c[7]
                .parse()
                .unwrap_or_else(|e| panic!("{rel}: blob_len {:?}: {e}", c[7]));
            (hnum, len)
        })
        .collect()
}
