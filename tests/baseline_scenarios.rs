//! The baseline on a server-like tree in a temporary root: quiet events give no finding above
//! `info`, loud events are reported with the right kind, attributes and severity. No rpm needed:
//! package ownership comes from an `OwnedIndex` built here.

use quietwire::baseline::{self, BaselineError, Finding, Kind, Selection};
use quietwire::pkgdb::{OwnedFile, OwnedIndex, OwnedReason, PackageSnapshot};
use quietwire::policy::{Policy, Severity};
use quietwire::rpmdb::DigestAlgo;
use sha2::Digest;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

const SETUP: &str = "setup-2.13.7-10.el9.noarch";
const SSHD: &str = "openssh-server-8.7p1-38.el9.x86_64";

/// A temporary root shaped like a RHEL web server.
struct Server {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    policy: Policy,
    owned: OwnedIndex,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

impl Server {
    fn new() -> Server {
        Server::with_policy(Policy::builtin().unwrap())
    }

    fn with_policy(policy: Policy) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let s = Server {
            root,
            _tmp: tmp,
            policy,
            owned: OwnedIndex::new(),
        };
        for d in [
            "etc/ssh",
            "etc/cron.d",
            "usr/bin",
            "usr/local/bin",
            "usr/share/doc/x",
            "var/log/sa",
            "var/lib/quietwire",
            "var/www/html/wp-content/uploads/2024/01",
            "var/www/html/wp-content/plugins/akismet",
            "root",
            "home/alice",
            "run/lock/subsys",
            "tmp",
            "var/tmp",
        ] {
            fs::create_dir_all(s.root.join(d)).unwrap();
        }
        symlink("../run", s.root.join("var/run")).unwrap();
        symlink("../run/lock", s.root.join("var/lock")).unwrap();
        let mut s = s;
        s.write("etc/hosts", "127.0.0.1 localhost\n");
        s.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        s.write("etc/shadow", "root:!!:19000::::::\n");
        s.write("etc/myapp.conf", "port = 80\n");
        s.write("etc/ssh/sshd_config", "PermitRootLogin no\n");
        s.write("etc/ld.so.cache", "cache v1");
        s.write("usr/bin/ls", "ELF ls");
        s.write("usr/local/bin/tool", "#!/bin/sh\necho tool\n");
        symlink("tool", s.root.join("usr/local/bin/link")).unwrap();
        s.write("var/log/messages", "Jan 1 boot\nJan 1 up\n");
        s.write("var/log/secure", "Jan 1 sshd: accepted\n");
        s.write("var/log/sa/sa01", "sysstat day 1");
        s.write(
            "var/www/html/index.php",
            "<?php require 'wp-blog-header.php';\n",
        );
        s.write(
            "var/www/html/wp-config.php",
            "<?php define('DB_PASSWORD', 'x');\n",
        );
        s.write("var/www/html/readme.html", "<html>WordPress</html>\n");
        s.write(
            "var/www/html/wp-content/uploads/2024/01/cat.jpg",
            "JFIF cat",
        );
        s.write(
            "var/www/html/wp-content/plugins/akismet/akismet.php",
            "<?php // akismet\n",
        );
        s.write("root/.bashrc", "alias ll='ls -l'\n");
        s.write("root/.viminfo", "# viminfo v1\n");
        s.write("run/httpd.pid", "1234\n");
        // rpm ownership: setup ships passwd/shadow as %config(noreplace) %verify(not md5 size
        // mtime); openssh-server ships sshd_config as %config(noreplace) with a digest; glibc's
        // ld.so.cache is %ghost; coreutils' ls is a plain file.
        let no_md5_size_mtime = !(1u32 | 2 | 32);
        s.own("/etc/passwd", SETUP, 1 | (1 << 4), no_md5_size_mtime, "");
        s.own("/etc/shadow", SETUP, 1 | (1 << 4), no_md5_size_mtime, "");
        let d = sha256_hex(b"PermitRootLogin no\n");
        s.own("/etc/ssh/sshd_config", SSHD, 1 | (1 << 4), u32::MAX, &d);
        s.own(
            "/etc/ld.so.cache",
            "glibc-2.34-100.el9.x86_64",
            1 << 6,
            u32::MAX,
            "",
        );
        let d = sha256_hex(b"ELF ls");
        s.own(
            "/usr/bin/ls",
            "coreutils-8.32-35.el9.x86_64",
            0,
            u32::MAX,
            &d,
        );
        for dir in ["/etc", "/usr", "/usr/bin", "/etc/ssh"] {
            s.own(dir, "filesystem-3.16-2.el9.x86_64", 0, u32::MAX, "");
        }
        s
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn write(&self, rel: &str, content: &str) {
        fs::write(self.p(rel), content).unwrap();
    }

