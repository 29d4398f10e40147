//! The installed-package model built from a validated header blob.

use std::path::PathBuf;

/// File digest algorithm (FILEDIGESTALGO, PGP hash ids). Absent tag means MD5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DigestAlgo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    /// An id rpm's crypto backend would not know; rpm falls back to MD5 for it.
    Unknown(u32),
}

impl DigestAlgo {
    pub fn from_pgp_id(id: u32) -> DigestAlgo {
        match id {
            1 => DigestAlgo::Md5,
            2 => DigestAlgo::Sha1,
            8 => DigestAlgo::Sha256,
            9 => DigestAlgo::Sha384,
            10 => DigestAlgo::Sha512,
            11 => DigestAlgo::Sha224,
            other => DigestAlgo::Unknown(other),
        }
    }

    /// Digest length in bytes (an unknown id is hashed as MD5, like rpm).
    pub fn len(self) -> usize {
        match self {
            DigestAlgo::Md5 | DigestAlgo::Unknown(_) => 16,
            DigestAlgo::Sha1 => 20,
            DigestAlgo::Sha224 => 28,
            DigestAlgo::Sha256 => 32,
            DigestAlgo::Sha384 => 48,
            DigestAlgo::Sha512 => 64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DigestAlgo::Md5 => "md5",
            DigestAlgo::Sha1 => "sha1",
            DigestAlgo::Sha224 => "sha224",
            DigestAlgo::Sha256 => "sha256",
            DigestAlgo::Sha384 => "sha384",
            DigestAlgo::Sha512 => "sha512",
            DigestAlgo::Unknown(_) => "unknown",
        }
    }
}

/// rpm's `rpmfileState` (FILESTATES). rpm has no names for unknown values, so they are kept raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// No FILESTATES data (rpm's MISSING, -1).
    Missing,
    Normal,
    Replaced,
    NotInstalled,
    NetShared,
    WrongColor,
    Unknown(u8),
}

impl FileState {
    pub fn from_raw(raw: u8) -> FileState {
        match raw {
            0 => FileState::Normal,
            1 => FileState::Replaced,
            2 => FileState::NotInstalled,
            3 => FileState::NetShared,
            4 => FileState::WrongColor,
            0xff => FileState::Missing,
            other => FileState::Unknown(other),
        }
    }
}

/// Whether the header's own digest (SHA256HEADER, else SHA1HEADER) matches its immutable region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderDigest {
    Ok,
    Missing,
    Mismatch,
}

/// One file of an installed package, as the rpmdb describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Absolute path inside the package's root, byte-exact (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`).
    pub path: PathBuf,
    /// FILEMODES: type and permission bits.
    pub mode: u16,
    /// LONGFILESIZES, else FILESIZES, else 0.
    pub size: u64,
    /// FILEDIGESTS entry as stored (lower-case hex, empty for non-regular files and ghosts).
    pub digest: String,
    pub user: String,
    pub group: String,
    /// FILEMTIMES, seconds.
    pub mtime: u32,
    /// FILERDEVS (already truncated to 16 bits by rpmbuild).
    pub rdev: u16,
    /// FILELINKTOS entry, byte-exact, empty for non-links.
    pub linkto: Vec<u8>,
    /// FILEFLAGS (`rpm::FileFlags` bits: config, doc, ghost, ...).
    pub flags: u32,
    /// FILEVERIFYFLAGS (`rpm::FileVerifyFlags` bits); 0 when the tag is absent, as in rpm.
    pub verify_flags: u32,
    pub state: FileState,
    /// FILECAPS text (`cap_to_text` form), empty when none.
    pub caps: String,
    /// FILECOLORS, 0 when absent.
    pub color: u32,
    /// FILEINODES, used to recognise hardlink sets.
    pub inode: u32,
}

/// An installed package: identity, install data, header integrity and files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Header instance number (the database key).
    pub hnum: u32,
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: Option<String>,
    pub install_time: Option<u32>,
    pub install_tid: Option<u32>,
    /// SHA256HEADER as stored, if any.
    pub sha256_header: Option<String>,
    pub header_digest: HeaderDigest,
    /// SIGMD5, full 16 bytes (never trimmed).
    pub sigmd5: Option<Vec<u8>>,
    pub digest_algo: DigestAlgo,
    /// Whether FILEDIGESTS is present with one entry per file.
    pub has_file_digests: bool,
    pub files: Vec<FileInfo>,
    /// Length of the stored blob in bytes.
    pub blob_len: usize,
}

impl Package {
    /// `name-[epoch:]version-release[.arch]`, as `rpm -qa` prints it.
    pub fn nevra(&self) -> String {
        let mut s = format!("{}-", self.name);
        if let Some(e) = self.epoch {
            s.push_str(&format!("{e}:"));
        }
        s.push_str(&format!("{}-{}", self.version, self.release));
        if let Some(a) = &self.arch {
            s.push('.');
            s.push_str(a);
        }
        s
    }

    /// `name-version-release.arch` without epoch, as `rpm -qa` prints it (arch omitted when absent).
    pub fn nvra(&self) -> String {
        let mut s = format!("{}-{}-{}", self.name, self.version, self.release);
        if let Some(a) = &self.arch {
            s.push('.');
            s.push_str(a);
        }
        s
    }

    /// Build the model from a header blob (validated here first).
    pub fn from_blob(hnum: u32, blob: &[u8]) -> Result<Package, super::blob::BlobError> {
        let _ = (hnum, blob);
        Err(super::blob::BlobError::Framing(
            "not implemented yet".into(),
        ))
    }
}
