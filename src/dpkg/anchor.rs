//! `check --deb-archives`: anchor each installed package's md5sums in apt's signed indexes,
//! instead of trusting the root-writable `info/PKG.md5sums` as debsums does.
//!
//! The chain, each link checked here: a key of apt's keyrings ([`keys`]) → an `InRelease` of
//! `var/lib/apt/lists/` whose clearsigned text verifies with it → the `SHA256:` line its signed
//! text has for a `Packages` index there (plain or compressed, [`unpack`]) → the index's stanza
//! for the installed package's name, version and architecture → the `.deb` in the archives
//! directory with that size and SHA-256 → the `md5sums` of its control area ([`deb`]), compared
//! with the installed one. A package whose chain breaks anywhere is *unanchored* (an `info`
//! finding naming why); one whose anchored `.deb` ships other digests than the installed
//! md5sums file is *forged* (`high`).
//!
//! Everything read is inside the root and root-writable: files are opened through `scan::fs`
//! (confined to the root, regular files only), every size is bounded, and bad input is a
//! one-line reason, never a panic.

pub mod deb;
pub mod index;
pub mod keys;
pub mod unpack;

use super::{DpkgDb, DpkgPackage, ADMINDIR};
use crate::finding::{Finding, FindingKind, Severity, Source};
use crate::scan::fs::Root;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// apt's index directory, relative to the root.
pub const APT_LISTS: &str = "var/lib/apt/lists";
/// Where apt keeps the `.deb` files it downloaded, inside the root.
pub const DEFAULT_ARCHIVES: &str = "/var/cache/apt/archives";
/// apt's keyrings inside the root: every `*.asc`/`*.gpg` of the directory, and the old single file.
const TRUSTED_DIR: &str = "etc/apt/trusted.gpg.d";
const TRUSTED_FILE: &str = "etc/apt/trusted.gpg";

/// Bounds: Debian's largest InRelease is about 150 KiB, its main Packages index about 100 MiB
/// uncompressed, a keyring a few KiB per key.
const MAX_INRELEASE: u64 = 64 << 20;
const MAX_INDEX_FILE: u64 = 512 << 20;
const MAX_INDEX_TEXT: usize = 1 << 30;
const MAX_KEYRING: u64 = 4 << 20;
/// Largest `.deb` read. Debian 12's largest is about 1.4 GiB (qgis-api-doc, 1,535,845,016
/// bytes); every byte of a `.deb` is hashed, so a file the signed index lists at 16 TiB (a key
/// of the root's own keyrings can sign anything) must not be read whole.
const MAX_DEB: u64 = 4 << 30;
/// Paths named in one forged finding; the rest are counted.
const MAX_NAMED_PATHS: usize = 10;

/// What `--deb-archives` found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Packages (with an md5sums file) whose md5sums equal their signed `.deb`'s.
    pub anchored: usize,
    pub forged: usize,
    pub unanchored: usize,
    /// Problems with keys and indexes (each makes packages unanchored; printed as warnings).
    pub warnings: Vec<String>,
    /// Trusted keys loaded and indexes whose signature and digest verified.
    pub keys: usize,
    pub indexes: usize,
}

impl Outcome {
    /// The one-line summary.
    pub fn summary(&self, archives: &Path) -> String {
        format!(
            "--deb-archives {}: {} packages' md5sums anchored in a signed apt index, {} forged, {} unanchored ({} trusted keys, {} verified indexes)",
            archives.display(),
            self.anchored,
            self.forged,
            self.unanchored,
            self.keys,
            self.indexes
        )
    }
}

/// Why a setup step failed: the root itself cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct AnchorError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// A file of the root (`rel` relative to it), read whole if at most `max` bytes.
fn read_root_file(root: &Root, rel: &str, max: u64) -> Result<Vec<u8>, String> {
    let f = root
        .open_config(format!("/{rel}").as_bytes())
        .map_err(|e| e.message())?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(buf)
}

