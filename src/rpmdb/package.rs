//! The installed-package model built from a validated header blob.

use super::blob::{BlobError, HeaderBlob, IntArray, StringIter, HEADER_MAGIC};
pub use super::files::{FileInfo, FileList, FileListBuilder, NewFile};
pub use crate::pkgdb::DigestAlgo;
use rpm::IndexTag;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// rpm's `rpmfileState` (FILESTATES). rpm has no names for unknown values, so they are kept raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileState {
    /// No FILESTATES data (rpm's MISSING, -1).
    #[default]
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
    pub files: FileList,
    /// Why the file list could not be loaded (the package is still listed, like `rpm -qa` does).
    pub file_error: Option<String>,
    /// Length of the stored blob in bytes.
    pub blob_len: usize,
    /// The header signature's verdict (`NotChecked` unless read with a keyring).
    pub signature: super::trust::SigStatus,
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

    /// Build the model from a header blob, which is validated first.
    pub fn from_blob(hnum: u32, blob: &[u8]) -> Result<Package, BlobError> {
        Package::from_blob_with_keys(hnum, blob, None)
    }

    /// [`from_blob`](Self::from_blob), also judging the header signature with `keys`.
    pub fn from_blob_with_keys(
        hnum: u32,
        blob: &[u8],
        keys: Option<&super::trust::Keyring>,
    ) -> Result<Package, BlobError> {
        let h = HeaderBlob::parse(blob)?;
        if h.string(tag(IndexTag::RPMTAG_NAME))?.is_none() {
            // rpm skips such records too ("damaged header ... skipping").
            return Err(BlobError::Tag {
                tag: tag(IndexTag::RPMTAG_NAME),
                what: "package has no name".into(),
            });
        }
        let digest_algo = match h.u32(tag(IndexTag::RPMTAG_FILEDIGESTALGO))? {
            Some(id) => DigestAlgo::from_pgp_id(id),
            None => DigestAlgo::Md5,
        };
        // The file list and the checks of the header as a whole take about as long as each
        // other on a large header; a database of a few large headers is otherwise read on one
        // core (the cached check spends half its time here).
        let (files, checked) = rayon::join(
            || read_files(&h, digest_algo),
            || -> Result<_, BlobError> {
                let ident = identity_from_crate(&h)?;
                let header_digest = h.digest_status()?;
                let signature = match keys {
                    Some(k) => k.check_header(&h, &ident.name, header_digest),
                    None => super::trust::SigStatus::NotChecked,
                };
                Ok((ident, header_digest, signature))
            },
        );
        let (ident, header_digest, signature) = checked?;
        let (files, file_error, has_file_digests) = match files {
            Ok((files, has_digests)) => (files, None, has_digests),
            Err(e) => (FileList::default(), Some(e.to_string()), false),
        };
        Ok(Package {
            hnum,
            name: ident.name,
            epoch: ident.epoch,
            version: ident.version,
            release: ident.release,
            arch: ident.arch,
            install_time: h.u32(tag(IndexTag::RPMTAG_INSTALLTIME))?,
            install_tid: h.u32(tag(IndexTag::RPMTAG_INSTALLTID))?,
            sha256_header: h.string_lossy(tag(IndexTag::RPMTAG_SHA256HEADER))?,
            header_digest,
            sigmd5: h
                .raw_bytes(tag(IndexTag::RPMTAG_SIGMD5))?
                .map(<[u8]>::to_vec),
            digest_algo,
            has_file_digests,
            files,
            file_error,
            blob_len: blob.len(),
            signature,
        })
    }

    /// Whether the package owns `path` (byte-exact, absolute inside the root).
    pub fn owns(&self, path: &Path) -> bool {
        self.files
            .iter()
            .any(|f| f.path_is(path.as_os_str().as_bytes()))
    }
}

fn tag(t: IndexTag) -> u32 {
    t as u32
}

struct Identity {
    name: String,
    epoch: Option<u32>,
    version: String,
    release: String,
    arch: Option<String>,
}

