//! Reading the policy override file: `--policy FILE` from the host, else the system policy
//! inside the checked root (resolved as the root sees it, through `crate::scan::fs`). The policy
//! module only parses what is read here ([`Policy::from_override_bytes`]).

use crate::policy::{Policy, PolicyError, MAX_POLICY_BYTES, SYSTEM_POLICY};
use std::path::Path;

/// The effective policy for `root`: the default, extended or replaced by `override_file` when
/// given, else by `<root>/etc/quietwire/policy.toml` when that exists.
pub(super) fn load(root: &Path, override_file: Option<&Path>) -> Result<Policy, PolicyError> {
    let (path, required) = match override_file {
        Some(p) => (p.to_path_buf(), true),
        // Inside a checked root: resolved as the root sees it (an absolute symlink on the
        // way means a path in the root, never on the host), its last component not followed.
        None => (
            crate::scan::fs::resolve_in_root(root, Path::new(SYSTEM_POLICY), false)
                .unwrap_or_else(|_| crate::scan::fs::join_in_root(root, Path::new(SYSTEM_POLICY))),
            false,
        ),
    };
    let bytes = match read_policy_file(&path, required) {
        Ok(b) => b,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Policy::builtin();
        }
        Err(e) => {
            return Err(PolicyError::Io {
                file: path.display().to_string(),
                source: e,
            })
        }
    };
    Policy::from_override_bytes(&path.display().to_string(), bytes)
}

/// Read a policy file, at most [`MAX_POLICY_BYTES`] and one byte more (the policy refuses a
/// longer one): `--policy FILE` (the administrator's choice, on the host) may be a symlink; the
/// one inside the checked root may not, so that it can never quote a host file in an error.
/// Either must be a regular file: a FIFO must not hang the run.
fn read_policy_file(path: &Path, follow: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    // Pinned and checked before it is opened: a FIFO or device node is never opened.
    let f =
        crate::scan::fs::open_regular_path(path, follow).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) if !follow => {
                std::io::Error::other("is a symbolic link (not followed inside the root)")
            }
            _ => e,
        })?;
    let mut buf = Vec::new();
    f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_prefers_explicit_file_and_reads_root_override() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        // No /etc file: the built-in default.
        let p = load(root, None).unwrap();
        assert_eq!(p.sources(), &["built-in default".to_string()]);
        std::fs::create_dir_all(root.join("etc/quietwire")).unwrap();
        std::fs::write(
            root.join("etc/quietwire/policy.toml"),
            "version = 1\nwatch = [\"/from-etc\"]\n",
        )
        .unwrap();
        let p = load(root, None).unwrap();
        assert!(p.is_watched(Path::new("/from-etc/x")));
        let explicit = root.join("mine.toml");
        std::fs::write(&explicit, "version = 1\nwatch = [\"/from-flag\"]\n").unwrap();
        let p = load(root, Some(&explicit)).unwrap();
        assert!(p.is_watched(Path::new("/from-flag/x")));
        assert!(
            !p.is_watched(Path::new("/from-etc/x")),
            "--policy replaces the /etc file"
        );
        let missing = root.join("nope.toml");
        let e = load(root, Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("nope.toml"), "{e}");
    }
}
