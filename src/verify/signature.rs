//! Package-level findings from header signature verdicts ([`crate::rpmdb::trust::SigStatus`]), and the
//! note that marks every file verdict of a tampered header. Never reads keys or the rpmdb: the
//! verdicts are computed while the database is read.
//!
//! Package trust is a state kept in the baseline's package snapshot, not an alarm repeated on
//! every run. With a baseline, an unsigned (or unknown-key) header that was already there when
//! the snapshot was taken, unchanged since, is only info: the administrator accepted it. One
//! installed or rewritten since is judged as without a baseline. A tampered header is always
//! critical, and so is a header whose status got worse under the same NEVRA (a signed package
//! rewritten in place, or its key withdrawn): that is what an attacker replacing a package's
//! header would look like.

use crate::finding::{Finding, FindingKind, Severity, Source};
use crate::pkgdb::PackageSnapshot;
use crate::policy::Signatures;
use crate::rpmdb::trust::SigStatus;
use crate::rpmdb::Package;

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

/// How untrusted a status is, for "got worse": a signature by a trusted key, by a key not
/// loaded (or not verifiable), none at all. `None` for the statuses that are not a trust level.
fn trust_rank(status: &str) -> Option<u8> {
    match status {
        "signed" => Some(0),
        "unknown-key" | "unsupported" => Some(1),
        "unsigned" => Some(2),
        _ => None,
    }
}

/// What the baseline's snapshot says about a package's current untrusted status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baselined {
    /// No baseline snapshot to compare with: judged by the policy alone.
    NoBaseline,
    /// Not in the snapshot, or its header changed since: judged by the policy alone.
    New,
    /// The same header with the same status (or, in a baseline written before trust was
    /// recorded, the same header: its status cannot have changed without the keys changing).
    Accepted,
    /// The same NEVRA had a better status in the snapshot.
    Worse,
}

/// Compare a package's current status with the snapshot `baseline` (sorted or not).
pub fn baselined(
    nevra: &str,
    current: &PackageSnapshot,
    status: &SigStatus,
    baseline: Option<&[PackageSnapshot]>,
) -> Baselined {
    let Some(baseline) = baseline else {
        return Baselined::NoBaseline;
    };
    let now = trust_rank(status.name());
    let mut out = Baselined::New;
    for b in baseline.iter().filter(|b| b.nevra == nevra) {
        let then = b.trust.as_deref().and_then(trust_rank);
        if let (Some(then), Some(now)) = (then, now) {
            if now > then {
                return Baselined::Worse;
            }
        }
        let same_status = match &b.trust {
            None => true,
            Some(t) => t == status.name() && b.trust_key.as_deref() == status.key_id(),
        };
        if b.same_header(current) && same_status {
            out = Baselined::Accepted;
        }
    }
    out
}

/// Severity of a package's verdict under the policy and the baseline's snapshot.
pub fn severity_with_baseline(
    status: &SigStatus,
    name: &str,
    policy: &Signatures,
    baselined: Baselined,
) -> Option<Severity> {
    let base = severity(status, name, policy)?;
    if status.is_tampered() {
        return Some(Severity::Critical);
    }
    match baselined {
        Baselined::NoBaseline | Baselined::New => Some(base),
        Baselined::Worse => Some(Severity::Critical),
        // `require_signatures` is the administrator saying no unsigned package is acceptable:
        // accepting the baseline does not override it.
        Baselined::Accepted if policy.require_signatures => Some(base),
        Baselined::Accepted => Some(Severity::Info),
    }
}

/// One finding per package (of `selected`, indexes into `packages`) whose header is not
/// signed by a trusted key. `rpmdb_path` is the database file, absolute inside the root.
/// `baseline` is the baseline's package snapshot, when there is a baseline.
pub fn findings(
    packages: &[Package],
    selected: impl IntoIterator<Item = usize>,
    policy: &Signatures,
    rpmdb_path: &[u8],
    baseline: Option<&[PackageSnapshot]>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in selected {
        let Some(p) = packages.get(i) else {
            continue;
        };
        let nevra = p.nevra();
        let current = crate::rpmdb::db::snapshot_of(p);
        let was = baselined(&nevra, &current, &p.signature, baseline);
        let Some(severity) = severity_with_baseline(&p.signature, &p.name, policy, was) else {
            continue;
        };
        let mut note = p.signature.describe();
        match was {
            Baselined::Accepted if severity == Severity::Info => note.push_str(
                "; accepted: the baseline's package snapshot holds this header with this status",
            ),
            Baselined::Worse => note.push_str(
                "; worse than in the baseline's package snapshot for the same package: its header was rewritten or its key is no longer trusted",
            ),
            Baselined::New => {
                note.push_str("; installed or changed since the baseline's package snapshot")
            }
            _ => {}
        }
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
            verify_line: None,
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

    fn snap(nevra: &str, digest: &str, trust: Option<&str>) -> PackageSnapshot {
        PackageSnapshot {
            nevra: nevra.into(),
            install_tid: Some(1),
            sha256_header: Some(digest.into()),
            trust: trust.map(str::to_owned),
            trust_key: None,
        }
    }

    #[test]
    fn baselined_trust_states() {
        let open = sigs(&[], false);
        let strict = sigs(&[], true);
        let u = SigStatus::Unsigned;
        let now = snap("a-1-1.noarch", "h1", Some("unsigned"));
        let was = |b: &[PackageSnapshot]| baselined("a-1-1.noarch", &now, &u, Some(b));
        assert_eq!(
            baselined("a-1-1.noarch", &now, &u, None),
            Baselined::NoBaseline
        );
        assert_eq!(was(std::slice::from_ref(&now)), Baselined::Accepted);
        // An older baseline without trust: the unchanged header is accepted.
        assert_eq!(
            was(&[snap("a-1-1.noarch", "h1", None)]),
            Baselined::Accepted
        );
        assert_eq!(
            was(&[snap("a-1-1.noarch", "h0", Some("unsigned"))]),
            Baselined::New
        );
        assert_eq!(
            was(&[snap("b-1-1.noarch", "h1", Some("unsigned"))]),
            Baselined::New
        );
        assert_eq!(
            was(&[snap("a-1-1.noarch", "h1", Some("signed"))]),
            Baselined::Worse
        );
        let sev = |b| severity_with_baseline(&u, "a", &open, b);
        assert_eq!(sev(Baselined::Accepted), Some(Severity::Info));
        assert_eq!(sev(Baselined::New), Some(Severity::Medium));
        assert_eq!(sev(Baselined::NoBaseline), Some(Severity::Medium));
        assert_eq!(sev(Baselined::Worse), Some(Severity::Critical));
        assert_eq!(
            severity_with_baseline(&u, "a", &strict, Baselined::Accepted),
            Some(Severity::Critical),
            "require_signatures is not overridden by the baseline"
        );
        assert_eq!(
            severity_with_baseline(&SigStatus::DigestMismatch, "a", &open, Baselined::Accepted),
            Some(Severity::Critical)
        );
        assert_eq!(
            severity_with_baseline(
                &SigStatus::Signed { key_id: "k".into() },
                "a",
                &open,
                Baselined::Worse
            ),
            None
        );
    }
}