    fn append(&self, rel: &str, content: &str) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.p(rel))
            .unwrap();
        f.write_all(content.as_bytes()).unwrap();
    }

    fn own(&mut self, path: &str, nevra: &str, flags: u32, vflags: u32, digest: &str) {
        self.owned.insert(
            PathBuf::from(path),
            OwnedFile {
                nevra: nevra.into(),
                digest: digest.into(),
                algo: DigestAlgo::Sha256,
                // What the rpm source derives from these rpm flags (rpmdb::db::owned_reason).
                reason: if flags & (1 << 6) != 0 {
                    Some(OwnedReason::Ghost)
                } else if vflags & 1 == 0 {
                    Some(OwnedReason::NoDigestVerify)
                } else if flags & 1 != 0 {
                    Some(OwnedReason::Config)
                } else {
                    None
                },
            },
        );
    }

    fn baseline_file(&self) -> PathBuf {
        baseline::default_location(&self.root).unwrap()
    }

    fn init(&self) -> baseline::InitStats {
        baseline::init(
            &self.root,
            &self.policy,
            &self.owned,
            &snapshot(),
            &self.baseline_file(),
            false,
        )
        .unwrap()
    }

    fn check(&self) -> Vec<Finding> {
        baseline::compare(&self.root, &self.policy, &self.owned, &self.baseline_file())
            .unwrap()
            .findings
    }

    fn accept(&self, sel: Selection) -> baseline::AcceptStats {
        baseline::accept(
            &self.root,
            &self.policy,
            &self.owned,
            &snapshot(),
            &self.baseline_file(),
            &sel,
        )
        .unwrap()
    }
}

fn snapshot() -> Vec<PackageSnapshot> {
    vec![PackageSnapshot {
        nevra: SETUP.into(),
        install_tid: Some(1_700_000_000),
        sha256_header: Some("ab".repeat(32)),
        trust: None,
        trust_key: None,
    }]
}

