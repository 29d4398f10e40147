//! `check --deb-archives`: installed md5sums anchored in `.deb` files listed by a signed apt
//! index. Each test builds a local repository: two tiny `.deb`s (dpkg-deb) installed into a
//! `dpkg --root` root, a `Packages` index stored lz4-compressed as Debian 12's apt stores it, an
//! `InRelease` clearsigned by a throwaway key (gpg, temporary GNUPGHOME) whose public key goes
//! into the root's `etc/apt/trusted.gpg.d/`, and the `.deb`s in `var/cache/apt/archives`. Then
//! each link of the chain is broken in turn. Needs dpkg-deb, dpkg and gpg (.ci/run installs
//! gnupg). The last test reads this machine's own apt lists and keys, read-only.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::dpkg::{build_deb, empty_root, install, DebFile};

const LISTS: &str = "var/lib/apt/lists";
const PREFIX: &str = "repo.example_debian_dists_test_";

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// GNUPGHOME of the throwaway key.
    gnupg_dir: tempfile::TempDir,
    gnupg: PathBuf,
    /// Where the .debs were built.
    _build: tempfile::TempDir,
    /// The built packages: (name, version, .deb in the build directory).
    debs: Vec<(String, String, PathBuf)>,
    /// The throwaway key, binary (what `gpg --export` writes: a `.gpg` keyring).
    public_key: Vec<u8>,
}

impl Drop for Repo {
    fn drop(&mut self) {
        // The agent gpg started for this home; nothing else.
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.gnupg_dir.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

impl Repo {
    fn new() -> Repo {
        let tmp = empty_root();
        let root = tmp.path().to_path_buf();
        let build = tempfile::tempdir().unwrap();
        // Short and private: gpg-agent's socket path must fit in a sockaddr_un.
        let gnupg_dir = tempfile::Builder::new().prefix("qwg").tempdir().unwrap();
        let gnupg = gnupg_dir.path().to_path_buf();
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        run(Command::new("gpg").arg("--homedir").arg(&gnupg).args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "quietwire test archive <archive@example.org>",
            "ed25519",
            "sign",
            "never",
        ]));
        let public_key = run(Command::new("gpg").arg("--homedir").arg(&gnupg).args([
            "--batch",
            "--export",
            "archive@example.org",
        ]));
        assert!(!public_key.is_empty());
        let mut debs = Vec::new();
        for (name, version, files) in [
            (
                "qwa",
                "1.0-1",
                vec![
                    DebFile {
                        path: "usr/bin/qwa",
                        content: b"#!/bin/sh\necho a\n",
                        mode: 0o755,
                        conffile: false,
                    },
                    DebFile {
                        path: "usr/share/qwa/data",
                        content: b"data of a\n",
                        mode: 0o644,
                        conffile: false,
                    },
                ],
            ),
            (
                // An epoch: apt writes its `:` as `%3a` in the cached file's name.
                "qwb",
                "2:0.5",
                vec![DebFile {
                    path: "usr/lib/qwb/lib.so",
                    content: b"\x7fELF not really\n",
                    mode: 0o644,
                    conffile: false,
                }],
            ),
        ] {
            let deb = build_deb(build.path(), name, version, &files, true);
            install(&root, &deb);
            debs.push((name.to_string(), version.to_string(), deb));
        }
        let r = Repo {
            _tmp: tmp,
            root,
            gnupg_dir,
            gnupg,
            _build: build,
            debs,
            public_key,
        };
        std::fs::create_dir_all(r.root.join("etc/apt/trusted.gpg.d")).unwrap();
        std::fs::write(
            r.root.join("etc/apt/trusted.gpg.d/test-archive.gpg"),
            &r.public_key,
        )
        .unwrap();
        std::fs::create_dir_all(r.root.join(LISTS)).unwrap();
        std::fs::create_dir_all(r.root.join("var/cache/apt/archives")).unwrap();
        for (name, version, deb) in &r.debs {
            std::fs::copy(deb, r.root.join(r.cache_name(name, version))).unwrap();
        }
        r.write_index(&r.listed());
        r
    }

    /// apt's name for a cached .deb, relative to the root.
    fn cache_name(&self, name: &str, version: &str) -> String {
        format!(
            "var/cache/apt/archives/{name}_{}_all.deb",
            version.replace(':', "%3a")
        )
    }

    /// The Packages stanzas of the built .debs as they are.
    fn listed(&self) -> Vec<(String, String, Vec<u8>)> {
        self.debs
            .iter()
            .map(|(n, v, d)| (n.clone(), v.clone(), std::fs::read(d).unwrap()))
            .collect()
    }

