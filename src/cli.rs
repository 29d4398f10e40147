//! The command-line interface definition (clap derive) and its conversion to the plain
//! [`Config`] the run layer takes. Only `main.rs` uses it: it parses, converts and calls
//! `run::run`; the man page test reads every subcommand and option from here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Package-manager-aware file integrity verifier for RPM-based systems.
#[derive(Debug, Parser)]
#[command(name = "quietwire", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify package-owned files against the rpm database and unowned files against the baseline.
    Check(CheckArgs),
    /// Create the baseline of unowned paths (and of owned files rpm does not vouch for).
    Init(InitArgs),
    /// Record the current state of chosen paths into the baseline.
    Accept(AcceptArgs),
    /// Print the effective policy (embedded default merged with the override file).
    Policy(PolicyArgs),
    /// List installed packages as read from the rpm database (like `rpm -qa`).
    Packages(PackagesArgs),
    /// Show which installed package owns each path (like `rpm -qf`).
    Owner(OwnerArgs),
    /// Make an Ed25519 key pair for signing the baseline (PREFIX.key, PREFIX.pub).
    Keygen(KeygenArgs),
    /// List WordPress installs, plugins and themes with their versions and checksum manifests.
    Wordpress(WordpressArgs),
}

#[derive(Debug, Args)]
pub struct WordpressArgs {
    #[command(subcommand)]
    pub action: Option<WordpressAction>,
    /// Root directory of the system to examine.
    #[arg(long, value_name = "DIR", default_value = "/", global = true)]
    pub root: PathBuf,
    /// Search this tree (absolute inside the root) for installs instead of /var/www, /srv/www
    /// and /usr/share/wordpress. Repeatable.
    #[arg(long = "tree", value_name = "DIR", global = true)]
    pub trees: Vec<PathBuf>,
    /// Output format of the listing.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// `fetch`: do not download; only print which URL to save as which file.
    #[arg(long, global = true)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum WordpressAction {
    /// Download the checksum manifests the installs need (HTTPS), or say which URL to save as
    /// which file.
    Fetch,
}

/// Trusted OpenPGP keys for installed packages' header signatures.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// Trusted OpenPGP public key files or directories of them (host paths; every armored key
    /// block of a file is loaded), instead of the policy's `signatures.trusted_keys` inside the
    /// root. Repeatable. For an offline root, pass the host's known-good vendor keys.
    #[arg(long = "keys", value_name = "FILE|DIR", num_args = 1..)]
    pub keys: Vec<PathBuf>,
}

/// The baseline's own integrity, checked before it is used.
#[derive(Debug, Clone, Default, Args)]
pub struct BaselineTrustArgs {
    /// Fail (exit 18) unless the baseline file's SHA-256 is HEX (the value every report prints;
    /// keep it off the host).
    #[arg(long, value_name = "HEX")]
    pub baseline_digest: Option<String>,
    /// Fail (exit 18) unless BASELINE.sig is a valid signature of the baseline by this Ed25519
    /// public key (made by `quietwire keygen`).
    #[arg(long, value_name = "FILE")]
    pub verify_key: Option<PathBuf>,
}

/// Signing the baseline that `init` or `accept` writes.
#[derive(Debug, Clone, Default, Args)]
pub struct SignArgs {
    /// Sign the written baseline with this Ed25519 secret key (PREFIX.key from `quietwire
    /// keygen`); the signature is written next to it as BASELINE.sig.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the secret key to PREFIX.key (mode 0600) and the public key to PREFIX.pub; existing
    /// files are never overwritten.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
}

