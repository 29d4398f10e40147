//! The writers' lock: `init` and `accept` hold an exclusive `flock` on `<baseline>.lock` from
//! before they read the old baseline until after the new one is renamed into place (and
//! signed), so that two writers (the dnf hook's `accept --packages` and an administrator's
//! `accept`) cannot both start from the same old baseline and lose one's update. Readers need no
//! lock: a rename is atomic and `check` reads one open descriptor.
//!
//! The lock file lives inside the checked root next to the baseline, where an attacker may have
//! planted anything: it is opened without following a symlink and must be a regular file.

use super::BaselineError;
use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a writer waits for another before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Test hook (read only when this clearly test-named variable is set): seconds to wait instead of
/// [`DEFAULT_TIMEOUT`], so that a test of the timeout does not take a minute.
const TEST_TIMEOUT_ENV: &str = "QW_TEST_LOCK_TIMEOUT_SECS";

/// Test hook: milliseconds to sleep while holding the lock, just after taking it, so that a test
/// can make two writers overlap deterministically.
const TEST_HOLD_ENV: &str = "QW_TEST_LOCK_HOLD_MS";

/// An exclusive lock on a baseline, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
}

/// `<file>.lock`.
pub fn lock_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

fn timeout() -> Duration {
    std::env::var(TEST_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// Take the exclusive lock for writing `file` (its directory must exist), waiting for another
/// writer up to the timeout; then remove the temp files killed writers left behind.
pub fn lock_for_write(file: &Path) -> Result<WriteLock, BaselineError> {
    let path = lock_path(file);
    let f = open_lock_file(&path)?;
    let limit = timeout();
    let start = Instant::now();
    loop {
        // SAFETY: flock on a descriptor this function owns.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            break;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => {}
            _ => return Err(BaselineError::io(&path, err)),
        }
        if start.elapsed() >= limit {
            return Err(BaselineError::Locked {
                file: path,
                secs: limit.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(ms) = std::env::var(TEST_HOLD_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    clean_stale_temps(file);
    Ok(WriteLock { _file: f })
}

/// The lock file, created when missing. An existing one is pinned and checked before it is
/// opened (read-only is enough for `flock`), so a device node planted in its place is never
/// opened, let alone read-write; a missing one is created exclusively, never through a symlink.
fn open_lock_file(path: &Path) -> Result<std::fs::File, BaselineError> {
    // A name that keeps appearing and vanishing between the two steps is someone's game.
    for _ in 0..8 {
        match crate::scan::fs::open_regular_path(path, false) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(BaselineError::io(path, e)),
        }
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
        {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(BaselineError::io(path, e)),
        }
    }
    Err(BaselineError::io(
        path,
        io::Error::other("kept appearing and vanishing while being opened"),
    ))
}

/// Remove `.baseline.*.tmp` regular files beside `file`. Only a writer makes them and only while
/// holding the lock, so under the lock every one of them was left by a killed run. Best effort:
/// a leftover that cannot be removed costs space, not correctness.
fn clean_stale_temps(file: &Path) {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let b = std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str());
        if !(b.starts_with(b".baseline.") && b.ends_with(b".tmp")) {
            continue;
        }
        // `DirEntry::file_type` does not follow symlinks: only our own regular files go.
        if e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
