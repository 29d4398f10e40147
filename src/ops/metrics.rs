//! The metrics file of `check --metrics-file`: the previous file's last success time read back,
//! the new file written atomically. The text is `report::metrics`'s.

use crate::report::metrics::Outcome;
use std::path::Path;

/// Longest previous metrics file read back (ours are a few KiB).
const MAX_PREVIOUS: u64 = 1 << 20;

/// `quietwire_last_success_timestamp_seconds` of an existing metrics file (read at most
/// [`MAX_PREVIOUS`] bytes; anything unreadable is no previous success).
pub fn previous_success(file: &Path) -> Option<f64> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking and regular files only: a FIFO or device put in its place must not hang or
    // feed the check.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(file)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(MAX_PREVIOUS).read_to_string(&mut text).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix("quietwire_last_success_timestamp_seconds ")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    })
}

/// Write the metrics to `file` atomically, mode 0644 (node_exporter runs unprivileged).
pub fn write(file: &Path, o: &Outcome<'_>) -> std::io::Result<()> {
    let text = crate::report::metrics::render(o, previous_success(file));
    crate::ops::report::write_atomic_mode(file, text.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_success_reads_only_a_regular_file() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("q.prom");
        std::fs::write(
            &file,
            "x 1\nquietwire_last_success_timestamp_seconds 12.5\n",
        )
        .unwrap();
        assert_eq!(previous_success(&file), Some(12.5));
        let fifo = t.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(previous_success(&fifo), None);
        assert_eq!(previous_success(&t.path().join("none")), None);
    }
}
