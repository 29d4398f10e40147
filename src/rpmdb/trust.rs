//! Trust anchors: which OpenPGP keys are trusted, and whether an installed package's header is
//! signed by one of them (the baseline's own Ed25519 signature is `crate::baseline::sign`).
//!
//! An installed header is judged on its immutable region (`HeaderBlob::immutable_region`, the
//! bytes rpm hashes and signs): SHA256HEADER/SHA1HEADER must match it, and RSAHEADER (else
//! DSAHEADER, where v4 EdDSA signatures live) must verify over it with a trusted key. A missing
//! signature is a finding of its own (rpm-software-management/rpm#811: whoever can write the rpmdb
//! can delete signature tags). Keys imported into the rpmdb (`gpg-pubkey`) are never trusted: the
//! rpmdb is the thing being checked.
//!
//! This module reads key files; it never opens the rpmdb.

use crate::rpmdb::blob::HeaderBlob;
use crate::rpmdb::HeaderDigest;
use crate::scan::fs::{Errno, Root};
use rpm::signature::Verifying;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Name of rpm's pseudo-packages that hold imported public keys.
pub const PUBKEY_PACKAGE: &str = "gpg-pubkey";

/// Largest key file read (a keyring of a few dozen keys is well below this).
const MAX_KEY_FILE: u64 = 4 << 20;

#[cfg(test)]
const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
#[cfg(test)]
const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

pub use crate::pkgdb::SigStatus;

/// A trusted key as loaded, for listings and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub file: PathBuf,
    /// Primary key id (16 hex digits).
    pub key_id: String,
    pub fingerprint: String,
    /// First user id, if any.
    pub user: Option<String>,
}

/// Trusted OpenPGP keys.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    verifier: rpm::signature::pgp::Verifier,
    /// Long key ids (primary and subkeys) of every loaded certificate.
    ids: HashSet<[u8; 8]>,
    /// Fingerprints (primary and subkeys).
    fingerprints: HashSet<Vec<u8>>,
    pub keys: Vec<TrustedKey>,
    /// Files or key blocks that could not be used (reported, not fatal).
    pub warnings: Vec<String>,
    /// Where the keys came from, for messages.
    pub source: String,
}

/// Why keys could not be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

