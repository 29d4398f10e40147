//! A package's file list in compact form (peak RSS, issue 15).
//!
//! The whole database's file lists stay in memory for a check (the shared-file rule and the
//! baseline need every package's files), so they dominate the heap: about 270 bytes per file
//! when every file was a struct with its own path, hex digest, link target and capability
//! allocations. Here a package splits its paths at their last `/` and keeps each distinct
//! directory once (a package's files share a few thousand directories; whole paths were a third
//! of the heap of a check) and the names after it in one buffer; its digests as raw bytes in one
//! buffer of the algorithm's width, the few attribute combinations its files share (mode,
//! owners, flags, ...) once, and link targets and capabilities (almost always empty) in sparse
//! tables. A file is a 32-byte row plus its name and digest bytes. [`FileInfo`] is a borrowed
//! view of one row with accessors that give back the header's values byte-exact.

use super::package::{DigestAlgo, FileState};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// One file as a header describes it, borrowed from the header (or a test), to add to a
/// [`FileList`].
#[derive(Debug, Clone, Default)]
pub struct NewFile<'a> {
    /// `DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]` (or OLDFILENAMES), byte-exact.
    pub path: &'a [u8],
    pub mode: u16,
    pub size: u64,
    /// FILEDIGESTS entry as stored (hex), empty when none.
    pub digest: &'a [u8],
    pub user: &'a [u8],
    pub group: &'a [u8],
    pub mtime: u32,
    pub rdev: u16,
    pub linkto: &'a [u8],
    pub flags: u32,
    pub verify_flags: u32,
    pub state: FileState,
    pub caps: &'a [u8],
    pub color: u32,
    pub inode: u32,
}

/// The attributes many files of a package have in common, stored once per combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Attrs {
    mode: u16,
    rdev: u16,
    /// Index into `FileList::names`.
    user: u32,
    group: u32,
    flags: u32,
    verify_flags: u32,
    color: u32,
}

/// How a file's FILEDIGESTS entry is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigestKind {
    /// Empty entry (non-regular files, ghosts) or no table.
    None,
    /// Lower-case hex of exactly the algorithm's width, kept as raw bytes in `digests`.
    Raw,
    /// Anything else (upper case, wrong length, not hex), kept as text in `odd_digests` so
    /// that the table's verdict and what is printed stay those of the stored entry.
    Odd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    /// End of the name (the path after its last `/`) in `FileList::bases`; it starts at the
    /// previous row's end.
    base_end: u32,
    /// Index of the directory (the path up to and including its last `/`) in `FileList::dirs`.
    dir: u32,
    size_lo: u32,
    size_hi: u32,
    mtime: u32,
    inode: u32,
    /// Index into `FileList::attrs`.
    attrs: u32,
    state: FileState,
    digest: DigestKind,
}

/// The files of one package, in header order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileList {
    rows: Box<[Row]>,
    /// Each distinct directory once, back to back; directory `i` ends at `dir_ends[i]`.
    dirs: Box<[u8]>,
    dir_ends: Box<[u32]>,
    bases: Box<[u8]>,
    attrs: Box<[Attrs]>,
    /// Owner names (lossy UTF-8, as rpm's string API gives them), each distinct name once.
    names: Box<[Box<str>]>,
    /// Raw digest bytes, `width` per file (zeros for files without a raw digest).
    digests: Box<[u8]>,
    width: usize,
    /// Sparse tables sorted by file index.
    odd_digests: Box<[(u32, Box<str>)]>,
    links: Box<[(u32, Box<[u8]>)]>,
    caps: Box<[(u32, Box<str>)]>,
}