/// Where the system to examine and its rpm database are.
#[derive(Debug, Clone, Args)]
pub struct RootArgs {
    /// Root directory of the system to examine (a mounted disk, a container image, ...).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// rpm database directory inside the root (default: var/lib/rpm, then usr/lib/sysimage/rpm).
    #[arg(long, value_name = "DIR")]
    pub dbpath: Option<PathBuf>,
    /// Package database to read: rpm or dpkg (default: the one the root holds; rpm when both).
    #[arg(long, value_enum, value_name = "NAME")]
    pub package_manager: Option<PackageManager>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PackageManager {
    Rpm,
    Dpkg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One `name-version-release.arch` per line, like `rpm -qa`.
    Text,
    /// One JSON array of package objects, in database order.
    Json,
}

#[derive(Debug, Args)]
pub struct PackagesArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// Text format: add the header signature status and key id of each package (tab-separated).
    /// JSON always has them as `signature: {status, key_id}`.
    #[arg(long)]
    pub signatures: bool,
    /// Policy file (for `signatures.trusted_keys`) instead of /etc/quietwire/policy.toml inside
    /// the root.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

#[derive(Debug, Args)]
pub struct OwnerArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Paths to look up, as they appear inside the root.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Human-readable findings with the expected and the actual value of each change.
    Text,
    /// One JSON object `{"findings": [...], "summary": {...}}`.
    Json,
    /// Package-owned findings exactly as `rpm -Va` prints them.
    Rpm,
    /// Package-owned findings exactly as `dpkg --verify` prints them (dpkg roots, with
    /// --owned-only).
    Dpkg,
    /// One JSON object per line for log pipelines: each finding, each unchecked path, then a
    /// summary; ECS field names (quietwire(8), NDJSON).
    Ndjson,
}

/// The policy and the baseline used by `check`, `init` and `accept`.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Policy file to use instead of /etc/quietwire/policy.toml inside the root.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Baseline file (default: var/lib/quietwire/baseline inside the root).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Verify only package-owned files (no baseline comparison).
    #[arg(long, conflicts_with = "unowned_only")]
    pub owned_only: bool,
    /// Compare only with the baseline (no verification of package-owned files).
    #[arg(long)]
    pub unowned_only: bool,
    /// Verify only the named packages (name, name-version-release, or full NEVRA); repeatable.
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Worker threads for reading the rpmdb, walking and hashing (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run at the lowest CPU priority (nice 19) and best-effort I/O priority level 7.
    #[arg(long)]
    pub nice: bool,
    /// Do not re-hash an unowned file whose inode, size, mtime and ctime equal the baseline's,
    /// nor a package file whose state equals the one recorded by `init`/`accept --trust-ctime`
    /// (faster, weaker: trusts the ctime, which only the clock's owner can fake).
    #[arg(long)]
    pub trust_ctime: bool,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Also show informational findings; with --format rpm, every checked file like `rpm -Vv`.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub ops: CheckOpsArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub baseline_trust: BaselineTrustArgs,
    /// dpkg roots: check each installed package's md5sums against the .deb in DIR (inside the
    /// root) whose SHA-256 a Packages index lists, under an InRelease signed by a key of apt's
    /// keyrings (or of --keys).
    #[arg(long, value_name = "DIR", num_args = 0..=1,
          default_missing_value = crate::dpkg::anchor::DEFAULT_ARCHIVES)]
    pub deb_archives: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Replace an existing baseline (the previous one is kept as FILE.prev).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub sign: SignArgs,
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Hashing threads and priority, for `init` and `accept` (`check` has its own).
#[derive(Debug, Clone, Args)]
pub struct Tuning {
    /// Worker threads for reading the rpmdb, walking and hashing (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run at the lowest CPU priority (nice 19) and best-effort I/O priority level 7.
    #[arg(long)]
    pub nice: bool,
    /// Also verify every package-owned file and record, beside the baseline, the state of those
    /// whose content matched the rpmdb, for `check --trust-ctime` (quietwire(8), OWNED-FILE CACHE).
    #[arg(long)]
    pub trust_ctime: bool,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Accept the current state of everything the baseline covers.
    #[arg(long, conflicts_with = "patterns")]
    pub all: bool,
    /// Paths or globs inside the root (`*` within a name, `**` across directories); a directory
    /// selects everything under it.
    #[arg(
        value_name = "PATH|GLOB",
        required_unless_present_any = ["all", "packages", "report", "package"]
    )]
    pub patterns: Vec<String>,
    /// Accept the current state of the baselined files the named installed package owns
    /// (name, name-version-release, or full NEVRA); repeatable.
    #[arg(
        long = "package",
        value_name = "NAME",
        conflicts_with_all = ["all", "patterns", "report", "packages"]
    )]
    pub package: Vec<String>,
    #[command(flatten)]
    pub tuning: Tuning,
    /// Record only the current rpmdb package snapshot into the baseline (after a package
    /// transaction); no path record changes.
    #[arg(long, conflicts_with_all = ["all", "patterns", "report"])]
    pub packages: bool,
    /// Accept exactly the findings of a report written by `check --report-file FILE`; a path
    /// whose state changed again since then is refused (exit status 25).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["all", "patterns"])]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub sign: SignArgs,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Root directory whose /etc/quietwire/policy.toml overrides the embedded default.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Policy file to use instead of /etc/quietwire/policy.toml inside the root.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `check` options for running from a schedule or a package-manager hook.
