//! Downloading checksum manifests for `quietwire wordpress fetch`: HTTPS with verified
//! certificates (rustls, webpki roots) and timeouts, the body bounded and checked by the same
//! parser the check uses before it is saved, the save atomic and confined to the root. Only
//! this command uses the network.

use super::manifest::MAX_MANIFEST_BYTES;
use super::MANIFEST_DIR;
use crate::scan::fs::{Dir, Errno};
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::time::Duration;

/// Replaces `https://api.wordpress.org` (core checksums), for tests and mirrors.
pub const ENV_API: &str = "QUIETWIRE_WORDPRESS_API";
/// Replaces `https://downloads.wordpress.org` (plugin checksums).
pub const ENV_DOWNLOADS: &str = "QUIETWIRE_WORDPRESS_DOWNLOADS";

/// The API bases URLs are built from.
#[derive(Debug, Clone)]
pub struct Bases {
    pub api: String,
    pub downloads: String,
    /// Whether a base was overridden: only then may it be plain HTTP (a test server).
    pub overridden: bool,
}

impl Bases {
    pub fn official() -> Bases {
        Bases {
            api: "https://api.wordpress.org".to_string(),
            downloads: "https://downloads.wordpress.org".to_string(),
            overridden: false,
        }
    }

    pub fn from_env() -> Bases {
        let mut b = Bases::official();
        for (var, slot) in [(ENV_API, &mut b.api), (ENV_DOWNLOADS, &mut b.downloads)] {
            if let Some(v) = std::env::var_os(var).and_then(|v| v.into_string().ok()) {
                *slot = v.trim_end_matches('/').to_string();
                b.overridden = true;
            }
        }
        b
    }
}

/// An HTTP client for manifests.
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub fn new(bases: &Bases) -> Client {
        let agent = ureq::Agent::config_builder()
            .https_only(!bases.overridden)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(120)))
            .max_redirects(3)
            .user_agent(concat!("quietwire/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent }
    }

    /// The body at `url`, at most [`MAX_MANIFEST_BYTES`]; any status but 2xx is an error.
    pub fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut resp = self.agent.get(url).call().map_err(|e| e.to_string())?;
        resp.body_mut()
            .with_config()
            .limit(MAX_MANIFEST_BYTES)
            .read_to_vec()
            .map_err(|e| e.to_string())
    }
}

/// Write `body` as `name` in [`MANIFEST_DIR`] inside the root `top`: the directories made as
/// needed (mode 0755) without following a symlink, a temporary file written and synced, then
/// renamed over the old one, so a crash leaves the old manifest or the new one.
pub fn save(top: &Dir, name: &str, body: &[u8]) -> Result<(), String> {
    let dir = make_dirs(top, Path::new(MANIFEST_DIR)).map_err(|e| e.message())?;
    let tmp = format!(".{name}.{}.tmp", std::process::id());
    let ctmp = CString::new(tmp.as_bytes()).map_err(|e| e.to_string())?;
    let cname = CString::new(name.as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: valid dir fd and NUL-terminated name; the result is checked.
    let fd = unsafe {
        libc::openat(
            dir.raw(),
            ctmp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(last_errno().message());
    }
    // SAFETY: fresh descriptor owned from here.
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let unlink = || {
        // SAFETY: as above; failure leaves a stray temp file only.
        unsafe { libc::unlinkat(dir.raw(), ctmp.as_ptr(), 0) };
    };
    let written = std::io::Write::write_all(&mut f, body).and_then(|()| f.sync_all());
    if let Err(e) = written {
        unlink();
        return Err(e.to_string());
    }
    drop(f);
    // SAFETY: valid dir fd and names.
    if unsafe { libc::renameat(dir.raw(), ctmp.as_ptr(), dir.raw(), cname.as_ptr()) } != 0 {
        let e = last_errno();
        unlink();
        return Err(e.message());
    }
    // SAFETY: valid fd; a failed directory sync only weakens durability.
    unsafe { libc::fsync(dir.raw()) };
    Ok(())
}

fn make_dirs(top: &Dir, path: &Path) -> Result<Dir, Errno> {
    let mut cur = top.try_clone()?;
    for c in path.components() {
        let Component::Normal(n) = c else { continue };
        let name = CString::new(OsStr::as_bytes(n)).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: valid dir fd and NUL-terminated name.
        if unsafe { libc::mkdirat(cur.raw(), name.as_ptr(), 0o755) } != 0 {
            let e = last_errno();
            if e.0 != libc::EEXIST {
                return Err(e);
            }
        }
        cur = cur.open_child(n)?;
    }
    Ok(cur)
}

fn last_errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}
