//! The least CPU a check of package-owned files can cost on this kernel, with and without the
//! safety rule that no FIFO or device is ever opened (issue 15's CPU target; README, benchmarks).
//!
//! `cargo run --release --example owned_floor -- ROOT [ROUNDS] [THREADS] [--cold]`
//!
//! It takes the files listed in ROOT's rpmdb, then, alternating, runs two bare loops over
//! them that do nothing but the work any verifier must do per file, a directory at a time (the
//! directory opened once, then one name lookup per file), with nothing parsed, compared or
//! printed:
//!
//! - `one-open` (what `rpm -V` does): `lstat`, `open`, read the capability xattr, read and
//!   SHA-256 the content, `close`. Between the `lstat` and the `open` the name can be swapped for
//!   a FIFO or a device node, and `open` would open it.
//! - `pinned` (what quietwire does): `open(O_PATH)`, `fstat` of that descriptor, re-open it for
//!   reading through `/proc/self/fd` only when it is a regular file, the xattr, read and hash,
//!   two `close`s. The kernel never opens anything but the regular file that was checked.
//!
//! - `lstat` (the floor of a repeated check whose cache spares every read): the `lstat` alone.
//!
//! With `--cold` (as root), the page cache is dropped before every loop.
//!
//! Each loop's CPU time (user + system, all threads, `getrusage`) and wall time are printed, as
//! medians over the rounds. Compare them with `rpm -Va`'s CPU time on the same root
//! (`scripts/bench-owned`).

use sha2::Digest;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("owned_floor: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args_os().skip(1);
    let root = PathBuf::from(
        args.next()
            .ok_or("usage: owned_floor ROOT [ROUNDS] [THREADS]")?,
    );
    let number = |a: Option<std::ffi::OsString>, default: usize| -> Result<usize, String> {
        a.map_or(Ok(default), |s| {
            s.to_string_lossy()
                .parse()
                .map_err(|_| format!("not a number: {}", s.to_string_lossy()))
        })
    };
    let rounds = number(args.next(), 7)?.max(1);
    let threads = number(args.next(), 2)?.max(1);
    let cold = match args.next() {
        None => false,
        Some(a) if a == "--cold" => true,
        Some(a) => return Err(format!("unknown argument: {}", a.to_string_lossy())),
    };

    let db = quietwire::rpmdb::open(&root, None).map_err(|e| e.to_string())?;
    // Every entry a package lists (a check `lstat`s them all; only regular files are read),
    // grouped by directory.
    let mut by_dir: BTreeMap<Vec<u8>, Vec<CString>> = BTreeMap::new();
    for p in &db.packages {
        for f in p.files.iter() {
            let (dir, name) = f.parent_and_name();
            if let Ok(name) = CString::new(name) {
                by_dir.entry(dir.to_vec()).or_default().push(name);
            }
        }
    }
    let root_c = CString::new(root.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path; the descriptor lives as long as the process.
    let root_fd = unsafe { libc::open(root_c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) };
    if root_fd < 0 {
        return Err(format!("cannot open {}", root.display()));
    }
    let dirs: Vec<(CString, Vec<CString>)> = by_dir
        .into_iter()
        .filter_map(|(dir, names)| {
            let relative = dir.strip_prefix(b"/").unwrap_or(&dir).to_vec();
            let relative = if relative.is_empty() {
                b".".to_vec()
            } else {
                relative
            };
            Some((CString::new(relative).ok()?, names))
        })
        .collect();
    let files: usize = dirs.iter().map(|d| d.1.len()).sum();
    let proc_fd = CString::new("/proc/self/fd").map_err(|e| e.to_string())?;
    // SAFETY: as above.
    let proc_dir = unsafe { libc::open(proc_fd.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) };
    if proc_dir < 0 {
        return Err("cannot open /proc/self/fd".into());
    }
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) ends the output, not the program with a panic.
    let _ = writeln!(
        out,
        "{} files in {} directories, {} threads, {} rounds{}",
        files,
        dirs.len(),
        threads,
        rounds,
        if cold { ", cold page cache" } else { "" }
    );

    let mut results: BTreeMap<&str, Vec<(f64, f64, u64)>> = BTreeMap::new();
    for _ in 0..rounds {
        for way in [Way::OneOpen, Way::Pinned, Way::Lstat] {
            if cold {
                drop_caches()?;
            }
            let cpu = cpu_seconds();
            let clock = Instant::now();
            let bytes = in_threads(&dirs, threads, root_fd, |dir, name, buf| {
                check_one(dir, name, way, proc_dir, buf)
            });
            let label = match way {
                Way::OneOpen => "one-open",
                Way::Pinned => "pinned",
                Way::Lstat => "lstat",
            };
            let wall = clock.elapsed().as_secs_f64();
            results
                .entry(label)
                .or_default()
                .push((wall, cpu_seconds() - cpu, bytes));
        }
    }
    for (label, mut runs) in results {
        let median = |runs: &mut Vec<(f64, f64, u64)>, pick: fn(&(f64, f64, u64)) -> f64| {
            runs.sort_by(|a, b| pick(a).total_cmp(&pick(b)));
            runs.get(runs.len() / 2).map_or(0.0, pick)
        };
        let bytes = runs.first().map_or(0, |r| r.2);
        let wall = median(&mut runs, |r| r.0);
        let cpu = median(&mut runs, |r| r.1);
        let _ = writeln!(
            out,
            "{label:>9}: wall {wall:.3} s, cpu {cpu:.3} s, {bytes} bytes hashed"
        );
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Way {
    OneOpen,
    Pinned,
    Lstat,
}

fn drop_caches() -> Result<(), String> {
    // SAFETY: sync takes no arguments.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3")
        .map_err(|e| format!("dropping the page cache (needs root): {e}"))
}

/// Runs `each` on every file, a directory at a time: the directory is opened (a walk from the
/// root, as a real check must make) and closed around its files.
fn in_threads(
    dirs: &[(CString, Vec<CString>)],
    threads: usize,
    root_fd: libc::c_int,
    each: impl Fn(libc::c_int, &CString, &mut [u8]) -> u64 + Sync,
) -> u64 {
    let next = AtomicUsize::new(0);
    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                // One read buffer per thread, as quietwire keeps it.
                let mut buf = vec![0u8; 256 * 1024];
                while let Some((dir, names)) = dirs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    // SAFETY: a NUL-terminated relative name; the descriptor is closed below.
                    let fd = unsafe {
                        libc::openat(root_fd, dir.as_ptr(), libc::O_PATH | libc::O_DIRECTORY)
                    };
                    if fd < 0 {
                        continue;
                    }
                    let n: u64 = names.iter().map(|name| each(fd, name, &mut buf)).sum();
                    // SAFETY: closing the descriptor opened above.
                    unsafe { libc::close(fd) };
                    total.fetch_add(n as usize, Ordering::Relaxed);
                }
            });
        }
    });
    total.into_inner() as u64
}

