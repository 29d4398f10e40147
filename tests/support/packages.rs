//! Builds every `tests/specs/*.spec` with the real `rpmbuild`, once per content hash, into a
//! cache under `$CARGO_TARGET_TMPDIR`. Never installs anything.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::run::run;

/// Keys (spec file stems) of the packages that install together in one root without
/// conflicts: everything except `qw-shared-c` (conflicts with a/b) and `qw-upgrade-2` (the
/// upgrade of `qw-upgrade-1`).
pub const INSTALL_ALL: &[&str] = &[
    "qw-files",
    "qw-special",
    "qw-shared-a",
    "qw-shared-b",
    "qw-md5",
    "qw-sha512",
    "qw-upgrade-1",
];

/// Bump to force a rebuild when the build procedure (not a spec file) changes.
const BUILD_RECIPE: &str = "qw-rpms v1";

/// The built `.rpm` files, by key (the spec file stem, e.g. `qw-upgrade-2`).
#[derive(Debug)]
pub struct Packages {
    dir: PathBuf,
    rpms: BTreeMap<String, PathBuf>,
}

impl Packages {
    /// Path of the built `.rpm` for `key`; panics listing the known keys if there is none.
    #[track_caller]
    pub fn path(&self, key: &str) -> &Path {
        match self.rpms.get(key) {
            Some(p) => p,
            None => panic!(
                "no fixture package {key:?}; known: {:?}",
                self.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// All keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rpms.keys().map(String::as_str)
    }

    /// The directory holding all the built `.rpm` files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `rpm -qp --qf QF` of the package file for `key` (stdout), e.g.
    /// `pkgs.query("qw-md5", "%{FILEDIGESTALGO}")` gives `(none)`.
    #[track_caller]
    pub fn query(&self, key: &str, qf: &str) -> String {
        run(Command::new("rpm")
            .env("LC_ALL", "C")
            .args(["-qp", "--nosignature", "--nodigest", "--qf", qf])
            .arg(self.path(key)))
        .success()
        .stdout_str()
    }
}

fn specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/specs")
}

/// Builds (or finds in the cache) every spec in `tests/specs/` and returns the `.rpm` paths.
/// The first call in a process does the work; later calls return the same value. Panics with
/// rpmbuild's output if a spec fails to build, and if rpm tools or root are missing.
pub fn build_packages() -> &'static Packages {
    static PACKAGES: OnceLock<Packages> = OnceLock::new();
    PACKAGES.get_or_init(build_all)
}

fn build_all() -> Packages {
    super::require_rpm_tools();
    let mut specs: Vec<(String, Vec<u8>)> = fs::read_dir(specs_dir())
        .expect("tests/specs exists")
        .map(|e| e.expect("readable tests/specs").path())
        .filter(|p| p.extension().is_some_and(|x| x == "spec"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, fs::read(&p).expect("readable spec"))
        })
        .collect();
    specs.sort();
    assert!(
        !specs.is_empty(),
        "no spec files in {}",
        specs_dir().display()
    );

    let rpmbuild_version = run(Command::new("rpmbuild").arg("--version"))
        .success()
        .stdout;
    let mut h = Sha256::new();
    h.update(BUILD_RECIPE);
    h.update(&rpmbuild_version);
    for (stem, text) in &specs {
        h.update((stem.len() as u64).to_le_bytes());
        h.update(stem);
        h.update((text.len() as u64).to_le_bytes());
        h.update(text);
    }
    let hash = hex::encode(&h.finalize()[..8]);
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qw-rpms");
    fs::create_dir_all(&cache).expect("create package cache dir");
    let dir = cache.join(&hash);

    if !dir.join("manifest.tsv").is_file() {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("building-{hash}-"))
            .tempdir_in(&cache)
            .expect("temp build dir");
        build_into(tmp.path(), &specs);
        // Publish atomically; if another process won the race, use its copy.
        let tmp_path = tmp.keep();
        if fs::rename(&tmp_path, &dir).is_err() {
            let _ = fs::remove_dir_all(&tmp_path);
            assert!(
                dir.join("manifest.tsv").is_file(),
                "package cache {} is incomplete",
                dir.display()
            );
        }
    }
    load_manifest(&dir)
}

/// Builds every spec in parallel (one `_topdir` each) and writes `rpms/*.rpm` plus
/// `manifest.tsv` (key TAB file name) last, so a directory with a manifest is complete.
fn build_into(out: &Path, specs: &[(String, Vec<u8>)]) {
    let rpms = out.join("rpms");
    fs::create_dir_all(&rpms).unwrap();
    let results: Vec<(String, PathBuf)> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|(stem, _)| {
                let topdir = out.join("build").join(stem);
                // rpmbuild creates a missing `_topdir` component by component and fails
                // with EEXIST when a parallel rpmbuild makes the shared parent first.
                fs::create_dir_all(&topdir).expect("create rpmbuild _topdir");
                let spec = specs_dir().join(format!("{stem}.spec"));
                s.spawn(move || {
                    let o = run(Command::new("rpmbuild")
                        .arg("-bb")
                        .arg("--quiet")
                        .arg("--define")
                        .arg(format!("_topdir {}", topdir.display()))
                        .arg(&spec)
                        .env("LC_ALL", "C")
                        .env_remove("SOURCE_DATE_EPOCH"));
                    let o = o.success();
                    let built = find_rpms(&topdir.join("RPMS"));
                    assert_eq!(
                        built.len(),
                        1,
                        "{} built {} packages, expected exactly one: {built:?}\n{}",
                        spec.display(),
                        built.len(),
                        o.stderr
                    );
                    (stem.clone(), built.into_iter().next().unwrap())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rpmbuild thread panicked"))
            .collect()
    });
    let mut manifest = String::new();
    for (stem, built) in results {
        let name = built.file_name().unwrap();
        fs::rename(&built, rpms.join(name)).expect("move built rpm");
        manifest.push_str(&format!("{stem}\t{}\n", name.to_string_lossy()));
    }
    let _ = fs::remove_dir_all(out.join("build"));
    fs::write(out.join("manifest.tsv"), manifest).unwrap();
}

fn find_rpms(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                found.extend(find_rpms(&p));
            } else if p.extension().is_some_and(|x| x == "rpm") {
                found.push(p);
            }
        }
    }
    found
}

fn load_manifest(dir: &Path) -> Packages {
    let text = fs::read_to_string(dir.join("manifest.tsv")).expect("manifest.tsv");
    let rpms = text
        .lines()
        .map(|l| {
            let (k, f) = l.split_once('\t').expect("manifest line: key TAB file");
            let p = dir.join("rpms").join(f);
            assert!(
                p.is_file(),
                "{} listed in the manifest is missing",
                p.display()
            );
            (k.to_owned(), p)
        })
        .collect();
    Packages {
        dir: dir.join("rpms"),
        rpms,
    }
}
