//! Running external tools (rpm, rpmbuild, db5.3_load) with captured output and a hang guard.
//! Never interprets output; callers decide what a failure means.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command that runs longer than this is killed and the test panics (rpm 4.18 is known to
/// hang on some inputs, e.g. FIFOs in packages). This is a hang guard, not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// What a finished command printed and returned.
#[derive(Debug, Clone)]
pub struct RpmOutput {
    /// The command line, for messages.
    pub command: String,
    /// Raw stdout bytes (paths may be any bytes).
    pub stdout: Vec<u8>,
    /// stderr, lossily decoded.
    pub stderr: String,
    /// Exit status; -1 if killed by a signal.
    pub code: i32,
}

impl RpmOutput {
    /// stdout split into lines (lossy UTF-8), without line terminators.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// stdout as a string (lossy UTF-8).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Panics with the command, exit code, stdout and stderr unless the exit code is 0.
    #[track_caller]
    pub fn success(self) -> Self {
        if self.code != 0 {
            panic!(
                "command failed with exit code {}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.code,
                self.command,
                self.stdout_str(),
                self.stderr
            );
        }
        self
    }
}

/// Runs `cmd` to completion, capturing stdout and stderr; panics if it cannot be started or
/// runs past the hang guard.
#[track_caller]
pub fn run(cmd: &mut Command) -> RpmOutput {
    let command = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > HANG_GUARD => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command} still running after {HANG_GUARD:?}: killed (hung?)");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("waiting for {command}: {e}"),
        }
    };
    let stdout = out_t.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_t.join().expect("stderr reader")).into_owned();
    RpmOutput {
        command,
        stdout,
        stderr,
        code: status.code().unwrap_or(-1),
    }
}

/// Panics unless `tool` is on `PATH`, naming the Debian package that provides it.
#[track_caller]
pub fn require_tool(tool: &str, debian_package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "`{tool}` not found: install Debian's `{debian_package}` package (apt-get install {debian_package})");
}

/// Whether every tool is on PATH; if not, SKIPPED (or a failure under CI=true).
pub fn have_tools(tools: &[(&str, &str)]) -> bool {
    let on_path = |t: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
    };
    let missing: Vec<String> = tools
        .iter()
        .filter(|(t, _)| !on_path(t))
        .map(|(t, pkg)| format!("`{t}` (Debian package {pkg})"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing {}", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (required under CI=true)");
    }
    eprintln!("SKIPPED: {msg}");
    false
}
