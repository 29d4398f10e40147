//! Results computed once per file, not once per name: a file with many hard links (`ln` costs
//! no disk) would otherwise be read once for each of them. The walk keeps its SHA-256 digests
//! here, dpkg's check its MD5 digests.

use super::Stat;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A regular file as `fstat` shows it: device, inode, size, mtime and ctime (nanoseconds).
/// Any write moves `ctime`, which no one can set back, so two names with the same identity
/// hold the same bytes.
type Identity = (u64, u64, u64, i64, i64);

/// Most files remembered: one entry per hard-linked file, small each. Past it a file is simply
/// computed again, so the memory stays bounded however many links a root holds.
const MAX_FILES: usize = 1 << 16;

/// Shared by a run's threads: one thread computes a file's result, the others asking for the
/// same file meanwhile wait for it instead of starting their own.
#[derive(Debug)]
pub struct InodeMemo<T> {
    done: Mutex<HashMap<Identity, Arc<OnceLock<T>>>>,
}

impl<T> Default for InodeMemo<T> {
    fn default() -> InodeMemo<T> {
        InodeMemo {
            done: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> InodeMemo<T> {
    /// The result for the open file whose `fstat` is `st`: `compute`d here, or another name's
    /// (then the flag is true). A file with a single link is always computed, and not kept.
    pub fn get_or_compute(&self, st: &Stat, compute: impl FnOnce() -> T) -> (T, bool) {
        if st.nlink <= 1 {
            return (compute(), false);
        }
        let key = (st.dev, st.ino, st.size, st.mtime_ns, st.ctime_ns);
        let slot = {
            let mut done = self
                .done
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match done.get(&key) {
                Some(s) => Some(s.clone()),
                None if done.len() >= MAX_FILES => None,
                None => Some(done.entry(key).or_default().clone()),
            }
        };
        let Some(slot) = slot else {
            return (compute(), false);
        };
        let mut reused = true;
        let value = slot
            .get_or_init(|| {
                reused = false;
                compute()
            })
            .clone();
        (value, reused)
    }
}