/// The list would not fit the compact form's 32-bit offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the file list is too large ({0})")]
pub struct TooLarge(&'static str);

/// Collects [`NewFile`]s into a [`FileList`].
pub struct FileListBuilder {
    rows: Vec<Row>,
    dirs: Vec<u8>,
    dir_ends: Vec<u32>,
    dir_index: HashMap<Box<[u8]>, u32>,
    /// The directory of the file pushed last, checked before `dir_index` (a header lists a
    /// directory's files together), and the header's DIRINDEXES value for it when it came with one.
    last_dir: u32,
    last_dir_key: Option<u32>,
    bases: Vec<u8>,
    attrs: Vec<Attrs>,
    attr_index: HashMap<Attrs, u32>,
    names: Vec<Box<str>>,
    name_index: HashMap<Box<[u8]>, u32>,
    /// The two owner names used last (user, group), checked before `name_index`.
    recent_names: [u32; 2],
    /// The attributes of the file pushed last, checked before `attr_index`.
    last_attrs: u32,
    digests: Vec<u8>,
    width: usize,
    odd_digests: Vec<(u32, Box<str>)>,
    links: Vec<(u32, Box<[u8]>)>,
    caps: Vec<(u32, Box<str>)>,
}

/// Where `arena` ends once `more` is appended, as the 32-bit offset rows keep.
fn end_after(arena: &[u8], more: &[u8], what: &'static str) -> Result<u32, TooLarge> {
    arena
        .len()
        .checked_add(more.len())
        .and_then(|e| u32::try_from(e).ok())
        .ok_or(TooLarge(what))
}

fn lossy_box(raw: &[u8]) -> Box<str> {
    String::from_utf8_lossy(raw).into()
}

impl FileListBuilder {
    /// A builder for the files of a package whose digests use `algo`; `capacity` is the
    /// expected number of files and `base_bytes` the length of all their names after the last
    /// `/` (hints only: exact hints allocate those tables once, at their final size).
    pub fn new(algo: DigestAlgo, capacity: usize, base_bytes: usize) -> FileListBuilder {
        let width = algo.digest_len();
        FileListBuilder {
            rows: Vec::with_capacity(capacity),
            dirs: Vec::new(),
            dir_ends: Vec::new(),
            dir_index: HashMap::new(),
            last_dir: u32::MAX,
            last_dir_key: None,
            bases: Vec::with_capacity(base_bytes),
            attrs: Vec::new(),
            attr_index: HashMap::new(),
            names: Vec::new(),
            name_index: HashMap::new(),
            recent_names: [u32::MAX; 2],
            last_attrs: u32::MAX,
            digests: Vec::with_capacity(capacity.saturating_mul(width)),
            width,
            odd_digests: Vec::new(),
            links: Vec::new(),
            caps: Vec::new(),
        }
    }

    fn name(&mut self, raw: &[u8]) -> Result<u32, TooLarge> {
        // Nearly every file of a package has the owner of the file before it: compare with the
        // names last added and looked up before hashing.
        for &i in &self.recent_names {
            if self
                .names
                .get(i as usize)
                .is_some_and(|n| n.as_bytes() == raw)
            {
                return Ok(i);
            }
        }
        let i = self.name_slow(raw)?;
        self.recent_names = [i, self.recent_names[0]];
        Ok(i)
    }

    fn dir(&mut self, raw: &[u8]) -> Result<u32, TooLarge> {
        if directory(&self.dirs, &self.dir_ends, self.last_dir) == Some(raw) {
            return Ok(self.last_dir);
        }
        let i = match self.dir_index.get(raw) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.dir_ends.len()).map_err(|_| TooLarge("directories"))?;
                let end = end_after(&self.dirs, raw, "directories over 4 GiB")?;
                self.dirs.extend_from_slice(raw);
                self.dir_ends.push(end);
                self.dir_index.insert(raw.into(), i);
                i
            }
        };
        self.last_dir = i;
        Ok(i)
    }

    fn name_slow(&mut self, raw: &[u8]) -> Result<u32, TooLarge> {
        if let Some(&i) = self.name_index.get(raw) {
            return Ok(i);
        }
        let i = u32::try_from(self.names.len()).map_err(|_| TooLarge("owner names"))?;
        self.names.push(lossy_box(raw));
        self.name_index.insert(raw.into(), i);
        Ok(i)
    }

    /// Add the next file.
    pub fn push(&mut self, f: &NewFile<'_>) -> Result<(), TooLarge> {
        let (dir, base) = split_after_last_slash(f.path);
        self.last_dir_key = None;
        let dir = self.dir(dir)?;
        self.push_row(dir, base, f)
    }

    /// Add the next file, whose path is `dir` followed by `base` (`f.path` is not read): a
    /// header's DIRNAMES entry number `key` and BASENAMES entry. Files of one directory come
    /// together, so the directory is mostly recognised by `key` alone, without comparing or
    /// joining bytes.
    pub fn push_in_dir(
        &mut self,
        dir: &[u8],
        key: u32,
        base: &[u8],
        f: &NewFile<'_>,
    ) -> Result<(), TooLarge> {
        // The stored split must be at the last `/` (lookups inside the root rely on a name
        // without one): a directory entry without its trailing `/`, or a basename holding one,
        // takes the general way.
        if !(dir.is_empty() || dir.ends_with(b"/")) || base.contains(&b'/') {
            let mut path = Vec::with_capacity(dir.len() + base.len());
            path.extend_from_slice(dir);
            path.extend_from_slice(base);
            return self.push(&NewFile { path: &path, ..*f });
        }
        let dir = match self.last_dir_key {
            Some(k) if k == key => self.last_dir,
            _ => self.dir(dir)?,
        };
        self.last_dir_key = Some(key);
        self.push_row(dir, base, f)
    }

    fn push_row(&mut self, dir: u32, base: &[u8], f: &NewFile<'_>) -> Result<(), TooLarge> {
        let index = u32::try_from(self.rows.len()).map_err(|_| TooLarge("files"))?;
        let base_end = end_after(&self.bases, base, "paths over 4 GiB")?;
        let attrs = Attrs {
            mode: f.mode,
            rdev: f.rdev,
            user: self.name(f.user)?,
            group: self.name(f.group)?,
            flags: f.flags,
            verify_flags: f.verify_flags,
            color: f.color,
        };
        let attrs = if self.attrs.get(self.last_attrs as usize) == Some(&attrs) {
            self.last_attrs
        } else {
            let i = match self.attr_index.get(&attrs) {
                Some(&i) => i,
                None => {
                    let i = u32::try_from(self.attrs.len()).map_err(|_| TooLarge("attributes"))?;
                    self.attrs.push(attrs);
                    self.attr_index.insert(attrs, i);
                    i
                }
            };
            self.last_attrs = i;
            i
        };
        let start = self.digests.len();
        self.digests.resize(start + self.width, 0);
        let digest = if f.digest.is_empty() {
            DigestKind::None
        } else if f.digest.len() == 2 * self.width
            && f.digest
                .iter()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        {
            let slot = self.digests.get_mut(start..).unwrap_or_default();
            crate::scan::hash::decode_rpm_hex(f.digest, slot);
            DigestKind::Raw
        } else {
            self.odd_digests.push((index, lossy_box(f.digest)));
            DigestKind::Odd
        };
        if !f.linkto.is_empty() {
            self.links.push((index, f.linkto.into()));
        }
        if !f.caps.is_empty() {
            self.caps.push((index, lossy_box(f.caps)));
        }
        self.bases.extend_from_slice(base);
        self.rows.push(Row {
            base_end,
            dir,
            size_lo: f.size as u32,
            size_hi: (f.size >> 32) as u32,
            mtime: f.mtime,
            inode: f.inode,
            attrs,
            state: f.state,
            digest,
        });
        Ok(())
    }

    pub fn finish(self) -> FileList {
        FileList {
            rows: self.rows.into(),
            dirs: self.dirs.into(),
            dir_ends: self.dir_ends.into(),
            bases: self.bases.into(),
            attrs: self.attrs.into(),
            names: self.names.into(),
            digests: self.digests.into(),
            width: self.width,
            odd_digests: self.odd_digests.into(),
            links: self.links.into(),
            caps: self.caps.into(),
        }
    }
}

