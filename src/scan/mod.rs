//! Safe per-file capture inside a checked root: confined path resolution ([`root`]), content
//! digests ([`hash`]), file capabilities ([`caps`]) and the root's own user/group names
//! ([`users`]). The unowned walk ([`walk`]) and its per-path capture ([`capture`]) belong to the
//! baseline.
//!
//! Nothing here knows about packages or verdicts; `verify` decides what to look at.

pub mod caps;
pub mod capture;
pub mod hash;
pub mod root;
pub mod users;
pub mod walk;

pub use root::{Entry, Errno, OpenError, Root, Stat};
