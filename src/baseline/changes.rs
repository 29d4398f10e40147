//! Package changes since the baseline: the baseline header's rpmdb snapshot (NEVRA, install TID,
//! SHA256HEADER per package) against the current one. The result explains a check after
//! `dnf update` (which packages were installed, updated, reinstalled or removed); it is never a
//! finding. Also: the files such a transaction leaves behind next to a config file (rpm's
//! `.rpmnew`/`.rpmsave`/`.rpmorig`; the suffixes come from the package source).
//!
//! Pure except for [`leftovers_on_disk`], which only `lstat`s paths inside the root.

use crate::finding::{Finding, FindingKind, Severity, Source};
use crate::pkgdb::{OwnedIndex, PackageSnapshot};
use crate::pkgdb::{OwnedReason, PackageDb};
use crate::scan::record::Record;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Which packages changed between two snapshots. Each list is sorted by NEVRA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageChanges {
    /// When the baseline (and so the old snapshot) was written, seconds since the epoch.
    pub since: i64,
    /// A name+arch that was not installed before (or a further version of an install-only
    /// package such as the kernel).
    pub installed: Vec<PackageSnapshot>,
    /// The one installed version of a name+arch replaced by another one: (old, new).
    pub updated: Vec<(PackageSnapshot, PackageSnapshot)>,
    /// Same NEVRA, new install TID or header digest: (old, new).
    pub reinstalled: Vec<(PackageSnapshot, PackageSnapshot)>,
    pub removed: Vec<PackageSnapshot>,
    /// Full name → when the package manager's own log says the change happened (dpkg.log),
    /// for the packages above that it names.
    pub logged: BTreeMap<String, String>,
}

/// `(name, arch)` of `name-[epoch:]version-release[.arch]`. Version and release never contain
/// `-`; the arch is what follows the release's last `.` (empty for `gpg-pubkey-…`, whose
/// release has no dot).
pub fn name_arch(nevra: &str) -> (&str, &str) {
    if let Some(na) = dpkg_name_arch(nevra) {
        return na;
    }
    let Some((left, rel_arch)) = nevra.rsplit_once('-') else {
        return (nevra, "");
    };
    let name = left.rsplit_once('-').map_or(left, |(n, _)| n);
    let arch = rel_arch.rsplit_once('.').map_or("", |(_, a)| a);
    (name, arch)
}

/// `(name, arch)` of dpkg's `name_version_arch` (the `.deb` file name): dpkg names and versions
/// never hold `_`, a name is lower-case, a version starts with a digit, and an arch is
/// lower-case letters, digits and `-` with at least one letter (which keeps rpm's `x86_64`, split
/// as `…x86` and `64`, out).
fn dpkg_name_arch(full: &str) -> Option<(&str, &str)> {
    let mut parts = full.split('_');
    let (name, version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    let name_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    let version_ok = version.bytes().next().is_some_and(|b| b.is_ascii_digit());
    let arch_ok = arch.bytes().any(|b| b.is_ascii_lowercase())
        && arch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (parts.next().is_none() && name_ok && version_ok && arch_ok).then_some((name, arch))
}

/// Compare the baseline's snapshot `old` with the current `new`.
pub fn diff(since: i64, old: &[PackageSnapshot], new: &[PackageSnapshot]) -> PackageChanges {
    type Groups<'a> = BTreeMap<(&'a str, &'a str), Vec<&'a PackageSnapshot>>;
    fn group(list: &[PackageSnapshot]) -> Groups<'_> {
        let mut g: Groups<'_> = BTreeMap::new();
        for p in list {
            g.entry(name_arch(&p.nevra)).or_default().push(p);
        }
        g
    }
    let (old_g, new_g) = (group(old), group(new));
    let mut c = PackageChanges {
        since,
        ..PackageChanges::default()
    };
    let empty = Vec::new();
    let keys: std::collections::BTreeSet<_> = old_g.keys().chain(new_g.keys()).collect();
    for key in keys {
        let o = old_g.get(key).unwrap_or(&empty);
        let n = new_g.get(key).unwrap_or(&empty);
        for p in n {
            if let Some(q) = o.iter().find(|q| q.nevra == p.nevra) {
                if !q.same_header(p) {
                    c.reinstalled.push(((*q).clone(), (*p).clone()));
                }
            }
        }
        let gone: Vec<_> = o
            .iter()
            .filter(|q| !n.iter().any(|p| p.nevra == q.nevra))
            .collect();
        let came: Vec<_> = n
            .iter()
            .filter(|p| !o.iter().any(|q| q.nevra == p.nevra))
            .collect();
        match (o.len(), n.len(), gone.as_slice(), came.as_slice()) {
            (1, 1, [g], [a]) => c.updated.push(((**g).clone(), (**a).clone())),
            _ => {
                c.removed.extend(gone.into_iter().map(|p| (*p).clone()));
                c.installed.extend(came.into_iter().map(|p| (*p).clone()));
            }
        }
    }
    c.installed.sort();
    c.removed.sort();
    c.updated.sort();
    c.reinstalled.sort();
    c
}

