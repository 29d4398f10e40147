//! The verified-state cache of package-owned files (`--trust-ctime`) as verification consults
//! it: per package (keyed by a digest the package source has verified, rpm: SHA256HEADER) and
//! file index, the device, inode, size, mtime and ctime a regular file had just before its
//! content was read and found to match. A file whose state is unchanged is taken as matching
//! without being read. What this trusts, and the file the cache is kept in beside the baseline,
//! are described in `crate::baseline::owned_cache`, which loads and writes it.

use crate::scan::fs::Stat;
use std::collections::HashMap;

/// The state of a file when its content matched its package digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl FileKey {
    pub fn of(st: &Stat) -> FileKey {
        FileKey {
            dev: st.dev,
            ino: st.ino,
            size: st.size,
            mtime_ns: st.mtime_ns,
            ctime_ns: st.ctime_ns,
        }
    }
}

/// A loaded cache: package digest → file index → state.
#[derive(Debug, Default)]
pub struct OwnedCache {
    packages: HashMap<String, HashMap<u32, FileKey>>,
}

/// A verified file to record: package digest, file index, state before the read.
pub type Verified = (String, u32, FileKey);

impl OwnedCache {
    /// The state recorded for file `index` of the package whose digest is `header`.
    pub fn get(&self, header: &str, index: u32) -> Option<&FileKey> {
        self.packages.get(header)?.get(&index)
    }

    /// Record the states of files of the package `header` (a later state of the same file
    /// replaces an earlier one).
    pub fn extend(&mut self, header: String, files: impl IntoIterator<Item = (u32, FileKey)>) {
        self.packages.entry(header).or_default().extend(files);
    }

    pub fn len(&self) -> usize {
        self.packages.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
