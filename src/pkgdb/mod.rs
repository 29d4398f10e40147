//! The package-database seam: what verification and the baseline need to know from a package
//! manager, in terms that do not assume which one. A package source vouches for file contents;
//! the flow is package source → owned-file table → verify owned (the source's own rules) →
//! findings, and package source → snapshot → baseline (change explanations).
//!
//! [`PackageDb`] is the seam: installed packages ([`InstalledPackage`]), the owned-file table
//! ([`OwnedIndex`]: per path, the digest the package vouches for or [`OwnedReason`] why it does
//! not), the package-set snapshot the baseline keeps ([`PackageSnapshot`]), the leftover
//! suffixes its transactions create, and header trust ([`SigStatus`]). Verifying owned files
//! is done by the source's own rules (rpm: `crate::rpmdb::verify`, rpm -V's rules), which
//! produce [`crate::finding::Finding`]s.
//!
//! RPM (`src/rpmdb/`, `rpmdb/db.rs`) and dpkg (`src/dpkg/`) implement it. To add a package
//! manager, implement [`PackageDb`] and its verification rules in `src/NAME/`, add a variant
//! to the run layer's `PkgDb` and open it in `run::open_db`, the one place that chooses the
//! source. Nothing outside an implementation's module interprets its flag numbers or file
//! formats: it maps them onto [`FileClass`] and [`OwnedReason`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The algorithm of the digests a package vouches for, by OpenPGP hash id (what rpm's
/// FILEDIGESTALGO stores; an absent tag means MD5). `crate::scan::hash` computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DigestAlgo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    /// An id rpm's crypto backend would not know; rpm falls back to MD5 for it.
    Unknown(u32),
}

impl DigestAlgo {
    pub fn from_pgp_id(id: u32) -> DigestAlgo {
        match id {
            1 => DigestAlgo::Md5,
            2 => DigestAlgo::Sha1,
            8 => DigestAlgo::Sha256,
            9 => DigestAlgo::Sha384,
            10 => DigestAlgo::Sha512,
            11 => DigestAlgo::Sha224,
            other => DigestAlgo::Unknown(other),
        }
    }

    /// Digest length in bytes (an unknown id is hashed as MD5, like rpm).
    pub fn digest_len(self) -> usize {
        match self {
            DigestAlgo::Md5 | DigestAlgo::Unknown(_) => 16,
            DigestAlgo::Sha1 => 20,
            DigestAlgo::Sha224 => 28,
            DigestAlgo::Sha256 => 32,
            DigestAlgo::Sha384 => 48,
            DigestAlgo::Sha512 => 64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DigestAlgo::Md5 => "md5",
            DigestAlgo::Sha1 => "sha1",
            DigestAlgo::Sha224 => "sha224",
            DigestAlgo::Sha256 => "sha256",
            DigestAlgo::Sha384 => "sha384",
            DigestAlgo::Sha512 => "sha512",
            DigestAlgo::Unknown(_) => "unknown",
        }
    }
}

/// The verdict on one installed package's header (its metadata record: the file list and digests
/// the package vouches for), as judged against trusted OpenPGP keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigStatus {
    /// The header signature verifies with a trusted key (long key id, hex).
    Signed { key_id: String },
    /// The header carries no signature.
    Unsigned,
    /// Signed, but by a key that is not trusted.
    UnknownKey { key_id: Option<String> },
    /// The signature does not verify over the signed part of the header (or cannot be parsed).
    BadSignature {
        key_id: Option<String>,
        reason: String,
    },
    /// The header's own digest does not match the header.
    DigestMismatch,
    /// Signed with an algorithm that cannot be verified (e.g. DSA, RPMv3).
    Unsupported {
        key_id: Option<String>,
        reason: String,
    },
    /// A pseudo-package that holds an imported key (rpm's `gpg-pubkey`), not a package.
    PublicKey,
    /// Not checked (the database was read without a keyring).
    NotChecked,
}

