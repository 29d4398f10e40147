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
        // Indexes are unique and ascending (see `extend`), so the entry for `index` lies between
        // positions `index - missing` and `index`, where `missing` counts the indexes below the
        // last one without an entry (directories, symlinks): a window of a few entries when
        // most of a package is recorded, instead of a search over tens of thousands whose every
        // step misses the CPU cache.
        let table = &self.by_index;
        let last = usize::try_from(table.last()?.0).ok()?;
        let missing = last.saturating_add(1).saturating_sub(table.len());
        let index_at = usize::try_from(index).ok()?;
        let hi = index_at.saturating_add(1).min(table.len());
        let lo = index_at.saturating_sub(missing).min(hi);
        let window = table.get(lo..hi)?;
        let at = window.binary_search_by_key(&index, |e| e.0).ok()?;
        window.get(at).map(|e| &e.1)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> FileKey {
        FileKey {
            dev: 1,
            ino: n,
            size: n,
            mtime_ns: 0,
            ctime_ns: 0,
        }
    }

    /// The windowed lookup finds exactly what a search of the whole table finds, for tables
    /// dense, sparse, with a gap at the start and with one far outlier.
    #[test]
    fn lookup_matches_a_full_search() {
        let layouts: Vec<Vec<u32>> = vec![
            (0..200).collect(),
            (0..200).filter(|i| i % 7 != 3).collect(),
            (50..120).collect(),
            (0..100).chain([100_000]).collect(),
            (0..300).filter(|i| i % 2 == 0).collect(),
            vec![5],
        ];
        for indexes in layouts {
            let mut cache = OwnedCache::default();
            cache.extend("h".into(), indexes.iter().map(|&i| (i, key(u64::from(i)))));
            let states = cache.package("h").unwrap();
            for probe in (0..400).chain([99_999, 100_000, 100_001, u32::MAX]) {
                let want = indexes.contains(&probe).then(|| key(u64::from(probe)));
                assert_eq!(
                    states.get(probe).copied(),
                    want,
                    "index {probe} of {indexes:?}"
                );
            }
        }
        assert_eq!(PackageStates::default().get(0), None);
    }
}
