//! Issue 17, fleet use, through the binary on real RPM roots:
//!
//! - point 4: the Ansible role and playbooks of `data/ansible/`, run by the real
//!   `ansible-playbook` (Debian's `ansible-core`) against three local test roots, one inventory
//!   host each (`connection: local`, `quietwire_root`): a clean one, an attacked one and one
//!   with a broken rpmdb. `site.yml` writes the policy and creates the baselines; then
//!   `site.yml check.yml` must not touch them, must fetch each report to the controller and
//!   classify the hosts by exit status. A fourth host, whose policy variable quietwire
//!   rejects, keeps its previous policy file and gets no baseline.
//! - point 5: the man page's loop over mounted images (quietwire(8), EXAMPLES), extracted from
//!   the page and run with `sh`: one report per image, the right exit status per image, and
//!   nothing written into the images.
//!
//! Without `ansible-playbook` the Ansible test prints `SKIPPED`; under `CI=true` it fails.

mod support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{build_packages, quietwire_bin, qw_cmd, run_command, text, TestRoot};

const ANSIBLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/ansible");
const MAN_PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/man/quietwire.8");

/// The policy every root gets: the fixture packages are local builds without a vendor
/// signature, which would otherwise be findings (exit status 8) on every host.
const POLICY: &str = "version = 1\n[signatures]\nunsigned_allowed = [\"qw-*\"]\n";
/// An unclosed table: `quietwire policy` exits with status 19.
const BAD_POLICY: &str = "version = 1\n[signatures\n";

/// Same length as the packaged "regular\n", so only the digest differs (rpm's `..5......`).
const TROJAN: &str = "trojan!\n";
const WEBSHELL: &str = "<?php system($_GET['c']);\n";

fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join(tool).is_file()))
        .map(|d| d.join(tool))
}

/// `ansible-playbook`, or `None` with a visible message; under `CI=true` its absence fails.
fn ansible_playbook() -> Option<PathBuf> {
    if let Some(p) = on_path("ansible-playbook") {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "ansible-playbook not found: install Debian's ansible-core (apt-get install ansible-core); required under CI=true"
    );
    eprintln!("SKIPPED: ansible-playbook not found (apt-get install ansible-core)");
    None
}

