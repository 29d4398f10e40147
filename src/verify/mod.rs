//! Verdicts: package-owned files against the rpmdb ([`owned`]), expressed as [`finding::Finding`]s.

pub mod finding;
pub mod owned;

pub use finding::{Finding, FindingKind, Severity, Source};
pub use owned::{verify_packages, OwnedReport, OwnedResult, VerifyError, VerifyOptions};
