//! Verdicts: package-owned files against the rpmdb ([`owned`]), expressed as
//! [`finding::Finding`]s; unowned paths (and owned files rpm does not vouch for) against the
//! baseline ([`unowned`]).

pub mod finding;
pub mod logfamily;
pub mod signature;
pub mod unowned;

pub use finding::{Finding, FindingKind, Severity, Source};