impl PackageChanges {
    pub fn is_empty(&self) -> bool {
        self.installed.is_empty()
            && self.updated.is_empty()
            && self.reinstalled.is_empty()
            && self.removed.is_empty()
    }

    /// Number of changed packages (an update counts once).
    pub fn count(&self) -> usize {
        self.installed.len() + self.updated.len() + self.reinstalled.len() + self.removed.len()
    }

    /// NEVRAs of the installed packages that changed (what `check --packages-changed` verifies).
    pub fn to_verify(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .installed
            .iter()
            .chain(self.updated.iter().map(|(_, n)| n))
            .chain(self.reinstalled.iter().map(|(_, n)| n))
            .map(|p| p.nevra.clone())
            .collect();
        v.sort();
        v
    }

    /// When the package manager's log says the change to `nevra` happened, as `, TIME`.
    pub fn when(&self, nevra: &str) -> String {
        self.logged
            .get(nevra)
            .map(|w| format!(", {w}"))
            .unwrap_or_default()
    }

    /// What happened to the package with this NEVRA (current, or old for a removal/update).
    pub fn describe(&self, nevra: &str) -> Option<String> {
        self.describe_change(nevra).map(|d| {
            let logged = self
                .updated
                .iter()
                .find(|(o, _)| o.nevra == nevra)
                .map_or(nevra, |(_, n)| n.nevra.as_str());
            format!("{d}{}", self.when(logged))
        })
    }

    fn describe_change(&self, nevra: &str) -> Option<String> {
        if self.installed.iter().any(|p| p.nevra == nevra) {
            return Some(format!("{nevra} was installed"));
        }
        if let Some((o, n)) = self
            .updated
            .iter()
            .find(|(o, n)| o.nevra == nevra || n.nevra == nevra)
        {
            return Some(format!("{} was updated to {}", o.nevra, n.nevra));
        }
        if self.reinstalled.iter().any(|(_, n)| n.nevra == nevra) {
            return Some(format!("{nevra} was reinstalled"));
        }
        if self.removed.iter().any(|p| p.nevra == nevra) {
            return Some(format!("{nevra} was removed"));
        }
        None
    }
}

/// The config path a leftover belongs to, and the leftover's suffix (one of `suffixes`).
pub fn leftover_base<'a>(
    path: &'a [u8],
    suffixes: &[&'static str],
) -> Option<(&'a [u8], &'static str)> {
    suffixes.iter().find_map(|s| {
        path.strip_suffix(s.as_bytes())
            .filter(|b| !b.is_empty() && !b.ends_with(b"/"))
            .map(|b| (b, *s))
    })
}

fn leftover_note(suffix: &str, base: &[u8], why: &str) -> String {
    format!(
        "{suffix} file left by a package transaction ({why}); compare it with {} and merge or remove it",
        String::from_utf8_lossy(base)
    )
}

