//! The baseline's own integrity: its SHA-256 (printed by every report, pinned with
//! `check --baseline-digest`) and an optional Ed25519 signature.
//!
//! Files (all text, one item per line):
//! - secret key `PREFIX.key` (mode 0600): `quietwire-ed25519-secret-key v1` then 64 hex digits;
//! - public key `PREFIX.pub`: `quietwire-ed25519-public-key v1` then 64 hex digits;
//! - signature `BASELINE.sig`, next to the baseline: `quietwire-baseline-signature v1`,
//!   `key <public key hex>`, `sha256 <baseline file SHA-256 hex>`, `sig <128 hex digits>`.
//!   The signed message is `"quietwire-baseline-v1\0"` followed by the 32-byte SHA-256 of the
//!   whole baseline file, so the signature covers every byte of it (header, records, trailer).
//!
//! The signature file is written (temp file, fsync, rename, fsync directory) right after the
//! baseline itself is renamed into place. A crash between the two renames leaves a signature of
//! the previous baseline: `check --verify-key` then fails, which is the safe side; `accept` with
//! the key signs again.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const SECRET_MAGIC: &str = "quietwire-ed25519-secret-key v1";
const PUBLIC_MAGIC: &str = "quietwire-ed25519-public-key v1";
const SIG_MAGIC: &str = "quietwire-baseline-signature v1";
const DOMAIN: &[u8] = b"quietwire-baseline-v1\0";
/// Largest key or signature file read.
const MAX_SMALL_FILE: u64 = 64 << 10;

/// Why a key, a signature or a baseline digest does not check out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Format { path: PathBuf, what: String },
    #[error("{path}: signature does not verify with the public key {key}: the baseline or its signature was changed")]
    BadSignature { path: PathBuf, key: PathBuf },
    #[error("{path}: signed by another key ({found}) than {key}")]
    WrongKey {
        path: PathBuf,
        key: PathBuf,
        found: String,
    },
    #[error("{baseline}: SHA-256 is {actual} but {path} signs {signed}: the baseline was changed after it was signed")]
    Stale {
        baseline: PathBuf,
        path: PathBuf,
        signed: String,
        actual: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SignError + '_ {
    move |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(path: &Path, what: impl Into<String>) -> SignError {
    SignError::Format {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// SHA-256 of a whole file, hex.
pub fn file_sha256(path: &Path) -> Result<String, SignError> {
    let mut f = open_regular(path, false)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 128 << 10];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}

/// Where the signature of `baseline` lives: `BASELINE.sig` in the same directory.
pub fn signature_path(baseline: &Path) -> PathBuf {
    let mut s = baseline.as_os_str().to_os_string();
    s.push(".sig");
    PathBuf::from(s)
}

/// Open `path` only if it is a regular file (pinned first: a FIFO or device node is never
/// opened), following a final symlink only when `follow_last`: key files are the
/// administrator's, the signature lies beside a baseline that may be inside the checked root.
fn open_regular(path: &Path, follow_last: bool) -> Result<std::fs::File, SignError> {
    crate::scan::fs::open_regular_file(path, follow_last).map_err(|e| match e.0 {
        libc::EINVAL => format_err(path, "not a regular file"),
        errno => io(path)(std::io::Error::from_raw_os_error(errno)),
    })
}

fn read_small(path: &Path, follow_last: bool) -> Result<String, SignError> {
    let mut buf = Vec::new();
    open_regular(path, follow_last)?
        .take(MAX_SMALL_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io(path))?;
    if buf.len() as u64 > MAX_SMALL_FILE {
        return Err(format_err(path, "file too large"));
    }
    String::from_utf8(buf).map_err(|_| format_err(path, "not a text file"))
}

fn hex_array<const N: usize>(path: &Path, s: &str, what: &str) -> Result<[u8; N], SignError> {
    let v = hex::decode(s.trim()).map_err(|_| format_err(path, format!("{what}: not hex")))?;
    v.try_into()
        .map_err(|_| format_err(path, format!("{what}: expected {N} bytes")))
}

/// `MAGIC\nHEX\n` key files.
fn read_key_file<const N: usize>(path: &Path, magic: &str) -> Result<[u8; N], SignError> {
    let text = read_small(path, true)?;
    let mut lines = text.lines();
    if lines.next() != Some(magic) {
        return Err(format_err(path, format!("not a `{magic}` file")));
    }
    hex_array(path, lines.next().unwrap_or_default(), "key")
}

pub fn read_signing_key(path: &Path) -> Result<SigningKey, SignError> {
    Ok(SigningKey::from_bytes(&read_key_file::<32>(
        path,
        SECRET_MAGIC,
    )?))
}

pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, SignError> {
    let raw = read_key_file::<32>(path, PUBLIC_MAGIC)?;
    VerifyingKey::from_bytes(&raw).map_err(|e| format_err(path, format!("invalid key: {e}")))
}

/// Write `bytes` to `path` through a temp file in the same directory (fsync, rename, fsync dir).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}

/// Make a new key pair: `PREFIX.key` (0600) and `PREFIX.pub`. Refuses to overwrite.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf), SignError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_os_string();
        s.push(ext);
        PathBuf::from(s)
    };
    let (secret, public) = (with(".key"), with(".pub"));
    for p in [&secret, &public] {
        if p.symlink_metadata().is_ok() {
            return Err(SignError::Io {
                path: p.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists; refusing to overwrite a key",
                ),
            });
        }
    }
    write_atomic(
        &secret,
        format!("{SECRET_MAGIC}\n{}\n", hex::encode(key.to_bytes())).as_bytes(),
        0o600,
    )?;
    write_atomic(
        &public,
        format!(
            "{PUBLIC_MAGIC}\n{}\n",
            hex::encode(key.verifying_key().to_bytes())
        )
        .as_bytes(),
        0o644,
    )?;
    Ok((secret, public))
}