pub use crate::pkgdb::split_armored;

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Load every key of every armored block in `text`; `file` names it in messages. Returns
    /// how many certificates were loaded.
    pub fn add_armored(&mut self, file: &Path, text: &str) -> usize {
        use pgp::composed::{Deserializable, SignedPublicKey};
        use pgp::types::KeyDetails;
        let blocks = split_armored(text);
        if blocks.is_empty() {
            self.warnings.push(format!(
                "{}: no armored OpenPGP public key block",
                file.display()
            ));
            return 0;
        }
        let mut loaded = 0;
        for (i, block) in blocks.iter().enumerate() {
            // The crate checks algorithms and binding signatures; only what it accepts is trusted.
            if let Err(e) = self.verifier.load_from_asc(block) {
                self.warnings.push(format!(
                    "{}: key block {}: not usable: {e}",
                    file.display(),
                    i + 1
                ));
                continue;
            }
            let parsed = match SignedPublicKey::from_string_many(block) {
                Ok((iter, _)) => iter,
                Err(e) => {
                    self.warnings
                        .push(format!("{}: key block {}: {e}", file.display(), i + 1));
                    continue;
                }
            };
            for key in parsed.flatten() {
                let mut record = |id: pgp::types::KeyId, fp: pgp::types::Fingerprint| {
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(id.as_ref());
                    self.ids.insert(raw);
                    self.fingerprints.insert(fp.as_bytes().to_vec());
                };
                record(key.legacy_key_id(), key.fingerprint());
                for sub in &key.public_subkeys {
                    record(sub.legacy_key_id(), sub.fingerprint());
                }
                self.keys.push(TrustedKey {
                    file: file.to_path_buf(),
                    key_id: hex::encode(key.legacy_key_id().as_ref()),
                    fingerprint: hex::encode(key.fingerprint().as_bytes()),
                    user: key
                        .details
                        .users
                        .first()
                        .map(|u| String::from_utf8_lossy(u.id.id()).into_owned()),
                });
                loaded += 1;
            }
        }
        loaded
    }

    /// Load a key file, or every regular file of a directory (sorted by name; subdirectories
    /// are not entered), named on the host by the administrator. Unusable files become
    /// warnings; an unreadable path is an error.
    pub fn add_path(&mut self, path: &Path) -> Result<usize, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            let mut n = 0;
            for f in files {
                match read_key_file(&f) {
                    Ok(text) => n += self.add_armored(&f, &text),
                    Err(e) => self.warnings.push(e.to_string()),
                }
            }
            Ok(n)
        } else {
            let text = read_key_file(path)?;
            Ok(self.add_armored(path, &text))
        }
    }

    /// Load a key file, or every regular file of a directory, at `path` inside the checked
    /// root (`host_root`, opened as `root`): the policy's `signatures.trusted_keys`. Symlinks
    /// are resolved inside the root and anything but a regular file is left unopened, so
    /// nothing planted there (a FIFO, a device node, a link out of the root) can stall the
    /// check or make it read the host. A missing path yields no keys; one that is neither a
    /// directory nor a regular file yields a warning.
    pub fn add_in_root(
        &mut self,
        root: &Root,
        host_root: &Path,
        path: &str,
    ) -> Result<usize, KeyError> {
        let shown = crate::scan::fs::join_in_root(host_root, Path::new(path));
        let st = match root.stat(path.as_bytes()) {
            Ok(st) => st,
            Err(Errno(libc::ENOENT)) => return Ok(0),
            Err(e) => return Err(errno_error(&shown, e)),
        };
        if !st.is_dir() {
            return match root.open_config(path.as_bytes()) {
                Ok(f) => {
                    let text = read_key_from(&shown, f)?;
                    Ok(self.add_armored(&shown, &text))
                }
                Err(Errno(libc::EINVAL)) => {
                    self.warnings.push(format!(
                        "{}: neither a directory nor a regular file; no keys read from it",
                        shown.display()
                    ));
                    Ok(0)
                }
                Err(e) => Err(errno_error(&shown, e)),
            };
        }
        let mut names =
            crate::scan::fs::list_root_dir(host_root, path).map_err(|what| KeyError::Invalid {
                path: shown.clone(),
                what,
            })?;
        names.sort();
        let mut n = 0;
        for name in names {
            let inside = format!("{}/{name}", path.trim_end_matches('/'));
            let file = shown.join(&name);
            match root.open_config(inside.as_bytes()) {
                Ok(f) => match read_key_from(&file, f) {
                    Ok(text) => n += self.add_armored(&file, &text),
                    Err(e) => self.warnings.push(e.to_string()),
                },
                // A subdirectory (not entered), or a FIFO or device among the keys: not a
                // key file.
                Err(Errno(libc::EINVAL)) => {}
                Err(e) => self.warnings.push(errno_error(&file, e).to_string()),
            }
        }
        Ok(n)
    }

    /// Whether the issuer of a signature is one of the trusted keys.
    fn knows(&self, issuer: &Issuer) -> bool {
        issuer.ids.iter().any(|id| self.ids.contains(id))
            || issuer
                .fingerprints
                .iter()
                .any(|fp| self.fingerprints.contains(fp))
    }

    /// Judge an installed header (already validated) whose digest status is `digest`.
    pub fn check_header(&self, h: &HeaderBlob<'_>, name: &str, digest: HeaderDigest) -> SigStatus {
        if name == PUBKEY_PACKAGE {
            return SigStatus::PublicKey;
        }
        if digest == HeaderDigest::Mismatch {
            return SigStatus::DigestMismatch;
        }
        let sig = [
            rpm::IndexTag::RPMTAG_RSAHEADER,
            rpm::IndexTag::RPMTAG_DSAHEADER,
        ]
        .into_iter()
        .find_map(|t| h.raw_bytes(t as u32).ok().flatten());
        let Some(sig) = sig else {
            return SigStatus::Unsigned;
        };
        let issuer = match parse_issuer(sig) {
            Ok(i) => i,
            Err(reason) => {
                return SigStatus::BadSignature {
                    key_id: None,
                    reason,
                }
            }
        };
        let key_id = issuer.key_id();
        let Some(region) = h.immutable_region() else {
            return SigStatus::BadSignature {
                key_id,
                reason: "header has no immutable region to verify".into(),
            };
        };
        if !self.knows(&issuer) {
            return SigStatus::UnknownKey { key_id };
        }
        match self.verifier.verify(region.as_slice(), sig) {
            Ok(()) => SigStatus::Signed {
                key_id: key_id.unwrap_or_default(),
            },
            Err(rpm::Error::UnsupportedPGPKeyType(alg)) => SigStatus::Unsupported {
                key_id,
                reason: format!("{alg:?} signatures cannot be verified"),
            },
            Err(rpm::Error::KeyNotFoundError { .. }) => SigStatus::UnknownKey { key_id },
            Err(e) => SigStatus::BadSignature {
                key_id,
                reason: e.to_string(),
            },
        }
    }
}

