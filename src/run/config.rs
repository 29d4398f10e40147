//! What a command is asked to do, as plain values. `main.rs` builds a [`Config`] from the
//! command line (`crate::cli` holds the clap definitions and the conversion); nothing below the
//! run layer knows how the request was parsed, so another front end (a daemon, a test) can build
//! one directly. Choices the command line expresses as conflicting flags are one enum here
//! ([`Scope`], [`AcceptSelection`]), so an impossible combination cannot be represented.

use std::path::PathBuf;

/// One command and its settings.
#[derive(Debug, Clone)]
pub enum Config {
    Check(Check),
    Init(Init),
    Accept(Accept),
    Policy(PolicyQuery),
    Packages(PackagesQuery),
    Owner(OwnerQuery),
    /// Make an Ed25519 key pair: `PREFIX.key` and `PREFIX.pub`.
    Keygen {
        prefix: PathBuf,
    },
    Wordpress(Wordpress),
}

/// Which package database to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageManager {
    Rpm,
    Dpkg,
}

/// Output of the listings (`packages`, `wordpress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    Json,
}

/// Output of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
    /// `rpm -Va`'s lines.
    Rpm,
    /// `dpkg --verify`'s lines.
    Dpkg,
    Ndjson,
}

/// The system to examine and where its package database is.
#[derive(Debug, Clone)]
pub struct Target {
    pub root: PathBuf,
    /// rpm database directory inside the root; `None`: the usual locations.
    pub dbpath: Option<PathBuf>,
    /// `None`: the one the root holds (rpm when both).
    pub package_manager: Option<PackageManager>,
}

/// The policy and the baseline files; `None`: the defaults inside the root.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub policy: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
}

/// Worker threads and priority.
#[derive(Debug, Clone, Copy, Default)]
pub struct Threads {
    /// `None`: the default for the command (one per CPU, more readers for `check`).
    pub jobs: Option<usize>,
    /// Lowest CPU priority and idle-ish I/O priority.
    pub nice: bool,
}

/// What the baseline must match before it is used.
#[derive(Debug, Clone, Default)]
pub struct BaselineTrust {
    /// The baseline file's SHA-256, hex.
    pub digest: Option<String>,
    /// An Ed25519 public key that must have signed the baseline (BASELINE.sig).
    pub verify_key: Option<PathBuf>,
}

/// What `check` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Package-owned files and the baseline comparison.
    Full,
    /// Package-owned files only.
    OwnedOnly,
    /// The baseline comparison only.
    UnownedOnly,
    /// The packages changed since the baseline's snapshot, and the leftovers of their
    /// transactions (a package-manager hook).
    PackagesChanged,
}

impl Scope {
    pub fn verifies_owned(self) -> bool {
        self != Scope::UnownedOnly
    }

    pub fn compares_baseline(self) -> bool {
        matches!(self, Scope::Full | Scope::UnownedOnly)
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub target: Target,
    pub state: State,
    pub format: ReportFormat,
    pub scope: Scope,
    /// Verify only these packages (name, name-version-release or NEVRA); empty: all.
    pub packages: Vec<String>,
    pub threads: Threads,
    /// Trust unchanged inode, size, mtime and ctime instead of re-hashing.
    pub trust_ctime: bool,
    /// Draw a progress bar when stderr is a terminal.
    pub progress: bool,
    pub verbose: bool,
    /// Report files and mail.
    pub deliver: crate::ops::Targets,
    pub metrics_file: Option<PathBuf>,
    /// Trusted OpenPGP keys (host paths); empty: the policy's, inside the root.
    pub keys: Vec<PathBuf>,
    pub baseline_trust: BaselineTrust,
    /// dpkg roots: anchor installed md5sums in the `.deb` files of this directory (inside the
    /// root) that apt's signed indexes list (`crate::dpkg::anchor`).
    pub deb_archives: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Init {
    pub target: Target,
    pub state: State,
    /// Replace an existing baseline.
    pub force: bool,
    /// Ed25519 secret key to sign the written baseline with.
    pub sign_key: Option<PathBuf>,
    pub threads: Threads,
    /// Also record the owned-file cache for `check --trust-ctime`.
    pub trust_ctime: bool,
}

/// Which current states `accept` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptSelection {
    /// Everything the baseline covers.
    All,
    /// Paths or globs inside the root.
    Paths(Vec<String>),
    /// The baselined files these installed packages own.
    Packages(Vec<String>),
    /// Only the package snapshot (after a package transaction).
    Snapshot,
    /// Exactly the findings of this report file.
    Report(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Accept {
    pub target: Target,
    pub state: State,
    pub selection: AcceptSelection,
    pub threads: Threads,
    /// Also record the owned-file cache for `check --trust-ctime`.
    pub trust_ctime: bool,
    pub sign_key: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct PolicyQuery {
    pub root: PathBuf,
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct PackagesQuery {
    pub target: Target,
    pub format: ListFormat,
    /// Text format: add each header's signature status.
    pub signatures: bool,
    /// Policy file for `signatures.trusted_keys`.
    pub policy: Option<PathBuf>,
    /// Trusted OpenPGP keys (host paths); empty: the policy's, inside the root.
    pub keys: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct OwnerQuery {
    pub target: Target,
    /// Paths as they appear inside the root.
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Wordpress {
    pub root: PathBuf,
    /// Trees to search for installs; empty: the usual web roots.
    pub trees: Vec<PathBuf>,
    pub format: ListFormat,
    /// Download (or, `offline`, name) the manifests the installs need instead of listing.
    pub fetch: bool,
    pub offline: bool,
}
