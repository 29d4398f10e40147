//! What the rpmdb says about paths, as far as the unowned walk and the baseline need it: which
//! paths are package-owned (so not walked as unowned), and which owned files rpm does not vouch
//! for (so they are baselined too: %config, %ghost, and files whose verify flags exclude the
//! digest, such as /etc/passwd in RHEL's `setup`).

use crate::rpmdb::{DigestAlgo, FileState, Package};
use crate::rpmdb::trust::SigStatus;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// rpm FILEFLAGS bits used here (`rpm::FileFlags`).
pub const RPMFILE_CONFIG: u32 = 1;
pub const RPMFILE_GHOST: u32 = 1 << 6;
/// rpm FILEVERIFYFLAGS bit for the content digest (`rpm::FileVerifyFlags::FILEDIGEST`).
pub const RPMVERIFY_FILEDIGEST: u32 = 1;

/// Why an owned file is in the baseline: the reason rpm's own verification is silent about
/// (some of) its changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnedReason {
    /// `%ghost`: rpm records the path but never its content.
    Ghost,
    /// `%verify(not md5 ...)`: rpm does not compare the content.
    NoDigestVerify,
    /// `%config`: rpm verifies it, but administrators edit it; an accepted edit stays quiet.
    Config,
}

impl OwnedReason {
    pub fn describe(self) -> &'static str {
        match self {
            OwnedReason::Ghost => "%ghost file: rpm does not verify its content",
            OwnedReason::NoDigestVerify => {
                "its verify flags exclude the digest: rpm does not verify its content"
            }
            OwnedReason::Config => {
                "%config file: edits are expected, the baseline holds the accepted state"
            }
        }
    }
}

/// One owned path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFile {
    /// NEVRA of the owning package.
    pub nevra: String,
    /// FILEFLAGS.
    pub flags: u32,
    /// FILEVERIFYFLAGS.
    pub verify_flags: u32,
    /// FILEDIGESTS entry (lower-case hex, empty when none).
    pub digest: String,
    pub algo: DigestAlgo,
}

impl OwnedFile {
    /// Whether the baseline records this file, and why. Ghost wins over the others because it
    /// says the most about what rpm checks (nothing of the content).
    pub fn reason(&self) -> Option<OwnedReason> {
        if self.flags & RPMFILE_GHOST != 0 {
            Some(OwnedReason::Ghost)
        } else if self.verify_flags & RPMVERIFY_FILEDIGEST == 0 {
            Some(OwnedReason::NoDigestVerify)
        } else if self.flags & RPMFILE_CONFIG != 0 {
            Some(OwnedReason::Config)
        } else {
            None
        }
    }

    /// Whether rpm vouches for the content: it compares the digest and has one to compare.
    pub fn package_vouches_content(&self) -> bool {
        self.flags & RPMFILE_GHOST == 0
            && self.verify_flags & RPMVERIFY_FILEDIGEST != 0
            && !self.digest.is_empty()
    }
}

/// Path → owner, for every file of every installed package. Keyed by the path's bytes: rpm's
/// paths are normalized, and hashing bytes is several times cheaper than hashing a `Path`
/// component by component (the walk looks up every path it lists).
#[derive(Debug, Clone, Default)]
pub struct OwnedIndex {
    map: HashMap<OsString, OwnedFile>,
}

impl OwnedIndex {
    pub fn new() -> OwnedIndex {
        OwnedIndex::default()
    }

    /// Add an owner. When several packages own a path, the first one added stays (a shared
    /// directory or a multilib file: the walk only needs to know that it is owned).
    pub fn insert(&mut self, path: PathBuf, file: OwnedFile) {
        self.map.entry(path.into_os_string()).or_insert(file);
    }

