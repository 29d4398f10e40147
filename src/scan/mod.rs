//! Reading the checked root's files. [`fs`] is the one file-access layer: every system call on
//! the root's files (and all of the crate's `unsafe` file access) with one `Stat` and one
//! `Errno`, confined to the root, never opening a FIFO, socket or device. On top of it: content
//! digests ([`hash`]), file capabilities ([`caps`]), the root's own user/group names
//! ([`users`]), the per-path capture ([`capture`]), results kept once per hard-linked file
//! ([`inode_memo`]), the unowned walk ([`walk`]) that yields
//! those captures in path order, the [`record::Record`] a capture becomes (what the baseline
//! comparison judges and the baseline file stores), and the [`verified::OwnedCache`] of file
//! states whose content was last found to match (`--trust-ctime`).
//!
//! Nothing here decides verdicts or reads the baseline: `verify` and `baseline` decide what to
//! look at (the walk asks an [`walk::Owners`] which paths are package-owned; a record names the
//! owning package and why its content is recorded, in the package seam's terms).

pub mod caps;
pub mod capture;
pub mod fs;
pub mod hash;
pub mod inode_memo;
pub mod record;
pub mod users;
pub mod verified;
pub mod walk;

pub use fs::{Dir, Entry, Errno, FileType, OpenError, Root, Stat};
