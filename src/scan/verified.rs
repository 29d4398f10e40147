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

/// A loaded cache: package digest → the states of that package's files.
#[derive(Debug, Default)]
pub struct OwnedCache {
    packages: HashMap<String, PackageStates>,
}

/// The recorded states of one package's files, by file index. A table sorted by index rather
/// than a map: verification looks a package up once and then each of its files, and a repeated
/// check does little else besides one `lstat` per file.
#[derive(Debug, Default)]
pub struct PackageStates {
    by_index: Vec<(u32, FileKey)>,
}

impl PackageStates {
    /// The state recorded for file `index`.
    pub fn get(&self, index: u32) -> Option<&FileKey> {
        let at = self.by_index.binary_search_by_key(&index, |e| e.0).ok()?;
        self.by_index.get(at).map(|e| &e.1)
    }
}

/// A verified file to record: package digest, file index, state before the read.
pub type Verified = (String, u32, FileKey);

impl OwnedCache {
    /// The recorded states of the package whose digest is `header`.
    pub fn package(&self, header: &str) -> Option<&PackageStates> {
        self.packages.get(header)
    }

    /// The state recorded for file `index` of the package whose digest is `header`.
    pub fn get(&self, header: &str, index: u32) -> Option<&FileKey> {
        self.package(header)?.get(index)
    }

    /// Record the states of files of the package `header` (a later state of the same file
    /// replaces an earlier one).
    pub fn extend(&mut self, header: String, files: impl IntoIterator<Item = (u32, FileKey)>) {
        let table = &mut self.packages.entry(header).or_default().by_index;
        table.extend(files);
        // Stable, so of equal indexes the latest comes last; `dedup_by` hands it over first.
        table.sort_by_key(|e| e.0);
        table.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                *kept = *later;
            }
            same
        });
    }

    pub fn len(&self) -> usize {
        self.packages.values().map(|p| p.by_index.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