/// Prefix that turns an rpmdb blob into a package stream the `rpm` crate can parse: a lead
/// (only its magic is checked), an empty signature header and the main header's magic. It is
/// chained to the blob rather than copied in front of it (a copy is as large as the header).
fn crate_prefix() -> [u8; 120] {
    let mut buf = [0u8; 120];
    buf[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    buf[96..104].copy_from_slice(&HEADER_MAGIC);
    buf[112..120].copy_from_slice(&HEADER_MAGIC);
    buf
}

/// NEVRA through the `rpm` crate, from a copy of just those entries: the crate builds every
/// entry it parses, which for a header of megabytes (tens of thousands of files) cost as much as
/// our whole file list. The blob passed `HeaderBlob::parse`, whose checks are a superset of what
/// the crate needs to stay in bounds; the unwind guard is a second line of defence so that a
/// crate bug costs one package, not the run.
fn identity_from_crate(h: &HeaderBlob<'_>) -> Result<Identity, BlobError> {
    use std::io::Read;
    use IndexTag::*;
    let prefix = crate_prefix();
    let blob = h.subset(&[
        tag(RPMTAG_NAME),
        tag(RPMTAG_EPOCH),
        tag(RPMTAG_VERSION),
        tag(RPMTAG_RELEASE),
        tag(RPMTAG_ARCH),
    ])?;
    let blob = &blob[..];
    let parsed = std::panic::catch_unwind(|| {
        let meta = rpm::PackageMetadata::parse(&mut (&prefix[..]).chain(blob))?;
        let name = meta.get_name()?.to_owned();
        let version = meta.get_version()?.to_owned();
        let release = meta.get_release()?.to_owned();
        let epoch = match meta.header.entry_is_present(IndexTag::RPMTAG_EPOCH) {
            true => Some(meta.get_epoch()?),
            false => None,
        };
        let arch = match meta.header.entry_is_present(IndexTag::RPMTAG_ARCH) {
            true => Some(meta.get_arch()?.to_owned()),
            false => None,
        };
        Ok::<_, rpm::Error>(Identity {
            name,
            epoch,
            version,
            release,
            arch,
        })
    });
    match parsed {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(e)) => Err(BlobError::Tag {
            tag: tag(IndexTag::RPMTAG_NAME),
            what: format!("rpm header parser: {e}"),
        }),
        Err(_) => Err(BlobError::Framing("rpm header parser panicked".into())),
    }
}

/// A per-file array of a header: its element count.
trait PerFile {
    fn elements(&self) -> usize;
}

impl PerFile for StringIter<'_> {
    fn elements(&self) -> usize {
        self.count_left()
    }
}

impl PerFile for IntArray<'_> {
    fn elements(&self) -> usize {
        self.len()
    }
}

/// A per-file array: absent is allowed (`None`), present must have one element per file.
fn per_file<T: PerFile>(t: IndexTag, v: Option<T>, n: usize) -> Result<Option<T>, BlobError> {
    match v {
        Some(v) if v.elements() != n => Err(BlobError::Tag {
            tag: tag(t),
            what: format!("{} elements for {n} files", v.elements()),
        }),
        other => Ok(other),
    }
}

fn required<T>(t: IndexTag, v: Option<T>) -> Result<T, BlobError> {
    v.ok_or_else(|| BlobError::Tag {
        tag: tag(t),
        what: "missing, the file list cannot be loaded".into(),
    })
}

/// The next string of a per-file string array, empty when the array is absent.
fn next_string<'a>(v: &mut Option<StringIter<'a>>) -> Result<&'a [u8], BlobError> {
    Ok(v.as_mut()
        .and_then(|it| it.next())
        .transpose()?
        .unwrap_or_default())
}

/// Element `i` of an optional per-file integer array, 0 when absent.
fn int_at(v: Option<IntArray<'_>>, i: usize) -> u64 {
    v.and_then(|v| v.get(i)).unwrap_or(0)
}

