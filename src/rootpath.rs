//! Host paths inside a checked root, resolved as `chroot` would: now part of the file-access
//! layer (`scan::fs`); this path stays for existing callers.

pub use crate::scan::fs::{join_in_root, resolve_in_root};