    /// Every file of `packages`. Files rpm did not install (state `not installed`, `wrong color`)
    /// are not owned on disk and are left out, as `rpm -V` skips them.
    pub fn from_packages(packages: &[Package]) -> OwnedIndex {
        let mut idx = OwnedIndex {
            map: HashMap::with_capacity(packages.iter().map(|p| p.files.len()).sum()),
        };
        for p in packages {
            let nevra = p.nevra();
            for f in &p.files {
                if matches!(f.state, FileState::NotInstalled | FileState::WrongColor) {
                    continue;
                }
                idx.insert(
                    f.path.clone(),
                    OwnedFile {
                        nevra: nevra.clone(),
                        flags: f.flags,
                        verify_flags: f.verify_flags,
                        digest: f.digest.clone(),
                        algo: p.digest_algo,
                    },
                );
            }
        }
        idx
    }

    pub fn get(&self, path: &Path) -> Option<&OwnedFile> {
        self.map.get(path.as_os_str())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Path, &OwnedFile)> {
        self.map.iter().map(|(p, f)| (Path::new(p), f))
    }
}

/// One package of the rpmdb snapshot kept in the baseline header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSnapshot {
    pub nevra: String,
    pub install_tid: Option<u32>,
    pub sha256_header: Option<String>,
    /// The header's signature status when the snapshot was taken ([`SigStatus::name`]); `None`
    /// in baselines written before trust was recorded, or when the database was read without
    /// a keyring. See [`crate::verify::signature`] for how it is judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
    /// The signing key's long id, for `signed`, `unknown-key`, `unsupported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_key: Option<String>,
}

impl PackageSnapshot {
    /// Whether `other` is the same installed header: same NEVRA, install TID and header digest.
    /// The trust fields are left out: they depend on the keys loaded, not on the header.
    pub fn same_header(&self, other: &PackageSnapshot) -> bool {
        self.nevra == other.nevra
            && self.install_tid == other.install_tid
            && self.sha256_header == other.sha256_header
    }
}

/// The snapshot of an installed package set, sorted by NEVRA.
pub fn snapshot(packages: &[Package]) -> Vec<PackageSnapshot> {
    let mut v: Vec<PackageSnapshot> = packages
        .iter()
        .map(|p| PackageSnapshot {
            nevra: p.nevra(),
            install_tid: p.install_tid,
            sha256_header: p.sha256_header.clone(),
            trust: match p.signature {
                SigStatus::NotChecked => None,
                ref s => Some(s.name().to_string()),
            },
            trust_key: p.signature.key_id().map(str::to_owned),
        })
        .collect();
    v.sort();
    v
}

/// Packages installed, removed or reinstalled between two snapshots: `(added, removed)`, each
/// sorted. An explanation for the administrator after `dnf update`, not a finding.
pub fn snapshot_diff(
    old: &[PackageSnapshot],
    new: &[PackageSnapshot],
) -> (Vec<PackageSnapshot>, Vec<PackageSnapshot>) {
    let added = new
        .iter()
        .filter(|p| !old.iter().any(|q| q.same_header(p)))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|p| !new.iter().any(|q| q.same_header(p)))
        .cloned()
        .collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flags: u32, vflags: u32) -> OwnedFile {
        OwnedFile {
            nevra: "setup-2.13.7-10.el9.noarch".into(),
            flags,
            verify_flags: vflags,
            digest: "ab".into(),
            algo: DigestAlgo::Sha256,
        }
    }

    #[test]
    fn reasons_follow_rpm_flags() {
        // /etc/passwd in RHEL's setup: %config(noreplace) %verify(not md5 size mtime).
        let passwd = f(RPMFILE_CONFIG | (1 << 4), !(1 | 2 | 32));
        assert_eq!(passwd.reason(), Some(OwnedReason::NoDigestVerify));
        assert!(!passwd.package_vouches_content());
        assert_eq!(
            f(RPMFILE_GHOST, u32::MAX).reason(),
            Some(OwnedReason::Ghost)
        );
        assert_eq!(
            f(RPMFILE_CONFIG, u32::MAX).reason(),
            Some(OwnedReason::Config)
        );
        assert!(f(RPMFILE_CONFIG, u32::MAX).package_vouches_content());
        assert_eq!(f(0, u32::MAX).reason(), None);
    }
}