/// Load the trusted keys: `host_keys` (files or directories on the host, given by the
/// administrator) when any, else apt's keyrings inside the root.
fn load_keys(
    host: &Path,
    root: &Root,
    host_keys: &[PathBuf],
    out: &mut Outcome,
) -> Result<keys::AptKeys, AnchorError> {
    let mut k = keys::AptKeys::new();
    if !host_keys.is_empty() {
        for p in host_keys {
            // The administrator named it: a path that is not there is an error, not a warning.
            std::fs::metadata(p).map_err(|source| AnchorError {
                path: p.clone(),
                source,
            })?;
            let files = match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut v: Vec<PathBuf> = rd
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .collect();
                    v.sort();
                    v
                }
                Err(_) => vec![p.clone()],
            };
            for f in files {
                let read = std::fs::File::open(&f).and_then(|file| {
                    let mut buf = Vec::new();
                    file.take(MAX_KEYRING).read_to_end(&mut buf).map(|_| buf)
                });
                match read {
                    Ok(buf) => {
                        k.add_keyring(&f.display().to_string(), &buf);
                    }
                    Err(e) => out.warnings.push(format!("{}: {e}", f.display())),
                }
            }
        }
    } else {
        let mut files = Vec::new();
        if root.stat(format!("/{TRUSTED_FILE}").as_bytes()).is_ok() {
            files.push(TRUSTED_FILE.to_string());
        }
        match crate::scan::fs::list_root_dir(host, TRUSTED_DIR) {
            Ok(names) => files.extend(
                names
                    .into_iter()
                    .filter(|n| n.ends_with(".asc") || n.ends_with(".gpg"))
                    .map(|n| format!("{TRUSTED_DIR}/{n}")),
            ),
            Err(e) => out
                .warnings
                .push(format!("{}: {e}", host.join(TRUSTED_DIR).display())),
        }
        for rel in files {
            let shown = host.join(&rel).display().to_string();
            match read_root_file(root, &rel, MAX_KEYRING) {
                Ok(buf) => {
                    k.add_keyring(&shown, &buf);
                }
                Err(e) => out.warnings.push(format!("{shown}: {e}")),
            }
        }
    }
    out.warnings.append(&mut k.warnings);
    Ok(k)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The verified Release files of the lists directory: (list-name prefix, SHA256 section).
type Releases = Vec<(String, HashMap<String, index::ReleaseEntry>)>;

fn verified_releases(
    host: &Path,
    root: &Root,
    names: &[String],
    k: &keys::AptKeys,
    out: &mut Outcome,
) -> Releases {
    let mut v = Releases::new();
    for name in names.iter().filter(|n| n.ends_with("_InRelease")) {
        let rel = format!("{APT_LISTS}/{name}");
        let shown = host.join(&rel);
        let result = read_root_file(root, &rel, MAX_INRELEASE)
            .and_then(|data| k.verify_cleartext(&data).map_err(|e| e.to_string()))
            .and_then(|text| index::release_sha256(&text));
        match result {
            Ok(map) => {
                let prefix = name.trim_end_matches("InRelease").to_string();
                v.push((prefix, map));
            }
            Err(e) => out
                .warnings
                .push(format!("{}: not trusted: {e}", shown.display())),
        }
    }
    v
}

/// The stanzas of every Packages index of the lists directory that a verified Release file
/// vouches for, for the packages `wanted`.
fn signed_stanzas(
    host: &Path,
    root: &Root,
    names: &[String],
    releases: &Releases,
    wanted: &HashSet<&str>,
    out: &mut Outcome,
) -> Vec<index::Listed> {
    let mut listed = Vec::new();
    for name in names {
        let (compression, stem) = unpack::Compression::of(name);
        if !stem.ends_with("_Packages") {
            continue;
        }
        let rel = format!("{APT_LISTS}/{name}");
        let shown = host.join(&rel).display().to_string();
        let Some((prefix, release)) = releases.iter().find(|(p, _)| stem.starts_with(p.as_str()))
        else {
            out.warnings.push(format!(
                "{shown}: not trusted: no InRelease next to it verified"
            ));
            continue;
        };
        // apt names a list file after its URI with `/` as `_`; the Release file lists it by
        // its path under the suite.
        let rest = stem.get(prefix.len()..).unwrap_or_default();
        let mangled = |p: &str| p.replace('/', "_");
        let entry_for = |want: &str| {
            release
                .iter()
                .find(|(p, _)| mangled(p) == want)
                .map(|(_, e)| e)
        };
        let result = read_root_file(root, &rel, MAX_INDEX_FILE).and_then(|raw| {
            let ext = name.get(stem.len()..).unwrap_or_default();
            let raw_ok = !ext.is_empty()
                && entry_for(&format!("{rest}{ext}")).is_some_and(|e| e.sha256 == sha256_hex(&raw));
            let text = unpack::decompress(compression, &raw, MAX_INDEX_TEXT)?;
            // apt may store an index recompressed (lz4 here): then only the uncompressed
            // digest, which the Release file lists too, can match.
            let text_ok = entry_for(rest).is_some_and(|e| e.sha256 == sha256_hex(&text));
            if !(raw_ok || text_ok) {
                return Err(format!(
                    "its SHA-256 is not the one the verified {prefix}InRelease lists for {rest}"
                ));
            }
            index::parse_packages(&text, |p| wanted.contains(p))
        });
        match result {
            Ok(v) => {
                out.indexes += 1;
                listed.extend(v);
            }
            Err(e) => out.warnings.push(format!("{shown}: not trusted: {e}")),
        }
    }
    listed
}