/// The file list, read generically from the validated blob so that paths and link targets stay
/// byte-exact and SHA-1 (or unknown) digest algorithms do not fail the package. The per-file
/// arrays are read in place, in step: only the [`FileList`] being built is allocated.
fn read_files<'a>(h: &HeaderBlob<'a>, algo: DigestAlgo) -> Result<(FileList, bool), BlobError> {
    use super::blob::types::{INT16, INT32, INT64};
    use IndexTag::*;
    let ints = |t: IndexTag, ty: u32| h.ints(tag(t), ty);
    // Paths as (directory, base name) pairs; OLDFILENAMES entries are whole paths.
    let (dirs, mut bases, idx) = match h.string_iter(tag(RPMTAG_BASENAMES))? {
        Some(base) => {
            let dirs = required(RPMTAG_DIRNAMES, h.strings(tag(RPMTAG_DIRNAMES))?)?;
            let idx = required(
                RPMTAG_DIRINDEXES,
                per_file(
                    RPMTAG_DIRINDEXES,
                    ints(RPMTAG_DIRINDEXES, INT32)?,
                    base.count_left(),
                )?,
            )?;
            if let Some(i) = (0..idx.len())
                .filter_map(|i| idx.get(i))
                .find(|&i| i as usize >= dirs.len())
            {
                return Err(BlobError::Tag {
                    tag: tag(RPMTAG_DIRINDEXES),
                    what: format!(
                        "directory index {} out of range ({} directories)",
                        i as u32 as i32,
                        dirs.len()
                    ),
                });
            }
            (dirs, base, Some(idx))
        }
        None => match h.string_iter(tag(RPMTAG_OLDFILENAMES))? {
            Some(old) => (Vec::new(), old, None),
            None => return Ok((FileList::default(), false)),
        },
    };
    let n = bases.count_left();
    // DIRINDEXES[i] and its DIRNAMES entry; `u32::MAX` and "" without them (OLDFILENAMES).
    let dir_of = |i: usize| -> (u32, &'a [u8]) {
        idx.and_then(|idx| idx.get(i))
            .and_then(|d| Some((u32::try_from(d).ok()?, *dirs.get(d as usize)?)))
            .unwrap_or((u32::MAX, &[]))
    };
    let per_file_ints = |t: IndexTag, ty: u32| -> Result<Option<IntArray<'a>>, BlobError> {
        per_file(t, ints(t, ty)?, n)
    };
    let per_file_strings = |t: IndexTag| -> Result<Option<StringIter<'a>>, BlobError> {
        per_file(t, h.string_iter(tag(t))?, n)
    };
    let modes = required(RPMTAG_FILEMODES, per_file_ints(RPMTAG_FILEMODES, INT16)?)?;
    let mut users = Some(required(
        RPMTAG_FILEUSERNAME,
        per_file_strings(RPMTAG_FILEUSERNAME)?,
    )?);
    let mut groups = Some(required(
        RPMTAG_FILEGROUPNAME,
        per_file_strings(RPMTAG_FILEGROUPNAME)?,
    )?);
    let sizes32 = per_file_ints(RPMTAG_FILESIZES, INT32)?;
    let sizes64 = per_file_ints(RPMTAG_LONGFILESIZES, INT64)?;
    // A digest array of the wrong length is ignored (every file then lacks a digest), not fatal.
    let mut digests = h
        .string_iter(tag(RPMTAG_FILEDIGESTS))?
        .filter(|d| d.count_left() == n);
    let has_digests = digests.is_some();
    let mtimes = per_file_ints(RPMTAG_FILEMTIMES, INT32)?;
    let rdevs = per_file_ints(RPMTAG_FILERDEVS, INT16)?;
    let mut links = per_file_strings(RPMTAG_FILELINKTOS)?;
    let flags = per_file_ints(RPMTAG_FILEFLAGS, INT32)?;
    let vflags = per_file_ints(RPMTAG_FILEVERIFYFLAGS, INT32)?;
    let states = h
        .raw_bytes(tag(RPMTAG_FILESTATES))?
        .filter(|s| s.len() == n);
    let mut caps = per_file_strings(RPMTAG_FILECAPS)?;
    let colors = per_file_ints(RPMTAG_FILECOLORS, INT32)?;
    let inodes = per_file_ints(RPMTAG_FILEINODES, INT32)?;

    // The length of all names, so that their buffer is allocated once at its final size (exact
    // unless a basename holds a `/`).
    let mut base_bytes = 0usize;
    for base in bases.clone() {
        base_bytes = base_bytes.saturating_add(base?.len());
    }
    let mut out = FileListBuilder::new(algo, n, base_bytes);
    for i in 0..n {
        let base = bases.next().transpose()?.unwrap_or_default();
        let (dir_key, dir) = dir_of(i);
        // Narrowing casts below undo `int_at`'s widening of values read at their own width.
        let file = NewFile {
            // Given as `dir` and `base` to `push_in_dir`.
            path: &[],
            mode: modes.get(i).unwrap_or(0) as u16,
            size: int_at(sizes32.or(sizes64), i),
            digest: next_string(&mut digests)?,
            user: next_string(&mut users)?,
            group: next_string(&mut groups)?,
            mtime: int_at(mtimes, i) as u32,
            rdev: int_at(rdevs, i) as u16,
            linkto: next_string(&mut links)?,
            flags: int_at(flags, i) as u32,
            verify_flags: int_at(vflags, i) as u32,
            state: states
                .and_then(|s| s.get(i).copied())
                .map_or(FileState::Missing, FileState::from_raw),
            caps: next_string(&mut caps)?,
            color: int_at(colors, i) as u32,
            inode: int_at(inodes, i) as u32,
        };
        out.push_in_dir(dir, dir_key, base, &file)
            .map_err(|e| BlobError::Tag {
                tag: tag(RPMTAG_BASENAMES),
                what: e.to_string(),
            })?;
    }
    Ok((out.finish(), has_digests))
}
