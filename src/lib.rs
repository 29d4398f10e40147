//! quietwire: a package-manager-aware file integrity verifier.
//!
//! Data flow: package source (`pkgdb` seam; `rpmdb` its rpm implementation, `dpkg` another,
//! `wordpress` a source whose checksum manifests vouch for WordPress core and plugin files) →
//! `policy` → `scan` → `verify` → `baseline` → `report` → `ops`; `run` runs a request given as
//! plain values (`run::config::Config`). `cli` holds the clap definitions and their conversion to
//! a `Config`; only `main.rs` uses it, so no clap type reaches the library. Imports go against
//! the flow only, bottom up: the leaves (`exit`, `escape`, `nice`, `host`), the `pkgdb` seam,
//! the [`finding`] vocabulary, `policy`, `scan` (the one file layer), the package sources (they
//! read the root through `scan`), `verify`, `baseline`, `report`, `ops`, `run`, `cli`.
//! `tests/architecture.rs` holds the table of allowed imports, each with its reason, and fails
//! on any other import or a cycle.
//!
//! Where things go:
//! - a package manager: a module implementing [`pkgdb::PackageDb`] and its own verification
//!   rules producing [`finding::Finding`]s (as `rpmdb` and `rpmdb::verify` do), opened by `run`;
//! - an output format: a renderer in `report/` taking `&[finding::Finding]` (`ndjson` and
//!   `metrics` take the JSON document instead), chosen in `run::check` by
//!   `run::config::ReportFormat` (its flag is in `cli`);
//! - a finding kind or attribute: [`finding`] (`FindingKind` and its exit bit, `Attr` and its
//!   JSON name, the one [`finding::Severity`] scale), then the engine that produces it.
//!
//! The per-path record the baseline comparison works on is `scan::record::Record` (the walk
//! makes it, `verify::unowned` and `verify::logfamily` judge it, `baseline::format` stores it);
//! every engine, the baseline comparison included, produces the one [`finding::Finding`]: the
//! vocabulary every layer shares, so it sits below them all (it imports only `pkgdb`'s file
//! classes and `exit`'s bits).

pub mod baseline;
pub mod cli;
pub mod dpkg;
pub mod escape;
pub mod exit;
pub mod finding;
pub mod host;
pub mod nice;
pub mod ops;
pub mod pkgdb;
pub mod policy;
pub mod report;
pub mod rpmdb;
pub mod run;
pub mod scan;
pub mod verify;
pub mod wordpress;
