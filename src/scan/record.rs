//! One recorded path: the state of a path as the baseline comparison sees it (type, mode,
//! owner, size, times, inode, digest, link target, SELinux label, capabilities, and the owning
//! package of an owned file recorded because its package manager does not vouch for it). The
//! walk's captures become records here; `verify` compares them; `crate::baseline::format`
//! stores them (which is why they serialise as the baseline file's entry lines).

use super::capture::FileType;
use crate::pkgdb::OwnedReason;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Bytes that are shown as a JSON string when they can be, `{"hex": …}` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) if !text.contains('\0') => s.serialize_str(text),
            _ => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("hex", &hex::encode(&self.0))?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Hex {
            hex: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Hex(Hex),
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) if t.contains('\0') => Err(serde::de::Error::custom(
                "NUL in a string (such names are written as {\"hex\": ...})",
            )),
            Repr::Text(t) => Ok(Bytes(t.into_bytes())),
            Repr::Hex(h) => hex::decode(&h.hex)
                .map(Bytes)
                .map_err(|e| serde::de::Error::custom(format!("bad hex: {e}"))),
        }
    }
}

/// What starts the recorded digest of a sparse file. Its digest is over an encoding of the
/// extent map and data, and a dense file whose bytes are that encoding has the same SHA-256: the
/// marker keeps the two from comparing equal, while a dense file's digest stays the plain SHA-256
/// (compared with package digests). Baselines written before the marker hold a sparse file's
/// digest without it; that file is reported once as a digest change.
pub const SPARSE_DIGEST: &str = "sparse:";

/// A recorded digest as bytes, and whether it is a sparse file's; `None` if malformed.
pub fn parse_digest(s: &str) -> Option<([u8; 32], bool)> {
    let (hex, sparse) = match s.strip_prefix(SPARSE_DIGEST) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut d = [0u8; 32];
    hex::decode_to_slice(hex, &mut d).ok()?;
    Some((d, sparse))
}

/// One recorded path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub path: Bytes,
    #[serde(rename = "type")]
    pub ftype: FileType,
    /// Permission bits with setuid/setgid/sticky (`st_mode & 07777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub ino: u64,
    /// Status change time, nanoseconds since the epoch (format version 2; absent in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<Bytes>,
    /// `security.capability`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<String>,
    /// Owning package (NEVRA) of an owned file recorded because rpm does not vouch for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<OwnedReason>,
}

impl Record {
    /// Whether a package file still matching this record is an accepted edit, so that the
    /// package source's verdict on it is only worth a note. The record must hold what that
    /// verdict is about: a dpkg file's record (`Metadata`) holds no content, while dpkg judges
    /// nothing but the content, so matching it says nothing about a changed md5.
    pub fn accepts_package_verdict(&self) -> bool {
        self.package.is_some() && self.reason != Some(OwnedReason::Metadata)
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(OsString::from_vec(self.path.0.clone()))
    }

    /// Build a record from a walk entry.
    pub fn from_entry(e: &super::walk::WalkEntry<OwnedReason>) -> Record {
        let c = &e.capture;
        let st = &c.stat;
        Record {
            path: Bytes(e.path.as_os_str().as_bytes().to_vec()),
            ftype: st.ftype,
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            size: st.size,
            mtime: st.mtime,
            ino: st.ino,
            ctime: Some(st.ctime_ns),
            rdev: matches!(st.ftype, FileType::Char | FileType::Block).then_some(st.rdev),
            sha256: c.sha256.map(|d| {
                let hex = hex::encode(d);
                if c.sparse {
                    format!("{SPARSE_DIGEST}{hex}")
                } else {
                    hex
                }
            }),
            target: c.target.clone().map(Bytes),
            selinux: c.selinux.clone().map(Bytes),
            caps: c.caps.as_ref().map(hex::encode),
            package: e.owner.as_ref().map(|(n, _)| n.clone()),
            reason: e.owner.as_ref().map(|(_, r)| *r),
        }
    }

    /// Whether both records describe the same state, ignoring `ctime` (which any metadata
    /// change, even one undone, moves).
    pub fn same_state(&self, other: &Record) -> bool {
        let mut a = self.clone();
        a.ctime = other.ctime;
        a == *other
    }

    /// Field checks beyond JSON syntax.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !is_normal_absolute(&self.path.0) {
            return Err("path is not absolute and normalised".into());
        }
        if self.mode > 0o7777 {
            return Err(format!("mode {:o} has bits beyond 07777", self.mode));
        }
        if let Some(s) = &self.sha256 {
            if parse_digest(s).is_none() {
                return Err(format!(
                    "sha256 is not 64 lower-case hex digits (after {SPARSE_DIGEST:?} for a sparse file)"
                ));
            }
            if self.ftype != FileType::File {
                return Err("sha256 on something that is not a regular file".into());
            }
        }
        if self.target.is_some() && self.ftype != FileType::Symlink {
            return Err("link target on something that is not a symlink".into());
        }
        if let Some(c) = &self.caps {
            if hex::decode(c).is_err() {
                return Err("caps is not hex".into());
            }
        }
        if self.package.is_some() != self.reason.is_some() {
            return Err("package and reason must be given together".into());
        }
        Ok(())
    }
}

/// An absolute path without empty, `.` or `..` components and without a trailing slash.
fn is_normal_absolute(p: &[u8]) -> bool {
    if p.first() != Some(&b'/') || p.contains(&0) {
        return false;
    }
    if p == b"/" {
        return true;
    }
    !p.ends_with(b"/")
        && p.get(1..)
            .unwrap_or_default()
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Whether a path is a valid record path (absolute and normalised).
pub fn valid_record_path(p: &Path) -> bool {
    is_normal_absolute(p.as_os_str().as_bytes())
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}
