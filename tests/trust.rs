//! Issue 7, trust anchors, end to end through the binary: fixture packages signed by a test
//! OpenPGP key (RSA and EdDSA, made here with gpg in a throw-away GNUPGHOME, signed with
//! Debian's rpmsign), installed into a test root, then the rpmdb's header blobs edited with
//! rusqlite the way an attacker with root would; and the baseline's digest pin and Ed25519
//! signature.
//!
//! Needs real root, `rpm`/`rpmbuild`/`rpmsign` (Debian package `rpm`) and `gpg` (`gnupg`).

mod support;

use quietwire::rpmdb::blob::HeaderBlob;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{build_packages, require_tool, run_command, TestRoot};

/// Fixture mtime of every file in the test packages.
const FIXTURE_MTIME: i64 = 1_577_836_800;

/// A GNUPGHOME with three signing keys: trusted RSA, trusted EdDSA, and one nobody trusts.
struct Gpg {
    dir: tempfile::TempDir,
}

const RSA: &str = "QW Test RSA <rsa@qw.test>";
const ED: &str = "QW Test Ed <ed@qw.test>";
const ROGUE: &str = "QW Rogue <rogue@qw.test>";

impl Gpg {
    fn new() -> Gpg {
        require_tool("gpg", "gnupg");
        require_tool("rpmsign", "rpm");
        let dir = tempfile::Builder::new()
            .prefix("qw-gpg-")
            .tempdir()
            .unwrap();
        let g = Gpg { dir };
        std::fs::create_dir_all(g.home()).unwrap();
        std::fs::set_permissions(
            g.home(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        for (uid, algo) in [(RSA, "rsa2048"), (ED, "ed25519"), (ROGUE, "rsa2048")] {
            g.gpg(&["--quick-gen-key", uid, algo, "sign", "never"]);
        }
        g
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = run_command(
            Command::new("gpg")
                .env("GNUPGHOME", self.home())
                .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
                .args(args),
        );
        assert_eq!(out.code, 0, "gpg {args:?}: {}", out.stderr);
        out.stdout
    }

    /// Armored public key of `uid`.
    fn export(&self, uid: &str) -> String {
        String::from_utf8(self.gpg(&["--armor", "--export", uid])).unwrap()
    }

    /// Long key id (16 lower-case hex digits) of `uid`'s primary key.
    fn key_id(&self, uid: &str) -> String {
        let out = String::from_utf8(self.gpg(&["--with-colons", "--list-keys", uid])).unwrap();
        let pubs: Vec<&str> = out.lines().filter(|l| l.starts_with("pub:")).collect();
        assert_eq!(pubs.len(), 1, "{out}");
        pubs[0].split(':').nth(4).unwrap().to_ascii_lowercase()
    }

    /// A copy of fixture package `key` signed by `uid` (in this GNUPGHOME's directory).
    fn signed(&self, key: &str, uid: &str) -> PathBuf {
        let src = build_packages().path(key);
        let name = format!(
            "{}-{}",
            uid.split_whitespace().nth(2).unwrap_or("x"),
            src.file_name().unwrap().to_string_lossy()
        );
        let dst = self.dir.path().join(name);
        std::fs::copy(src, &dst).unwrap();
        let out = run_command(
            Command::new("rpmsign")
                .env("GNUPGHOME", self.home())
                .arg("--addsign")
                .arg("--define")
                .arg(format!("_gpg_name {uid}"))
                .arg("--define")
                .arg(format!("_gpg_path {}", self.home().display()))
                .args(["--define", "__gpg /usr/bin/gpg"])
                .args([
                    "--define",
                    "_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback --passphrase ''",
                ])
                .arg(&dst)
                .stdin(std::process::Stdio::null()),
        );
        assert_eq!(out.code, 0, "rpmsign: {}", out.stderr);
        dst
    }

    /// Write the armored keys of `uids`, concatenated (one armor block each), to `file`.
    fn key_file(&self, uids: &[&str], file: &Path) -> PathBuf {
        let text: String = uids.iter().map(|u| self.export(u)).collect();
        std::fs::write(file, text).unwrap();
        file.to_path_buf()
    }
}

fn install_files(root: &TestRoot, rpms: &[&Path]) {
    let mut args = vec!["-i", "--nodeps", "--noscripts", "--nosignature"];
    let paths: Vec<String> = rpms.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    root.rpm(&args).success();
}

fn qw(args: &[&str], root: &TestRoot, extra: &[&str]) -> Output {
    support::qw_cmd(root, args).args(extra).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `quietwire packages --format json` as name → (status, key_id).
fn statuses(root: &TestRoot, extra: &[&str]) -> Vec<(String, String, Option<String>)> {
    let out = qw(&["packages", "--format", "json"], root, extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut list: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["signature"]["status"].as_str().unwrap().to_string(),
                p["signature"]["key_id"].as_str().map(str::to_owned),
            )
        })
        .collect();
    list.sort();
    list
}

fn status_of(list: &[(String, String, Option<String>)], name: &str) -> (String, Option<String>) {
    let (_, s, k) = list
        .iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list:?}"));
    (s.clone(), k.clone())
}