    fn packages_text(listed: &[(String, String, Vec<u8>)]) -> String {
        listed
            .iter()
            .map(|(n, v, bytes)| {
                format!(
                    "Package: {n}\nVersion: {v}\nArchitecture: all\nMaintainer: t <t@example.org>\nFilename: pool/main/{n}.deb\nSize: {}\nSHA256: {}\nDescription: test\n\n",
                    bytes.len(),
                    sha256(bytes)
                )
            })
            .collect()
    }

    /// Write the Packages index (lz4, as apt stores it on Debian 12) for `listed` and an
    /// InRelease vouching for it, signed with the throwaway key.
    fn write_index(&self, listed: &[(String, String, Vec<u8>)]) {
        self.write_index_text(&Self::packages_text(listed));
    }

    /// Write `text` as the Packages index, with an InRelease vouching for it.
    fn write_index_text(&self, text: &str) {
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(text.as_bytes()).unwrap();
        std::fs::write(
            self.root
                .join(LISTS)
                .join(format!("{PREFIX}main_binary-all_Packages.lz4")),
            enc.finish().unwrap(),
        )
        .unwrap();
        let release = format!(
            "Origin: quietwire-test\nSuite: test\nCodename: test\nArchitectures: all\nComponents: main\nSHA256:\n {} {} main/binary-all/Packages\n",
            sha256(text.as_bytes()),
            text.len()
        );
        let plain = self.gnupg.join("Release");
        std::fs::write(&plain, release).unwrap();
        run(Command::new("gpg")
            .arg("--homedir")
            .arg(&self.gnupg)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--local-user",
                "archive@example.org",
                "--clearsign",
                "--output",
            ])
            .arg(self.root.join(LISTS).join(format!("{PREFIX}InRelease")))
            .arg(&plain));
    }

    fn installed_md5sums(&self, name: &str) -> PathBuf {
        self.root.join(format!("var/lib/dpkg/info/{name}.md5sums"))
    }

    /// `check --owned-only --format json --deb-archives ARGS`: the report, stderr, exit code.
    fn check(&self, extra: &[&str]) -> (serde_json::Value, String, i32) {
        let mut args = vec![
            "check",
            "--no-progress",
            "--owned-only",
            "--format",
            "json",
            "--deb-archives",
        ];
        args.extend_from_slice(extra);
        let out = common::qw(&self.root, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        assert!(code < 16, "exit {code}: {stderr}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("JSON report: {e}; stderr: {stderr}"));
        (doc, stderr, code)
    }
}

fn counts(doc: &serde_json::Value) -> (u64, u64, u64) {
    let c = &doc["summary"]["deb_archives"];
    (
        c["anchored"].as_u64().unwrap(),
        c["forged"].as_u64().unwrap(),
        c["unanchored"].as_u64().unwrap(),
    )
}

fn with_rule<'a>(doc: &'a serde_json::Value, rule: &str) -> Vec<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn notes(doc: &serde_json::Value, rule: &str) -> String {
    with_rule(doc, rule)
        .iter()
        .map(|f| f["note"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rewrite the installed file and its md5sums line together, as a trojan hiding from debsums
/// would: the owned check alone then finds nothing.
fn plant_trojan(r: &Repo) {
    let trojan = b"#!/bin/sh\necho owned\n";
    std::fs::write(r.root.join("usr/bin/qwa"), trojan).unwrap();
    let md5 = quietwire::scan::hash::hash_reader(quietwire::pkgdb::DigestAlgo::Md5, &trojan[..])
        .unwrap()
        .to_hex();
    let sums = std::fs::read_to_string(r.installed_md5sums("qwa")).unwrap();
    let forged: String = sums
        .lines()
        .map(|l| match l.ends_with("  usr/bin/qwa") {
            true => format!("{md5}  usr/bin/qwa\n"),
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(sums, forged);
    std::fs::write(r.installed_md5sums("qwa"), forged).unwrap();
}

#[test]
fn clean_repo_anchors_every_package_and_a_forged_md5sums_is_high() {
    let r = Repo::new();
    let (doc, stderr, code) = r.check(&[]);
    assert_eq!(counts(&doc), (2, 0, 0), "{stderr}\n{doc}");
    assert_eq!(code, 0, "{stderr}");
    assert!(with_rule(&doc, "dpkg.md5sums_forged").is_empty());
    assert!(stderr.contains("2 packages' md5sums anchored"), "{stderr}");

    plant_trojan(&r);
    let (doc, stderr, code) = r.check(&[]);
    assert_eq!(counts(&doc), (1, 1, 0), "{stderr}\n{doc}");
    let forged = with_rule(&doc, "dpkg.md5sums_forged");
    assert_eq!(forged.len(), 1, "{doc}");
    assert_eq!(forged[0]["severity"], "high");
    assert_eq!(forged[0]["path"], "/var/lib/dpkg/info/qwa.md5sums");
    let note = forged[0]["note"].as_str().unwrap();
    assert!(note.contains("/usr/bin/qwa"), "{note}");
    assert!(!note.contains("/usr/share/qwa/data"), "{note}");
    // The owned check alone trusts the rewritten md5sums: only the anchor sees the trojan.
    assert!(with_rule(&doc, "owned.changed").is_empty(), "{doc}");
    assert_ne!(code & 8, 0, "untrusted bit: {code}");

    // The text report shows it too; dpkg's own line format cannot, so it is refused.
    let out = common::qw(
        &r.root,
        &["check", "--no-progress", "--owned-only", "--deb-archives"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("untrusted high")
            && l.contains("/var/lib/dpkg/info/qwa.md5sums")
            && l.contains("/usr/bin/qwa")),
        "{text}"
    );
    assert_ne!(out.status.code().unwrap() & 8, 0);
    let out = common::qw(
        &r.root,
        &[
            "check",
            "--owned-only",
            "--format",
            "dpkg",
            "--deb-archives",
        ],
    );
    assert_eq!(out.status.code(), Some(16), "{out:?}");
}

#[test]
fn keys_from_the_command_line_replace_the_roots_keyrings() {
    let r = Repo::new();
    std::fs::remove_file(r.root.join("etc/apt/trusted.gpg.d/test-archive.gpg")).unwrap();
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (0, 0, 2), "{stderr}");
    assert!(
        stderr.contains("signed only by keys not trusted"),
        "{stderr}"
    );
    // Binary, as apt's .gpg keyrings are (rpm's header-key loader would refuse it: on a dpkg
    // root it is not used), and armored.
    let binary = r.gnupg.join("host-key.gpg");
    std::fs::write(&binary, &r.public_key).unwrap();
    let (doc, stderr, _) = r.check(&["--keys", binary.to_str().unwrap()]);
    assert_eq!(counts(&doc), (2, 0, 0), "{stderr}");
    let armored = run(Command::new("gpg").arg("--homedir").arg(&r.gnupg).args([
        "--batch",
        "--armor",
        "--export",
        "archive@example.org",
    ]));
    let host_key = r.gnupg.join("host-key.asc");
    std::fs::write(&host_key, armored).unwrap();
    let (doc, stderr, _) = r.check(&["--keys", host_key.to_str().unwrap()]);
    assert_eq!(counts(&doc), (2, 0, 0), "{stderr}");
    // A key path that is not there is an error, not an empty keyring.
    let out = common::qw(
        &r.root,
        &[
            "check",
            "--owned-only",
            "--deb-archives",
            "--keys",
            "/nonexistent/key.gpg",
        ],
    );
    assert_eq!(out.status.code(), Some(20), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/key.gpg"));
}

#[test]
fn a_broken_chain_is_never_trusted() {
    let r = Repo::new();
    plant_trojan(&r);

    // The signed text altered after signing: the signature no longer verifies.
    let inrelease = r.root.join(LISTS).join(format!("{PREFIX}InRelease"));
    let good = std::fs::read_to_string(&inrelease).unwrap();
    std::fs::write(&inrelease, good.replace("Suite: test", "Suite: tesT")).unwrap();
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (0, 0, 2), "{stderr}");
    assert!(stderr.contains("does not verify"), "{stderr}");
    assert!(
        notes(&doc, "dpkg.md5sums_unanchored").contains("not listed by a verified apt index"),
        "{doc}"
    );
    std::fs::write(&inrelease, &good).unwrap();

    // The Packages index changed after signing (a forged stanza for the trojan's .deb).
    let lz4 = r
        .root
        .join(LISTS)
        .join(format!("{PREFIX}main_binary-all_Packages.lz4"));
    let signed_index = std::fs::read(&lz4).unwrap();
    let mut listed = r.listed();
    listed[0].2.extend_from_slice(b"tampered");
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
    enc.write_all(Repo::packages_text(&listed).as_bytes())
        .unwrap();
    std::fs::write(&lz4, enc.finish().unwrap()).unwrap();
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (0, 0, 2), "{stderr}");
    assert!(stderr.contains("SHA-256 is not the one"), "{stderr}");
    std::fs::write(&lz4, signed_index).unwrap();

    // The cached .deb replaced by one the index does not list (same name, same size).
    let cached = r.root.join(r.cache_name("qwa", "1.0-1"));
    let mut other = std::fs::read(&cached).unwrap();
    let last = other.len() - 1;
    other[last] ^= 0xff;
    std::fs::write(&cached, &other).unwrap();
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (1, 0, 1), "{stderr}");
    assert!(
        notes(&doc, "dpkg.md5sums_unanchored").contains("is not the one the signed index lists"),
        "{doc}"
    );
    assert!(with_rule(&doc, "dpkg.md5sums_forged").is_empty());

    // A FIFO in the .deb's place is never opened (the check would hang on it).
    std::fs::remove_file(&cached).unwrap();
    run(Command::new("mkfifo").arg(&cached));
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (1, 0, 1), "{stderr}");

    // And with everything restored, the trojan is found again.
    std::fs::remove_file(&cached).unwrap();
    std::fs::copy(&r.debs[0].2, &cached).unwrap();
    let (doc, _, _) = r.check(&[]);
    assert_eq!(counts(&doc), (1, 1, 0));
}

/// Make the signed index list `bytes` as qwa's .deb, and put them in the cache.
fn list_hostile_deb(r: &Repo, bytes: Vec<u8>) -> PathBuf {
    let cached = r.root.join(r.cache_name("qwa", "1.0-1"));
    std::fs::write(&cached, &bytes).unwrap();
    let mut listed = r.listed();
    listed[0].2 = bytes;
    r.write_index(&listed);
    cached
}

#[test]
fn hostile_debs_are_error_findings_naming_the_file() {
    let r = Repo::new();
    let good = std::fs::read(&r.debs[0].2).unwrap();

    // Truncated inside the control member.
    list_hostile_deb(&r, good[..100].to_vec());
    let (doc, stderr, code) = r.check(&[]);
    let bad = with_rule(&doc, "dpkg.deb_unreadable");
    assert_eq!(bad.len(), 1, "{stderr}\n{doc}");
    assert_eq!(bad[0]["path"], "/var/cache/apt/archives/qwa_1.0-1_all.deb");
    let note = bad[0]["note"].as_str().unwrap();
    assert!(
        note.contains("qwa_1.0-1_all.deb") && note.contains("truncated"),
        "{note}"
    );
    assert_eq!(counts(&doc), (1, 0, 1));
    assert_ne!(code & 8, 0);

    // A control member claiming 9,999,999,999 bytes.
    let mut huge = b"!<arch>\n".to_vec();
    huge.extend_from_slice(
        format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n2.0\n",
            "debian-binary", 0, 0, 0, "100644", 4
        )
        .as_bytes(),
    );
    huge.extend_from_slice(
        format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            "control.tar.xz", 0, 0, 0, "100644", "9999999999"
        )
        .as_bytes(),
    );
    huge.extend_from_slice(&[0u8; 4096]);
    list_hostile_deb(&r, huge);
    let (doc, stderr, _) = r.check(&[]);
    let note = notes(&doc, "dpkg.deb_unreadable");
    assert!(
        note.contains("control.tar.xz: 9999999999 bytes, more than"),
        "{stderr}\n{note}"
    );

    // Not an archive at all.
    list_hostile_deb(&r, b"<html>404</html>\n".to_vec());
    let (doc, _, _) = r.check(&[]);
    assert!(notes(&doc, "dpkg.deb_unreadable").contains("not an ar archive"));
}