fn errno_error(path: &Path, e: Errno) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::from_raw_os_error(e.0),
    }
}

/// A key file named on the host, a final symlink followed; a FIFO or device is refused unopened.
fn read_key_file(path: &Path) -> Result<String, KeyError> {
    match crate::scan::fs::open_regular_file(path, true) {
        Ok(f) => read_key_from(path, f),
        Err(Errno(libc::EINVAL)) => Err(KeyError::Invalid {
            path: path.to_path_buf(),
            what: "not a regular file".into(),
        }),
        Err(e) => Err(errno_error(path, e)),
    }
}

/// The text of an opened key file (`path` names it in messages), bounded in size.
fn read_key_from(path: &Path, f: std::fs::File) -> Result<String, KeyError> {
    use std::io::Read;
    let mut buf = Vec::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            what: format!("larger than {MAX_KEY_FILE} bytes"),
        });
    }
    String::from_utf8(buf).map_err(|_| KeyError::Invalid {
        path: path.to_path_buf(),
        what: "not an armored (text) key file".into(),
    })
}

/// Who made a signature, as the signature packet says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Issuer {
    ids: Vec<[u8; 8]>,
    fingerprints: Vec<Vec<u8>>,
}

impl Issuer {
    /// Long key id in hex: the issuer key id, else derived from the fingerprint (v4: its last
    /// 8 bytes; v6: its first 8).
    fn key_id(&self) -> Option<String> {
        if let Some(id) = self.ids.first() {
            return Some(hex::encode(id));
        }
        let fp = self.fingerprints.first()?;
        let id = match fp.len() {
            20 => fp.get(12..20)?,
            _ => fp.get(..8)?,
        };
        Some(hex::encode(id))
    }
}

