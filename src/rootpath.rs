//! Paths inside a checked root, resolved as `chroot` would.

use std::path::{Component, Path, PathBuf};

/// Join an absolute-or-relative `path` under `root` lexically, never climbing above `root`.
pub fn join_in_root(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for c in path.components() {
        match c {
            Component::Normal(n) => {
                out.push(n);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}