#[derive(Debug, Clone, Args)]
pub struct CheckOpsArgs {
    /// Verify only the packages installed, updated or reinstalled since the baseline's rpmdb
    /// snapshot (for a post-transaction hook): no baseline walk, but .rpmnew/.rpmsave/.rpmorig
    /// files next to their config files are reported.
    #[arg(long, conflicts_with_all = ["packages", "owned_only", "unowned_only"])]
    pub packages_changed: bool,
    /// Also write the JSON report, with the current state of every reported path, to FILE
    /// (atomically, mode 0600); `accept --report FILE` accepts it after review. A FILE ending in
    /// `.ndjson` or `.jsonl` gets the lines of `--format ndjson` instead (for a log shipper).
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub report_file: Vec<PathBuf>,
    /// Write Prometheus metrics for node_exporter's textfile collector to FILE (atomically,
    /// mode 0644) after every check, a failed one too.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Mail the text report to ADDR through sendmail when there are findings (above info) or
    /// errors; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub mail_to: Vec<String>,
    /// The sendmail program, run as `PATH -t -oi` with the message on its standard input.
    #[arg(long, value_name = "PATH", default_value = crate::ops::mail::DEFAULT_SENDMAIL)]
    pub sendmail: PathBuf,
    /// With --mail-to, mail the report even when nothing was found.
    #[arg(long, requires = "mail_to")]
    pub mail_always: bool,
}

// ---- the plain request the run layer works on ----

use crate::run::config::{self as cfg, AcceptSelection, Config, Scope};

impl Cli {
    /// The request as plain values; clap's conflicts and requirements already hold, so each
    /// choice among conflicting flags becomes one enum value.
    pub fn into_config(self) -> Config {
        match self.command {
            Command::Check(a) => Config::Check(a.into()),
            Command::Init(a) => Config::Init(cfg::Init {
                target: a.root.into(),
                state: a.state.into(),
                force: a.force,
                sign_key: a.sign.sign_key,
                threads: a.tuning.threads(),
                trust_ctime: a.tuning.trust_ctime,
            }),
            Command::Accept(a) => Config::Accept(a.into()),
            Command::Policy(a) => Config::Policy(cfg::PolicyQuery {
                root: a.root,
                policy: a.policy,
            }),
            Command::Packages(a) => Config::Packages(cfg::PackagesQuery {
                target: a.root.into(),
                format: a.format.into(),
                signatures: a.signatures,
                policy: a.policy,
                keys: a.keys.keys,
            }),
            Command::Owner(a) => Config::Owner(cfg::OwnerQuery {
                target: a.root.into(),
                paths: a.paths,
            }),
            Command::Keygen(a) => Config::Keygen { prefix: a.out },
            Command::Wordpress(a) => Config::Wordpress(cfg::Wordpress {
                root: a.root,
                trees: a.trees,
                format: a.format.into(),
                fetch: matches!(a.action, Some(WordpressAction::Fetch)),
                offline: a.offline,
            }),
        }
    }
}

