//! The OpenPGP keys apt trusts, and the check of an `InRelease` file's clearsigned text
//! against them. apt's keyrings are either armored (`*.asc`) or binary (`*.gpg`, `trusted.gpg`);
//! a key is used only when the `pgp` crate accepts its self-signatures (its bindings).
//!
//! Not done here, said in quietwire(8): key expiry and revocation are not judged, and
//! `Signed-By` keyrings outside `trusted.gpg.d` are not read (apt's per-source keyrings would
//! need sources.list parsed, and trusting every file of `/usr/share/keyrings` would trust
//! `debian-archive-removed-keys.gpg` too).

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

/// Trusted keys for apt's indexes.
#[derive(Debug, Default)]
pub struct AptKeys {
    keys: Vec<SignedPublicKey>,
    /// Files or keys that could not be used (reported, not fatal).
    pub warnings: Vec<String>,
}

/// Why an `InRelease` file is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Not a clearsigned message at all.
    Malformed(String),
    /// No signature by a trusted key (the issuers' key ids).
    UnknownKey(Vec<String>),
    /// A signature names a trusted key but does not verify.
    BadSignature(String),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Malformed(why) => write!(f, "not a clearsigned message: {why}"),
            Rejected::UnknownKey(ids) if ids.is_empty() => {
                write!(f, "no signature names a trusted key")
            }
            Rejected::UnknownKey(ids) => {
                write!(f, "signed only by keys not trusted ({})", ids.join(", "))
            }
            Rejected::BadSignature(id) => {
                write!(f, "the signature by trusted key {id} does not verify")
            }
        }
    }
}

impl AptKeys {
    pub fn new() -> AptKeys {
        AptKeys::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Add the keys of one keyring file, armored or binary; `name` names it in warnings.
    pub fn add_keyring(&mut self, name: &str, data: &[u8]) -> usize {
        let text = std::str::from_utf8(data).ok();
        let mut parsed: Vec<pgp::errors::Result<SignedPublicKey>> = Vec::new();
        match text.filter(|t| t.trim_start().starts_with("-----BEGIN")) {
            Some(t) => {
                let blocks = crate::pkgdb::split_armored(t);
                if blocks.is_empty() {
                    self.warnings
                        .push(format!("{name}: no armored OpenPGP public key block"));
                }
                for block in blocks {
                    match SignedPublicKey::from_string_many(block) {
                        Ok((iter, _)) => parsed.extend(iter),
                        Err(e) => self.warnings.push(format!("{name}: {e}")),
                    }
                }
            }
            None => match SignedPublicKey::from_bytes_many(data) {
                Ok(iter) => parsed.extend(iter),
                Err(e) => self.warnings.push(format!("{name}: {e}")),
            },
        }
        let mut n = 0;
        for key in parsed {
            match key.map_err(|e| e.to_string()).and_then(self_signed) {
                Ok(k) => {
                    self.keys.push(k);
                    n += 1;
                }
                Err(e) => self.warnings.push(format!("{name}: key not usable: {e}")),
            }
        }
        if n == 0 && self.warnings.last().is_none_or(|w| !w.starts_with(name)) {
            self.warnings.push(format!("{name}: no OpenPGP public key"));
        }
        n
    }

    /// Verify a clearsigned `InRelease`; its signed text (dash-unescaped, as signed) when a
    /// signature by a trusted key (primary or subkey) verifies.
    pub fn verify_cleartext(&self, data: &[u8]) -> Result<String, Rejected> {
        let text = std::str::from_utf8(data)
            .map_err(|e| Rejected::Malformed(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
        let (msg, _) = CleartextSignedMessage::from_string(text)
            .map_err(|e| Rejected::Malformed(e.to_string()))?;
        let mut known = None;
        for key in &self.keys {
            if msg.verify(key).is_ok() {
                return Ok(msg.signed_text());
            }
            if names(&msg, key.legacy_key_id()) {
                known.get_or_insert_with(|| hex::encode(key.legacy_key_id().as_ref()));
            }
            for sub in &key.public_subkeys {
                if msg.verify(sub).is_ok() {
                    return Ok(msg.signed_text());
                }
                if names(&msg, sub.legacy_key_id()) {
                    known.get_or_insert_with(|| hex::encode(sub.legacy_key_id().as_ref()));
                }
            }
        }
        match known {
            Some(id) => Err(Rejected::BadSignature(id)),
            None => Err(Rejected::UnknownKey(
                msg.signatures()
                    .iter()
                    .flat_map(|s| s.issuer_key_id())
                    .map(|id| hex::encode(id.as_ref()))
                    .collect(),
            )),
        }
    }
}

/// The key if its primary key certifies one of its user ids and has not revoked itself, with
/// only the subkeys it binds. Certifications by other keys are ignored: archive keys carry
/// signatures of other Debian keys, which `verify_bindings` would demand to verify too.
fn self_signed(mut k: SignedPublicKey) -> Result<SignedPublicKey, String> {
    use pgp::types::Tag;
    let primary = &k.primary_key;
    let certified = k.details.users.iter().any(|u| {
        u.signatures
            .iter()
            .any(|s| s.verify_certification(primary, Tag::UserId, &u.id).is_ok())
    });
    if !certified {
        return Err(format!(
            "{}: no user id certified by the key itself",
            hex::encode(k.legacy_key_id().as_ref())
        ));
    }
    if k.details
        .revocation_signatures
        .iter()
        .any(|s| s.verify_key(primary).is_ok())
    {
        return Err(format!(
            "{}: revoked",
            hex::encode(k.legacy_key_id().as_ref())
        ));
    }
    let subkeys = std::mem::take(&mut k.public_subkeys);
    k.public_subkeys = subkeys
        .into_iter()
        .filter(|sub| {
            sub.signatures
                .iter()
                .any(|s| s.verify_subkey_binding(&k.primary_key, &sub.key).is_ok())
        })
        .collect();
    Ok(k)
}

/// Whether a signature of `msg` names `id` as its issuer.
fn names(msg: &CleartextSignedMessage, id: pgp::types::KeyId) -> bool {
    msg.signatures()
        .iter()
        .any(|s| s.issuer_key_id().into_iter().any(|i| *i == id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_reason() {
        let mut k = AptKeys::new();
        assert_eq!(k.add_keyring("x.gpg", b"\x99\x00garbage"), 0);
        assert!(!k.warnings.is_empty());
        assert_eq!(
            k.add_keyring("y.asc", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nzz\n"),
            0
        );
        assert!(matches!(
            k.verify_cleartext(b"hello"),
            Err(Rejected::Malformed(_))
        ));
    }
}