/// Issuer of an OpenPGP signature packet (RFC 4880/9580), read with bounds checks: v3 (key id
/// at a fixed place), v4/v6 (subpackets 16 issuer key id and 33 issuer fingerprint, hashed or
/// not).
fn parse_issuer(packet: &[u8]) -> Result<Issuer, String> {
    let bad = |what: &str| format!("malformed signature packet: {what}");
    let first = *packet.first().ok_or_else(|| bad("empty"))?;
    if first & 0x80 == 0 {
        return Err(bad("not a packet"));
    }
    let (tag, body) = if first & 0x40 != 0 {
        // New format: one-, two- or five-octet length.
        let tag = first & 0x3f;
        let l0 = *packet.get(1).ok_or_else(|| bad("truncated length"))? as usize;
        let (len, hdr): (usize, usize) = match l0 {
            0..=191 => (l0, 2),
            192..=223 => {
                let l1 = *packet.get(2).ok_or_else(|| bad("truncated length"))? as usize;
                (((l0 - 192) << 8) + l1 + 192, 3)
            }
            255 => {
                let b = packet.get(2..6).ok_or_else(|| bad("truncated length"))?;
                (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 6)
            }
            _ => return Err(bad("partial body length")),
        };
        (tag, packet.get(hdr..hdr.saturating_add(len)))
    } else {
        let tag = (first >> 2) & 0x0f;
        let (len, hdr): (usize, usize) = match first & 3 {
            0 => (
                *packet.get(1).ok_or_else(|| bad("truncated length"))? as usize,
                2,
            ),
            1 => {
                let b = packet.get(1..3).ok_or_else(|| bad("truncated length"))?;
                (usize::from(u16::from_be_bytes([b[0], b[1]])), 3)
            }
            2 => {
                let b = packet.get(1..5).ok_or_else(|| bad("truncated length"))?;
                (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 5)
            }
            _ => (packet.len().saturating_sub(1), 1),
        };
        (tag, packet.get(hdr..hdr.saturating_add(len)))
    };
    if tag != 2 {
        return Err(bad("not a signature packet"));
    }
    let body = body.ok_or_else(|| bad("length runs past the data"))?;
    let mut issuer = Issuer::default();
    match body.first() {
        Some(3) => {
            // version, hashed length (5), type, time(4), key id(8)
            let id = body
                .get(7..15)
                .ok_or_else(|| bad("truncated v3 signature"))?;
            let mut raw = [0u8; 8];
            raw.copy_from_slice(id);
            issuer.ids.push(raw);
        }
        Some(&v) if v == 4 || v == 6 => {
            // version, type, pubkey algo, hash algo, then hashed and unhashed subpacket areas
            // (2-octet counts in v4, 4-octet in v6).
            let width = if v == 4 { 2 } else { 4 };
            let mut pos = 4usize;
            for _ in 0..2 {
                let n = body
                    .get(pos..pos + width)
                    .ok_or_else(|| bad("truncated subpacket area"))?;
                let count = n.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
                pos += width;
                let area = body
                    .get(pos..pos.saturating_add(count))
                    .ok_or_else(|| bad("subpacket area runs past the packet"))?;
                subpackets(area, &mut issuer).map_err(bad)?;
                pos += count;
            }
        }
        _ => return Err(bad("unknown signature version")),
    }
    Ok(issuer)
}

