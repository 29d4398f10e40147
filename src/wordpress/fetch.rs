//! Downloading checksum manifests for `quietwire wordpress fetch`: HTTPS with verified
//! certificates (rustls, webpki roots) and timeouts, the body bounded and checked by the same
//! parser the check uses before it is saved, the save atomic and confined to the root. Only
//! this command uses the network.

use super::manifest::MAX_MANIFEST_BYTES;
use super::MANIFEST_DIR;
use crate::scan::fs::Dir;
use std::ffi::OsStr;
use std::path::Path;
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
    top.make_dir_path(Path::new(MANIFEST_DIR))
        .and_then(|dir| dir.replace_file(OsStr::new(name), body, 0o644))
        .map_err(|e| e.message())
}