fn write(root: &TestRoot, path: &str, content: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

/// A root with qw-files installed and a small web tree (a watched, unowned tree).
fn server(root: TestRoot) -> TestRoot {
    root.install(&["qw-files"]);
    write(&root, "/var/www/html/index.php", "<?php echo 'hello';\n");
    root
}

/// The changed package file (same size and mtime) and the web shell.
fn attack(root: &TestRoot) {
    root.rewrite_keep_mtime("/opt/qw-files/reg", TROJAN);
    write(root, "/var/www/html/shell.php", WEBSHELL);
}

/// Overwrites the sqlite header: quietwire cannot read the rpmdb at all (exit status 17).
fn break_rpmdb(root: &TestRoot) {
    use std::io::{Seek, SeekFrom, Write};
    let p = root.join("/var/lib/rpm/rpmdb.sqlite");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(&[0u8; 100]).unwrap();
}

/// Everything under `dir` (not following symbolic links): relative path → type, mode, owner,
/// size, mtime in nanoseconds, and the SHA-256 of a file's content or a link's target.
fn tree_digest(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let content = if m.is_file() {
                hex(&Sha256::digest(std::fs::read(&p).unwrap()))
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::new()
            };
            out.insert(
                p.strip_prefix(base).unwrap().to_path_buf(),
                format!(
                    "{:o} {}:{} {} {}.{:09} {content}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec()
                ),
            );
            if m.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_file(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `(path, kind)` of every finding of a JSON report, sorted.
fn findings(report: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_owned(),
                f["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `ansible-playbook -f 3 -i INVENTORY ARGS... PLAYBOOKS...` from `ctl` (the controller's
/// directory), with ansible's own temporary files kept there: (stdout + stderr, exit status).
fn run_playbooks(
    ansible: &Path,
    ctl: &Path,
    inventory: &Path,
    args: &[&str],
    playbooks: &[&str],
) -> (String, i32) {
    let mut cmd = Command::new(ansible);
    cmd.current_dir(ctl)
        .env("LC_ALL", "C.UTF-8")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOME", ctl.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", ctl.join("ansible-tmp"))
        .env("ANSIBLE_REMOTE_TEMP", ctl.join("ansible-tmp"))
        .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
        .arg("-f")
        .arg("3")
        .arg("-i")
        .arg(inventory)
        .args(args);
    for p in playbooks {
        cmd.arg(Path::new(ANSIBLE_DIR).join(p));
    }
    let out = run_command(&mut cmd);
    (format!("{}\n{}", out.stdout_str(), out.stderr), out.code)
}

/// The PLAY RECAP line of `host`.
fn recap<'a>(output: &'a str, host: &str) -> &'a str {
    let recap = output
        .rsplit_once("PLAY RECAP")
        .unwrap_or_else(|| panic!("no PLAY RECAP in:\n{output}"))
        .1;
    recap
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .unwrap_or_else(|| panic!("no recap line for {host} in:\n{output}"))
}

#[test]
fn role_sets_up_then_checks_fetches_and_summarises_a_clean_an_attacked_and_a_broken_host() {
    let Some(ansible) = ansible_playbook() else {
        return;
    };
    let _ = build_packages();
    let hosts = ["clean", "attacked", "brokendb"];
    let roots: BTreeMap<&str, TestRoot> = hosts
        .iter()
        .map(|h| (*h, server(TestRoot::new())))
        .collect();
    let ctl = tempfile::Builder::new()
        .prefix("qw-ansible-ctl-")
        .tempdir()
        .unwrap();
    let reports = ctl.path().join("reports");
    let inventory = ctl.path().join("inventory.yml");
    // JSON is YAML: the inventory plugin reads it as a YAML inventory.
    let host_vars: serde_json::Map<String, Value> = roots
        .iter()
        .map(|(h, r)| {
            (
                h.to_string(),
                serde_json::json!({ "quietwire_root": r.path() }),
            )
        })
        .collect();
    // A fourth host whose policy variable quietwire rejects: the role must leave its existing
    // policy file alone and stop before `init`.
    let badpolicy = TestRoot::new();
    badpolicy.install(&["qw-files"]);
    badpolicy.allow_unsigned("\"qw-*\"");
    let badpolicy_before = std::fs::read(badpolicy.join("/etc/quietwire/policy.toml")).unwrap();
    let mut host_vars = host_vars;
    host_vars.insert(
        "badpolicy".to_owned(),
        serde_json::json!({ "quietwire_root": badpolicy.path(), "quietwire_policy": BAD_POLICY }),
    );
    let doc = serde_json::json!({ "all": { "children": { "quietwire": {
        "hosts": host_vars,
        "vars": {
            "ansible_connection": "local",
            "ansible_become": false,
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "quietwire_manage_system": false,
            "quietwire_binary": quietwire_bin(),
            "quietwire_policy": POLICY,
            "quietwire_fetch_dir": reports,
        }
    }}}});
    std::fs::write(&inventory, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    // Set-up: the policy from the variable, then a baseline on every host.
    let (out, code) = run_playbooks(&ansible, ctl.path(), &inventory, &[], &["site.yml"]);
    assert_eq!(code, 2, "site.yml (badpolicy fails):\n{out}");
    assert!(recap(&out, "badpolicy").contains("failed=1"), "{out}");
    assert_eq!(
        std::fs::read(badpolicy.join("/etc/quietwire/policy.toml")).unwrap(),
        badpolicy_before,
        "an invalid policy replaced the previous one:\n{out}"
    );
    assert!(!badpolicy.join("/var/lib/quietwire").exists(), "{out}");
    for (h, root) in &roots {
        assert!(recap(&out, h).contains("failed=0"), "{h}:\n{out}");
        let policy = std::fs::read_to_string(root.join("/etc/quietwire/policy.toml")).unwrap();
        assert!(policy.contains(POLICY), "{h}: policy.toml is\n{policy}");
        assert!(
            root.join("/var/lib/quietwire/baseline").is_file(),
            "{h}: no baseline after site.yml:\n{out}"
        );
    }

    attack(&roots["attacked"]);
    break_rpmdb(&roots["brokendb"]);
    let baselines_before: Vec<_> = roots
        .values()
        .map(|r| tree_digest(&r.join("/var/lib/quietwire")))
        .collect();

    // A second set-up run must not re-create (accept) a baseline; then the check.
    let (out, code) = run_playbooks(
        &ansible,
        ctl.path(),
        &inventory,
        &["--limit", "clean:attacked:brokendb"],
        &["site.yml", "check.yml"],
    );
    // The host with errors is marked failed after the summary (quietwire_fail_on: errors).
    assert_eq!(code, 2, "site.yml check.yml:\n{out}");
    assert!(
        recap(&out, "brokendb").contains("failed=1"),
        "brokendb must fail:\n{out}"
    );
    for h in ["clean", "attacked"] {
        assert!(
            recap(&out, h).contains("failed=0"),
            "{h} must not fail:\n{out}"
        );
    }
    assert!(
        out.contains("quietwire fleet summary: 1 clean, 1 with findings, 1 with errors"),
        "{out}"
    );
    assert!(
        out.contains("brokendb: errors (exit status 17): quietwire: "),
        "{out}"
    );

    let baselines_after: Vec<_> = roots
        .values()
        .map(|r| tree_digest(&r.join("/var/lib/quietwire")))
        .collect();
    assert_eq!(
        baselines_before, baselines_after,
        "a baseline changed during site.yml check.yml"
    );

    // The summary on the controller.
    let summary = json_file(&reports.join("summary.json"));
    let expect = [
        ("clean", "clean", 0),
        ("attacked", "findings", 5),
        ("brokendb", "errors", 17),
    ];
    for (h, status, exit) in expect {
        assert_eq!(summary[h]["status"], status, "{h}: {summary:#}");
        assert_eq!(summary[h]["exit_status"], exit, "{h}: {summary:#}");
    }
    assert!(
        summary["brokendb"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("rpmdb.sqlite: not an rpm database"),
        "{summary:#}"
    );
    assert_eq!(summary["brokendb"]["report"], Value::Null, "{summary:#}");

    // The fetched reports: each host's report, byte for byte, one file per host.
    for h in ["clean", "attacked"] {
        let fetched = reports.join(format!("{h}.json"));
        assert_eq!(summary[h]["report"], fetched.display().to_string());
        let on_host = roots[h].join("/var/log/quietwire/ansible-check.json");
        assert_eq!(
            std::fs::read(&fetched).unwrap_or_else(|e| panic!("{}: {e}", fetched.display())),
            std::fs::read(&on_host).unwrap_or_else(|e| panic!("{}: {e}", on_host.display())),
            "{h}: the fetched report differs from the host's"
        );
    }
    assert_eq!(findings(&json_file(&reports.join("clean.json"))), vec![]);
    let attacked = json_file(&reports.join("attacked.json"));
    assert_eq!(
        findings(&attacked),
        vec![
            ("/opt/qw-files/reg".to_owned(), "changed".to_owned()),
            ("/var/www/html/shell.php".to_owned(), "added".to_owned()),
        ],
        "{attacked:#}"
    );
    let reg = attacked["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/opt/qw-files/reg")
        .unwrap();
    assert_eq!(reg["rpm"], "..5......", "{reg:#}");
    // quietwire writes no report when it cannot read the rpmdb; no stale copy either.
    assert!(!reports.join("brokendb.json").exists());
}

/// The `.EX` block of quietwire(8) that loops over `/mnt/images`, as shell text.
fn man_page_image_loop() -> String {
    let page = std::fs::read_to_string(MAN_PAGE).unwrap();
    let block = page
        .split(".EX\n")
        .filter_map(|b| b.split_once(".EE\n").map(|(ex, _)| ex))
        .find(|ex| ex.contains("find /mnt/images"))
        .expect("quietwire(8) EXAMPLES: no .EX block with `find /mnt/images`");
    // The roff escapes the page uses in examples.
    block
        .replace("\\-", "-")
        .replace("\\(dq", "\"")
        .replace("\\(aq", "'")
        .replace("\\e", "\\")
        .replace("\\&", "")
}

#[test]
fn man_page_loop_over_mounted_images_reports_each_image_and_writes_nothing_into_them() {
    let _ = build_packages();
    let host = tempfile::Builder::new()
        .prefix("qw-images-")
        .tempdir()
        .unwrap();
    let images = host.path().join("mnt/images");
    let baselines = host.path().join("srv/baselines");
    let bin = host.path().join("bin");
    for d in [&images, &baselines, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(quietwire_bin(), bin.join("quietwire")).unwrap();

    let image = |name: &str| {
        let r = server(TestRoot::new_in(&images, name));
        r.allow_unsigned("\"qw-*\"");
        r
    };
    // web1: clean, no baseline (--owned-only). web2: a baseline kept on the host, made while
    // the system was trusted, then the attack. web3: broken rpmdb. "web 4": no baseline and a
    // trojaned package file (a space in the name: the loop must quote).
    let web1 = image("web1");
    let web2 = image("web2");
    let baseline_arg = format!("--baseline={}", baselines.join("web2").display());
    let out = qw_cmd(&web2, &["init", &baseline_arg]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    attack(&web2);
    let web3 = image("web3");
    break_rpmdb(&web3);
    let web4 = image("web 4");
    web4.rewrite_keep_mtime("/opt/qw-files/reg", TROJAN);

    // The page's text, before the paths are made the test's: clean under shellcheck (POSIX sh).
    let page_script = host.path().join("image-loop.sh");
    std::fs::write(&page_script, man_page_image_loop()).unwrap();
    if on_path("shellcheck").is_some() {
        let sc = run_command(
            Command::new("shellcheck")
                .arg("-s")
                .arg("sh")
                .arg(&page_script),
        );
        assert_eq!(sc.code, 0, "shellcheck:\n{}", sc.stdout_str());
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "shellcheck not found: apt-get install shellcheck (required under CI=true)"
        );
        eprintln!("SKIPPED: shellcheck of the man page's loop (apt-get install shellcheck)");
    }

    let before = tree_digest(&images);
    let baseline_before = tree_digest(&baselines);
    let script = man_page_image_loop()
        .replace("/mnt/images", &images.display().to_string())
        .replace("/srv/", &format!("{}/srv/", host.path().display()));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run_command(Command::new("sh").arg("-c").arg(&script).env("PATH", path));
    assert_eq!(out.code, 0, "{script}\n{}", out.stderr);
    let mut lines = out.lines();
    lines.sort();
    assert_eq!(
        lines,
        [
            "web 4: exit status 4",
            "web1: exit status 0",
            "web2: exit status 5",
            "web3: exit status 17",
        ],
        "{script}\n{}",
        out.stderr
    );

    let reports = host.path().join("srv/reports");
    assert_eq!(
        std::fs::metadata(&reports).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(findings(&json_file(&reports.join("web1.json"))), vec![]);
    assert_eq!(
        findings(&json_file(&reports.join("web2.json"))),
        vec![
            ("/opt/qw-files/reg".to_owned(), "changed".to_owned()),
            ("/var/www/html/shell.php".to_owned(), "added".to_owned()),
        ]
    );
    // --owned-only: rpm's verdict only, the unowned tree is not compared.
    assert_eq!(
        findings(&json_file(&reports.join("web 4.json"))),
        vec![("/opt/qw-files/reg".to_owned(), "changed".to_owned())]
    );
    assert!(!reports.join("web3.json").exists());
    let web3_txt = std::fs::read_to_string(reports.join("web3.txt")).unwrap();
    assert!(
        web3_txt.contains("rpmdb.sqlite: not an rpm database"),
        "web3.txt: {web3_txt}"
    );

    assert_eq!(before, tree_digest(&images), "the loop wrote into an image");
    assert_eq!(
        baseline_before,
        tree_digest(&baselines),
        "a baseline changed"
    );
    drop((web1, web2, web3, web4));
}
