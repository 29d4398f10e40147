//! quietwire: a package-manager-aware file integrity verifier.
//!
//! Data flow: `rpmdb` → `policy` → `scan` → `verify` → `baseline` → `report`.

pub mod report;
pub mod rootpath;
pub mod rpmdb;
pub mod scan;
pub mod verify;
