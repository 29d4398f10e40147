//! Safe per-file capture inside a checked root: confined path resolution ([`root`]), content
//! digests ([`hash`]), file capabilities ([`caps`]) and the root's own user/group names
//! ([`users`]).
//!
//! Nothing here knows about packages or verdicts; `verify` decides what to look at.

pub mod caps;
pub mod hash;
pub mod root;
pub mod users;

pub use root::{Entry, Errno, OpenError, Root, Stat};
