//! The whole product through the binary on a server-like root: a real rpmdb with installed
//! packages, a WordPress tree, daemon pid/lock files and logs. `init`, then the events that must
//! stay quiet, then the events that must be loud, then `accept`, then a damaged baseline.

mod support;

use support::qw;

use serde_json::Value;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use support::{build_packages, TestRoot, INSTALL_ALL};

fn write(root: &TestRoot, path: &str, content: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn json_check(root: &TestRoot) -> (Vec<Value>, Option<i32>) {
    let out = qw(root, &["check", "--no-progress", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = v["findings"].as_array().unwrap().clone();
    (findings, out.status.code())
}

/// Findings that matter (above `info`).
fn loud(findings: &[Value]) -> Vec<&Value> {
    findings
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect()
}

fn find<'a>(findings: &'a [Value], path: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no finding for {path} in {findings:#?}"))
}

fn server() -> TestRoot {
    let _ = build_packages();
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
    root.allow_unsigned("\"qw-*\"");
    write(
        &root,
        "/var/www/html/index.php",
        "<?php require 'wp-blog-header.php';\n",
    );
    write(
        &root,
        "/var/www/html/wp-config.php",
        "<?php define('DB_PASSWORD', 's3cret');\n",
    );
    write(
        &root,
        "/var/www/html/wp-content/uploads/2024/05/photo.jpg",
        "JPEG",
    );
    write(&root, "/var/run/sendmail.pid", "1234\n");
    write(&root, "/var/lock/subsys/sendmail", "");
    write(&root, "/var/log/messages", "boot\n");
    write(&root, "/root/.viminfo", "# viminfo\n");
    write(&root, "/usr/local/bin/tool", "#!/bin/sh\necho tool\n");
    symlink("/usr/local/bin/tool", root.join("/usr/local/bin/tool-link")).unwrap();
    let out = qw(&root, &["init"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("/var/lib/quietwire/baseline").is_file());
    let again = qw(&root, &["init"]);
    assert_eq!(
        again.status.code(),
        Some(quietwire::exit::BASELINE as i32),
        "init must not overwrite"
    );
    root
}

#[test]
fn quiet_after_daemon_restart_log_rotation_vim_and_package_update() {
    let root = server();
    let (findings, code) = json_check(&root);
    assert!(loud(&findings).is_empty(), "fresh baseline: {findings:#?}");
    assert_eq!(code, Some(0));

    write(&root, "/var/run/sendmail.pid", "5678\n");
    std::fs::remove_file(root.join("/var/lock/subsys/sendmail")).unwrap();
    write(&root, "/var/lock/subsys/sendmail", "");
    std::fs::rename(
        root.join("/var/log/messages"),
        root.join("/var/log/messages.1"),
    )
    .unwrap();
    write(&root, "/var/log/messages", "after rotation\n");
    write(&root, "/root/.viminfo", "# viminfo\n# edited /etc/hosts\n");
    root.upgrade("qw-upgrade-2");

    let (findings, code) = json_check(&root);
    assert!(
        loud(&findings).is_empty(),
        "quiet events were reported: {:#?}",
        loud(&findings)
    );
    assert_eq!(code, Some(0));
    let out = qw(&root, &["check", "--no-progress"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("0 findings"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn loud_about_webshells_dropped_binaries_setuid_owners_links_and_passwd() {
    let root = server();
    write(
        &root,
        "/var/www/html/wp-content/uploads/2024/05/shell.php",
        "<?php system($_GET['c']);\n",
    );
    write(
        &root,
        "/var/www/html/wp-config.php",
        "<?php define('DB_PASSWORD', 'attacker');\n",
    );
    write(&root, "/usr/bin/evil", "ELF");
    write(&root, "/usr/local/bin/rootme", "ELF");
    std::fs::set_permissions(
        root.join("/usr/local/bin/rootme"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("/usr/local/bin/tool"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    std::fs::remove_file(root.join("/usr/local/bin/tool-link")).unwrap();
    symlink("/tmp/x", root.join("/usr/local/bin/tool-link")).unwrap();
    let passwd = std::fs::read_to_string(root.join("/etc/passwd")).unwrap();
    std::fs::write(
        root.join("/etc/passwd"),
        passwd + "toor:x:0:0::/root:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("/opt/qw-files/reg"), "trojaned\n").unwrap();

    let (findings, code) = json_check(&root);
    let bits = code.unwrap();
    assert_eq!(
        bits & (quietwire::exit::ADDED | quietwire::exit::CHANGED) as i32,
        5,
        "exit {bits}"
    );
    for (path, kind) in [
        (
            "/var/www/html/wp-content/uploads/2024/05/shell.php",
            "added",
        ),
        ("/var/www/html/wp-config.php", "changed"),
        ("/usr/bin/evil", "added"),
        ("/usr/local/bin/rootme", "added"),
        ("/usr/local/bin/tool", "changed"),
        ("/usr/local/bin/tool-link", "changed"),
        ("/etc/passwd", "changed"),
        ("/opt/qw-files/reg", "changed"),
    ] {
        let f = find(&findings, path);
        assert_eq!(f["kind"], kind, "{path}: {f:#}");
        assert_eq!(f["severity"], "high", "{path}: {f:#}");
    }
    assert_eq!(find(&findings, "/opt/qw-files/reg")["source"], "package");
    assert_eq!(
        find(&findings, "/opt/qw-files/reg")["package"],
        "qw-files-1.0-1.noarch"
    );
    assert_eq!(find(&findings, "/etc/passwd")["source"], "baseline");
    assert!(find(&findings, "/usr/local/bin/tool")["changes"]
        .as_array()
        .unwrap()
        .contains(&Value::from("mode")));
    assert!(find(&findings, "/usr/local/bin/tool-link")["changes"]
        .as_array()
        .unwrap()
        .contains(&Value::from("link")));

    // Accepting one path quiets exactly that path.
    let out = qw(&root, &["accept", "/var/www/html/wp-config.php"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (after, _) = json_check(&root);
    assert!(
        after
            .iter()
            .all(|f| f["path"] != "/var/www/html/wp-config.php"),
        "{after:#?}"
    );
    assert_eq!(loud(&after).len(), loud(&findings).len() - 1);
    assert!(root.join("/var/lib/quietwire/baseline.prev").is_file());
}

#[test]
fn damaged_or_missing_baseline_is_an_error_naming_the_file() {
    let root = server();
    let file = root.join("/var/lib/quietwire/baseline");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replacen("\"mode\":", "\"mode\": ", 1);
    std::fs::write(&file, text).unwrap();
    let out = qw(&root, &["check", "--no-progress"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(quietwire::exit::BASELINE as i32),
        "{stderr}"
    );
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");

    std::fs::remove_file(&file).unwrap();
    let out = qw(&root, &["check", "--no-progress"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "owned files still verified: {stderr}"
    );
    assert!(stderr.contains("quietwire init"), "{stderr}");
    assert!(!Path::new(&file).exists());
}

/// A log replaced rather than appended to: the JSON report names the inode change as an
/// attribute (`changes`, `old`, `new`), in the one vocabulary of every other attribute, rather
/// than losing it into a note.
#[test]
fn replaced_log_reports_its_inode_as_an_attribute() {
    let root = server();
    write(&root, "/var/log/messages.new", "forged\n");
    std::fs::rename(
        root.join("/var/log/messages.new"),
        root.join("/var/log/messages"),
    )
    .unwrap();
    let (findings, _) = json_check(&root);
    let f = find(&findings, "/var/log/messages");
    assert_eq!(f["kind"], "changed", "{f:#}");
    assert!(
        f["changes"]
            .as_array()
            .unwrap()
            .contains(&Value::from("inode")),
        "{f:#}"
    );
    assert!(f["old"]["inode"].is_u64(), "{f:#}");
    assert!(f["new"]["inode"].is_u64(), "{f:#}");
    assert_ne!(f["old"]["inode"], f["new"]["inode"], "{f:#}");
}