/// The name apt gives a downloaded `.deb`: `name_version_arch.deb`, the epoch's `:` as `%3a`.
fn archive_name(p: &DpkgPackage) -> Option<String> {
    let arch = p.entry.arch.as_deref()?;
    Some(format!(
        "{}_{}_{arch}.deb",
        p.entry.name,
        p.entry.version.replace(':', "%3a")
    ))
}

/// What became of one installed package.
enum Verdict {
    Anchored,
    Forged {
        deb: String,
        differ: Vec<Vec<u8>>,
    },
    Unanchored(String),
    /// Its anchored `.deb` is not a readable archive.
    BadDeb {
        deb: String,
        why: String,
    },
}

fn judge(
    root: &Root,
    archives: &Path,
    p: &DpkgPackage,
    installed: &HashMap<Vec<u8>, String>,
    listed: &HashMap<(&str, &str, &str), Vec<&index::Listed>>,
) -> Verdict {
    let Some(arch) = p.entry.arch.as_deref() else {
        return Verdict::Unanchored("no Architecture in the status file".into());
    };
    let key = (p.entry.name.as_str(), p.entry.version.as_str(), arch);
    let Some(stanzas) = listed.get(&key) else {
        return Verdict::Unanchored(format!(
            "version {} ({arch}) is not listed by a verified apt index",
            p.entry.version
        ));
    };
    let Some(file) = archive_name(p) else {
        return Verdict::Unanchored("no archive name".into());
    };
    let inside = archives.join(&file);
    let shown = inside.display().to_string();
    let f = match root.open_config(inside.as_os_str().as_encoded_bytes()) {
        Ok(f) => f,
        Err(e) if e.0 == libc::ENOENT => {
            return Verdict::Unanchored(format!("no {shown} (its .deb is not in the archives)"))
        }
        Err(e) => return Verdict::Unanchored(format!("{shown}: {}", e.message())),
    };
    let size = crate::scan::fs::fstat(&f)
        .map(|s| s.size)
        .unwrap_or(u64::MAX);
    if !stanzas.iter().any(|s| s.size == size) {
        return Verdict::Unanchored(format!(
            "{shown}: its size ({size} bytes) is not the one the signed index lists"
        ));
    }
    if size > MAX_DEB {
        return Verdict::BadDeb {
            deb: shown,
            why: format!("{size} bytes, more than the {MAX_DEB} a .deb is read up to"),
        };
    }
    // A .deb is compressed data, never sparse; its holes would be hashed as zeros for nothing.
    match crate::scan::hash::hole_bytes(&f, size) {
        Ok(holes) if holes > super::verify::MAX_HOLE_BYTES => {
            return Verdict::BadDeb {
                deb: shown,
                why: format!("sparse file: {holes} of its {size} bytes are holes"),
            }
        }
        Ok(_) => {}
        Err(e) => return Verdict::Unanchored(format!("{shown}: {e}")),
    }
    // The hole map moved the offset; the archive is read as a stream from its start.
    if let Err(e) = std::io::Seek::rewind(&mut &f) {
        return Verdict::Unanchored(format!("{shown}: {e}"));
    }
    let scanned = match deb::scan(std::io::BufReader::new(f)) {
        Ok(s) => s,
        Err(e) => return Verdict::Unanchored(format!("{shown}: {e}")),
    };
    let Some(sha256) = scanned.sha256 else {
        return Verdict::BadDeb {
            deb: shown,
            why: scanned.md5sums.err().unwrap_or_default(),
        };
    };
    if !stanzas.iter().any(|s| s.sha256 == sha256) {
        return Verdict::Unanchored(format!(
            "{shown}: its SHA-256 {sha256} is not the one the signed index lists"
        ));
    }
    let signed = match scanned.md5sums {
        Ok(Some(b)) => match super::parse::parse_md5sums(&b) {
            Ok(m) => m,
            Err(e) => {
                return Verdict::BadDeb {
                    deb: shown,
                    why: format!("its md5sums: {e}"),
                }
            }
        },
        Ok(None) => HashMap::new(),
        Err(why) => return Verdict::BadDeb { deb: shown, why },
    };
    let differ: BTreeSet<Vec<u8>> = installed
        .iter()
        .filter(|(path, d)| signed.get(*path) != Some(*d))
        .map(|(path, _)| path.clone())
        .chain(
            signed
                .keys()
                .filter(|path| !installed.contains_key(*path))
                .cloned(),
        )
        .collect();
    match differ.is_empty() {
        true => Verdict::Anchored,
        false => Verdict::Forged {
            deb: shown,
            differ: differ.into_iter().collect(),
        },
    }
}

