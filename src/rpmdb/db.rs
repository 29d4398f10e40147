//! The rpmdb as a [`PackageDb`]: rpm's file flags, verify flags and file states mapped onto the
//! seam's neutral terms. The only place besides `verify` that interprets those numbers.

use super::package::{FileInfo, FileState, Package};
use super::Database;
use crate::pkgdb::{
    FileClass, InstalledPackage, OwnedFile, OwnedIndex, OwnedReason, PackageDb, PackageSnapshot,
    SigStatus,
};
use rpm::{FileFlags, FileVerifyFlags};
use std::path::{Path, PathBuf};

/// Suffixes rpm gives a config file it did not overwrite (`.rpmnew`), saved before replacing or
/// erasing (`.rpmsave`), or found unowned in the way of a new config file (`.rpmorig`).
pub const LEFTOVER_SUFFIXES: [&str; 3] = [".rpmnew", ".rpmsave", ".rpmorig"];

const CONFIG: u32 = FileFlags::CONFIG.bits();
const GHOST: u32 = FileFlags::GHOST.bits();
const VERIFY_DIGEST: u32 = FileVerifyFlags::FILEDIGEST.bits();

/// Why the baseline records an rpm file. Ghost wins over the others because it says the most
/// about what rpm checks (nothing of the content).
pub fn owned_reason(f: FileInfo<'_>) -> Option<OwnedReason> {
    if f.flags() & GHOST != 0 {
        Some(OwnedReason::Ghost)
    } else if f.verify_flags() & VERIFY_DIGEST == 0 {
        Some(OwnedReason::NoDigestVerify)
    } else if f.flags() & CONFIG != 0 {
        Some(OwnedReason::Config)
    } else {
        None
    }
}

/// rpm's marking of a file as `rpm -V` shows it: the first of `d c s m n g l r a` set in
/// FILEFLAGS.
pub fn file_class(flags: u32) -> FileClass {
    const ORDER: [(FileFlags, FileClass); 9] = [
        (FileFlags::DOC, FileClass::Doc),
        (FileFlags::CONFIG, FileClass::Config),
        (FileFlags::SPECFILE, FileClass::Spec),
        (FileFlags::MISSINGOK, FileClass::MissingOk),
        (FileFlags::NOREPLACE, FileClass::NoReplace),
        (FileFlags::GHOST, FileClass::Ghost),
        (FileFlags::LICENSE, FileClass::License),
        (FileFlags::README, FileClass::Readme),
        (FileFlags::ARTIFACT, FileClass::Artifact),
    ];
    ORDER
        .iter()
        .find(|(b, _)| flags & b.bits() != 0)
        .map(|&(_, c)| c)
        .unwrap_or(FileClass::Plain)
}

/// One package's snapshot entry.
pub fn snapshot_of(p: &Package) -> PackageSnapshot {
    PackageSnapshot {
        nevra: p.nevra(),
        install_tid: p.install_tid,
        sha256_header: p.sha256_header.clone(),
        trust: match p.signature {
            SigStatus::NotChecked => None,
            ref s => Some(s.name().to_string()),
        },
        trust_key: p.signature.key_id().map(str::to_owned),
    }
}

impl PackageDb for Database {
    fn manager(&self) -> &'static str {
        "rpm"
    }

    fn location(&self) -> &Path {
        &self.located.file
    }

    fn packages(&self) -> Vec<InstalledPackage> {
        self.packages
            .iter()
            .enumerate()
            .map(|(index, p)| InstalledPackage {
                index,
                name: p.name.clone(),
                nevra: p.nevra(),
                version: match p.epoch {
                    Some(e) => format!("{e}:{}-{}", p.version, p.release),
                    None => format!("{}-{}", p.version, p.release),
                },
                arch: p.arch.clone(),
                install_time: p.install_time,
                trust: p.signature.clone(),
            })
            .collect()
    }

    fn matches(&self, index: usize, arg: &str) -> bool {
        self.packages
            .get(index)
            .is_some_and(|p| super::verify::matches_arg(p, arg))
    }

    fn select(&self, args: &[String]) -> (Vec<usize>, Vec<String>) {
        super::verify::select_packages(self, args)
    }

    /// Files rpm did not install (state `not installed`, `wrong color`) are not owned on disk
    /// and are left out, as `rpm -V` skips them.
    fn owned_index(&self) -> OwnedIndex {
        let mut idx = OwnedIndex::with_capacity(self.packages.iter().map(|p| p.files.len()).sum());
        for p in &self.packages {
            let nevra = p.nevra();
            for f in &p.files {
                if matches!(f.state(), FileState::NotInstalled | FileState::WrongColor) {
                    continue;
                }
                idx.insert(
                    f.path(),
                    OwnedFile {
                        nevra: nevra.clone(),
                        digest: f.digest_hex().into_owned(),
                        algo: p.digest_algo,
                        reason: owned_reason(f),
                    },
                );
            }
        }
        idx
    }

    fn snapshot(&self) -> Vec<PackageSnapshot> {
        let mut v: Vec<PackageSnapshot> = self.packages.iter().map(snapshot_of).collect();
        v.sort();
        v
    }

    fn config_files(&self, nevra: &str) -> Vec<PathBuf> {
        self.packages
            .iter()
            .filter(|p| p.nevra() == nevra)
            .flat_map(|p| p.files.iter())
            .filter(|f| f.flags() & CONFIG != 0)
            .map(|f| f.path())
            .collect()
    }

    fn leftover_suffixes(&self) -> &'static [&'static str] {
        &LEFTOVER_SUFFIXES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmdb::{FileList, NewFile};

    fn f(flags: u32, verify_flags: u32) -> Option<OwnedReason> {
        let file = NewFile {
            path: b"/etc/passwd",
            mode: 0o100644,
            digest: b"ab",
            user: b"root",
            group: b"root",
            flags,
            verify_flags,
            state: FileState::Normal,
            ..Default::default()
        };
        let list = FileList::from_files(crate::rpmdb::DigestAlgo::Sha256, &[file]).unwrap();
        owned_reason(list.get(0).unwrap())
    }

    #[test]
    fn reasons_follow_rpm_flags() {
        // /etc/passwd in RHEL's setup: %config(noreplace) %verify(not md5 size mtime).
        assert_eq!(
            (f(CONFIG | (1 << 4), !(1 | 2 | 32))),
            Some(OwnedReason::NoDigestVerify)
        );
        assert_eq!((f(GHOST, u32::MAX)), Some(OwnedReason::Ghost));
        assert_eq!((f(CONFIG, u32::MAX)), Some(OwnedReason::Config));
        assert_eq!((f(0, u32::MAX)), None);
    }

    #[test]
    fn classes_in_rpm_order() {
        assert_eq!(file_class(0), FileClass::Plain);
        assert_eq!(
            file_class(FileFlags::CONFIG.bits() | FileFlags::DOC.bits()),
            FileClass::Doc
        );
        assert_eq!(
            file_class(FileFlags::GHOST.bits() | FileFlags::MISSINGOK.bits()),
            FileClass::MissingOk
        );
    }
}