impl SigStatus {
    /// Stable machine name (`signed`, `unsigned`, `unknown-key`, `bad-signature`,
    /// `digest-mismatch`, `unsupported`, `pubkey`, `not-checked`).
    pub fn name(&self) -> &'static str {
        match self {
            SigStatus::Signed { .. } => "signed",
            SigStatus::Unsigned => "unsigned",
            SigStatus::UnknownKey { .. } => "unknown-key",
            SigStatus::BadSignature { .. } => "bad-signature",
            SigStatus::DigestMismatch => "digest-mismatch",
            SigStatus::Unsupported { .. } => "unsupported",
            SigStatus::PublicKey => "pubkey",
            SigStatus::NotChecked => "not-checked",
        }
    }

    pub fn key_id(&self) -> Option<&str> {
        match self {
            SigStatus::Signed { key_id } => Some(key_id),
            SigStatus::UnknownKey { key_id }
            | SigStatus::BadSignature { key_id, .. }
            | SigStatus::Unsupported { key_id, .. } => key_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the header was altered after signing: its file digests cannot be trusted.
    pub fn is_tampered(&self) -> bool {
        matches!(
            self,
            SigStatus::BadSignature { .. } | SigStatus::DigestMismatch
        )
    }

    /// One line for people: `signed (key 0123...)`, `bad-signature (key ...: reason)`.
    pub fn describe(&self) -> String {
        let mut s = self.name().to_string();
        let key = self.key_id().map(|k| format!("key {k}"));
        let reason = match self {
            SigStatus::BadSignature { reason, .. } | SigStatus::Unsupported { reason, .. } => {
                Some(reason.clone())
            }
            _ => None,
        };
        let parts: Vec<String> = key.into_iter().chain(reason).collect();
        if !parts.is_empty() {
            s.push_str(&format!(" ({})", parts.join(": ")));
        }
        s
    }
}

/// How a package marks one of its files, as the package manager's listing shows it (a verify
/// line prints [`FileClass::letter`]). When a source marks a file several ways, it picks the
/// one its own listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileClass {
    Plain,
    /// Configuration the administrator may edit (rpm `%config`, dpkg conffile).
    Config,
    Doc,
    /// Recorded, but its content is never installed (rpm `%ghost`).
    Ghost,
    License,
    Readme,
    /// A build artifact (rpm `%artifact`).
    Artifact,
    /// The package's own build recipe (rpm's spec file in a source package).
    Spec,
    /// May be missing without the package failing verification.
    MissingOk,
    /// A configuration file that an update never overwrites.
    NoReplace,
}

impl FileClass {
    /// The letter a verify line shows for the class (`c d s m n g l r a`), a blank for
    /// [`FileClass::Plain`].
    pub fn letter(self) -> u8 {
        match self {
            FileClass::Plain => b' ',
            FileClass::Config => b'c',
            FileClass::Doc => b'd',
            FileClass::Ghost => b'g',
            FileClass::License => b'l',
            FileClass::Readme => b'r',
            FileClass::Artifact => b'a',
            FileClass::Spec => b's',
            FileClass::MissingOk => b'm',
            FileClass::NoReplace => b'n',
        }
    }
}

/// Why an owned file is in the baseline: the reason the package manager's own verification is
/// silent about (some of) its changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnedReason {
    /// `%ghost`: rpm records the path but never its content.
    Ghost,
    /// `%verify(not md5 ...)`: rpm does not compare the content.
    NoDigestVerify,
    /// `%config`: rpm verifies it, but administrators edit it; an accepted edit stays quiet.
    Config,
    /// The package manager vouches for the content but records no mode, owner, group or link
    /// target (dpkg): the baseline holds those; the content is not hashed again.
    Metadata,
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
            OwnedReason::Metadata => {
                "dpkg records no mode, owner or link target: the baseline holds them; the content is verified against the package's md5sums"
            }
        }
    }
}

/// One owned path: who owns it and what the owner vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFile {
    /// Full name of the owning package (`name-[epoch:]version-release.arch` for rpm).
    pub nevra: String,
    /// The digest the package records for the content (lower-case hex, empty when none).
    pub digest: String,
    pub algo: DigestAlgo,
    /// Why the baseline records this file too; `None` when the package manager's verification
    /// covers it fully.
    pub reason: Option<OwnedReason>,
}

impl OwnedFile {
    /// Whether the baseline records this file, and why.
    pub fn reason(&self) -> Option<OwnedReason> {
        self.reason
    }