fn subpackets(mut area: &[u8], issuer: &mut Issuer) -> Result<(), &'static str> {
    while let Some(&l0) = area.first() {
        let (len, hdr): (usize, usize) = match l0 {
            0..=191 => (usize::from(l0), 1),
            192..=254 => {
                let l1 = *area.get(1).ok_or("truncated subpacket length")?;
                (((usize::from(l0) - 192) << 8) + usize::from(l1) + 192, 2)
            }
            255 => {
                let b = area.get(1..5).ok_or("truncated subpacket length")?;
                (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 5)
            }
        };
        let sp = area
            .get(hdr..hdr.saturating_add(len))
            .ok_or("subpacket runs past its area")?;
        match sp.split_first() {
            Some((&t, data)) if t & 0x7f == 16 && data.len() == 8 => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(data);
                issuer.ids.push(raw);
            }
            Some((&t, data)) if t & 0x7f == 33 && data.len() > 1 => {
                issuer.fingerprints.push(data[1..].to_vec());
            }
            _ => {}
        }
        area = area.get(hdr + len..).unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_finds_every_block_and_ignores_noise() {
        let text = format!(
            "comment\n{BEGIN}\n\nAAAA\n{END}\nmiddle\n{BEGIN}\nBBBB\n{END}\n{BEGIN}\nunterminated\n"
        );
        let blocks = split_armored(&text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].contains("AAAA") && blocks[0].ends_with(END));
        assert!(blocks[1].contains("BBBB") && !blocks[1].contains("AAAA"));
        assert!(split_armored("nothing here").is_empty());
        assert!(split_armored(BEGIN).is_empty());
    }

    #[test]
    fn garbage_key_file_is_a_warning_not_a_key() {
        let mut k = Keyring::new();
        let n = k.add_armored(
            Path::new("x.asc"),
            &format!("{BEGIN}\n\nnot base64!\n{END}\n"),
        );
        assert_eq!(n, 0);
        assert!(k.is_empty());
        assert_eq!(k.warnings.len(), 1);
        assert_eq!(k.add_armored(Path::new("y"), "plain text"), 0);
        assert_eq!(k.warnings.len(), 2);
    }

    /// A v4 signature packet (old format, 1-octet length) with an issuer fingerprint in the
    /// hashed area and an issuer key id in the unhashed area.
    fn v4_sig(fp: &[u8; 20], id: &[u8; 8]) -> Vec<u8> {
        let mut hashed = vec![22, 33, 4];
        hashed.extend_from_slice(fp);
        let mut unhashed = vec![9, 16];
        unhashed.extend_from_slice(id);
        let mut body = vec![4, 0, 1, 8];
        body.extend_from_slice(&(hashed.len() as u16).to_be_bytes());
        body.extend_from_slice(&hashed);
        body.extend_from_slice(&(unhashed.len() as u16).to_be_bytes());
        body.extend_from_slice(&unhashed);
        body.extend_from_slice(&[0xab, 0xcd, 0, 1, 0]);
        let mut p = vec![0x88, body.len() as u8];
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn issuer_of_v4_and_v3_signatures() {
        let fp = [7u8; 20];
        let id = [1, 2, 3, 4, 5, 6, 7, 8];
        let i = parse_issuer(&v4_sig(&fp, &id)).unwrap();
        assert_eq!(i.ids, vec![id]);
        assert_eq!(i.fingerprints, vec![fp.to_vec()]);
        assert_eq!(i.key_id().as_deref(), Some("0102030405060708"));
        let only_fp = Issuer {
            ids: vec![],
            fingerprints: vec![fp.to_vec()],
        };
        assert_eq!(only_fp.key_id().as_deref(), Some("0707070707070707"));
        // v3: 0x89 (old format, 2-octet length)
        let mut body = vec![3, 5, 0, 0, 0, 0, 0];
        body.extend_from_slice(&id);
        body.extend_from_slice(&[1, 8, 0xab, 0xcd]);
        let mut p = vec![0x89, 0];
        p.push(body.len() as u8);
        p.extend_from_slice(&body);
        assert_eq!(parse_issuer(&p).unwrap().ids, vec![id]);
    }

    #[test]
    fn every_truncation_and_flip_of_a_signature_is_handled() {
        let good = v4_sig(&[9u8; 20], &[3u8; 8]);
        for n in 0..good.len() {
            let _ = parse_issuer(&good[..n]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut t = good.clone();
                t[i] ^= 1 << bit;
                let _ = parse_issuer(&t);
            }
        }
        assert!(parse_issuer(&[]).is_err());
        assert!(parse_issuer(&[0x88, 200, 4]).is_err());
    }

    #[test]
    fn status_names_and_tamper_classes() {
        let s = SigStatus::BadSignature {
            key_id: Some("ab".into()),
            reason: "r".into(),
        };
        assert_eq!(s.name(), "bad-signature");
        assert!(s.is_tampered());
        assert_eq!(s.describe(), "bad-signature (key ab: r)");
        assert!(SigStatus::DigestMismatch.is_tampered());
        assert!(!SigStatus::Unsigned.is_tampered());
        assert_eq!(
            SigStatus::Signed {
                key_id: "cd".into()
            }
            .describe(),
            "signed (key cd)"
        );
        assert_eq!(SigStatus::UnknownKey { key_id: None }.name(), "unknown-key");
    }
}
