//! Verdicts, expressed in the one result type ([`crate::finding::Finding`]): unowned
//! paths (and owned files the package does not vouch for) against the baseline ([`unowned`],
//! with log families in [`logfamily`]; both judge `crate::scan::record::Record`s, the baseline
//! module only feeds them the two streams), package headers against the trusted keys
//! ([`signature`]). Package-owned files are verified by the package source's own rules
//! (`crate::rpmdb::verify` for rpm), which produce the same findings. The baseline module
//! sits above: it reads and writes the file and drives these verdicts.

pub mod logfamily;
pub mod signature;
pub mod unowned;