/// Added leftover files (`suffixes`, e.g. `.rpmnew`) whose config file belongs (now, or in the
/// baseline) to a package that changed since the baseline become `low` findings that say so.
/// Other leftovers keep the policy's verdict (by default `info`: not explained by a package
/// change the baseline knows of).
pub fn explain_leftovers(
    findings: &mut [Finding],
    changes: &PackageChanges,
    owned: &OwnedIndex,
    suffixes: &[&'static str],
) {
    if changes.is_empty() {
        return;
    }
    // Packages the baseline recorded for paths (a config file of a package since removed).
    let recorded: HashMap<Vec<u8>, String> = findings
        .iter()
        .filter_map(|f| match &f.source {
            Source::Baseline {
                package: Some(p), ..
            } => Some((f.path.clone(), p.clone())),
            _ => None,
        })
        .collect();
    for f in findings.iter_mut() {
        if f.kind != FindingKind::Added {
            continue;
        }
        let Some((base, suffix)) = leftover_base(&f.path, suffixes) else {
            continue;
        };
        let owner = owned
            .get(Path::new(std::ffi::OsStr::from_bytes(base)))
            .map(|o| o.nevra.clone())
            .or_else(|| recorded.get(base).cloned());
        let Some(why) = owner.as_deref().and_then(|n| changes.describe(n)) else {
            continue;
        };
        f.severity = f.severity.max(Severity::Low);
        f.note = Some(leftover_note(suffix, base, &why));
        f.rule = "packages.leftover".into();
    }
}

/// For `check --packages-changed` (no baseline walk): the leftovers next to each config file of
/// the changed installed packages, and of the removed packages whose config files the baseline
/// recorded (`baselined`: its records of owned files; rpm renames an edited config file of a
/// removed package to `.rpmsave`), as `low` findings.
pub fn leftovers_on_disk(
    root: &Path,
    db: &dyn PackageDb,
    changes: &PackageChanges,
    baselined: &HashMap<PathBuf, Record>,
) -> Vec<Finding> {
    let mut configs: Vec<(String, PathBuf)> = Vec::new();
    for nevra in changes.to_verify() {
        for config in db.config_files(&nevra) {
            configs.push((nevra.clone(), config));
        }
    }
    for removed in &changes.removed {
        let mut recorded: Vec<PathBuf> = baselined
            .iter()
            // By name and arch: the record names the version installed when it was written,
            // and a removed name+arch has no other version installed.
            .filter(|(_, r)| {
                r.reason == Some(OwnedReason::Config)
                    && r.package.as_deref().map(name_arch) == Some(name_arch(&removed.nevra))
            })
            .map(|(path, _)| path.clone())
            .collect();
        recorded.sort();
        configs.extend(recorded.into_iter().map(|p| (removed.nevra.clone(), p)));
    }
    let mut out = Vec::new();
    for (nevra, config) in configs {
        let why = changes.describe(&nevra).unwrap_or_default();
        for &suffix in db.leftover_suffixes() {
            let mut path = config.as_os_str().as_bytes().to_vec();
            path.extend_from_slice(suffix.as_bytes());
            let inside = Path::new(std::ffi::OsStr::from_bytes(&path));
            // Resolve the directory inside the root so a symlinked /etc cannot lead outside.
            let Some(parent) = inside.parent() else {
                continue;
            };
            let Ok(dir) = crate::scan::fs::resolve_in_root(root, parent, true) else {
                continue;
            };
            let Some(name) = inside.file_name() else {
                continue;
            };
            if std::fs::symlink_metadata(dir.join(name)).is_err() {
                continue;
            }
            out.push(Finding {
                note: Some(leftover_note(suffix, config.as_os_str().as_bytes(), &why)),
                path,
                kind: FindingKind::Added,
                source: Source::Baseline {
                    policy_rule: None,
                    package: Some(nevra.clone()),
                },
                changes: Vec::new(),
                severity: Severity::Low,
                rule: "packages.leftover".into(),
                verify_line: None,
            });
        }
    }
    // The findings' one order (see `Finding::fs_path`).
    out.sort_by(|a, b| a.fs_path().cmp(b.fs_path()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(nevra: &str, tid: u32) -> PackageSnapshot {
        PackageSnapshot {
            nevra: nevra.into(),
            install_tid: Some(tid),
            sha256_header: Some(format!("h{nevra}")),
            trust: None,
            trust_key: None,
        }
    }

    #[test]
    fn nevra_parts() {
        assert_eq!(
            name_arch("qw-upgrade-1.0-1.noarch"),
            ("qw-upgrade", "noarch")
        );
        assert_eq!(name_arch("bash-0:5.1.8-6.el9.x86_64"), ("bash", "x86_64"));
        assert_eq!(
            name_arch("gpg-pubkey-fd431d51-4ae0493b"),
            ("gpg-pubkey", "")
        );
        assert_eq!(name_arch("odd"), ("odd", ""));
        // dpkg's name_version_arch, including epochs and NMU revisions.
        assert_eq!(
            name_arch("libc-bin_2.36-9+deb12u1_amd64"),
            ("libc-bin", "amd64")
        );
        assert_eq!(name_arch("hello_2.10-3.1_amd64"), ("hello", "amd64"));
        assert_eq!(name_arch("tzdata_1:2024a-0_all"), ("tzdata", "all"));
        // rpm NEVRAs with underscores stay rpm's.
        assert_eq!(name_arch("pkg-1.0_2-1.x86_64"), ("pkg", "x86_64"));
        assert_eq!(name_arch("foo_bar-1.0-1.noarch"), ("foo_bar", "noarch"));
    }

    #[test]
    fn update_install_reinstall_remove() {
        let old = vec![
            s("a-1-1.noarch", 1),
            s("b-1-1.x86_64", 1),
            s("c-1-1.noarch", 1),
            s("kernel-5.1-1.x86_64", 1),
            s("kernel-5.2-1.x86_64", 1),
        ];
        let new = vec![
            s("a-2-1.noarch", 2),
            s("b-1-1.i686", 2),
            s("b-1-1.x86_64", 1),
            s("c-1-1.noarch", 2),
            s("kernel-5.2-1.x86_64", 1),
            s("kernel-5.3-1.x86_64", 2),
        ];
        let c = diff(7, &old, &new);
        assert_eq!(
            c.updated,
            vec![(s("a-1-1.noarch", 1), s("a-2-1.noarch", 2))]
        );
        assert_eq!(
            c.reinstalled,
            vec![(s("c-1-1.noarch", 1), s("c-1-1.noarch", 2))]
        );
        assert_eq!(
            c.installed,
            vec![s("b-1-1.i686", 2), s("kernel-5.3-1.x86_64", 2)],
            "a new arch and an install-only kernel are installs, not updates"
        );
        assert_eq!(c.removed, vec![s("kernel-5.1-1.x86_64", 1)]);
        assert_eq!(c.count(), 5);
        assert_eq!(
            c.to_verify(),
            vec![
                "a-2-1.noarch",
                "b-1-1.i686",
                "c-1-1.noarch",
                "kernel-5.3-1.x86_64"
            ]
        );
        assert!(diff(0, &new, &new).is_empty());
        assert_eq!(
            c.describe("a-2-1.noarch").as_deref(),
            Some("a-1-1.noarch was updated to a-2-1.noarch")
        );
    }

    #[test]
    fn leftover_suffixes() {
        assert_eq!(
            leftover_base(b"/etc/x.conf.rpmnew", &crate::rpmdb::LEFTOVER_SUFFIXES),
            Some((&b"/etc/x.conf"[..], ".rpmnew"))
        );
        assert_eq!(
            leftover_base(b"/etc/.rpmsave", &crate::rpmdb::LEFTOVER_SUFFIXES),
            None
        );
        assert_eq!(
            leftover_base(b"/etc/x.conf", &crate::rpmdb::LEFTOVER_SUFFIXES),
            None
        );
    }
}