fn json_check(root: &TestRoot, extra: &[&str]) -> (Value, Option<i32>, String) {
    let out = qw(
        &["check", "--owned-only", "--no-progress", "--format", "json"],
        root,
        extra,
    );
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (v, out.status.code(), stderr(&out))
}

fn header_findings(v: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "untrusted")
        .map(|f| {
            (
                f["package_name"].as_str().unwrap().to_string(),
                f["signature"]["status"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[test]
fn statuses_for_rsa_eddsa_unknown_key_unsigned_and_pubkey() {
    let gpg = Gpg::new();
    let root = TestRoot::new();
    install_files(
        &root,
        &[
            &gpg.signed("qw-files", RSA),
            &gpg.signed("qw-md5", ED),
            &gpg.signed("qw-special", ROGUE),
            build_packages().path("qw-sha512"),
        ],
    );
    // The rogue key imported into the rpmdb: listed as a key, and never trusted for that.
    let rogue = gpg.key_file(&[ROGUE], &gpg.dir.path().join("rogue.asc"));
    root.rpm(&["--import", rogue.to_str().unwrap()]).success();

    // One file holding two armored blocks: both keys must be loaded.
    let both = gpg.key_file(&[RSA, ED], &gpg.dir.path().join("both.asc"));
    let list = statuses(&root, &["--keys", both.to_str().unwrap()]);
    assert_eq!(
        status_of(&list, "qw-files"),
        ("signed".into(), Some(gpg.key_id(RSA)))
    );
    assert_eq!(
        status_of(&list, "qw-md5"),
        ("signed".into(), Some(gpg.key_id(ED))),
        "the second armor block of the key file was not loaded"
    );
    assert_eq!(
        status_of(&list, "qw-special"),
        ("unknown-key".into(), Some(gpg.key_id(ROGUE)))
    );
    assert_eq!(status_of(&list, "qw-sha512"), ("unsigned".into(), None));
    assert_eq!(status_of(&list, "gpg-pubkey").0, "pubkey");

    // Only the RSA key: the EdDSA-signed package's key is unknown.
    let rsa = gpg.key_file(&[RSA], &gpg.dir.path().join("rsa.asc"));
    let list = statuses(&root, &["--keys", rsa.to_str().unwrap()]);
    assert_eq!(status_of(&list, "qw-md5").0, "unknown-key");
    assert_eq!(status_of(&list, "qw-files").0, "signed");

    // Default: the vendor key directory of the checked root, one key per file.
    let dir = root.join("/etc/pki/rpm-gpg");
    std::fs::create_dir_all(&dir).unwrap();
    gpg.key_file(&[RSA], &dir.join("RPM-GPG-KEY-qw-rsa"));
    gpg.key_file(&[ED], &dir.join("RPM-GPG-KEY-qw-ed"));
    let default = statuses(&root, &[]);
    assert_eq!(status_of(&default, "qw-files").0, "signed");
    assert_eq!(status_of(&default, "qw-md5").0, "signed");
    assert_eq!(status_of(&default, "qw-special").0, "unknown-key");

    // Plain `packages` stays `rpm -qa`; --signatures adds the columns.
    let plain = qw(&["packages"], &root, &[]);
    let mut got: Vec<String> = String::from_utf8(plain.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut want = root.rpm(&["-qa"]).success().lines();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let cols = qw(&["packages", "--signatures"], &root, &[]);
    let text = String::from_utf8(cols.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("qw-files-1.0-1.noarch\tsigned\t{}", gpg.key_id(RSA))),
        "{text}"
    );

    // check: the untrusted key is high, unsigned medium; exit bit 8; no file findings.
    let (v, code, _) = json_check(&root, &[]);
    assert_eq!(
        header_findings(&v),
        vec![
            t("qw-sha512", "unsigned", "medium"),
            t("qw-special", "unknown-key", "high"),
        ]
    );
    assert_eq!(code, Some(quietwire::exit::UNTRUSTED as i32));
    assert_eq!(v["summary"]["signatures"]["signed"], 2);
    assert_eq!(v["summary"]["signatures"]["pubkey"], 1);

    // Policy: allow-list and required signatures.
    let policy = gpg.dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[signatures]\nunsigned_allowed = [\"qw-sha*\"]\nrequire_signatures = true\n",
    )
    .unwrap();
    let (v, code, _) = json_check(&root, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(
        header_findings(&v),
        vec![t("qw-special", "unknown-key", "critical")]
    );
    assert_eq!(code, Some(quietwire::exit::UNTRUSTED as i32));

    // rpm format: stdout stays rpm -Va's (empty), the header verdicts go to stderr.
    let out = qw(
        &["check", "--owned-only", "--no-progress", "--format", "rpm"],
        &root,
        &[],
    );
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("qw-special-1.0-1.noarch: unknown-key"),
        "{}",
        stderr(&out)
    );
}

/// The sqlite rpmdb's blob of package `name`.
fn db_blob(root: &TestRoot, name: &str) -> (i64, Vec<u8>) {
    let conn = rusqlite::Connection::open(root.join("/var/lib/rpm/rpmdb.sqlite")).unwrap();
    let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap();
    for row in rows {
        let (hnum, blob) = row.unwrap();
        let p = quietwire::rpmdb::Package::from_blob(hnum as u32, &blob).unwrap();
        if p.name == name {
            return (hnum, blob);
        }
    }
    panic!("{name} not in the rpmdb");
}

fn put_blob(root: &TestRoot, hnum: i64, blob: &[u8]) {
    let conn = rusqlite::Connection::open(root.join("/var/lib/rpm/rpmdb.sqlite")).unwrap();
    let n = conn
        .execute(
            "UPDATE Packages SET blob = ?1 WHERE hnum = ?2",
            rusqlite::params![blob, hnum],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn replace_once(hay: &mut [u8], old: &[u8], new: &[u8]) {
    assert_eq!(old.len(), new.len());
    let hits: Vec<usize> = hay
        .windows(old.len())
        .enumerate()
        .filter(|(_, w)| *w == old)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{} occurrences", hits.len());
    hay[hits[0]..hits[0] + old.len()].copy_from_slice(new);
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A root with qw-files signed by the RSA key, and the key file that trusts it.
fn signed_root(gpg: &Gpg) -> (TestRoot, PathBuf) {
    let root = TestRoot::new();
    install_files(&root, &[&gpg.signed("qw-files", RSA)]);
    let keys = gpg.key_file(&[RSA], &gpg.dir.path().join("rsa.asc"));
    let list = statuses(&root, &["--keys", keys.to_str().unwrap()]);
    assert_eq!(status_of(&list, "qw-files").0, "signed");
    (root, keys)
}

/// The attacker's edit: `/opt/qw-files/reg` gets new content of the same size, and its digest
/// in the package header follows, so `rpm -Va` sees nothing.
fn edit_reg_digest(root: &TestRoot, blob: &mut [u8]) {
    let (old, new) = (b"regular\n", b"Regular\n");
    replace_once(blob, sha256_hex(old).as_bytes(), sha256_hex(new).as_bytes());
    let reg = root.join("/opt/qw-files/reg");
    assert_eq!(std::fs::read(&reg).unwrap(), old);
    std::fs::write(&reg, new).unwrap();
    root.set_mtime("/opt/qw-files/reg", FIXTURE_MTIME);
}

#[test]
fn header_digest_edit_is_a_critical_digest_mismatch_that_rpm_va_misses() {
    let gpg = Gpg::new();
    let (root, keys) = signed_root(&gpg);
    let (hnum, mut blob) = db_blob(&root, "qw-files");
    edit_reg_digest(&root, &mut blob);
    put_blob(&root, hnum, &blob);

    let (rpm_lines, rpm_code) = root.rpm_va();
    assert!(rpm_lines.is_empty(), "rpm -Va: {rpm_lines:?}");
    assert_eq!(rpm_code, 0);

    // A visible change too, so a file verdict carries the warning.
    let exec = root.join("/opt/qw-files/exec");
    std::fs::set_permissions(&exec, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();

    let (v, code, _) = json_check(&root, &["--keys", keys.to_str().unwrap()]);
    assert_eq!(
        header_findings(&v),
        vec![t("qw-files", "digest-mismatch", "critical")]
    );
    assert_eq!(
        code,
        Some((quietwire::exit::UNTRUSTED | quietwire::exit::CHANGED) as i32)
    );
    let exec_f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/opt/qw-files/exec")
        .expect("exec finding");
    assert!(
        exec_f["note"]
            .as_str()
            .unwrap_or_default()
            .contains("not trustworthy"),
        "{exec_f:#}"
    );
    let text = qw(
        &["check", "--owned-only", "--no-progress"],
        &root,
        &["--keys", keys.to_str().unwrap()],
    );
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        s.contains("untrusted critical /var/lib/rpm/rpmdb.sqlite [package qw-files-1.0-1.noarch header] (digest-mismatch"),
        "{s}"
    );
    assert!(
        s.lines()
            .any(|l| l.contains("/opt/qw-files/exec") && l.contains("not trustworthy")),
        "{s}"
    );
}

#[test]
fn header_edit_with_recomputed_digests_is_a_bad_signature() {
    let gpg = Gpg::new();
    let (root, keys) = signed_root(&gpg);
    let (hnum, mut blob) = db_blob(&root, "qw-files");
    let (old256, old1) = {
        let h = HeaderBlob::parse(&blob).unwrap();
        let region = h.immutable_region().unwrap();
        (
            sha256_hex(&region),
            hex::encode(sha1::Sha1::digest(&region)),
        )
    };
    edit_reg_digest(&root, &mut blob);
    let region = HeaderBlob::parse(&blob)
        .unwrap()
        .immutable_region()
        .unwrap();
    replace_once(&mut blob, old256.as_bytes(), sha256_hex(&region).as_bytes());
    replace_once(
        &mut blob,
        old1.as_bytes(),
        hex::encode(sha1::Sha1::digest(&region)).as_bytes(),
    );
    put_blob(&root, hnum, &blob);
    assert_eq!(
        HeaderBlob::parse(&blob).unwrap().digest_status().unwrap(),
        quietwire::rpmdb::HeaderDigest::Ok
    );
    let (rpm_lines, _) = root.rpm_va();
    assert!(rpm_lines.is_empty(), "rpm -Va: {rpm_lines:?}");

    let (v, code, _) = json_check(&root, &["--keys", keys.to_str().unwrap()]);
    assert_eq!(
        header_findings(&v),
        vec![t("qw-files", "bad-signature", "critical")]
    );
    assert_eq!(code, Some(quietwire::exit::UNTRUSTED as i32));
}

/// The blob without the entries of `drop` outside the region, re-laid out validly.
fn strip_dribble(blob: &[u8], drop: &[u32]) -> Vec<u8> {
    let h = HeaderBlob::parse(blob).unwrap();
    let r = h.region().unwrap();
    let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;
    let data_start = 8 + 16 * il;
    let data = &blob[data_start..];
    let mut index: Vec<u8> = blob[8..8 + 16 * r.ril as usize].to_vec();
    let mut store: Vec<u8> = data[..r.rdl as usize].to_vec();
    let mut kept = r.ril as usize;
    for e in &h.entries()[r.ril as usize..] {
        if drop.contains(&e.tag) {
            continue;
        }
        let align = match e.ty {
            3 => 2,
            4 => 4,
            5 => 8,
            _ => 1,
        };
        while !store.len().is_multiple_of(align) {
            store.push(0);
        }
        for w in [e.tag, e.ty, store.len() as u32, e.count] {
            index.extend_from_slice(&w.to_be_bytes());
        }
        store.extend_from_slice(&data[e.offset as usize..(e.offset + e.len) as usize]);
        kept += 1;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(kept as u32).to_be_bytes());
    out.extend_from_slice(&(store.len() as u32).to_be_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&store);
    out
}

#[test]
fn stripped_signature_tags_make_the_package_unsigned() {
    let gpg = Gpg::new();
    let (root, keys) = signed_root(&gpg);
    let (hnum, blob) = db_blob(&root, "qw-files");
    let rsa = rpm::IndexTag::RPMTAG_RSAHEADER as u32;
    let dsa = rpm::IndexTag::RPMTAG_DSAHEADER as u32;
    assert!(HeaderBlob::parse(&blob).unwrap().entry(rsa).is_some());
    let stripped = strip_dribble(&blob, &[rsa, dsa]);
    let h = HeaderBlob::parse(&stripped).expect("the stripped blob is valid");
    assert!(h.entry(rsa).is_none() && h.entry(dsa).is_none());
    assert_eq!(
        h.digest_status().unwrap(),
        quietwire::rpmdb::HeaderDigest::Ok
    );
    put_blob(&root, hnum, &stripped);
    assert_eq!(
        root.rpm(&["-qa"]).success().lines(),
        vec!["qw-files-1.0-1.noarch"]
    );

    let (v, code, _) = json_check(&root, &["--keys", keys.to_str().unwrap()]);
    assert_eq!(
        header_findings(&v),
        vec![t("qw-files", "unsigned", "medium")]
    );
    assert_eq!(code, Some(quietwire::exit::UNTRUSTED as i32));
    let policy = gpg.dir.path().join("strict.toml");
    std::fs::write(
        &policy,
        "version = 1\n[signatures]\nrequire_signatures = true\n",
    )
    .unwrap();
    let (v, _, _) = json_check(
        &root,
        &[
            "--keys",
            keys.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(
        header_findings(&v),
        vec![t("qw-files", "unsigned", "critical")]
    );
}

fn baseline_sha_from(stderr_text: &str) -> String {
    stderr_text
        .lines()
        .find_map(|l| l.strip_prefix("quietwire: baseline sha256 "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in {stderr_text}"))
        .to_string()
}

#[test]
fn edited_baseline_fails_the_digest_pin_and_the_signature() {
    let root = TestRoot::new();
    root.install(&["qw-files"]);
    std::fs::create_dir_all(root.join("/usr/local/bin")).unwrap();
    std::fs::write(root.join("/usr/local/bin/tool"), "#!/bin/sh\n").unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let prefix = keydir.path().join("qw");
    let out = Command::new(support::quietwire_bin())
        .args(["keygen", "--out"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (sk, pk) = (keydir.path().join("qw.key"), keydir.path().join("qw.pub"));
    let again = Command::new(support::quietwire_bin())
        .args(["keygen", "--out"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert_ne!(again.status.code(), Some(0), "keygen must not overwrite");

    let init = qw(&["init"], &root, &["--sign-key", sk.to_str().unwrap()]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let digest = baseline_sha_from(&stderr(&init));
    assert!(root.join("/var/lib/quietwire/baseline.sig").is_file());

    let good = [
        "--baseline-digest",
        &digest,
        "--verify-key",
        pk.to_str().unwrap(),
    ];
    let check = |extra: &[&str]| qw(&["check", "--unowned-only", "--no-progress"], &root, extra);
    let out = check(&good);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("baseline sha256 {digest} "))),
        "{text}"
    );
    let json = qw(
        &[
            "check",
            "--unowned-only",
            "--no-progress",
            "--format",
            "json",
        ],
        &root,
        &[],
    );
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["summary"]["baseline_sha256"], digest.as_str());

    // Someone on the host accepts a change without the key: the baseline is valid but new.
    std::fs::write(root.join("/usr/local/bin/tool"), "#!/bin/sh\nevil\n").unwrap();
    let acc = qw(&["accept", "--all"], &root, &[]);
    assert_eq!(acc.status.code(), Some(0), "{}", stderr(&acc));
    let out = check(&["--baseline-digest", &digest]);
    assert_eq!(out.status.code(), Some(quietwire::exit::BASELINE as i32));
    assert!(
        stderr(&out).contains(&format!("not the pinned {digest}")),
        "{}",
        stderr(&out)
    );
    assert!(
        out.stdout.is_empty(),
        "no report from an untrusted baseline"
    );
    let out = check(&["--verify-key", pk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(quietwire::exit::BASELINE as i32));
    assert!(
        stderr(&out).contains("changed after it was signed"),
        "{}",
        stderr(&out)
    );

    // Even with the signature file's digest line rewritten to match, the signature fails.
    let new_digest = baseline_sha_from(&stderr(&acc));
    let sig = root.join("/var/lib/quietwire/baseline.sig");
    let forged = std::fs::read_to_string(&sig)
        .unwrap()
        .replace(&digest, &new_digest);
    std::fs::write(&sig, forged).unwrap();
    let out = check(&["--verify-key", pk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(quietwire::exit::BASELINE as i32));
    assert!(
        stderr(&out).contains("signature does not verify"),
        "{}",
        stderr(&out)
    );

    // The administrator re-signs with the key: checks pass again.
    let acc = qw(
        &["accept", "--all"],
        &root,
        &["--sign-key", sk.to_str().unwrap()],
    );
    assert_eq!(acc.status.code(), Some(0), "{}", stderr(&acc));
    let d2 = baseline_sha_from(&stderr(&acc));
    let out = check(&[
        "--baseline-digest",
        &d2,
        "--verify-key",
        pk.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A root trusting the RSA key through the policy's default key directory (so `init`, which
/// takes no `--keys`, judges headers as `check` does): qw-files signed by it, qw-special by the
/// rogue key, qw-sha512 unsigned.
fn baselined_trust_root(gpg: &Gpg) -> TestRoot {
    let root = TestRoot::new();
    install_files(
        &root,
        &[
            &gpg.signed("qw-files", RSA),
            &gpg.signed("qw-special", ROGUE),
            build_packages().path("qw-sha512"),
        ],
    );
    let dir = root.join("/etc/pki/rpm-gpg");
    std::fs::create_dir_all(&dir).unwrap();
    gpg.key_file(&[RSA], &dir.join("RPM-GPG-KEY-qw-rsa"));
    root
}

#[test]
fn package_trust_is_baselined_state() {
    let gpg = Gpg::new();
    let root = baselined_trust_root(&gpg);
    let init = qw(&["init"], &root, &[]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let said = stderr(&init);
    let sha512 = format!("qw-sha512-1.0-1.{}", std::env::consts::ARCH);
    assert!(
        said.contains(&format!(
            "package {sha512}: unsigned: accepted as trusted state"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "package qw-special-1.0-1.noarch: unknown-key (key {}): accepted as trusted state",
            gpg.key_id(ROGUE)
        )),
        "{said}"
    );
    assert!(!said.contains("qw-files-1.0-1.noarch"), "{said}");

    // Untrusted at the baseline: info, and no exit bit 8 (owned-only and the full check).
    let (v, code, _) = json_check(&root, &[]);
    assert_eq!(
        header_findings(&v),
        vec![
            t("qw-sha512", "unsigned", "info"),
            t("qw-special", "unknown-key", "info"),
        ]
    );
    assert_eq!(code, Some(0), "{v:#}");
    let full = qw(&["check", "--no-progress", "--format", "json"], &root, &[]);
    assert_eq!(
        full.status.code().unwrap_or(-1) & quietwire::exit::UNTRUSTED as i32,
        0,
        "{}",
        String::from_utf8_lossy(&full.stdout)
    );
    // rpm's format: nothing on stdout, and no header line on stderr for an accepted state.
    let rpm = qw(
        &["check", "--owned-only", "--no-progress", "--format", "rpm"],
        &root,
        &[],
    );
    assert!(rpm.stdout.is_empty());
    assert_eq!(rpm.status.code(), Some(0), "{}", stderr(&rpm));
    assert!(!stderr(&rpm).contains("package qw-"), "{}", stderr(&rpm));

    // An unsigned package installed after the baseline: medium, bit 8.
    install_files(&root, &[build_packages().path("qw-md5")]);
    let (v, code, _) = json_check(&root, &[]);
    assert!(
        header_findings(&v).contains(&t("qw-md5", "unsigned", "medium")),
        "{v:#}"
    );
    assert!(header_findings(&v).contains(&t("qw-sha512", "unsigned", "info")));
    assert_eq!(code, Some(quietwire::exit::UNTRUSTED as i32));

    // The dnf hook accepts the new package set: info again, and it names what it accepted.
    let acc = qw(&["accept", "--packages"], &root, &[]);
    assert_eq!(acc.status.code(), Some(0), "{}", stderr(&acc));
    let said = stderr(&acc);
    assert!(
        said.contains("package qw-md5-1.0-1.noarch: unsigned: accepted as trusted state"),
        "{said}"
    );
    assert!(!said.contains("qw-sha512"), "already accepted: {said}");
    let (v, code, _) = json_check(&root, &[]);
    assert!(header_findings(&v).contains(&t("qw-md5", "unsigned", "info")));
    assert_eq!(code, Some(0), "{v:#}");

    // The signed package's header rewritten without its signature, same NEVRA: critical.
    let (hnum, blob) = db_blob(&root, "qw-files");
    let rsa = rpm::IndexTag::RPMTAG_RSAHEADER as u32;
    let dsa = rpm::IndexTag::RPMTAG_DSAHEADER as u32;
    put_blob(&root, hnum, &strip_dribble(&blob, &[rsa, dsa]));
    let (v, code, _) = json_check(&root, &[]);
    assert!(
        header_findings(&v).contains(&t("qw-files", "unsigned", "critical")),
        "{v:#}"
    );
    assert_eq!(code, Some(quietwire::exit::UNTRUSTED as i32));
}

#[test]
fn tampered_header_stays_critical_when_baselined() {
    let gpg = Gpg::new();
    let root = baselined_trust_root(&gpg);
    let init = qw(&["init"], &root, &[]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let (hnum, mut blob) = db_blob(&root, "qw-files");
    edit_reg_digest(&root, &mut blob);
    put_blob(&root, hnum, &blob);
    let (v, code, _) = json_check(&root, &[]);
    assert!(
        header_findings(&v).contains(&t("qw-files", "digest-mismatch", "critical")),
        "{v:#}"
    );
    assert_ne!(code.unwrap_or(0) & quietwire::exit::UNTRUSTED as i32, 0);
}

#[test]
fn baseline_without_recorded_trust_accepts_unchanged_headers() {
    // A baseline written before trust was recorded: the same header is accepted, a new one not.
    let gpg = Gpg::new();
    let root = baselined_trust_root(&gpg);
    let init = qw(&["init"], &root, &[]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let file = root.join("/var/lib/quietwire/baseline");
    let text = std::fs::read(&file).unwrap();
    let old = strip_trust_fields(&text);
    assert_ne!(old, text, "the baseline recorded no trust");
    std::fs::write(&file, &old).unwrap();
    let (v, code, err) = json_check(&root, &[]);
    assert_eq!(
        header_findings(&v),
        vec![
            t("qw-sha512", "unsigned", "info"),
            t("qw-special", "unknown-key", "info"),
        ],
        "{err}"
    );
    assert_eq!(code, Some(0));
}

/// The baseline's bytes without the `trust`/`trust_key` fields of its package snapshot, with
/// its trailer's digest recomputed (as an older quietwire would have written it).
fn strip_trust_fields(text: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(text);
    let body_end = s.trim_end_matches('\n').rfind('\n').unwrap() + 1;
    let (body, trailer) = s.split_at(body_end);
    let re = |s: &str, field: &str| -> String {
        let mut out = String::new();
        let mut rest = s;
        let pat = format!(",\"{field}\":\"");
        while let Some(i) = rest.find(&pat) {
            out.push_str(&rest[..i]);
            let after = &rest[i + pat.len()..];
            let end = after.find('"').unwrap();
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    };
    let body = re(&re(body, "trust_key"), "trust");
    let t: Value = serde_json::from_str(trailer.trim_end()).unwrap();
    format!(
        "{body}{{\"trailer\":{{\"entries\":{},\"sha256\":\"{}\"}}}}\n",
        t["trailer"]["entries"],
        sha256_hex(body.as_bytes())
    )
    .into_bytes()
}
