//! Package-level findings from header signature verdicts ([`crate::trust::SigStatus`]), and the
//! note that marks every file verdict of a tampered header. Never reads keys or the rpmdb: the
//! verdicts are computed while the database is read.

use super::finding::{Finding, FindingKind, Severity, Source};
use crate::policy::Signatures;
use crate::rpmdb::Package;
use crate::trust::SigStatus;

/// Note added to each file finding of a package whose header was altered after signing.
pub const TAMPERED_NOTE: &str =
    "package header fails its signature or digest check: the expected values are not trustworthy";

/// Severity of a package's verdict under the policy; `None` when nothing is reported.
pub fn severity(status: &SigStatus, name: &str, policy: &Signatures) -> Option<Severity> {
    let allowed = policy.allows_unsigned(name);
    // An allow-listed package is not reported (`packages` still shows its status).
    let untrusted = |default| match (allowed, policy.require_signatures) {
        (true, _) => None,
        (false, true) => Some(Severity::Critical),
        (false, false) => Some(default),
    };
    match status {
        SigStatus::Signed { .. } | SigStatus::PublicKey | SigStatus::NotChecked => None,
        SigStatus::DigestMismatch | SigStatus::BadSignature { .. } => Some(Severity::Critical),
        SigStatus::Unsigned | SigStatus::Unsupported { .. } => untrusted(Severity::Medium),
        SigStatus::UnknownKey { .. } => untrusted(Severity::High),
    }
}

/// One finding per package (of `selected`, indexes into `packages`) whose header is not
/// signed by a trusted key. `rpmdb_path` is the database file, absolute inside the root.
pub fn findings(
    packages: &[Package],
    selected: impl IntoIterator<Item = usize>,
    policy: &Signatures,
    rpmdb_path: &[u8],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in selected {
        let Some(p) = packages.get(i) else {
            continue;
        };
        let Some(severity) = severity(&p.signature, &p.name, policy) else {
            continue;
        };
        let mut note = p.signature.describe();
        if p.signature.is_tampered() {
            note.push_str(&format!(
                "; the file digests of {} cannot be trusted",
                p.nevra()
            ));
        }
        out.push(Finding {
            path: rpmdb_path.to_vec(),
            kind: FindingKind::Untrusted,
            source: Source::Header {
                name: p.name.clone(),
                nevra: p.nevra(),
                pkg_index: i,
                status: p.signature.name().to_string(),
                key_id: p.signature.key_id().map(str::to_owned),
            },
            changes: Vec::new(),
            severity,
            rule: format!("package.{}", p.signature.name()),
            note: Some(note),
            rpm: None,
        });
    }
    out
}

/// Mark each file finding of a package with a tampered header (bad signature, digest mismatch).
pub fn mark_tampered(packages: &[Package], findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let Source::Package { pkg_index, .. } = &f.source else {
            continue;
        };
        let Some(p) = packages.get(*pkg_index) else {
            continue;
        };
        if p.signature.is_tampered() {
            let note = format!("{TAMPERED_NOTE} ({})", p.signature.name());
            f.note = Some(match f.note.take() {
                Some(n) => format!("{n}; {note}"),
                None => note,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigs(allowed: &[&str], require: bool) -> Signatures {
        Signatures {
            trusted_keys: vec![],
            unsigned_allowed: allowed.iter().map(|s| s.to_string()).collect(),
            require_signatures: require,
        }
    }

    #[test]
    fn severity_follows_status_and_policy() {
        let open = sigs(&[], false);
        let strict = sigs(&[], true);
        let local = sigs(&["local-*"], true);
        let signed = SigStatus::Signed { key_id: "k".into() };
        let bad = SigStatus::BadSignature {
            key_id: None,
            reason: "r".into(),
        };
        let unknown = SigStatus::UnknownKey { key_id: None };
        assert_eq!(severity(&signed, "a", &strict), None);
        assert_eq!(severity(&SigStatus::PublicKey, "gpg-pubkey", &strict), None);
        assert_eq!(severity(&bad, "a", &open), Some(Severity::Critical));
        assert_eq!(
            severity(&bad, "local-x", &local),
            Some(Severity::Critical),
            "the allow-list never excuses a tampered header"
        );
        assert_eq!(
            severity(&SigStatus::DigestMismatch, "a", &open),
            Some(Severity::Critical)
        );
        assert_eq!(
            severity(&SigStatus::Unsigned, "a", &open),
            Some(Severity::Medium)
        );
        assert_eq!(
            severity(&SigStatus::Unsigned, "a", &strict),
            Some(Severity::Critical)
        );
        assert_eq!(severity(&SigStatus::Unsigned, "local-x", &local), None);
        assert_eq!(severity(&unknown, "a", &open), Some(Severity::High));
        assert_eq!(severity(&unknown, "a", &strict), Some(Severity::Critical));
        assert_eq!(severity(&unknown, "local-x", &local), None);
    }
}
