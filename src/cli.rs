//! The command-line interface definition (clap derive). `main.rs` parses it and calls `app`;
//! the man page test reads every subcommand and option from here.

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
    /// List installed packages as read from the rpm database (like `rpm -qa`).
    Packages(PackagesArgs),
    /// Show which installed package owns each path (like `rpm -qf`).
    Owner(OwnerArgs),
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
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Verify only package-owned files (no baseline comparison).
    #[arg(long)]
    pub owned_only: bool,
    /// Verify only the named packages (name, name-version-release, or full NEVRA); repeatable.
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Hashing threads (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// With --format rpm, print every checked file like `rpm -Vv`.
    #[arg(short, long)]
    pub verbose: bool,
}