/// A `.deb` the signed index lists with a huge size (a key in the root's own keyrings signs
/// anything): a sparse file of that size holds its first bytes only, and hashing the rest as
/// zeros took minutes per package. Over 4 GiB, or sparse, it is refused unread as an unusable
/// archive; never anchored, never silent.
#[test]
fn huge_or_sparse_debs_are_refused_unread() {
    let r = Repo::new();
    let good = std::fs::read(&r.debs[0].2).unwrap();
    let cached = r.root.join(r.cache_name("qwa", "1.0-1"));
    for (size, reason) in [
        (
            (4u64 << 30) + 1,
            "more than the 4294967296 a .deb is read up to",
        ),
        (1 << 30, "sparse file: "),
    ] {
        // The real archive's bytes first (a valid ar and control member), then holes.
        std::fs::write(&cached, &good).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&cached)
            .unwrap()
            .set_len(size)
            .unwrap();
        let mut listed = r.listed();
        listed.remove(0);
        let mut text = Repo::packages_text(&listed);
        text.push_str(&format!(
            "Package: qwa\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@example.org>\nFilename: pool/main/qwa.deb\nSize: {size}\nSHA256: {}\nDescription: test\n\n",
            "0".repeat(64)
        ));
        r.write_index_text(&text);
        let (doc, stderr, code) = r.check(&[]);
        let bad = with_rule(&doc, "dpkg.deb_unreadable");
        assert_eq!(bad.len(), 1, "{size}: {stderr}\n{doc}");
        assert_eq!(bad[0]["path"], "/var/cache/apt/archives/qwa_1.0-1_all.deb");
        let note = bad[0]["note"].as_str().unwrap();
        assert!(note.contains(reason), "{note}");
        assert_eq!(counts(&doc), (1, 0, 1));
        assert_ne!(code & 8, 0);
    }
}