/// The per-file work; returns the bytes hashed.
fn check_one(
    dir: libc::c_int,
    name: &CString,
    way: Way,
    proc_dir: libc::c_int,
    buf: &mut [u8],
) -> u64 {
    // SAFETY (whole function): plain system calls on NUL-terminated names, a zeroed stat buffer
    // and a stack buffer of the length given; every descriptor opened is closed.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if let Way::Lstat = way {
            libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW);
            return 0;
        }
        let (fd, pin) = if let Way::Pinned = way {
            let pin = libc::openat(dir, name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW);
            if pin < 0 {
                return 0;
            }
            if libc::fstat(pin, &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFREG {
                libc::close(pin);
                return 0;
            }
            let number = fd_name(pin);
            (
                libc::openat(
                    proc_dir,
                    number.as_ptr().cast(),
                    libc::O_RDONLY | libc::O_NOATIME | libc::O_NOCTTY | libc::O_CLOEXEC,
                ),
                pin,
            )
        } else {
            if libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) != 0
                || st.st_mode & libc::S_IFMT != libc::S_IFREG
            {
                return 0;
            }
            let fd = libc::openat(
                dir,
                name.as_ptr(),
                libc::O_RDONLY
                    | libc::O_NOATIME
                    | libc::O_NOFOLLOW
                    | libc::O_NOCTTY
                    | libc::O_CLOEXEC,
            );
            (fd, -1)
        };
        let mut hashed = 0u64;
        if fd >= 0 {
            let mut cap = [0u8; 64];
            libc::fgetxattr(
                fd,
                c"security.capability".as_ptr(),
                cap.as_mut_ptr().cast(),
                cap.len(),
            );
            let mut sha = sha2::Sha256::new();
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                let Ok(n) = usize::try_from(n) else { break };
                if n == 0 {
                    break;
                }
                if let Some(read) = buf.get(..n) {
                    sha.update(read);
                }
                hashed += n as u64;
                if hashed >= st.st_size as u64 {
                    break;
                }
            }
            std::hint::black_box(sha.finalize());
            libc::close(fd);
        }
        if pin >= 0 {
            libc::close(pin);
        }
        hashed
    }
}

/// The NUL-terminated decimal name of `fd` in `/proc/self/fd`, without an allocation.
fn fd_name(fd: libc::c_int) -> [u8; 12] {
    let mut digits = [0u8; 12];
    let mut n = fd.unsigned_abs();
    let mut len = 0;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (n % 10) as u8;
        }
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut name = [0u8; 12];
    for (i, d) in digits.iter().take(len).rev().enumerate() {
        if let Some(slot) = name.get_mut(i) {
            *slot = *d;
        }
    }
    name
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
