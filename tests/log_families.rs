//! Log families through the baseline compare: the rotation styles logrotate and sysstat use are
//! quiet, tampering with a log or an archive is reported above `low`. No rpm needed: the tree
//! lives in a temporary root and nothing in it is package-owned.

use flate2::write::GzEncoder;
use quietwire::baseline::{self, Finding};
use quietwire::pkgdb::{OwnedIndex, PackageSnapshot};
use quietwire::policy::{Policy, Severity};
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

struct Root {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    policy: Policy,
    owned: OwnedIndex,
}

/// A fixed past time plus `days`: archives get distinct, ordered mtimes (older = smaller).
fn day(days: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + days * 86_400)
}

impl Root {
    fn new() -> Root {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        for d in [
            "var/log/httpd",
            "var/log/sa",
            "var/log/old",
            "var/lib/quietwire",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        Root {
            _tmp: tmp,
            root,
            policy: Policy::builtin().unwrap(),
            owned: OwnedIndex::new(),
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.p(rel)).unwrap()
    }

    /// Write `content` with mtime `day(d)`.
    fn put(&self, rel: &str, content: &[u8], d: u64) {
        fs::write(self.p(rel), content).unwrap();
        self.touch(rel, d);
    }

    fn touch(&self, rel: &str, d: u64) {
        let f = fs::File::options().write(true).open(self.p(rel)).unwrap();
        f.set_modified(day(d)).unwrap();
    }

    fn append(&self, rel: &str, content: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.p(rel))
            .unwrap();
        f.write_all(content).unwrap();
    }

    fn mv(&self, from: &str, to: &str) {
        fs::rename(self.p(from), self.p(to)).unwrap();
    }

    fn gzip(&self, from: &str, to: &str) {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&self.read(from)).unwrap();
        fs::write(self.p(to), e.finish().unwrap()).unwrap();
        fs::remove_file(self.p(from)).unwrap();
    }

    /// logrotate `rotate N` + `create` (no dateext) on `rel`: NAME.N-1 -> NAME.N, ...,
    /// NAME -> NAME.1, a fresh NAME; NAME.N (the oldest) expires.
    fn rotate(&self, rel: &str, n: u32, today: u64) {
        let _ = fs::remove_file(self.p(&format!("{rel}.{n}")));
        for i in (1..n).rev() {
            let from = format!("{rel}.{i}");
            if self.p(&from).exists() {
                self.mv(&from, &format!("{rel}.{}", i + 1));
            }
        }
        self.mv(rel, &format!("{rel}.1"));
        self.put(rel, b"", today);
    }

    /// A log with four numbered archives, days 1..4 oldest first, the live log on day 5.
    fn numbered(&self, rel: &str) {
        for i in 1..=4u64 {
            let c = format!("{rel} archive {i} line one\n{rel} archive {i} line two\n");
            self.put(&format!("{rel}.{i}"), c.as_bytes(), 5 - i);
        }
        self.put(rel, format!("{rel} live line\n").as_bytes(), 5);
    }

    fn init(&self) {
        baseline::init(
            &self.root,
            &self.policy,
            &self.owned,
            &[] as &[PackageSnapshot],
            &baseline::default_location(&self.root).unwrap(),
            false,
        )
        .unwrap();
    }

    fn check(&self) -> Vec<Finding> {
        baseline::compare(
            &self.root,
            &self.policy,
            &self.owned,
            &baseline::default_location(&self.root).unwrap(),
        )
        .unwrap()
        .findings
    }
}