impl From<CheckArgs> for cfg::Check {
    fn from(a: CheckArgs) -> cfg::Check {
        let scope = if a.ops.packages_changed {
            Scope::PackagesChanged
        } else if a.owned_only {
            Scope::OwnedOnly
        } else if a.unowned_only {
            Scope::UnownedOnly
        } else {
            Scope::Full
        };
        cfg::Check {
            target: a.root.into(),
            state: a.state.into(),
            format: a.format.into(),
            scope,
            packages: a.packages,
            threads: cfg::Threads {
                jobs: a.jobs,
                nice: a.nice,
            },
            trust_ctime: a.trust_ctime,
            progress: !a.no_progress,
            verbose: a.verbose,
            deliver: crate::ops::Targets {
                report_file: a.ops.report_file,
                mail_to: a.ops.mail_to,
                sendmail: a.ops.sendmail,
                mail_always: a.ops.mail_always,
            },
            metrics_file: a.ops.metrics_file,
            keys: a.keys.keys,
            baseline_trust: cfg::BaselineTrust {
                digest: a.baseline_trust.baseline_digest,
                verify_key: a.baseline_trust.verify_key,
            },
            deb_archives: a.deb_archives,
        }
    }
}

impl From<AcceptArgs> for cfg::Accept {
    fn from(a: AcceptArgs) -> cfg::Accept {
        let selection = if let Some(report) = a.report {
            AcceptSelection::Report(report)
        } else if a.packages {
            AcceptSelection::Snapshot
        } else if a.all {
            AcceptSelection::All
        } else if !a.package.is_empty() {
            AcceptSelection::Packages(a.package)
        } else {
            AcceptSelection::Paths(a.patterns)
        };
        cfg::Accept {
            target: a.root.into(),
            state: a.state.into(),
            selection,
            threads: a.tuning.threads(),
            trust_ctime: a.tuning.trust_ctime,
            sign_key: a.sign.sign_key,
        }
    }
}

impl Tuning {
    fn threads(&self) -> cfg::Threads {
        cfg::Threads {
            jobs: self.jobs,
            nice: self.nice,
        }
    }
}

impl From<RootArgs> for cfg::Target {
    fn from(a: RootArgs) -> cfg::Target {
        cfg::Target {
            root: a.root,
            dbpath: a.dbpath,
            package_manager: a.package_manager.map(|m| match m {
                PackageManager::Rpm => cfg::PackageManager::Rpm,
                PackageManager::Dpkg => cfg::PackageManager::Dpkg,
            }),
        }
    }
}

impl From<StateArgs> for cfg::State {
    fn from(a: StateArgs) -> cfg::State {
        cfg::State {
            policy: a.policy,
            baseline: a.baseline,
        }
    }
}

impl From<ListFormat> for cfg::ListFormat {
    fn from(f: ListFormat) -> cfg::ListFormat {
        match f {
            ListFormat::Text => cfg::ListFormat::Text,
            ListFormat::Json => cfg::ListFormat::Json,
        }
    }
}

impl From<ReportFormat> for cfg::ReportFormat {
    fn from(f: ReportFormat) -> cfg::ReportFormat {
        match f {
            ReportFormat::Text => cfg::ReportFormat::Text,
            ReportFormat::Json => cfg::ReportFormat::Json,
            ReportFormat::Rpm => cfg::ReportFormat::Rpm,
            ReportFormat::Dpkg => cfg::ReportFormat::Dpkg,
            ReportFormat::Ndjson => cfg::ReportFormat::Ndjson,
        }
    }
}