fn message(sha256_hex: &str) -> Option<Vec<u8>> {
    let digest = hex::decode(sha256_hex).ok()?;
    Some([DOMAIN, &digest].concat())
}

/// Sign the baseline file as it is now; writes `BASELINE.sig`. Returns the signature path.
pub fn sign_baseline(baseline: &Path, key: &SigningKey) -> Result<PathBuf, SignError> {
    let digest = file_sha256(baseline)?;
    let msg = message(&digest).ok_or_else(|| format_err(baseline, "digest"))?;
    let sig = key.sign(&msg);
    let path = signature_path(baseline);
    let text = format!(
        "{SIG_MAGIC}\nkey {}\nsha256 {digest}\nsig {}\n",
        hex::encode(key.verifying_key().to_bytes()),
        hex::encode(sig.to_bytes())
    );
    write_atomic(&path, text.as_bytes(), 0o644)?;
    Ok(path)
}

/// Check `BASELINE.sig` with the public key in `key_file`, and that it signs the baseline as it
/// is now (`actual_sha256`, the file's SHA-256 in hex).
pub fn verify_baseline(
    baseline: &Path,
    actual_sha256: &str,
    key_file: &Path,
) -> Result<(), SignError> {
    let key = read_verifying_key(key_file)?;
    let path = signature_path(baseline);
    let text = read_small(&path, false)?;
    let mut lines = text.lines();
    if lines.next() != Some(SIG_MAGIC) {
        return Err(format_err(&path, format!("not a `{SIG_MAGIC}` file")));
    }
    let mut field = |name: &str| {
        lines
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(|l| l.strip_prefix(' '))
            .map(str::to_owned)
            .ok_or_else(|| format_err(&path, format!("missing `{name}` line")))
    };
    let signer = field("key")?;
    let signed = field("sha256")?;
    let sig_hex = field("sig")?;
    let signer_raw: [u8; 32] = hex_array(&path, &signer, "key")?;
    if signer_raw != key.to_bytes() {
        return Err(SignError::WrongKey {
            path,
            key: key_file.to_path_buf(),
            found: signer,
        });
    }
    let sig = Signature::from_bytes(&hex_array::<64>(&path, &sig_hex, "sig")?);
    let msg = message(&signed).ok_or_else(|| format_err(&path, "sha256: not hex"))?;
    key.verify(&msg, &sig)
        .map_err(|_| SignError::BadSignature {
            path: path.clone(),
            key: key_file.to_path_buf(),
        })?;
    if !signed.eq_ignore_ascii_case(actual_sha256) {
        return Err(SignError::Stale {
            baseline: baseline.to_path_buf(),
            path,
            signed,
            actual: actual_sha256.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_every_kind_of_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = keygen(&dir.path().join("k")).unwrap();
        assert!(keygen(&dir.path().join("k")).is_err(), "no overwrite");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let base = dir.path().join("baseline");
        std::fs::write(&base, "records\n").unwrap();
        let key = read_signing_key(&sk).unwrap();
        sign_baseline(&base, &key).unwrap();
        let d = file_sha256(&base).unwrap();
        verify_baseline(&base, &d, &pk).unwrap();

        // The baseline edited afterwards.
        std::fs::write(&base, "records, edited\n").unwrap();
        let d2 = file_sha256(&base).unwrap();
        assert!(matches!(
            verify_baseline(&base, &d2, &pk),
            Err(SignError::Stale { .. })
        ));
        // The signature file's digest rewritten to match (but not re-signed).
        let sig = signature_path(&base);
        let text = std::fs::read_to_string(&sig).unwrap().replace(&d, &d2);
        std::fs::write(&sig, text).unwrap();
        assert!(matches!(
            verify_baseline(&base, &d2, &pk),
            Err(SignError::BadSignature { .. })
        ));
        // Re-signed with another key.
        let (sk2, pk2) = keygen(&dir.path().join("other")).unwrap();
        sign_baseline(&base, &read_signing_key(&sk2).unwrap()).unwrap();
        verify_baseline(&base, &d2, &pk2).unwrap();
        assert!(matches!(
            verify_baseline(&base, &d2, &pk),
            Err(SignError::WrongKey { .. })
        ));
        // Missing or garbled signature files.
        std::fs::write(&sig, "garbage").unwrap();
        assert!(matches!(
            verify_baseline(&base, &d2, &pk2),
            Err(SignError::Format { .. })
        ));
        std::fs::remove_file(&sig).unwrap();
        assert!(matches!(
            verify_baseline(&base, &d2, &pk2),
            Err(SignError::Io { .. })
        ));
        // A public key is not a secret key and the other way round.
        assert!(read_signing_key(&pk).is_err());
        assert!(read_verifying_key(&sk).is_err());
    }
}