    /// Whether the package vouches for the content: its verification compares the digest, and
    /// there is one to compare.
    pub fn package_vouches_content(&self) -> bool {
        !matches!(
            self.reason,
            Some(OwnedReason::Ghost | OwnedReason::NoDigestVerify)
        ) && !self.digest.is_empty()
    }
}

/// Path → owner, for every file of every installed package. Keyed by the path's bytes: package
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

    pub fn with_capacity(n: usize) -> OwnedIndex {
        OwnedIndex {
            map: HashMap::with_capacity(n),
        }
    }

    /// Add an owner. When several packages own a path, the first one added stays (a shared
    /// directory or a multilib file: the walk only needs to know that it is owned).
    pub fn insert(&mut self, path: PathBuf, file: OwnedFile) {
        self.map.entry(path.into_os_string()).or_insert(file);
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

/// One package of the package-set snapshot kept in the baseline header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSnapshot {
    /// The package's full name (rpm: NEVRA).
    pub nevra: String,
    /// The transaction that installed it (rpm: INSTALLTID).
    pub install_tid: Option<u32>,
    /// A digest of the package's header as installed (rpm: SHA256HEADER).
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
    /// Whether `other` is the same installed header: same name, install transaction and header
    /// digest. The trust fields are left out: they depend on the keys loaded, not on the header.
    pub fn same_header(&self, other: &PackageSnapshot) -> bool {
        self.nevra == other.nevra
            && self.install_tid == other.install_tid
            && self.sha256_header == other.sha256_header
    }
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

/// An installed package as verification and the reports need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// Position in the database order ([`PackageDb::packages`]); findings refer to it.
    pub index: usize,
    pub name: String,
    /// Full name, unique among installed packages (rpm: NEVRA).
    pub nevra: String,
    /// Version as the package manager writes it (rpm: `[epoch:]version-release`).
    pub version: String,
    pub arch: Option<String>,
    /// Seconds since the epoch.
    pub install_time: Option<u32>,
    /// The verdict on the package's header signature.
    pub trust: SigStatus,
}

/// A package database, opened read-only. See the module documentation.
pub trait PackageDb: Sync {
    /// Short name of the package manager (`rpm`), for messages.
    fn manager(&self) -> &'static str;

    /// The database file, as opened (for messages).
    fn location(&self) -> &Path;

    /// Installed packages, in the database's own order.
    fn packages(&self) -> Vec<InstalledPackage>;

    /// Whether a package argument (as the administrator writes it: a name, or a name with a
    /// version) names the installed package at `index`.
    fn matches(&self, index: usize, arg: &str) -> bool;

    /// The packages that arguments name, argument by argument (a package named twice comes
    /// twice), and the arguments that name none.
    fn select(&self, args: &[String]) -> (Vec<usize>, Vec<String>) {
        let n = self.packages().len();
        let mut selected = Vec::new();
        let mut not_installed = Vec::new();
        for arg in args {
            let before = selected.len();
            selected.extend((0..n).filter(|&i| self.matches(i, arg)));
            if selected.len() == before {
                not_installed.push(arg.clone());
            }
        }
        (selected, not_installed)
    }

    /// Every path the installed packages put on disk, with what each vouches for.
    fn owned_index(&self) -> OwnedIndex;

    /// The package-set snapshot the baseline keeps, sorted.
    fn snapshot(&self) -> Vec<PackageSnapshot>;

    /// Configuration files of the installed package with this full name, absolute inside the
    /// root.
    fn config_files(&self, nevra: &str) -> Vec<PathBuf>;

    /// Suffixes the package manager gives a configuration file it did not overwrite or saved
    /// before replacing (rpm: `.rpmnew`, `.rpmsave`, `.rpmorig`).
    fn leftover_suffixes(&self) -> &'static [&'static str];
}

/// Every armored OpenPGP public-key block of `text`, in order (`-----BEGIN ...` to `-----END
/// ...` inclusive): the key files of rpm and apt alike often concatenate several blocks, and
/// parsers load only the first.
pub fn split_armored(text: &str) -> Vec<&str> {
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let Some(end) = after.find(END) else {
            break;
        };
        let stop = end + END.len();
        out.push(&after[..stop]);
        rest = &after[stop..];
    }
    out
}