fn show(fs: &[Finding]) -> String {
    fs.iter()
        .map(|f| {
            format!(
                "{:?} {} [{}] {} note={:?}",
                f.kind,
                f.fs_path().display(),
                f.change_names().join(","),
                f.severity,
                f.note
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_quiet(r: &Root) {
    let fs = r.check();
    let loud: Vec<&Finding> = fs.iter().filter(|f| f.severity > Severity::Low).collect();
    assert!(loud.is_empty(), "expected quiet, got:\n{}", show(&fs));
}

/// Some finding above `low` for `path`.
fn assert_loud(r: &Root, path: &str) {
    let fs = r.check();
    assert!(
        fs.iter()
            .any(|f| f.fs_path() == std::path::Path::new(path) && f.severity > Severity::Low),
        "expected a finding above low for {path}, got:\n{}",
        show(&fs)
    );
}

#[test]
fn numbered_rotation_with_create_is_quiet() {
    let r = Root::new();
    for l in [
        "var/log/messages",
        "var/log/cron",
        "var/log/httpd/access_log",
    ] {
        r.numbered(l);
    }
    r.init();
    for l in [
        "var/log/messages",
        "var/log/cron",
        "var/log/httpd/access_log",
    ] {
        r.append(l, b"more lines before the rotation\n");
        r.rotate(l, 4, 6);
        r.append(l, b"first line after the rotation\n");
    }
    assert_quiet(&r);
}

#[test]
fn two_rotations_since_the_baseline_are_quiet() {
    let r = Root::new();
    r.numbered("var/log/secure");
    r.init();
    r.rotate("var/log/secure", 4, 6);
    r.append("var/log/secure", b"day 6\n");
    r.rotate("var/log/secure", 4, 7);
    assert_quiet(&r);
}

#[test]
fn compress_and_delaycompress_are_quiet() {
    let r = Root::new();
    let l = "var/log/maillog";
    r.put(&format!("{l}.1"), b"mail day 3\n", 3);
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b"mail day 2\n").unwrap();
    fs::write(r.p(&format!("{l}.2.gz")), e.finish().unwrap()).unwrap();
    r.touch(&format!("{l}.2.gz"), 2);
    r.put(l, b"mail day 4\n", 4);
    r.init();
    // delaycompress: .2.gz -> .3.gz, .1 -> .2 compressed now, NAME -> .1 plain.
    r.mv(&format!("{l}.2.gz"), &format!("{l}.3.gz"));
    r.gzip(&format!("{l}.1"), &format!("{l}.2.gz"));
    r.mv(l, &format!("{l}.1"));
    r.put(l, b"mail day 5\n", 5);
    assert_quiet(&r);
}

#[test]
fn dateext_with_compress_is_quiet() {
    let r = Root::new();
    r.put("var/log/spooler-20261101.gz", b"", 1);
    r.gzip(
        "var/log/spooler-20261101.gz",
        "var/log/spooler-20261101.gz.tmp",
    );
    r.mv(
        "var/log/spooler-20261101.gz.tmp",
        "var/log/spooler-20261101.gz",
    );
    r.touch("var/log/spooler-20261101.gz", 1);
    r.put("var/log/spooler", b"spool line\n", 2);
    r.init();
    r.append("var/log/spooler", b"another spool line\n");
    r.mv("var/log/spooler", "var/log/spooler-20261201");
    r.gzip("var/log/spooler-20261201", "var/log/spooler-20261201.gz");
    r.put("var/log/spooler", b"", 3);
    // maxage: the oldest archive expires.
    fs::remove_file(r.p("var/log/spooler-20261101.gz")).unwrap();
    assert_quiet(&r);
}

#[test]
fn copytruncate_is_quiet() {
    let r = Root::new();
    r.numbered("var/log/httpd/error_log");
    r.init();
    let l = "var/log/httpd/error_log";
    r.append(l, b"written before the copy\n");
    for i in (1..4).rev() {
        r.mv(&format!("{l}.{i}"), &format!("{l}.{}", i + 1));
    }
    // copytruncate: copy to a new inode, truncate the live file in place.
    fs::write(r.p(&format!("{l}.1")), r.read(l)).unwrap();
    fs::File::options()
        .write(true)
        .open(r.p(l))
        .unwrap()
        .set_len(0)
        .unwrap();
    r.append(l, b"after the truncate\n");
    assert_quiet(&r);
}

#[test]
fn olddir_is_quiet() {
    let r = Root::new();
    let l = "var/log/boot.log";
    r.put("var/log/old/boot.log.1", b"boot 1\n", 1);
    r.put(l, b"boot 2\n", 2);
    r.init();
    r.mv("var/log/old/boot.log.1", "var/log/old/boot.log.2");
    r.mv(l, "var/log/old/boot.log.1");
    r.put(l, b"boot 3\n", 3);
    assert_quiet(&r);
}

#[test]
fn sysstat_day_turnover_is_quiet() {
    let r = Root::new();
    for d in 1..=28u64 {
        r.put(
            &format!("var/log/sa/sa{d:02}"),
            format!("sa day {d}").as_bytes(),
            d,
        );
        r.put(
            &format!("var/log/sa/sar{d:02}"),
            format!("sar day {d}").as_bytes(),
            d,
        );
    }
    r.init();
    // Day 28 grows; a month later day 01 is overwritten (oldest), day 29 appears.
    r.append("var/log/sa/sa28", b" more");
    r.put("var/log/sa/sa01", b"sa new day 1", 31);
    r.put("var/log/sa/sar01", b"sar new day 1", 31);
    r.put("var/log/sa/sa29", b"sa day 29", 29);
    assert_quiet(&r);
}

#[test]
fn wtmp_and_btmp_monthly_rotation_are_quiet() {
    let r = Root::new();
    r.put("var/log/wtmp", &[7u8; 384 * 3], 1);
    r.put("var/log/btmp", &[9u8; 384], 1);
    r.init();
    r.append("var/log/wtmp", &[8u8; 384]);
    r.mv("var/log/wtmp", "var/log/wtmp-20261201");
    r.put("var/log/wtmp", b"", 2);
    r.mv("var/log/btmp", "var/log/btmp-20261201");
    r.put("var/log/btmp", b"", 2);
    assert_quiet(&r);
}

#[test]
fn archive_edited_with_mtime_restored_is_loud() {
    let r = Root::new();
    r.numbered("var/log/secure");
    r.init();
    let a = "var/log/secure.2";
    let edited = String::from_utf8(r.read(a))
        .unwrap()
        .replace("line one\n", "");
    r.put(a, edited.as_bytes(), 3);
    assert_loud(&r, "/var/log/secure.2");
}

#[test]
fn archive_replaced_by_a_doctored_one_of_the_same_size_is_loud() {
    let r = Root::new();
    r.numbered("var/log/secure");
    r.init();
    let a = "var/log/secure.3";
    let mut doctored = r.read(a);
    doctored.iter_mut().for_each(|b| {
        if *b == b'o' {
            *b = b'0'
        }
    });
    fs::write(r.p("var/log/x"), &doctored).unwrap();
    r.mv("var/log/x", a);
    r.touch(a, 2);
    assert_loud(&r, "/var/log/secure.3");
}

#[test]
fn log_truncated_without_rotation_is_loud() {
    let r = Root::new();
    r.numbered("var/log/messages");
    r.init();
    fs::File::options()
        .write(true)
        .open(r.p("var/log/messages"))
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_loud(&r, "/var/log/messages");
}

#[test]
fn log_replaced_without_rotation_is_loud() {
    let r = Root::new();
    r.numbered("var/log/messages");
    r.init();
    let mut c = r.read("var/log/messages");
    c.extend_from_slice(b"forged\n");
    c.splice(0..1, *b"X");
    fs::write(r.p("var/log/m.new"), c).unwrap();
    r.mv("var/log/m.new", "var/log/messages");
    assert_loud(&r, "/var/log/messages");
}

#[test]
fn log_edited_in_place_while_growing_is_loud() {
    let r = Root::new();
    r.numbered("var/log/messages");
    r.init();
    let c = String::from_utf8(r.read("var/log/messages")).unwrap();
    let mut f = fs::File::options()
        .write(true)
        .open(r.p("var/log/messages"))
        .unwrap();
    f.write_all(c.replace("live", "LIVE").as_bytes()).unwrap();
    f.write_all(b"appended\n").unwrap();
    assert_loud(&r, "/var/log/messages");
}

#[test]
fn middle_archive_deleted_is_loud() {
    let r = Root::new();
    r.numbered("var/log/cron");
    r.init();
    fs::remove_file(r.p("var/log/cron.2")).unwrap();
    assert_loud(&r, "/var/log/cron.2");
}

#[test]
fn wtmp_that_shrank_is_loud() {
    let r = Root::new();
    r.put("var/log/wtmp", &[7u8; 384 * 3], 1);
    r.init();
    fs::File::options()
        .write(true)
        .open(r.p("var/log/wtmp"))
        .unwrap()
        .set_len(384)
        .unwrap();
    assert_loud(&r, "/var/log/wtmp");
}

#[test]
fn compressed_archive_with_different_content_is_loud() {
    let r = Root::new();
    r.put("var/log/maillog.1", b"mail day 1\nsecret relay\n", 1);
    r.put("var/log/maillog", b"mail day 2\n", 2);
    r.init();
    // Compressed since the baseline, but with a line taken out.
    r.put("var/log/maillog.1", b"mail day 1\n", 1);
    r.gzip("var/log/maillog.1", "var/log/maillog.1.gz");
    assert_loud(&r, "/var/log/maillog.1.gz");
}

#[test]
fn forged_rotation_is_loud() {
    let r = Root::new();
    r.numbered("var/log/secure");
    r.init();
    // A new "secure.1" with made-up content, the live log emptied: what it held is nowhere.
    for i in (1..4).rev() {
        r.mv(
            &format!("var/log/secure.{i}"),
            &format!("var/log/secure.{}", i + 1),
        );
    }
    r.put("var/log/secure.1", b"nothing happened here\n", 5);
    r.put("var/log/secure", b"", 6);
    let fs = r.check();
    assert!(
        fs.iter().any(|f| f.severity > Severity::Low),
        "forged rotation not reported:\n{}",
        show(&fs)
    );
    assert_loud(&r, "/var/log/secure.1");
}

#[test]
fn lastlog_rewritten_in_place_is_quiet_and_shrunk_is_loud() {
    let r = Root::new();
    r.put("var/log/lastlog", &[0u8; 292 * 8], 1);
    r.init();
    // A login updates one user's slot in place.
    let mut f = fs::File::options()
        .write(true)
        .open(r.p("var/log/lastlog"))
        .unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(292 * 3)).unwrap();
    f.write_all(b"login record").unwrap();
    drop(f);
    assert_quiet(&r);
    fs::File::options()
        .write(true)
        .open(r.p("var/log/lastlog"))
        .unwrap()
        .set_len(292)
        .unwrap();
    assert_loud(&r, "/var/log/lastlog");
}

/// Compress `from` into `to` with the command-line `tool` (xz, bzip2, zstd), as logrotate's
/// `compresscmd` does, and remove `from`.
fn compress_with(r: &Root, tool: &str, from: &str, to: &str) {
    let out = std::process::Command::new(tool)
        .arg("-c")
        .arg(r.p(from))
        .output()
        .unwrap_or_else(|e| panic!("{tool} not found ({e}): apt-get install xz-utils bzip2 zstd"));
    assert!(out.status.success(), "{tool} failed");
    fs::write(r.p(to), out.stdout).unwrap();
    fs::remove_file(r.p(from)).unwrap();
}

#[test]
fn xz_bzip2_and_zstd_archives_are_followed() {
    for (tool, ext) in [("xz", "xz"), ("bzip2", "bz2"), ("zstd", "zst")] {
        // Quiet: delaycompress with compresscmd TOOL.
        let r = Root::new();
        let l = "var/log/maillog";
        r.put(&format!("{l}.1"), b"mail day 3\n", 3);
        r.put(l, b"mail day 4\n", 4);
        r.init();
        compress_with(&r, tool, &format!("{l}.1"), &format!("{l}.2.{ext}"));
        r.mv(l, &format!("{l}.1"));
        r.put(l, b"mail day 5\n", 5);
        assert_quiet(&r);

        // Loud: compressed since the baseline with a line taken out.
        let r = Root::new();
        r.put("var/log/maillog.1", b"mail day 1\nsecret relay\n", 1);
        r.put("var/log/maillog", b"mail day 2\n", 2);
        r.init();
        r.put("var/log/maillog.1", b"mail day 1\n", 1);
        compress_with(
            &r,
            tool,
            "var/log/maillog.1",
            &format!("var/log/maillog.1.{ext}"),
        );
        assert_loud(&r, &format!("/var/log/maillog.1.{ext}"));
    }
}

/// The size of a sparse file the temporary file system takes (1 TiB; less where it stops
/// short): reading it whole, as zeros, takes hours.
fn make_sparse(r: &Root, rel: &str) {
    let f = fs::File::create(r.p(rel)).unwrap();
    let mut size = 1u64 << 40;
    while f.set_len(size).is_err() {
        size /= 2;
    }
    assert!(size >= 16 << 30, "no large sparse file here ({size} bytes)");
}

#[test]
fn huge_sparse_log_is_loud_and_not_read() {
    // A new family: nothing baselined to look for in it.
    let r = Root::new();
    r.numbered("var/log/messages");
    r.init();
    make_sparse(&r, "var/log/evil.log");
    assert_loud(&r, "/var/log/evil.log");
    // A baselined log grown by a hole: its baselined prefix is all that could be looked for.
    let r = Root::new();
    r.numbered("var/log/secure");
    r.init();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(r.p("var/log/secure"))
        .unwrap();
    f.set_len(1 << 40).unwrap();
    assert_loud(&r, "/var/log/secure");
}

#[test]
fn an_undecodable_archive_does_not_hide_a_doctored_log() {
    let r = Root::new();
    r.put(
        "var/log/auth.log",
        b"sshd: accepted from 10.0.0.1\nsshd: accepted from 6.6.6.6\n",
        5,
    );
    r.init();
    r.put("var/log/auth.log", b"sshd: accepted from 10.0.0.1\n", 5);
    r.put("var/log/auth.log.9.gz", b"garbage\n", 1);
    assert_loud(&r, "/var/log/auth.log");
    assert_loud(&r, "/var/log/auth.log.9.gz");
}

#[test]
fn a_large_rotated_log_is_read_only_as_far_as_needed() {
    // 8 MiB baselined, rotated, compressed and then grown: found in the archive, quiet.
    let r = Root::new();
    let l = "var/log/big";
    let line = b"a line of a busy log, long enough to take some room\n";
    let content: Vec<u8> = line.iter().copied().cycle().take(8 << 20).collect();
    r.put(l, &content, 4);
    r.init();
    r.mv(l, &format!("{l}.1"));
    r.gzip(&format!("{l}.1"), &format!("{l}.1.gz"));
    r.put(l, b"fresh\n", 5);
    assert_quiet(&r);
}

#[test]
fn hard_links_are_hashed_once() {
    let r = Root::new();
    r.init();
    fs::create_dir_all(r.p("var/log/x")).unwrap();
    r.put("var/log/x/f", &vec![b'x'; 1 << 20], 3);
    for i in 0..50 {
        fs::hard_link(r.p("var/log/x/f"), r.p(&format!("var/log/x/l{i}"))).unwrap();
    }
    let out = baseline::compare(
        &r.root,
        &r.policy,
        &r.owned,
        &baseline::default_location(&r.root).unwrap(),
    )
    .unwrap();
    assert!(out.hashed < 5, "hashed {} files", out.hashed);
}