/// This machine's own apt lists and keys (read-only): each InRelease verifies with the keys of
/// /etc/apt/trusted.gpg.d and each Packages index (lz4 on Debian 12) with its InRelease.
#[test]
fn this_hosts_apt_lists_verify() {
    let lists = Path::new("/").join(LISTS);
    let has_lists = std::fs::read_dir(&lists)
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with("_InRelease"))
        })
        .unwrap_or(false);
    if !has_lists || !Path::new("/var/lib/dpkg/status").is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI: this Debian host has no apt lists (run apt-get update)"
        );
        eprintln!("skipped: no apt lists with InRelease on this host");
        return;
    }
    let db = quietwire::dpkg::DpkgDb::open(Path::new("/")).unwrap();
    let out = quietwire::dpkg::anchor::check(
        Path::new("/"),
        &db,
        None,
        Path::new(quietwire::dpkg::anchor::DEFAULT_ARCHIVES),
        &[],
    )
    .unwrap();
    let inreleases = std::fs::read_dir(&lists)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("_InRelease"))
        .count();
    let indexes = std::fs::read_dir(&lists)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            ["", ".gz", ".xz", ".lz4", ".zst"]
                .iter()
                .any(|ext| n.ends_with(&format!("_Packages{ext}")))
        })
        .count();
    let rejected: Vec<&String> = out
        .warnings
        .iter()
        .filter(|w| w.contains("not trusted"))
        .collect();
    assert!(rejected.is_empty(), "{rejected:#?}");
    assert!(out.keys > 0 && inreleases > 0);
    assert_eq!(out.indexes, indexes, "{:#?}", out.warnings);
    assert_eq!(out.forged, 0, "{:#?}", out.findings);

    // One real package end to end: Debian's own .deb of the installed version (apt-get
    // download into a directory of this root) anchors the installed md5sums.
    let Some((i, p)) = db
        .packages
        .iter()
        .enumerate()
        .find(|(_, p)| p.entry.name == "netbase" && p.md5sums.is_some())
    else {
        eprintln!("skipped the download: netbase is not installed");
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("qw-debarch")
        .tempdir_in("/tmp")
        .unwrap();
    let got = Command::new("apt-get")
        .current_dir(dir.path())
        .args(["download", "-q"])
        .arg(format!("netbase={}", p.entry.version))
        .output();
    if !got.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI: apt-get download netbase failed: {got:?}"
        );
        eprintln!("skipped the download: apt-get download netbase failed: {got:?}");
        return;
    }
    let out =
        quietwire::dpkg::anchor::check(Path::new("/"), &db, Some(&[i]), dir.path(), &[]).unwrap();
    assert_eq!(
        (out.anchored, out.forged, out.unanchored),
        (1, 0, 0),
        "{:#?}",
        out.findings
    );
}

/// The archives directory is taken inside the root: a symlink to an absolute path means that
/// path inside the root, never the host's.
#[test]
fn the_archives_directory_stays_inside_the_root() {
    let r = Repo::new();
    let archives = r.root.join("var/cache/apt/archives");
    let inside = r.root.join("srv/debs");
    std::fs::create_dir_all(r.root.join("srv")).unwrap();
    std::fs::rename(&archives, &inside).unwrap();
    std::os::unix::fs::symlink("/srv/debs", &archives).unwrap();
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (2, 0, 0), "{stderr}");

    // The same .debs in a host directory the link names: not inside the root, so not read.
    let host = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&inside).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), host.path().join(e.file_name())).unwrap();
    }
    std::fs::remove_file(&archives).unwrap();
    std::os::unix::fs::symlink(host.path(), &archives).unwrap();
    let (doc, stderr, _) = r.check(&[]);
    assert_eq!(counts(&doc), (0, 0, 2), "{stderr}");
    // Nor when the directory is named on the command line.
    let shown = host.path().to_str().unwrap().to_string();
    let (doc, _, _) = r.check(&[&shown]);
    assert_eq!(counts(&doc), (0, 0, 2));
}
