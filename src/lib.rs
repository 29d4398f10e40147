//! quietwire: a package-manager-aware file integrity verifier.
//!
//! Data flow: package source (`pkgdb` seam; `rpmdb` its rpm implementation) → `policy` → `scan`
//! → `verify` → `baseline` → `report`; `cli` defines the
//! command line and `run` runs it.

pub mod baseline;
pub mod cli;
pub mod dpkg;
pub mod escape;
pub mod exit;
pub mod nice;
pub mod ops;
pub mod pkgdb;
pub mod policy;
pub mod report;
pub mod rootpath;
pub mod rpmdb;
pub mod run;
pub mod scan;
pub mod verify;