impl FileList {
    /// A list from files given whole (tests and small callers).
    pub fn from_files(algo: DigestAlgo, files: &[NewFile<'_>]) -> Result<FileList, TooLarge> {
        let bases = files
            .iter()
            .map(|f| split_after_last_slash(f.path).1.len())
            .sum();
        let mut b = FileListBuilder::new(algo, files.len(), bases);
        for f in files {
            b.push(f)?;
        }
        Ok(b.finish())
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// File `index`, in header order.
    pub fn get(&self, index: usize) -> Option<FileInfo<'_>> {
        let row = self.rows.get(index)?;
        Some(FileInfo {
            list: self,
            index,
            row,
        })
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = FileInfo<'_>> + Clone + '_ {
        self.rows.iter().enumerate().map(|(index, row)| FileInfo {
            list: self,
            index,
            row,
        })
    }

    /// Heap bytes this list holds (for the memory figures of scripts and tests).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.rows.len() * size_of::<Row>()
            + self.dirs.len()
            + self.dir_ends.len() * size_of::<u32>()
            + self.bases.len()
            + self.attrs.len() * size_of::<Attrs>()
            + self
                .names
                .iter()
                .map(|n| n.len() + size_of::<Box<str>>())
                .sum::<usize>()
            + self.digests.len()
            + self
                .odd_digests
                .iter()
                .map(|(_, d)| d.len() + 24)
                .sum::<usize>()
            + self.links.iter().map(|(_, l)| l.len() + 24).sum::<usize>()
            + self.caps.iter().map(|(_, c)| c.len() + 24).sum::<usize>()
    }
}

impl<'a> IntoIterator for &'a FileList {
    type Item = FileInfo<'a>;
    type IntoIter = Box<dyn Iterator<Item = FileInfo<'a>> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Directory `i` of `dirs`, the directories back to back, directory `i` ending at `ends[i]`.
fn directory<'a>(dirs: &'a [u8], ends: &[u32], i: u32) -> Option<&'a [u8]> {
    let i = i as usize;
    let start = match i.checked_sub(1) {
        Some(prev) => *ends.get(prev)? as usize,
        None => 0,
    };
    dirs.get(start..*ends.get(i)? as usize)
}