fn md5sums_path(p: &DpkgPackage) -> Vec<u8> {
    format!("/{ADMINDIR}/info/{}.md5sums", p.info_name()).into_bytes()
}

/// Anchor the md5sums of the selected packages (`selected`: indices into `db.packages`, `None`
/// for all) of the dpkg root `host`; `archives` is the archives directory inside the root,
/// `host_keys` the administrator's keys (none: apt's keyrings inside the root).
pub fn check(
    host: &Path,
    db: &DpkgDb,
    selected: Option<&[usize]>,
    archives: &Path,
    host_keys: &[PathBuf],
) -> Result<Outcome, AnchorError> {
    use rayon::prelude::*;
    let root = Root::open(host).map_err(|source| AnchorError {
        path: host.to_path_buf(),
        source,
    })?;
    let mut out = Outcome::default();
    let k = load_keys(host, &root, host_keys, &mut out)?;
    out.keys = k.len();
    let names = crate::scan::fs::list_root_dir(host, APT_LISTS).unwrap_or_else(|e| {
        out.warnings
            .push(format!("{}: {e}", host.join(APT_LISTS).display()));
        Vec::new()
    });
    let releases = verified_releases(host, &root, &names, &k, &mut out);
    let packages: Vec<(usize, &DpkgPackage)> = db
        .packages
        .iter()
        .enumerate()
        .filter(|(i, p)| p.md5sums.is_some() && selected.is_none_or(|s| s.contains(i)))
        .collect();
    let wanted: HashSet<&str> = packages
        .iter()
        .map(|(_, p)| p.entry.name.as_str())
        .collect();
    let stanzas = signed_stanzas(host, &root, &names, &releases, &wanted, &mut out);
    let mut listed: HashMap<(&str, &str, &str), Vec<&index::Listed>> = HashMap::new();
    for s in &stanzas {
        listed
            .entry((s.package.as_str(), s.version.as_str(), s.arch.as_str()))
            .or_default()
            .push(s);
    }
    // Hashing the cached .debs is the cost of this check (hundreds of MiB on a busy cache).
    let verdicts: Vec<Verdict> = packages
        .par_iter()
        .map(|(_, p)| match &p.md5sums {
            Some(m) => judge(&root, archives, p, m, &listed),
            None => Verdict::Unanchored("no md5sums".into()),
        })
        .collect();
    for ((i, p), v) in packages.iter().zip(verdicts) {
        let full = p.full_name();
        let finding =
            |severity, kind, rule: &str, status: &str, path: Vec<u8>, note: String| Finding {
                path,
                kind,
                source: Source::Header {
                    name: p.entry.name.clone(),
                    nevra: full.clone(),
                    pkg_index: *i,
                    status: status.into(),
                    key_id: None,
                },
                changes: Vec::new(),
                severity,
                rule: rule.into(),
                note: Some(note),
                verify_line: None,
            };
        match v {
            Verdict::Anchored => out.anchored += 1,
            Verdict::Unanchored(why) => {
                out.unanchored += 1;
                out.findings.push(finding(
                    Severity::Info,
                    FindingKind::Noted,
                    "dpkg.md5sums_unanchored",
                    "md5sums-unanchored",
                    md5sums_path(p),
                    format!("package {full}: md5sums not anchored in a signed apt index: {why}"),
                ));
            }
            Verdict::BadDeb { deb, why } => {
                out.unanchored += 1;
                out.findings.push(finding(
                    Severity::Medium,
                    FindingKind::Untrusted,
                    "dpkg.deb_unreadable",
                    "deb-unreadable",
                    deb.clone().into_bytes(),
                    format!("package {full}: {deb}: not a readable .deb: {why}; its md5sums is not anchored"),
                ));
            }
            Verdict::Forged { deb, differ } => {
                out.forged += 1;
                let mut named: Vec<String> = differ
                    .iter()
                    .take(MAX_NAMED_PATHS)
                    .map(|p| crate::escape::escape_bytes(p))
                    .collect();
                if differ.len() > MAX_NAMED_PATHS {
                    named.push(format!("and {} more", differ.len() - MAX_NAMED_PATHS));
                }
                out.findings.push(finding(
                    Severity::High,
                    FindingKind::Untrusted,
                    "dpkg.md5sums_forged",
                    "md5sums-forged",
                    md5sums_path(p),
                    format!(
                        "package {full}: installed md5sums differs from the one in {deb}, whose SHA-256 a signed apt index lists, for {}: the digests dpkg vouches for were rewritten; these files cannot be trusted",
                        named.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}