fn show(fs: &[Finding]) -> String {
    fs.iter()
        .map(|f| {
            format!(
                "{:?} {} [{}] {} rule={:?} pkg={:?} note={:?}",
                f.kind,
                f.fs_path().display(),
                f.change_names().join(","),
                f.severity,
                f.policy_rule(),
                f.package(),
                f.note
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Findings above `info`: what "quiet" must leave empty.
fn loud(fs: &[Finding]) -> Vec<&Finding> {
    fs.iter().filter(|f| f.severity > Severity::Info).collect()
}

fn assert_quiet(s: &Server) {
    let fs = s.check();
    assert!(loud(&fs).is_empty(), "expected quiet, got:\n{}", show(&fs));
}

/// The single finding for `path`, checked for kind, changed attributes and severity.
fn expect(fs: &[Finding], path: &str, kind: Kind, changes: &[&str], severity: Severity) -> Finding {
    let hits: Vec<&Finding> = fs
        .iter()
        .filter(|f| f.fs_path() == Path::new(path))
        .collect();
    assert_eq!(hits.len(), 1, "one finding for {path}, got:\n{}", show(fs));
    let f = hits[0];
    assert_eq!(f.kind, kind, "{}", show(fs));
    // mtime has one-second resolution: a test edit may or may not land in a new second.
    let mut got: Vec<&str> = f
        .change_names()
        .into_iter()
        .filter(|c| *c != "mtime")
        .collect();
    got.sort_unstable();
    let mut want: Vec<&str> = changes.iter().copied().filter(|c| *c != "mtime").collect();
    want.sort_unstable();
    assert_eq!(got, want, "changes of {path}:\n{}", show(fs));
    assert_eq!(f.severity, severity, "severity of {path}:\n{}", show(fs));
    f.clone()
}

#[test]
fn fresh_baseline_is_quiet_and_records_what_it_should() {
    let s = Server::new();
    let stats = s.init();
    assert!(stats.issues.is_empty(), "{:?}", stats.issues);
    assert!(s.check().is_empty(), "{}", show(&s.check()));
    let text = fs::read_to_string(s.baseline_file()).unwrap();
    let has = |p: &str| text.contains(&format!("{{\"path\":\"{p}\","));
    // Unowned files are recorded, owned ones rpm vouches for are not, owned ones it does not
    // vouch for are, with package and reason.
    assert!(has("/etc/hosts") && has("/usr/local/bin/tool") && has("/var/www/html/index.php"));
    assert!(!has("/usr/bin/ls") && !has("/usr/bin") && !has("/etc"));
    assert!(has("/etc/passwd") && text.contains("\"reason\":\"no-digest-verify\""));
    assert!(has("/etc/ld.so.cache") && text.contains("\"reason\":\"ghost\""));
    assert!(has("/etc/ssh/sshd_config") && text.contains("\"reason\":\"config\""));
    // Volatile trees are never recorded.
    let entries: String = text.lines().skip(1).collect();
    assert!(
        !entries.contains("\"/run") && !entries.contains("\"/tmp"),
        "{entries}"
    );
    // Logs are recorded and hashed: their family check follows contents.
    let messages = text
        .lines()
        .find(|l| l.contains("\"/var/log/messages\""))
        .unwrap();
    assert!(messages.contains("sha256"), "{messages}");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let s = Server::new();
    s.init();
    let e =
        baseline::init(&s.root, &s.policy, &s.owned, &[], &s.baseline_file(), false).unwrap_err();
    assert!(matches!(e, BaselineError::Exists { .. }), "{e}");
    assert!(e.to_string().contains("--force"));
    baseline::init(&s.root, &s.policy, &s.owned, &[], &s.baseline_file(), true).unwrap();
    assert!(baseline::format::prev_path(&s.baseline_file()).is_file());
}

#[test]
fn missing_baseline_is_a_distinguishable_error() {
    let s = Server::new();
    let e = baseline::compare(&s.root, &s.policy, &s.owned, &s.baseline_file()).unwrap_err();
    assert!(matches!(e, BaselineError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("quietwire init"), "{e}");
}

#[test]
fn quiet_daemon_restart() {
    // Watch the whole root so that only the volatile rules keep /run, /var/run, /var/lock quiet.
    let policy = Policy::from_override_str("t", "version = 1\nwatch = [\"/\"]\n").unwrap();
    let s = Server::with_policy(policy);
    s.init();
    s.write("run/httpd.pid", "5678\n");
    s.write("run/lock/subsys/httpd", "");
    s.write("run/sshd.pid", "99\n");
    s.write("tmp/sess_abc", "x");
    fs::remove_file(s.p("run/httpd.pid")).unwrap();
    assert_quiet(&s);
    assert!(s.check().is_empty(), "{}", show(&s.check()));
}

#[test]
fn quiet_log_rotation_and_growth() {
    let s = Server::new();
    s.init();
    // Growth.
    s.append("var/log/secure", "Jan 2 sshd: accepted\n");
    s.append("var/log/messages", "Jan 1 more\n");
    // Rotation by rename, then compression of the rotated file with a date extension.
    fs::rename(s.p("var/log/messages"), s.p("var/log/messages-20240102")).unwrap();
    s.write("var/log/messages", "Jan 2 new\n");
    // Really gzip'd: bytes that do not decompress are themselves reported since an archive
    // that cannot be read could otherwise hide what vanished from the live log.
    let old = fs::read(s.p("var/log/messages-20240102")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &old).unwrap();
    fs::write(s.p("var/log/messages-20240102.gz"), gz.finish().unwrap()).unwrap();
    fs::remove_file(s.p("var/log/messages-20240102")).unwrap();
    // sysstat: a new day appears, an old one expires.
    s.write("var/log/sa/sa02", "sysstat day 2");
    s.write("var/log/sa/sar02", "report day 2");
    fs::remove_file(s.p("var/log/sa/sa01")).unwrap();
    assert!(s.check().is_empty(), "{}", show(&s.check()));
}

#[test]
fn quiet_vim_as_root_and_shell_history() {
    let s = Server::new();
    s.init();
    // vim writes .viminfo through a temporary file and a rename.
    s.write("root/.viminfo.tmp", "# viminfo v2\n'0 1 0 /etc/hosts\n");
    fs::rename(s.p("root/.viminfo.tmp"), s.p("root/.viminfo")).unwrap();
    s.write("root/.bash_history", "vim /etc/hosts\n");
    s.write("home/alice/.lesshst", ".less-history-file:\n");
    assert!(s.check().is_empty(), "{}", show(&s.check()));
}

#[test]
fn quiet_package_update() {
    let mut s = Server::new();
    s.init();
    // glibc update: new ld.so.cache (%ghost, class generated); coreutils update: new ls (owned,
    // verified by rpm, not ours); openssh update replaces an unmodified sshd_config with the
    // new package's version; a new package installs files and a %config file; an .rpmnew.
    s.write("etc/ld.so.cache", "cache v2 bigger");
    s.write("usr/bin/ls", "ELF ls v2");
    s.own_update("/usr/bin/ls", "coreutils-8.32-36.el9.x86_64", "ELF ls v2");
    s.write("etc/ssh/sshd_config", "PermitRootLogin no\nNew default\n");
    s.own_update(
        "/etc/ssh/sshd_config",
        "openssh-server-8.7p1-40.el9.x86_64",
        "PermitRootLogin no\nNew default\n",
    );
    s.write("usr/bin/htop", "ELF htop");
    s.own_new("/usr/bin/htop", "htop-3.2.1-1.el9.x86_64", 0, "ELF htop");
    fs::create_dir_all(s.p("etc/htop")).unwrap();
    s.write("etc/htop/htoprc", "fields=0 48\n");
    s.own_new(
        "/etc/htop/htoprc",
        "htop-3.2.1-1.el9.x86_64",
        1,
        "fields=0 48\n",
    );
    s.own_new("/etc/htop", "htop-3.2.1-1.el9.x86_64", 0, "");
    s.write("etc/myapp.conf.rpmnew", "port = 8080\n");
    assert_quiet(&s);
}

impl Server {
    fn own_update(&mut self, path: &str, nevra: &str, content: &str) {
        let mut f = self.owned.get(Path::new(path)).unwrap().clone();
        f.nevra = nevra.into();
        f.digest = sha256_hex(content.as_bytes());
        let mut idx = OwnedIndex::new();
        idx.insert(PathBuf::from(path), f);
        for (p, o) in self.owned.iter() {
            idx.insert(p.to_path_buf(), o.clone());
        }
        self.owned = idx;
    }

    fn own_new(&mut self, path: &str, nevra: &str, flags: u32, content: &str) {
        let digest = if content.is_empty() {
            String::new()
        } else {
            sha256_hex(content.as_bytes())
        };
        self.own(path, nevra, flags, u32::MAX, &digest);
    }
}

#[test]
fn loud_wordpress_events() {
    let s = Server::new();
    s.init();
    s.append("var/www/html/index.php", "eval($_POST['x']);\n");
    s.write(
        "var/www/html/wp-config.php",
        "<?php define('DB_PASSWORD', 'pwned');\n",
    );
    s.write(
        "var/www/html/wp-content/uploads/2024/01/shell.php",
        "<?php system($_GET['c']);",
    );
    s.write("var/www/html/wp-content/uploads/2024/01/x.PhTmL", "<?php");
    s.write(
        "var/www/html/wp-content/uploads/.htaccess",
        "AddHandler php .jpg\n",
    );
    s.write("var/www/html/wp-content/uploads/2024/01/dog.png", "PNG dog");
    let fs = s.check();
    let f = expect(
        &fs,
        "/var/www/html/index.php",
        Kind::Changed,
        &["digest", "size"],
        Severity::High,
    );
    assert_eq!(f.policy_rule().unwrap(), "web-executable");
    expect(
        &fs,
        "/var/www/html/wp-config.php",
        Kind::Changed,
        &["digest", "size"],
        Severity::High,
    );
    let up = "/var/www/html/wp-content/uploads";
    expect(
        &fs,
        &format!("{up}/2024/01/shell.php"),
        Kind::Added,
        &[],
        Severity::High,
    );
    expect(
        &fs,
        &format!("{up}/2024/01/x.PhTmL"),
        Kind::Added,
        &[],
        Severity::High,
    );
    expect(
        &fs,
        &format!("{up}/.htaccess"),
        Kind::Added,
        &[],
        Severity::High,
    );
    let f = expect(
        &fs,
        &format!("{up}/2024/01/dog.png"),
        Kind::Added,
        &[],
        Severity::Low,
    );
    assert_eq!(f.policy_rule().unwrap(), "wordpress-uploads");
    // The directory's mtime changed too, but directory mtimes are never reported.
    assert_eq!(fs.len(), 6, "{}", show(&fs));
}

#[test]
fn loud_system_events() {
    let s = Server::new();
    s.init();
    // A binary dropped into /usr/bin that no package owns; a cron job; a setuid file.
    s.write("usr/bin/sshd-helper", "ELF backdoor");
    s.write("etc/cron.d/0anacron2", "* * * * * root /tmp/x\n");
    s.write("usr/local/bin/rootme", "ELF");
    fs::set_permissions(
        s.p("usr/local/bin/rootme"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    // Existing unowned files: setgid added, owner changed, mode changed, symlink retargeted,
    // file replaced by a symlink.
    fs::set_permissions(
        s.p("usr/local/bin/tool"),
        fs::Permissions::from_mode(0o2755),
    )
    .unwrap();
    std::os::unix::fs::lchown(s.p("etc/myapp.conf"), Some(1000), None).unwrap();
    fs::set_permissions(s.p("root/.bashrc"), fs::Permissions::from_mode(0o666)).unwrap();
    fs::remove_file(s.p("usr/local/bin/link")).unwrap();
    symlink("/tmp/evil", s.p("usr/local/bin/link")).unwrap();
    fs::remove_file(s.p("etc/hosts")).unwrap();
    symlink("/tmp/hosts", s.p("etc/hosts")).unwrap();
    // Lines added to /etc/passwd (owned by setup, rpm ignores its content) and /etc/shadow.
    s.append("etc/passwd", "toor:x:0:0::/root:/bin/bash\n");
    s.append("etc/shadow", "toor:$6$x:19000::::::\n");
    let fs = s.check();
    expect(
        &fs,
        "/usr/bin/sshd-helper",
        Kind::Added,
        &[],
        Severity::High,
    );
    expect(
        &fs,
        "/etc/cron.d/0anacron2",
        Kind::Added,
        &[],
        Severity::High,
    );
    let f = expect(
        &fs,
        "/usr/local/bin/rootme",
        Kind::Added,
        &[],
        Severity::High,
    );
    assert!(f.note.unwrap().contains("setuid"));
    let f = expect(
        &fs,
        "/usr/local/bin/tool",
        Kind::Changed,
        &["mode"],
        Severity::High,
    );
    assert!(f.note.unwrap().contains("setuid"));
    let f = expect(
        &fs,
        "/etc/myapp.conf",
        Kind::Changed,
        &["user"],
        Severity::High,
    );
    assert_eq!(f.changes[0].expected, baseline::Value::Int(0));
    assert_eq!(f.changes[0].actual, baseline::Value::Int(1000));
    expect(
        &fs,
        "/root/.bashrc",
        Kind::Changed,
        &["mode"],
        Severity::High,
    );
    let f = expect(
        &fs,
        "/usr/local/bin/link",
        Kind::Changed,
        &["link"],
        Severity::High,
    );
    assert_eq!(
        f.changes[0].actual,
        baseline::Value::Bytes(b"/tmp/evil".to_vec())
    );
    expect(
        &fs,
        "/etc/hosts",
        Kind::Changed,
        &["type", "mode"],
        Severity::High,
    );
    let f = expect(
        &fs,
        "/etc/passwd",
        Kind::Changed,
        &["digest", "size", "mtime"],
        Severity::High,
    );
    assert_eq!(f.package(), Some(SETUP));
    assert!(f
        .note
        .as_deref()
        .unwrap()
        .contains("rpm does not verify its content"));
    assert_eq!(f.policy_rule().unwrap(), "credentials");
    let f = expect(
        &fs,
        "/etc/shadow",
        Kind::Changed,
        &["digest", "size", "mtime"],
        Severity::High,
    );
    assert_eq!(f.package(), Some(SETUP));
}

#[test]
fn unowned_passwd_line_is_loud_too() {
    let mut s = Server::new();
    s.owned = OwnedIndex::new();
    s.init();
    s.append("etc/passwd", "toor:x:0:0::/root:/bin/bash\n");
    let fs = s.check();
    let f = expect(
        &fs,
        "/etc/passwd",
        Kind::Changed,
        &["digest", "size", "mtime"],
        Severity::High,
    );
    assert_eq!(f.package(), None);
}

#[test]
fn loud_log_tampering() {
    let s = Server::new();
    s.init();
    // Truncated without rotation (covering tracks), replaced without rotation, owner changed.
    s.write("var/log/secure", "");
    // Replaced through a rename so that the new file certainly has a new inode.
    s.write("var/log/messages.new", "Jan 1 boot\nJan 1 up\nforged\n");
    fs::rename(s.p("var/log/messages.new"), s.p("var/log/messages")).unwrap();
    std::os::unix::fs::lchown(s.p("var/log/sa/sa01"), Some(48), None).unwrap();
    // A history file whose mode changes is reported even though its content is not.
    fs::set_permissions(s.p("root/.viminfo"), fs::Permissions::from_mode(0o666)).unwrap();
    let fs = s.check();
    let f = expect(
        &fs,
        "/var/log/secure",
        Kind::Changed,
        &["size"],
        Severity::Medium,
    );
    assert!(f.note.unwrap().contains("shrank"));
    let f = expect(
        &fs,
        "/var/log/messages",
        Kind::Changed,
        &["inode"],
        Severity::Medium,
    );
    assert!(f.note.unwrap().contains("replaced"));
    expect(
        &fs,
        "/var/log/sa/sa01",
        Kind::Changed,
        &["user"],
        Severity::High,
    );
    expect(
        &fs,
        "/root/.viminfo",
        Kind::Changed,
        &["mode"],
        Severity::Medium,
    );
}

#[test]
fn removed_unowned_file_and_missing_owned_file() {
    let s = Server::new();
    s.init();
    fs::remove_file(s.p("usr/local/bin/tool")).unwrap();
    fs::remove_file(s.p("etc/shadow")).unwrap();
    let fs = s.check();
    expect(
        &fs,
        "/usr/local/bin/tool",
        Kind::Removed,
        &[],
        Severity::Medium,
    );
    let f = expect(&fs, "/etc/shadow", Kind::Missing, &[], Severity::High);
    assert_eq!(f.package(), Some(SETUP));
}

#[test]
fn accepted_config_edit_stays_quiet_until_it_changes_again() {
    let s = Server::new();
    s.init();
    s.write("etc/ssh/sshd_config", "PermitRootLogin yes\n");
    let fs = s.check();
    let f = expect(
        &fs,
        "/etc/ssh/sshd_config",
        Kind::Changed,
        &["digest", "size", "mtime"],
        Severity::High,
    );
    assert_eq!(f.package(), Some(SSHD));
    assert!(f.note.unwrap().contains("%config"));
    let st = s.accept(Selection::Patterns(vec!["/etc/ssh/sshd_config".into()]));
    assert_eq!((st.updated, st.added, st.removed), (1, 0, 0));
    assert!(st.unmatched.is_empty());
    let out = baseline::compare(&s.root, &s.policy, &s.owned, &s.baseline_file()).unwrap();
    assert!(out.findings.is_empty(), "{}", show(&out.findings));
    // The lead shows rpm's "S.5....T. c" for it as info: the baseline holds this state.
    assert!(out
        .owned_unchanged
        .contains(&PathBuf::from("/etc/ssh/sshd_config")));
    s.append("etc/ssh/sshd_config", "PasswordAuthentication yes\n");
    assert_eq!(s.check().len(), 1);
}

#[test]
fn accept_changes_only_the_selected_paths() {
    let s = Server::new();
    s.init();
    s.append("var/www/html/index.php", "// edit\n");
    s.append(
        "var/www/html/wp-content/plugins/akismet/akismet.php",
        "// update\n",
    );
    s.write("var/www/html/new.php", "<?php");
    s.write("etc/myapp.conf", "port = 81\n");
    fs::remove_file(s.p("var/www/html/readme.html")).unwrap();
    let before = s.check();
    assert_eq!(before.len(), 5, "{}", show(&before));
    let st = s.accept(Selection::Patterns(vec![
        "/var/www/**/*.php".into(),
        "/var/www/html/wp-content/plugins".into(),
        "/nothing/here".into(),
    ]));
    assert_eq!((st.updated, st.added, st.removed), (3, 1, 0), "{st:?}");
    assert_eq!(st.unmatched, vec!["/nothing/here".to_string()]);
    let after = s.check();
    let paths: Vec<_> = after.iter().map(|f| f.fs_path().to_path_buf()).collect();
    assert_eq!(
        paths,
        [
            PathBuf::from("/etc/myapp.conf"),
            PathBuf::from("/var/www/html/readme.html")
        ],
        "{}",
        show(&after)
    );
    let prev = baseline::format::prev_path(&s.baseline_file());
    assert!(prev.is_file(), "previous baseline kept");
    s.accept(Selection::All);
    assert!(s.check().is_empty());
}

#[test]
fn accept_rejects_relative_patterns() {
    let s = Server::new();
    s.init();
    let e = baseline::accept(
        &s.root,
        &s.policy,
        &s.owned,
        &[],
        &s.baseline_file(),
        &Selection::Patterns(vec!["etc/hosts".into()]),
    )
    .unwrap_err();
    assert!(matches!(e, BaselineError::Pattern { .. }), "{e}");
}

#[test]
fn special_files_and_symlink_loops_are_recorded_not_opened() {
    let s = Server::new();
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C strings; tests run as root (mknod needs CAP_MKNOD).
    unsafe {
        assert_eq!(libc::mkfifo(c(&s.p("etc/fifo")).as_ptr(), 0o600), 0);
        assert_eq!(
            libc::mknod(
                c(&s.p("etc/nullish")).as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::makedev(1, 3)
            ),
            0,
            "mknod needs root"
        );
        assert_eq!(
            libc::mknod(
                c(&s.p("etc/disk")).as_ptr(),
                libc::S_IFBLK | 0o600,
                libc::makedev(8, 0)
            ),
            0
        );
    }
    let _sock = std::os::unix::net::UnixListener::bind(s.p("etc/app.sock")).unwrap();
    symlink("loop2", s.p("etc/loop1")).unwrap();
    symlink("loop1", s.p("etc/loop2")).unwrap();
    symlink("..", s.p("usr/local/bin/up")).unwrap();
    symlink("/", s.p("usr/local/rootlink")).unwrap();
    fs::create_dir_all(s.p("opt/deep")).unwrap();
    symlink("../deep", s.p("opt/deep/again")).unwrap();
    let stats = s.init();
    assert!(stats.issues.is_empty(), "{:?}", stats.issues);
    assert!(s.check().is_empty(), "{}", show(&s.check()));
    let text = fs::read_to_string(s.baseline_file()).unwrap();
    for (p, t) in [
        ("/etc/fifo", "fifo"),
        ("/etc/nullish", "char"),
        ("/etc/disk", "block"),
        ("/etc/app.sock", "socket"),
        ("/etc/loop1", "symlink"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("\"{p}\"")))
            .unwrap();
        assert!(line.contains(&format!("\"type\":\"{t}\"")), "{line}");
        assert!(!line.contains("sha256"), "{line}");
    }
    // A device node swapped for another device is reported.
    fs::remove_file(s.p("etc/nullish")).unwrap();
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            libc::mknod(
                c(&s.p("etc/nullish")).as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::makedev(1, 1)
            ),
            0
        );
    }
    let fs = s.check();
    expect(
        &fs,
        "/etc/nullish",
        Kind::Changed,
        &["rdev"],
        Severity::High,
    );
}

#[test]
fn names_with_newlines_escapes_and_invalid_utf8_round_trip() {
    let s = Server::new();
    let names: [&[u8]; 4] = [
        b"etc/evil\nname",
        b"var/www/html/\x1b[2J\x1b[Hx.php",
        b"etc/\xff\xfe",
        b"etc/\xe2\x80\xaecod.exe",
    ];
    for n in names {
        fs::write(s.root.join(OsStr::from_bytes(n)), "v1").unwrap();
    }
    s.init();
    assert!(s.check().is_empty(), "{}", show(&s.check()));
    for n in names {
        fs::write(s.root.join(OsStr::from_bytes(n)), "v2").unwrap();
    }
    let fs = s.check();
    assert_eq!(fs.len(), 4, "{}", show(&fs));
    for n in names {
        let want = Path::new("/").join(OsStr::from_bytes(n));
        assert!(
            fs.iter().any(|f| f.fs_path() == want),
            "{want:?} byte-exact"
        );
    }
}

#[test]
fn corrupt_baselines_are_named_errors() {
    let s = Server::new();
    s.init();
    let file = s.baseline_file();
    let good = fs::read(&file).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let name = file.display().to_string();
    let check_err = |bytes: &[u8]| {
        fs::write(&file, bytes).unwrap();
        let e = baseline::compare(&s.root, &s.policy, &s.owned, &file).unwrap_err();
        assert!(matches!(e, BaselineError::Corrupt { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{name}: line ")), "{msg}");
        msg
    };
    // Truncated (the walk would otherwise find nothing wrong: never a silent pass).
    check_err(&good[..good.len() / 2]);
    check_err(&good[..good.len() - 1]);
    // A line removed: an attacker hiding his file from the baseline.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut fewer = lines.clone();
    fewer.remove(3);
    assert!(check_err(fewer.concat().as_bytes()).contains("trailer counts"));
    // An edited hash.
    let line = lines
        .iter()
        .position(|l| l.contains("/var/www/html/index.php"))
        .unwrap();
    let at = lines[line].find("\"sha256\":\"").unwrap() + 10;
    let mut bad_line = lines[line].as_bytes().to_vec();
    bad_line[at] = if bad_line[at] == b'0' { b'1' } else { b'0' };
    let mut edited = lines.clone();
    let bad_line = String::from_utf8(bad_line).unwrap();
    edited[line] = &bad_line;
    let msg = check_err(edited.concat().as_bytes());
    assert!(msg.contains("checksum mismatch"), "{msg}");
    // Binary junk.
    check_err(b"\x00\x01\x02\n");
    // accept refuses a corrupt baseline and leaves it as it is.
    fs::write(&file, &good[..good.len() / 2]).unwrap();
    let e =
        baseline::accept(&s.root, &s.policy, &s.owned, &[], &file, &Selection::All).unwrap_err();
    assert!(matches!(e, BaselineError::Corrupt { .. }), "{e}");
    assert_eq!(fs::read(&file).unwrap(), &good[..good.len() / 2]);
}

#[test]
fn owned_file_outside_watched_trees_is_baselined() {
    // A %ghost file in /var/lib (not a watched tree) is recorded and compared.
    let mut s = Server::new();
    fs::create_dir_all(s.p("var/lib/logrotate")).unwrap();
    s.write("var/lib/logrotate/state.conf", "state");
    s.own(
        "/var/lib/logrotate/state.conf",
        "myd-1-1.x86_64",
        1 << 6,
        u32::MAX,
        "",
    );
    s.init();
    assert!(s.check().is_empty());
    std::os::unix::fs::lchown(s.p("var/lib/logrotate/state.conf"), Some(7), None).unwrap();
    let fs = s.check();
    let f = expect(
        &fs,
        "/var/lib/logrotate/state.conf",
        Kind::Changed,
        &["user"],
        Severity::High,
    );
    assert!(f.note.unwrap().contains("%ghost"));
}

/// A regular file baselined without a digest (its class did not compare content, or it was
/// unreadable when recorded) is not trusted on size and mtime once content is compared: the
/// check says the digest is missing, and accepting records one.
#[test]
fn file_without_a_baselined_digest_is_reported_until_accepted() {
    let uncompared = r#"
version = 1
[class.unhashed]
added = "medium"
removed = "medium"
content = "none"
metadata = "high"
[[rule]]
name = "app-data"
class = "unhashed"
paths = ["/srv/app"]
"#;
    let compared = r#"
version = 1
[[rule]]
name = "app-data"
class = "normal"
paths = ["/srv/app"]
"#;
    let mut s = Server::with_policy(Policy::from_override_str("a", uncompared).unwrap());
    fs::create_dir_all(s.p("srv/app")).unwrap();
    s.write("srv/app/data.bin", "same bytes, same size, same mtime\n");
    s.init();
    assert_quiet(&s);

    s.policy = Policy::from_override_str("b", compared).unwrap();
    let fs = s.check();
    let f = expect(
        &fs,
        "/srv/app/data.bin",
        Kind::Changed,
        &["digest"],
        Severity::Medium,
    );
    assert!(
        f.note
            .as_deref()
            .unwrap()
            .contains("no digest in the baseline"),
        "{}",
        show(&fs)
    );

    s.accept(Selection::Patterns(vec!["/srv/app".into()]));
    assert_quiet(&s);
}