/// `path` split after its last `/` (the directory keeps it), or `("", path)` without one:
/// the two parts joined are `path` again, byte for byte.
fn split_after_last_slash(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => path.split_at(i + 1),
        None => (&path[..0], path),
    }
}

fn sparse<T: ?Sized>(table: &[(u32, Box<T>)], index: usize) -> Option<&T> {
    let index = u32::try_from(index).ok()?;
    table
        .binary_search_by_key(&index, |(i, _)| *i)
        .ok()
        .and_then(|at| table.get(at))
        .map(|(_, v)| &**v)
}

/// One file of an installed package, as the rpmdb describes it (a view into its [`FileList`]).
#[derive(Clone, Copy)]
pub struct FileInfo<'a> {
    list: &'a FileList,
    index: usize,
    row: &'a Row,
}

impl<'a> FileInfo<'a> {
    fn attrs(&self) -> Attrs {
        // Rows only ever index attributes pushed before them.
        self.list
            .attrs
            .get(self.row.attrs as usize)
            .copied()
            .unwrap_or(Attrs {
                mode: 0,
                rdev: 0,
                user: u32::MAX,
                group: u32::MAX,
                flags: 0,
                verify_flags: 0,
                color: 0,
            })
    }

    fn name(&self, i: u32) -> &'a str {
        self.list.names.get(i as usize).map_or("", |n| n)
    }

    /// Position in the package's file list (header order).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Absolute path inside the package's root, byte-exact (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(OsStr::from_bytes(&self.path_bytes()))
    }

    /// [`path`](Self::path) as bytes.
    pub fn path_bytes(&self) -> Vec<u8> {
        let (dir, base) = (self.dir_bytes(), self.base_bytes());
        let mut path = Vec::with_capacity(dir.len() + base.len());
        path.extend_from_slice(dir);
        path.extend_from_slice(base);
        path
    }

    /// Whether the path is `path`, without building it.
    pub fn path_is(&self, path: &[u8]) -> bool {
        let dir = self.dir_bytes();
        path.len() == dir.len() + self.base_bytes().len()
            && path.starts_with(dir)
            && path.ends_with(self.base_bytes())
    }

    /// The path up to and including its last `/` (empty when it has none).
    pub fn dir_bytes(&self) -> &'a [u8] {
        directory(&self.list.dirs, &self.list.dir_ends, self.row.dir).unwrap_or_default()
    }

    /// The path after its last `/`.
    pub fn base_bytes(&self) -> &'a [u8] {
        let start = match self.index.checked_sub(1) {
            Some(prev) => self.list.rows.get(prev).map_or(0, |r| r.base_end),
            None => 0,
        };
        self.list
            .bases
            .get(start as usize..self.row.base_end as usize)
            .unwrap_or_default()
    }

    /// The path split at its last `/`, which neither part keeps: the parent directory and the
    /// name in it (`("", path)` when there is no `/`).
    pub fn parent_and_name(&self) -> (&'a [u8], &'a [u8]) {
        let dir = self.dir_bytes();
        (dir.strip_suffix(b"/").unwrap_or(dir), self.base_bytes())
    }

    /// FILEMODES: type and permission bits.
    pub fn mode(&self) -> u16 {
        self.attrs().mode
    }

    /// LONGFILESIZES, else FILESIZES, else 0.
    pub fn size(&self) -> u64 {
        u64::from(self.row.size_hi) << 32 | u64::from(self.row.size_lo)
    }

    /// Whether the FILEDIGESTS entry is non-empty.
    pub fn has_digest(&self) -> bool {
        self.row.digest != DigestKind::None
    }

    /// The FILEDIGESTS entry as stored (hex), empty for non-regular files and ghosts.
    pub fn digest_hex(&self) -> Cow<'a, str> {
        match self.row.digest {
            DigestKind::None => Cow::Borrowed(""),
            DigestKind::Raw => Cow::Owned(hex(self.raw_digest())),
            DigestKind::Odd => {
                Cow::Borrowed(sparse(&self.list.odd_digests, self.index).unwrap_or(""))
            }
        }
    }

    /// Length of [`digest_hex`](Self::digest_hex) without building it.
    pub fn digest_hex_len(&self) -> usize {
        match self.row.digest {
            DigestKind::None => 0,
            DigestKind::Raw => 2 * self.list.width,
            DigestKind::Odd => sparse(&self.list.odd_digests, self.index).map_or(0, str::len),
        }
    }

    fn raw_digest(&self) -> &'a [u8] {
        let w = self.list.width;
        self.list
            .digests
            .get(self.index * w..(self.index + 1) * w)
            .unwrap_or_default()
    }

    /// The stored digest decoded into `out` the way rpm decodes hex (an empty or short entry
    /// leaves zeros, which no real content hashes to).
    pub fn expected_digest(&self, out: &mut [u8]) {
        out.fill(0);
        match self.row.digest {
            DigestKind::None => {}
            DigestKind::Raw => {
                for (o, b) in out.iter_mut().zip(self.raw_digest()) {
                    *o = *b;
                }
            }
            DigestKind::Odd => {
                let text = sparse(&self.list.odd_digests, self.index).unwrap_or("");
                crate::scan::hash::decode_rpm_hex(text.as_bytes(), out);
            }
        }
    }

    /// FILEUSERNAME.
    pub fn user(&self) -> &'a str {
        self.name(self.attrs().user)
    }

    /// FILEGROUPNAME.
    pub fn group(&self) -> &'a str {
        self.name(self.attrs().group)
    }

    /// FILEMTIMES, seconds.
    pub fn mtime(&self) -> u32 {
        self.row.mtime
    }

    /// FILERDEVS (already truncated to 16 bits by rpmbuild).
    pub fn rdev(&self) -> u16 {
        self.attrs().rdev
    }

    /// FILELINKTOS entry, byte-exact, empty for non-links.
    pub fn linkto(&self) -> &'a [u8] {
        sparse(&self.list.links, self.index).unwrap_or_default()
    }

    /// FILEFLAGS (`rpm::FileFlags` bits: config, doc, ghost, ...).
    pub fn flags(&self) -> u32 {
        self.attrs().flags
    }

    /// FILEVERIFYFLAGS (`rpm::FileVerifyFlags` bits); 0 when the tag is absent, as in rpm.
    pub fn verify_flags(&self) -> u32 {
        self.attrs().verify_flags
    }

    pub fn state(&self) -> FileState {
        self.row.state
    }

    /// FILECAPS text (`cap_to_text` form), empty when none.
    pub fn caps(&self) -> &'a str {
        sparse(&self.list.caps, self.index).unwrap_or("")
    }

    /// FILECOLORS, 0 when absent.
    pub fn color(&self) -> u32 {
        self.attrs().color
    }

    /// FILEINODES, used to recognise hardlink sets.
    pub fn inode(&self) -> u32 {
        self.row.inode
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

impl fmt::Debug for FileInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileInfo")
            .field("path", &self.path())
            .field("mode", &self.mode())
            .field("size", &self.size())
            .field("digest", &self.digest_hex())
            .field("user", &self.user())
            .field("group", &self.group())
            .field("mtime", &self.mtime())
            .field("rdev", &self.rdev())
            .field("linkto", &String::from_utf8_lossy(self.linkto()))
            .field("flags", &self.flags())
            .field("verify_flags", &self.verify_flags())
            .field("state", &self.state())
            .field("caps", &self.caps())
            .field("color", &self.color())
            .field("inode", &self.inode())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(files: &[NewFile<'_>]) -> FileList {
        FileList::from_files(DigestAlgo::Sha256, files).unwrap()
    }

    #[test]
    fn values_come_back_byte_exact() {
        let d = "ab".repeat(32);
        let files = [
            NewFile {
                path: b"/usr/bin/\xff-not-utf8",
                mode: 0o100755,
                size: (5 << 32) | 7,
                digest: d.as_bytes(),
                user: b"root",
                group: b"wheel",
                mtime: 1234,
                rdev: 0,
                linkto: b"",
                flags: 1,
                verify_flags: u32::MAX,
                state: FileState::Normal,
                caps: b"cap_net_raw=ep",
                color: 2,
                inode: 9,
            },
            NewFile {
                path: b"/usr/lib/link",
                mode: 0o120777,
                linkto: b"target\xfe",
                user: b"root",
                group: b"root",
                state: FileState::Unknown(7),
                ..Default::default()
            },
            NewFile {
                path: b"/odd",
                digest: b"ABCD",
                user: b"u\xff",
                ..Default::default()
            },
        ];
        let l = list(&files);
        assert_eq!(l.len(), 3);
        let a = l.get(0).unwrap();
        assert_eq!(a.path_bytes(), b"/usr/bin/\xff-not-utf8");
        assert_eq!(
            (a.mode(), a.size(), a.mtime(), a.flags(), a.verify_flags()),
            (0o100755, (5 << 32) | 7, 1234, 1, u32::MAX)
        );
        assert_eq!(
            (a.user(), a.group(), a.caps()),
            ("root", "wheel", "cap_net_raw=ep")
        );
        assert_eq!((a.color(), a.inode(), a.state()), (2, 9, FileState::Normal));
        assert_eq!(a.digest_hex(), d);
        assert_eq!(a.digest_hex_len(), 64);
        let mut out = [0u8; 32];
        a.expected_digest(&mut out);
        assert_eq!(out, [0xab; 32]);
        assert!(a.linkto().is_empty());
        let b = l.get(1).unwrap();
        assert_eq!(b.path(), std::path::Path::new("/usr/lib/link"));
        assert_eq!(b.linkto(), b"target\xfe");
        assert_eq!(b.state(), FileState::Unknown(7));
        assert!(!b.has_digest() && b.digest_hex().is_empty() && b.caps().is_empty());
        let c = l.get(2).unwrap();
        // Not lower-case hex of the algorithm's width: kept as stored.
        assert_eq!(c.digest_hex(), "ABCD");
        assert_eq!(c.digest_hex_len(), 4);
        assert_eq!(c.user(), "u\u{fffd}");
        c.expected_digest(&mut out);
        assert_eq!(out[..2], [0xab, 0xcd]);
        assert!(out[2..].iter().all(|&b| b == 0));
        assert!(l.get(3).is_none());
        let paths: Vec<_> = l.iter().map(|f| f.path_bytes().len()).collect();
        assert_eq!(paths, [files[0].path.len(), 13, 4]);
    }

    #[test]
    fn paths_split_at_the_last_slash_come_back_byte_exact() {
        let paths: [&[u8]; 9] = [
            b"/a/x", b"/b/y", b"/a/z", b"/", b"/a/", b"rel", b"/a//b", b"", b"/a/..",
        ];
        let files: Vec<NewFile<'_>> = paths
            .iter()
            .map(|p| NewFile {
                path: p,
                ..Default::default()
            })
            .collect();
        let l = list(&files);
        let split: Vec<(&[u8], &[u8])> = l.iter().map(|f| f.parent_and_name()).collect();
        assert_eq!(
            split,
            [
                (&b"/a"[..], &b"x"[..]),
                (b"/b", b"y"),
                (b"/a", b"z"),
                (b"", b""),
                (b"/a", b""),
                (b"", b"rel"),
                (b"/a/", b"b"),
                (b"", b""),
                (b"/a", b".."),
            ]
        );
        for (f, p) in l.iter().zip(paths) {
            assert_eq!(f.path_bytes(), p);
            assert!(f.path_is(p));
        }
        // `/a/` is stored once although `/b/` came between its files.
        let dirs: Vec<&[u8]> = l.iter().map(|f| f.dir_bytes()).collect();
        assert_eq!(l.dir_ends.len(), 5, "{dirs:?}");
    }

    /// A header's (directory, name) pairs give the same list as the joined paths, whatever
    /// the pairs look like.
    #[test]
    fn files_given_by_directory_entry_equal_files_given_whole() {
        let parts: [(&[u8], u32, &[u8]); 8] = [
            (b"/usr/bin/", 0, b"ls"),
            (b"/usr/bin/", 0, b"cat"),
            (b"/etc/", 1, b"passwd"),
            (b"/usr/bin/", 0, b"cp"),
            // No trailing `/`, a name with one, an OLDFILENAMES path, a top-level name.
            (b"/usr", 2, b"lib/x"),
            (b"/a/", 3, b"b/c"),
            (b"", u32::MAX, b"/old/style/path"),
            (b"/", 4, b"top"),
        ];
        let joined: Vec<Vec<u8>> = parts.iter().map(|(d, _, b)| [*d, *b].concat()).collect();
        let mut by_dir = FileListBuilder::new(DigestAlgo::Sha256, 0, 0);
        let mut whole = FileListBuilder::new(DigestAlgo::Sha256, 0, 0);
        for ((dir, key, base), path) in parts.iter().zip(&joined) {
            let f = NewFile {
                path,
                ..Default::default()
            };
            by_dir
                .push_in_dir(
                    dir,
                    *key,
                    base,
                    &NewFile {
                        path: &[],
                        ..f.clone()
                    },
                )
                .unwrap();
            whole.push(&f).unwrap();
        }
        let (by_dir, whole) = (by_dir.finish(), whole.finish());
        assert_eq!(by_dir, whole);
        for (f, path) in by_dir.iter().zip(&joined) {
            assert_eq!(&f.path_bytes(), path);
            assert!(!f.parent_and_name().1.contains(&b'/'), "{f:?}");
        }
        // `/usr` and `lib/x` join to `/usrlib/x`, byte-exact.
        assert_eq!(
            by_dir.get(4).unwrap().parent_and_name(),
            (&b"/usrlib"[..], &b"x"[..])
        );
    }

    #[test]
    fn shared_attributes_and_names_are_stored_once() {
        let paths: Vec<Vec<u8>> = (0..1000).map(|i| format!("/d/f{i}").into_bytes()).collect();
        let files: Vec<NewFile<'_>> = paths
            .iter()
            .map(|p| NewFile {
                path: p,
                mode: 0o100644,
                user: b"root",
                group: b"root",
                ..Default::default()
            })
            .collect();
        let l = list(&files);
        assert_eq!((l.attrs.len(), l.names.len()), (1, 1));
        // The directory `/d/` once, each file's name after it.
        assert_eq!((&*l.dirs, l.dir_ends.len()), (&b"/d/"[..], 1));
        let name_bytes: usize = paths.iter().map(|p| p.len() - 3).sum();
        assert_eq!(l.bases.len(), name_bytes);
        // Row + name + digest slot, nothing per file beyond that.
        assert!(
            l.heap_bytes() <= 1000 * (32 + 32) + name_bytes + 100,
            "{}",
            l.heap_bytes()
        );
        for (i, f) in l.iter().enumerate() {
            assert_eq!(f.path_bytes(), paths[i]);
            assert!(f.path_is(&paths[i]) && !f.path_is(b"/d/f"));
            assert_eq!(f.parent_and_name(), (&b"/d"[..], &paths[i][3..]));
        }
    }
}
