//! The motivating story (issue 12), through the binary: a CentOS-style web server with sendmail
//! and WordPress, real RPMs installed with rpm, logs rotated the way logrotate does it. After a
//! baseline, a week of routine events must give no finding above low; then every attack on top
//! must be reported above low.
//!
//! The fixture packages stand in for the server's: there is no sendmail package among
//! `tests/specs`, so the trojaned "sendmail" is a file of `qw-files`, replaced with the same size
//! and mtime exactly as a trojaned /usr/sbin/sendmail would be. The packages are local builds
//! without a signature and are not allow-listed: `init` accepts them as trusted state, and the
//! package-manager hook (`accept --packages`) accepts the upgraded one.
//!
//! Needs real root and Debian's `rpm`.

mod support;

use support::qw;

use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use support::{build_packages, TestRoot, INSTALL_ALL};

fn write(root: &TestRoot, path: &str, content: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn append(root: &TestRoot, path: &str, content: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    f.write_all(content.as_bytes()).unwrap();
}

fn mv(root: &TestRoot, from: &str, to: &str) {
    std::fs::rename(root.join(from), root.join(to)).unwrap_or_else(|e| panic!("{from}: {e}"));
}

fn mtime(root: &TestRoot, path: &str) -> i64 {
    std::fs::symlink_metadata(root.join(path)).unwrap().mtime()
}

/// Every finding of `check --format json`, and the exit status.
fn check(root: &TestRoot) -> (Vec<Value>, Option<i32>) {
    let out = qw(root, &["check", "--no-progress", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v["findings"].as_array().unwrap().clone(), out.status.code())
}

fn above_low(findings: &[Value]) -> Vec<&Value> {
    findings
        .iter()
        .filter(|f| !matches!(f["severity"].as_str(), Some("info" | "low")))
        .collect()
}

/// The logs logrotate rotates with `rotate 4` + `create` and no dateext on the story's server.
const NUMBERED_LOGS: [&str; 11] = [
    "/var/log/boot.log",
    "/var/log/cron",
    "/var/log/maillog",
    "/var/log/messages",
    "/var/log/secure",
    "/var/log/spooler",
    "/var/log/httpd/access_log",
    "/var/log/httpd/error_log",
    "/var/log/httpd/ssl_access_log",
    "/var/log/httpd/ssl_error_log",
    "/var/log/httpd/ssl_request_log",
];

/// An older time for each archive, so a rotation keeps mtimes as logrotate's rename does.
const DAY: i64 = 86_400;
const NOW_ISH: i64 = 1_796_000_000;

fn lines(name: &str, week: u32) -> String {
    (0..5)
        .map(|i| format!("{name} week {week} line {i}: something routine happened\n"))
        .collect()
}

/// The server as it is when the baseline is made.
fn server() -> TestRoot {
    let _ = build_packages();
    let root = TestRoot::new();
    root.install(INSTALL_ALL);
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
        "/var/www/html/wp-content/uploads/2026/11/cat.jpg",
        "JPEG",
    );
    write(
        &root,
        "/var/www/html/wp-content/cache/supercache/example.com/index.html",
        "<html>1",
    );
    write(&root, "/var/run/sendmail.pid", "1234\n");
    write(&root, "/var/lock/subsys/sendmail", "");
    write(&root, "/root/.viminfo", "# viminfo\n");
    write(&root, "/root/.bash_history", "ls\n");
    write(
        &root,
        "/root/.ssh/known_hosts",
        "git.example.com ssh-ed25519 AAAAC3Nza1\n",
    );
    write(
        &root,
        "/root/.ssh/authorized_keys",
        "ssh-ed25519 AAAAC3Nzadmin admin@desk\n",
    );
    write(&root, "/usr/local/bin/tool", "#!/bin/sh\necho tool\n");
    for log in NUMBERED_LOGS {
        for n in (1..=4).rev() {
            let archive = format!("{log}.{n}");
            write(&root, &archive, &lines(log, 10 - n));
            root.set_mtime(&archive, NOW_ISH - i64::from(n) * 7 * DAY);
        }
        write(&root, log, &lines(log, 10));
    }
    // sysstat: yesterday's and today's binary files, and the one of the same day last month.
    write(&root, "/var/log/sa/sa04", "sadc 04\n");
    write(&root, "/var/log/sa/sar04", "sar 04\n");
    write(&root, "/var/log/sa/sa05", "sadc 05\n");
    write(
        &root,
        "/var/log/sa/sa06",
        "sadc 06 of last month, a long day of records\n",
    );
    write(
        &root,
        "/var/log/sa/sar06",
        "sar 06 of last month, a long report\n",
    );
    root.set_mtime("/var/log/sa/sa06", NOW_ISH - 29 * DAY);
    root.set_mtime("/var/log/sa/sar06", NOW_ISH - 29 * DAY);
    // A copytruncate log (an application that keeps its log open) and a dateext one.
    write(&root, "/var/log/app/app.log", &lines("app", 10));
    write(&root, "/var/log/app/app.log.1", &lines("app", 9));
    root.set_mtime("/var/log/app/app.log.1", NOW_ISH - 7 * DAY);
    write(&root, "/var/log/mysqld.log", &lines("mysqld", 10));
    write(&root, "/var/log/mysqld.log-20261128", &lines("mysqld", 9));
    root.set_mtime("/var/log/mysqld.log-20261128", NOW_ISH - 7 * DAY);
    write(&root, "/var/log/wtmp", &"utmp record\0".repeat(16));
    // yum's log rotates yearly: during the week it only grows.
    write(&root, "/var/log/yum.log", &lines("yum", 10));

    let out = qw(&root, &["init"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "init: {said}");
    assert!(
        said.contains("package qw-files-1.0-1.noarch: unsigned: accepted as trusted state"),
        "init names the unsigned packages it accepts: {said}"
    );
    root
}

/// logrotate's `rotate 4` + `create`: the oldest archive expires, every other shifts by one.
fn rotate_numbered(root: &TestRoot, log: &str) {
    std::fs::remove_file(root.join(format!("{log}.4"))).unwrap();
    for n in (1..4).rev() {
        mv(root, &format!("{log}.{n}"), &format!("{log}.{}", n + 1));
    }
    mv(root, log, &format!("{log}.1"));
    write(root, log, "");
    append(root, log, &lines(log, 11)[..40]);
}

/// A week of what the server does by itself and what its administrator routinely does.
fn routine_week(root: &TestRoot, rotations: bool) {
    // sendmail restart.
    write(root, "/var/run/sendmail.pid", "5678\n");
    std::fs::remove_file(root.join("/var/lock/subsys/sendmail")).unwrap();
    write(root, "/var/lock/subsys/sendmail", "");
    // Logs grow.
    for log in NUMBERED_LOGS {
        append(root, log, "one more line\n");
    }
    append(root, "/var/log/sa/sa05", "more sadc 05\n");
    append(
        root,
        "/var/log/yum.log",
        "Updated: qw-upgrade-2.0-1.noarch\n",
    );
    if rotations {
        for log in NUMBERED_LOGS {
            rotate_numbered(root, log);
        }
        // sysstat day turnover: today's summary, tomorrow's file replaces last month's.
        write(root, "/var/log/sa/sar05", "sar 05\n");
        std::fs::remove_file(root.join("/var/log/sa/sa06")).unwrap();
        write(root, "/var/log/sa/sa06", "sadc 06\n");
        std::fs::remove_file(root.join("/var/log/sa/sar06")).unwrap();
        // copytruncate: copy, then truncate the open file in place.
        std::fs::copy(
            root.join("/var/log/app/app.log"),
            root.join("/var/log/app/app.log.2"),
        )
        .unwrap();
        mv(root, "/var/log/app/app.log.1", "/var/log/app/app.log.3");
        mv(root, "/var/log/app/app.log.2", "/var/log/app/app.log.1");
        mv(root, "/var/log/app/app.log.3", "/var/log/app/app.log.2");
        std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("/var/log/app/app.log"))
            .unwrap()
            .set_len(0)
            .unwrap();
        append(root, "/var/log/app/app.log", "app after copytruncate\n");
        // dateext + delaycompress: last week's archive is compressed now, this week's is not.
        let old = root.join("/var/log/mysqld.log-20261128");
        let status = Command::new("gzip").arg("-n").arg(&old).status().unwrap();
        assert!(status.success());
        mv(root, "/var/log/mysqld.log", "/var/log/mysqld.log-20261205");
        write(root, "/var/log/mysqld.log", "mysqld after rotation\n");
    }
    // root edits a file with vim: .viminfo is written to a temporary file and renamed.
    write(
        root,
        "/root/.viminfz.tmp",
        "# viminfo\n# edited /etc/hosts\n",
    );
    mv(root, "/root/.viminfz.tmp", "/root/.viminfo");
    append(
        root,
        "/root/.bash_history",
        "vim /etc/hosts\nsystemctl restart sendmail\n",
    );
    // A package update, with the package-manager hook that records the new package set.
    root.upgrade("qw-upgrade-2");
    let out = qw(root, &["accept", "--packages"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "accept --packages: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // WordPress: uploads, page-cache output, an update's scratch directory.
    let uploads = "/var/www/html/wp-content/uploads/2026/12";
    write(root, &format!("{uploads}/beach.jpg"), "JPEG beach");
    write(root, &format!("{uploads}/beach-300x200.jpg"), "JPEG thumb");
    write(root, &format!("{uploads}/logo.png"), "PNG logo");
    let cache = "/var/www/html/wp-content/cache";
    write(
        root,
        &format!("{cache}/supercache/example.com/index.html"),
        "<html>2",
    );
    write(
        root,
        &format!("{cache}/supercache/example.com/index.html.gz"),
        "gz",
    );
    write(
        root,
        &format!("{cache}/supercache/example.com/about/index.html"),
        "<html>a",
    );
    write(root, &format!("{cache}/min/1/app.css"), "body{}");
    write(root, &format!("{cache}/min/1/app.js"), "x=1");
    write(root, &format!("{cache}/wpfc/data.json"), "{}");
    write(
        root,
        "/var/www/html/wp-content/upgrade/akismet-x1/akismet/readme.txt",
        "readme",
    );
    // ssh to a new host.
    append(
        root,
        "/root/.ssh/known_hosts",
        "db.example.com ssh-ed25519 AAAAC3Nza2\n",
    );
}

/// Attacks on top of the routine week: (path, what) for each, every one to be above low.
fn attack(root: &TestRoot, rotations: bool) -> Vec<(&'static str, &'static str)> {
    let mut done = Vec::new();
    // A trojaned package binary: same size, same mtime.
    root.rewrite_keep_mtime("/opt/qw-files/reg", "regulaR\n");
    done.push(("/opt/qw-files/reg", "trojaned package file"));
    write(
        root,
        "/var/www/html/wp-content/uploads/2026/12/beach.php",
        "<?php system($_GET['c']);\n",
    );
    done.push((
        "/var/www/html/wp-content/uploads/2026/12/beach.php",
        "webshell in uploads",
    ));
    write(
        root,
        "/var/www/html/wp-content/cache/supercache/example.com/x.php",
        "<?php eval($_POST['x']);\n",
    );
    done.push((
        "/var/www/html/wp-content/cache/supercache/example.com/x.php",
        "PHP in the page cache",
    ));
    append(
        root,
        "/root/.ssh/authorized_keys",
        "ssh-ed25519 AAAAC3Nzevil evil@x\n",
    );
    done.push(("/root/.ssh/authorized_keys", "new authorized key"));
    append(root, "/etc/passwd", "toor:x:0:0::/root:/bin/sh\n");
    done.push(("/etc/passwd", "new uid-0 user"));
    write(root, "/usr/local/bin/rootme", "ELF");
    std::fs::set_permissions(
        root.join("/usr/local/bin/rootme"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    done.push(("/usr/local/bin/rootme", "setuid binary"));
    // An archived log with the attacker's lines removed, its mtime put back.
    let archive = "/var/log/secure.2";
    let text = std::fs::read_to_string(root.join(archive)).unwrap();
    let kept: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
    root.rewrite_keep_mtime(archive, kept);
    done.push((archive, "archived log edited"));
    // A log emptied without any rotation. (Not one of the logs rotated this week: emptying a
    // log after a rotation is indistinguishable, from the baseline, from a rotation with no new
    // lines since; the lines written after the baseline were never recorded.)
    let t = mtime(root, "/var/log/yum.log");
    std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("/var/log/yum.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    root.set_mtime("/var/log/yum.log", t);
    done.push(("/var/log/yum.log", "log truncated without rotation"));
    // An archive replaced by a doctored copy (new inode, same name).
    let archive = "/var/log/messages.3";
    let doctored = lines("/var/log/messages", 3).replace("routine", "nothing");
    let t = mtime(root, archive);
    std::fs::remove_file(root.join(archive)).unwrap();
    write(root, archive, &doctored);
    root.set_mtime(archive, t);
    done.push((archive, "archive replaced by a doctored one"));
    // The login record shrank (someone erased their logins).
    let wtmp = root.join("/var/log/wtmp");
    let len = std::fs::metadata(&wtmp).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wtmp)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    done.push(("/var/log/wtmp", "wtmp shrank"));
    if rotations {
        // The archive logrotate made this week, edited after the rotation.
        let archive = "/var/log/httpd/access_log.1";
        let text = std::fs::read_to_string(root.join(archive)).unwrap();
        root.rewrite_keep_mtime(archive, text.replacen("line 1", "LINE 1", 1));
        done.push((archive, "fresh archive rewritten"));
    }
    done
}

fn story(rotations: bool) {
    let root = server();
    let (findings, code) = check(&root);
    assert!(
        above_low(&findings).is_empty(),
        "fresh baseline: {findings:#?}"
    );
    assert_eq!(code, Some(0), "{findings:#?}");

    routine_week(&root, rotations);
    let (findings, code) = check(&root);
    let loud = above_low(&findings);
    assert!(
        loud.is_empty(),
        "{} routine events reported above low: {loud:#?}",
        loud.len()
    );
    // Low findings (new uploads) still set their exit bits; package trust was accepted.
    assert_eq!(
        code.unwrap_or(-1) & !0xf,
        0,
        "exit status {code:?}: {findings:#?}"
    );
    assert_eq!(code.unwrap_or(-1) & quietwire::exit::UNTRUSTED as i32, 0);

    let attacks = attack(&root, rotations);
    let (findings, code) = check(&root);
    let loud = above_low(&findings);
    let missed: Vec<_> = attacks
        .iter()
        .filter(|(path, _)| !loud.iter().any(|f| f["path"] == *path))
        .collect();
    assert!(
        missed.is_empty(),
        "attacks not reported above low: {missed:?}\nreported: {loud:#?}"
    );
    assert_ne!(code, Some(0));
    assert!(Path::new(&root.join("/var/lib/quietwire/baseline")).is_file());
}

#[test]
fn story_routine_week_is_quiet_and_every_attack_is_loud() {
    story(true);
}
