//! Politeness on production servers (`--nice`): the lowest CPU priority and the lowest
//! best-effort I/O priority, so that a check yields to the machine's real work.
//!
//! Both calls act on the calling thread on Linux, and threads created afterwards inherit both
//! values: call [`lower_priority`] before any worker thread exists (the rayon pools are created
//! lazily, on first use).

use std::io;

/// Nice value set by `--nice` (the lowest CPU priority).
pub const NICE: i32 = 19;

/// I/O scheduling class "best effort" (`IOPRIO_CLASS_BE` in linux/ioprio.h).
pub const IOPRIO_CLASS_BE: i32 = 2;
/// Lowest level within the best-effort class. Best effort level 7 rather than the idle class:
/// an idle-class reader can be starved indefinitely on a busy disk, and a check must finish.
pub const IOPRIO_LEVEL: i32 = 7;
const IOPRIO_CLASS_SHIFT: i32 = 13;
const IOPRIO_WHO_PROCESS: i32 = 1;

/// Lower the CPU priority (nice 19; never raises it) and the I/O priority (best effort, level
/// 7) of the calling thread and of the threads it creates afterwards.
pub fn lower_priority() -> io::Result<()> {
    // getpriority may legitimately return -1: clear errno first to tell that from an error.
    // SAFETY: errno is thread-local; getpriority/setpriority take plain integers.
    unsafe { *libc::__errno_location() = 0 };
    let now = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    if now == -1 && io::Error::last_os_error().raw_os_error() != Some(0) {
        return Err(io::Error::last_os_error());
    }
    if now < NICE && unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let prio = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | IOPRIO_LEVEL;
    // SAFETY: ioprio_set(which, who, ioprio) takes three integers; who 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The calling thread's nice value.
pub fn current_nice() -> io::Result<i32> {
    // SAFETY: as in `lower_priority`.
    unsafe { *libc::__errno_location() = 0 };
    let n = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    if n == -1 && io::Error::last_os_error().raw_os_error() != Some(0) {
        return Err(io::Error::last_os_error());
    }
    Ok(n)
}

/// The calling thread's I/O priority as (class, level).
pub fn current_ioprio() -> io::Result<(i32, i32)> {
    // SAFETY: ioprio_get(which, who) takes two integers.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let v = i32::try_from(rc).map_err(|_| io::Error::other("ioprio out of range"))?;
    Ok((v >> IOPRIO_CLASS_SHIFT, v & ((1 << IOPRIO_CLASS_SHIFT) - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_cpu_and_io_priority_of_this_thread_and_its_children() {
        // Run on a fresh thread: the change is per thread and must not leak into other tests.
        std::thread::spawn(|| {
            lower_priority().unwrap();
            assert_eq!(current_nice().unwrap(), NICE);
            assert_eq!(current_ioprio().unwrap(), (IOPRIO_CLASS_BE, IOPRIO_LEVEL));
            // A worker created afterwards inherits both.
            let child = std::thread::spawn(|| (current_nice().unwrap(), current_ioprio().unwrap()))
                .join()
                .unwrap();
            assert_eq!(child, (NICE, (IOPRIO_CLASS_BE, IOPRIO_LEVEL)));
            // Idempotent, and never raises a priority that is already lower.
            lower_priority().unwrap();
            assert_eq!(current_nice().unwrap(), NICE);
        })
        .join()
        .unwrap();
    }
}
