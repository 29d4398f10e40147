//! Issue 13, fault injection for `check`: SIGKILL at random moments of `check --report-file F`
//! leaves F either the previous complete report or the new complete one, never a torn file, and
//! never touches the baseline. (Paths vanishing or replaced mid-walk are covered by
//! tests/baseline_walk.rs and the capture unit tests; EIO on reading a watched file needs a
//! device-mapper `error` target, which the test machines lack.)

mod support;

use support::{qw, text};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::TestRoot;

/// A small xorshift generator seeded from the clock; the seed is printed so a failure can be
/// replayed with `QW_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("QW_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("fault injection seed: QW_SEED={seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn sigkill_during_check_leaves_the_old_or_the_new_report_and_the_baseline_untouched() {
    let root = TestRoot::new();
    std::fs::create_dir_all(root.join("/etc/quietwire")).unwrap();
    std::fs::write(
        root.join("/etc/quietwire/policy.toml"),
        "version = 1\nwatch = [\"/srv\"]\n",
    )
    .unwrap();
    // Enough to hash that a check takes a while: many small files and a few larger ones.
    for d in 0..20 {
        let dir = root.join(format!("/srv/d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("f{f}")), format!("{d}/{f}\n")).unwrap();
        }
        std::fs::write(dir.join("big"), vec![d as u8; 2 << 20]).unwrap();
    }
    let out = qw(&root, &["init"]);
    assert_eq!(out.status.code(), Some(0), "init: {}", text(&out.stderr));
    let baseline_file = root.join("/var/lib/quietwire/baseline");
    let baseline = std::fs::read(&baseline_file).expect("baseline written by init");

    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = report.to_str().unwrap().to_string();
    let check = |root: &TestRoot| {
        qw(
            root,
            &["check", "--no-progress", "--report-file", &report_arg],
        )
    };
    // The old report: a clean run. The new one: after an intrusion.
    let out = check(&root);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let old = std::fs::read(&report).unwrap();
    std::fs::write(root.join("/srv/d3/shell.php"), "<?php ?>\n").unwrap();
    std::fs::write(root.join("/srv/d7/f1"), "tampered\n").unwrap();
    let started = Instant::now();
    let out = check(&root);
    let full_run = started.elapsed();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let new = std::fs::read(&report).unwrap();
    assert_ne!(old, new);
    let new_doc: serde_json::Value = serde_json::from_slice(&new).unwrap();

    let mut rng = Rng::new();
    let window = full_run.as_micros() as u64 * 6 / 5;
    let mut killed = 0;
    for round in 0..25 {
        std::fs::write(&report, &old).unwrap();
        let mut child = Command::new(support::quietwire_bin())
            .args(["check", "--no-progress", "--report-file", &report_arg])
            .arg("--root")
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(window)));
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(r, 0);
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed += 1;
        }
        let got = std::fs::read(&report).unwrap();
        if got != old {
            let doc: serde_json::Value = serde_json::from_slice(&got)
                .unwrap_or_else(|e| panic!("round {round}: torn report ({e}): {}", text(&got)));
            assert_eq!(
                doc, new_doc,
                "round {round}: neither the old nor the new report"
            );
        }
        assert!(
            std::fs::read(&baseline_file).unwrap() == baseline,
            "round {round}: check changed the baseline"
        );
    }
    assert!(killed > 0, "no run was killed before it finished");
}
