//! What the package database says about paths, as far as the unowned walk and the baseline need
//! it: which paths are package-owned (so not walked as unowned), and which owned files the
//! package manager does not vouch for (so they are baselined too). The types are the package
//! seam's ([`crate::pkgdb`]); they are re-exported here for the baseline's users.

pub use crate::pkgdb::{snapshot_diff, OwnedFile, OwnedIndex, OwnedReason, PackageSnapshot};
