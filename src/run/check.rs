//! `check`: verify package-owned files, compare with the baseline, report and deliver.

use super::config::{BaselineTrust, Check, ReportFormat, Scope};
use super::{
    baseline_failure, baseline_file, be_nice, io_failure, load_keyring, load_keyring_paths,
    load_policy, open_db, report_issues, report_unloadable, warn_keys, warn_untrusted_baseline,
    with_jobs, Failure, PkgDb,
};
use crate::escape::escape_path;
use crate::exit;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(super) fn check(a: &Check) -> Result<u8, Failure> {
    // --nice covers every path, dpkg's --owned-only one included; a failure to lower the
    // priority is reported by the full path below, with a failed run's metrics.
    let niced = be_nice(a.threads.nice);
    if niced.is_ok() {
        if let Some(result) = super::dpkg::check(a) {
            return result;
        }
    }
    let run = crate::report::ndjson::Run::start(&a.target.root);
    let clock = std::time::Instant::now();
    let mut doc = None;
    let result =
        niced.and_then(|()| with_jobs(a.threads.jobs, || check_in_pool(a, &run, &mut doc))?);
    let Some(file) = &a.metrics_file else {
        return result;
    };
    // A failed run writes its metrics too: the exit status and the kept last success time are
    // what an alert on a broken check needs.
    let outcome = crate::report::metrics::Outcome {
        started: run.started,
        duration: clock.elapsed(),
        exit_status: match &result {
            Ok(s) => *s,
            Err(f) => f.status,
        },
        doc: doc.as_ref(),
    };
    match (crate::ops::metrics::write(file, &outcome), result) {
        (Ok(()), result) => result,
        (Err(e), result) => {
            eprintln!("quietwire: writing the metrics {}: {e}", file.display());
            match result {
                Ok(s) => Ok(exit::combine(s, exit::FAILURE)),
                Err(mut f) => {
                    f.status = exit::combine(f.status, exit::FAILURE);
                    Err(f)
                }
            }
        }
    }
}

/// `check` on the rayon pool `--jobs` sized: reading the rpmdb, verifying owned files and the
/// baseline comparison all use it. The JSON report document, when one is made (JSON or NDJSON
/// output, metrics), is left in `doc` for the metrics.
fn check_in_pool(
    a: &Check,
    run: &crate::report::ndjson::Run,
    doc: &mut Option<serde_json::Value>,
) -> Result<u8, Failure> {
    use crate::finding::{Finding, FindingKind, Severity};
    use crate::rpmdb::verify as owned;
    let root = &a.target.root;
    let policy = load_policy(root, a.state.policy.as_deref())?;
    let baseline_path = baseline_file(root, &a.state)?;
    warn_untrusted_baseline(root, &baseline_path);
    let mut baseline_sha256 = check_baseline_trust(&baseline_path, &a.baseline_trust)?;
    let keyring = if !a.scope.verifies_owned() {
        crate::rpmdb::trust::Keyring::new()
    } else if a.keys.is_empty() {
        load_keyring(root, &policy)?
    } else if a.deb_archives.is_some()
        && super::dpkg::choose(&a.target) == super::config::PackageManager::Dpkg
    {
        // dpkg keeps no header signatures: --keys names the keys of apt's indexes, which
        // `crate::dpkg::anchor` reads (binary keyrings too, which rpm's loader refuses).
        crate::rpmdb::trust::Keyring::new()
    } else {
        load_keyring_paths(&a.keys)?
    };
    // The owned-file cache is read and checked while the rpmdb is: neither needs the other.
    let (db, cache) = rayon::join(
        || open_db(&a.target, Some(&keyring)),
        || match a.trust_ctime && a.scope.verifies_owned() {
            true => super::owned_cache::for_check(root, &baseline_path, |read| {
                same_baseline(
                    &baseline_path,
                    &mut baseline_sha256,
                    read,
                    &a.baseline_trust,
                )
            }),
            false => Ok(None),
        },
    );
    let (db, mut error_status) = db?;
    let cache = cache?;
    if a.scope.verifies_owned() {
        warn_keys(&keyring, &db);
    }
    error_status = exit::combine(error_status, report_unloadable(&db));
    // WordPress core and plugins: a second package source, verified against its manifests.
    let wordpress = crate::wordpress::open_for_check(root);
    let mut current = db.seam().snapshot();
    if let Some(wp) = &wordpress {
        crate::wordpress::extend_snapshot(wp, &mut current);
    }
    // --packages-changed: the baseline's snapshot chooses the packages; nothing else is walked.
    let mut baselined_owned = std::collections::HashMap::new();
    // The baseline's package snapshot, when there is a baseline: package trust is judged
    // against it (see verify::signature).
    let mut baselined_packages = None;
    let mut changes = match a.scope == Scope::PackagesChanged {
        true => {
            let file = baseline_file(root, &a.state)?;
            let (header, owned, read_sha256) =
                crate::ops::verified_baseline(&file).map_err(baseline_failure)?;
            same_baseline(&file, &mut baseline_sha256, &read_sha256, &a.baseline_trust)?;
            baselined_owned = owned;
            baselined_packages = Some(header.packages.clone());
            Some(package_changes(
                &db,
                root,
                header.created,
                &header.packages,
                &current,
            ))
        }
        false => None,
    };
    let opts = owned::VerifyOptions {
        // 0: the current pool, which `--jobs` sized already; without `--jobs`, more readers
        // than cores for a cold cache.
        jobs: match a.threads.jobs {
            Some(_) => 0,
            None => owned::default_read_threads(),
        },
        cache,
        packages: changes.as_ref().map_or_else(
            || a.packages.clone(),
            |c| {
                let mut v = c.to_verify();
                // WordPress packages are verified by their own source, below.
                v.retain(|n| !crate::wordpress::is_wordpress_nevra(n));
                v
            },
        ),
        verbose: a.verbose && a.format == ReportFormat::Rpm,
        progress: a.progress,
        ..Default::default()
    };
    let nothing_changed = changes.is_some() && opts.packages.is_empty();
    let (report, mut findings) = match &db {
        _ if !a.scope.verifies_owned() || nothing_changed => {
            (owned::OwnedReport::default(), Vec::new())
        }
        PkgDb::Rpm(rdb) => {
            let report = owned::verify_packages(root, rdb, &opts)
                .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            let findings = owned::to_findings(rdb, &report);
            (report, findings)
        }
        PkgDb::Dpkg(ddb) => {
            let (selected, not_installed) = match opts.packages.is_empty() {
                true => (None, Vec::new()),
                false => {
                    let (s, n) = db.seam().select(&opts.packages);
                    (Some(s), n)
                }
            };
            let report = owned::OwnedReport {
                not_installed,
                ..Default::default()
            };
            let findings = super::dpkg::findings(ddb, root, selected.as_deref(), None, opts.jobs)?;
            (report, findings)
        }
    };
    if let Some(c) = &changes {
        crate::ops::note_accepted_edits(root, &baselined_owned, &mut findings);
        findings.extend(crate::baseline::changes::leftovers_on_disk(
            root,
            db.seam(),
            c,
            &baselined_owned,
        ));
    }
    if let (true, Some(rdb)) = (a.scope.verifies_owned(), db.rpm()) {
        crate::verify::signature::mark_tampered(&rdb.packages, &mut findings);
    }
    if let (Some(wp), Scope::Full | Scope::OwnedOnly) = (&wordpress, a.scope) {
        if let Ok(top) = crate::scan::fs::Dir::open_root(root) {
            let verdicts = crate::wordpress::verify::verify(&top, wp);
            findings.extend(crate::wordpress::verify::to_findings(&verdicts));
        }
    }

    let mut states = std::collections::HashMap::new();
    let mut issues = Vec::new();
    let mut baseline_error = None;
    if a.scope.compares_baseline() {
        let file = baseline_path.clone();
        let mut index = db.seam().owned_index();
        if let Some(wp) = &wordpress {
            crate::wordpress::extend_index(wp, &mut index);
        }
        let opts = crate::baseline::CompareOptions {
            trust_ctime: a.trust_ctime,
        };
        let compared = crate::baseline::compare_with(root, &policy, &index, &file, opts);
        match compared {
            Ok(outcome) => {
                same_baseline(
                    &file,
                    &mut baseline_sha256,
                    &outcome.baseline_sha256,
                    &a.baseline_trust,
                )?;
                // The text and JSON reports carry them; rpm's format cannot.
                if a.format == ReportFormat::Rpm {
                    report_issues(&outcome.issues);
                }
                if outcome.policy_changed {
                    findings.push(policy_changed_finding(
                        a.state.policy.as_deref(),
                        &outcome.header.policy_digest,
                        &policy,
                    ));
                }
                let accepted: std::collections::HashSet<&[u8]> = outcome
                    .owned_unchanged
                    .iter()
                    .map(|p| p.as_os_str().as_bytes())
                    .collect();
                for f in findings.iter_mut() {
                    if f.kind == FindingKind::Changed && accepted.contains(f.path.as_slice()) {
                        crate::ops::note_accepted_edit(f);
                    }
                }
                findings.extend(outcome.findings);
                let c = package_changes(
                    &db,
                    root,
                    outcome.header.created,
                    &outcome.header.packages,
                    &current,
                );
                crate::baseline::changes::explain_leftovers(
                    &mut findings,
                    &c,
                    &index,
                    db.seam().leftover_suffixes(),
                );
                findings.extend(crate::wordpress::verify::replaced_manifests(&c.reinstalled));
                baselined_packages = Some(outcome.header.packages.clone());
                states = outcome.current;
                changes = Some(c);
                issues = outcome.issues;
            }
            // `--unowned-only` checks nothing else: without a baseline it would be a silent
            // no-op with exit 0, which is all an attacker gains by deleting the baseline.
            Err(crate::baseline::BaselineError::NotFound { file })
                if a.state.baseline.is_none() && a.scope != Scope::UnownedOnly =>
            {
                eprintln!(
                    "quietwire: no baseline at {}: unowned files were not checked; create one with `quietwire init`",
                    file.display()
                );
            }
            Err(e) => baseline_error = Some(baseline_failure(e)),
        }
    }

    // `--deb-archives`' counts, for the JSON summary.
    let mut deb_archives = None;
    if a.scope.verifies_owned() {
        if a.scope == Scope::OwnedOnly && baselined_packages.is_none() {
            // --owned-only does not compare the baseline; its snapshot still says which
            // package trust was accepted. An unreadable baseline leaves today's verdicts.
            baselined_packages = crate::baseline::read_header(&baseline_path)
                .ok()
                .map(|h| h.packages);
        }
        match &db {
            PkgDb::Rpm(rdb) => findings.extend(trust_findings(
                rdb,
                root,
                &policy,
                &opts.packages,
                baselined_packages.as_deref(),
            )),
            PkgDb::Dpkg(ddb) => {
                if let Some(b) = baselined_packages.as_deref() {
                    findings.extend(crate::dpkg::findings::rewritten_md5sums(ddb, b));
                }
                if let Some(dir) = &a.deb_archives {
                    let (f, counts) = super::dpkg::anchor(
                        ddb,
                        root,
                        dir,
                        &a.keys,
                        &opts.packages,
                        a.scope == Scope::PackagesChanged,
                    )?;
                    findings.extend(f);
                    deb_archives = Some(counts);
                }
            }
        }
    }
    crate::wordpress::verify::drop_baseline_duplicates(&mut findings);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for name in &report.not_installed {
        // rpm prints this on stdout among its verify lines; keep it there for the rpm format.
        match a.format {
            ReportFormat::Rpm => {
                writeln!(out, "package {name} is not installed").map_err(io_failure)?
            }
            _ => eprintln!("quietwire: package {name} is not installed"),
        }
        error_status = exit::combine(exit::NOT_FOUND, error_status);
    }
    let machine = matches!(a.format, ReportFormat::Json | ReportFormat::Ndjson);
    if machine || a.metrics_file.is_some() || !a.deliver.report_file.is_empty() {
        let mut d = crate::ops::report::document(&findings, &issues, changes.as_ref(), &states);
        if let Some(summary) = d.get_mut("summary").and_then(|v| v.as_object_mut()) {
            summary.extend(trust_summary(&db, baseline_sha256.as_deref()));
            // What the owned check read: with --trust-ctime, the files the cache vouched for
            // are not read at all.
            summary.insert("owned_files_read".into(), report.hashed.into());
            summary.insert("owned_files_from_cache".into(), report.from_cache.into());
            if let Some(c) = deb_archives.take() {
                summary.insert("deb_archives".into(), c);
            }
        }
        *doc = Some(d);
    }
    let shown: Vec<Finding> = if a.verbose || machine {
        findings.clone()
    } else {
        findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .cloned()
            .collect()
    };
    let written = (|| -> std::io::Result<()> {
        match (a.format, db.rpm()) {
            (ReportFormat::Rpm, Some(rdb)) if opts.verbose => crate::report::rpm::render_lines(
                &mut out,
                &crate::rpmdb::vline::lines(rdb, &report.results, true),
            ),
            // `super::dpkg::check` answered every dpkg-format run before the database was opened.
            (ReportFormat::Rpm | ReportFormat::Dpkg, _) => {
                crate::report::rpm::render(&mut out, &findings)
            }
            (ReportFormat::Text, _) => {
                out.write_all(&crate::ops::text_report(&shown, &issues, changes.as_ref()))?;
                crate::report::text::footer(&mut out, &baseline_path, baseline_sha256.as_deref())
            }
            (ReportFormat::Json, _) => {
                serde_json::to_writer(&mut out, &doc)?;
                writeln!(out)
            }
            (ReportFormat::Ndjson, _) => {
                let d = doc.as_ref().unwrap_or(&serde_json::Value::Null);
                crate::report::ndjson::render(&mut out, d, run)
            }
        }?;
        out.flush()
    })();
    // Standard output is one of several deliveries: when it fails (`check | head`, a full
    // disk), the report file, metrics and mail still go out and the exit status keeps the
    // findings' bits; only a real write error adds a failure.
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("quietwire: writing output: {e}");
            error_status = exit::combine(error_status, exit::FAILURE);
        }
    }
    if a.format == ReportFormat::Rpm {
        // rpm's lines stay byte-exact on stdout; what rpm does not check goes to stderr.
        for f in findings
            .iter()
            .filter(|f| f.kind == FindingKind::Untrusted && f.severity > Severity::Info)
        {
            if let crate::finding::Source::Header { nevra, .. } = &f.source {
                eprintln!(
                    "quietwire: {} package {}: {}",
                    f.severity.name(),
                    nevra,
                    f.note.as_deref().unwrap_or_default()
                );
            }
        }
        // Nor WordPress files: their verdicts come from the manifests.
        for f in &findings {
            if let crate::finding::Source::Manifest { nevra } = &f.source {
                eprintln!(
                    "quietwire: {} {}: {} ({})",
                    f.severity.name(),
                    crate::escape::escape_bytes(&f.path),
                    f.note.as_deref().unwrap_or_default(),
                    nevra
                );
            }
        }
    }
    if a.scope == Scope::PackagesChanged && changes.as_ref().is_some_and(|c| c.is_empty()) {
        eprintln!("quietwire: no package changed since the baseline's package snapshot");
    }
    let mail_text: Vec<Finding> = match a.verbose {
        true => findings.clone(),
        false => crate::ops::loud(&findings).cloned().collect(),
    };
    let run_failed = baseline_error.is_some() || error_status != exit::CLEAN;
    let delivery = crate::ops::deliver(
        &a.deliver,
        root,
        &crate::ops::Delivery {
            findings: &findings,
            shown: &mail_text,
            issues: &issues,
            changes: changes.as_ref(),
            states: &states,
            run_failed,
            run,
            doc: doc.as_ref(),
        },
    );
    error_status = exit::combine(error_status, delivery);
    if let Some(mut e) = baseline_error {
        e.status = exit::combine(e.status, error_status);
        return Err(e);
    }
    // Errors outrank findings: a partial check must not look like a clean or merely dirty one.
    if error_status != exit::CLEAN {
        return Ok(error_status);
    }
    Ok(crate::finding::exit_bits(&findings))
}

/// The package changes between the baseline's snapshot and now, with the times dpkg's log
/// names for them on a dpkg root.
fn package_changes(
    db: &PkgDb,
    root: &Path,
    since: i64,
    old: &[crate::pkgdb::PackageSnapshot],
    new: &[crate::pkgdb::PackageSnapshot],
) -> crate::baseline::changes::PackageChanges {
    let mut c = crate::baseline::changes::diff(since, old, new);
    if matches!(db, PkgDb::Dpkg(_)) && !c.is_empty() {
        let log = crate::dpkg::log::read(root);
        let names = c
            .installed
            .iter()
            .chain(c.removed.iter())
            .chain(c.updated.iter().map(|(_, n)| n))
            .chain(c.reinstalled.iter().map(|(_, n)| n));
        let logged: std::collections::BTreeMap<String, String> = names
            .filter_map(|p| log.describe(&p.nevra).map(|w| (p.nevra.clone(), w)))
            .collect();
        c.logged = logged;
    }
    c
}

/// Package-level findings for the packages `check` looks at.
fn trust_findings(
    db: &crate::rpmdb::Database,
    root: &Path,
    policy: &crate::policy::Policy,
    wanted: &[String],
    baseline: Option<&[crate::pkgdb::PackageSnapshot]>,
) -> Vec<crate::finding::Finding> {
    let selected: Vec<usize> = db
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|w| crate::rpmdb::verify::matches_arg(p, w))
        })
        .map(|(i, _)| i)
        .collect();
    let inside = db
        .located
        .file
        .strip_prefix(root)
        .map(|r| Path::new("/").join(r))
        .unwrap_or_else(|_| db.located.file.clone());
    crate::verify::signature::findings(
        &db.packages,
        selected,
        policy.signatures(),
        inside.as_os_str().as_bytes(),
        baseline,
    )
}

/// JSON summary additions: the baseline's SHA-256 and the count of each signature status.
fn trust_summary(
    db: &PkgDb,
    baseline_sha256: Option<&str>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for p in db.seam().packages() {
        *counts.entry(p.trust.name()).or_default() += 1;
    }
    let mut m = serde_json::Map::new();
    m.insert("baseline_sha256".into(), serde_json::json!(baseline_sha256));
    m.insert("signatures".into(), serde_json::json!(counts));
    m
}

/// A policy that differs from the one the baseline was written under can blind the check (a
/// volatile rule on `/**` dropped next to a web shell), so the change itself is a high finding
/// (exit bit 4, in the report and the mail), not a note. It names the override file(s) in force.
fn policy_changed_finding(
    override_file: Option<&Path>,
    baselined: &str,
    policy: &crate::policy::Policy,
) -> crate::finding::Finding {
    use crate::finding::{Finding, FindingKind, Severity, Source};
    let path = override_file.map_or_else(
        || crate::policy::SYSTEM_POLICY.as_bytes().to_vec(),
        |p| p.as_os_str().as_bytes().to_vec(),
    );
    Finding {
        path,
        kind: FindingKind::Changed,
        source: Source::Baseline {
            policy_rule: None,
            package: None,
        },
        changes: vec![],
        severity: Severity::High,
        rule: "baseline.policy_changed".into(),
        note: Some(format!(
            "policy changed since the baseline was written (policy digest {baselined} then, {} now; in force: {}); accept --all records the new policy",
            policy.digest(),
            policy.sources().join(", ")
        )),
        verify_line: None,
    }
}

/// The pin and signature were checked on the digest of one open of the baseline; the records
/// came from another. With a pin or key both must be the same bytes, or a rename in between
/// would have swapped in an unverified baseline. Without one, a concurrent `accept`
/// may legitimately have replaced it: the report then names the digest of what was read.
fn same_baseline(
    file: &Path,
    checked: &mut Option<String>,
    read: &str,
    args: &BaselineTrust,
) -> Result<(), Failure> {
    let pinned = args.digest.is_some() || args.verify_key.is_some();
    match checked.as_deref() {
        Some(v) if !v.eq_ignore_ascii_case(read) && pinned => Err(Failure::new(
            exit::BASELINE,
            format!(
                "{}: the baseline changed while it was being read (SHA-256 {v} checked, {read} read): it was replaced or modified",
                escape_path(file)
            ),
        )),
        _ => {
            *checked = Some(read.to_string());
            Ok(())
        }
    }
}

/// The baseline's SHA-256 (None when there is no baseline file), after checking the pin and the
/// signature the command line asks for. Either failing is exit status 18.
fn check_baseline_trust(file: &Path, args: &BaselineTrust) -> Result<Option<String>, Failure> {
    use crate::baseline::sign;
    let digest = match crate::baseline::format::file_sha256(file) {
        Ok(d) => Some(d),
        Err(crate::baseline::BaselineError::NotFound { .. }) => None,
        Err(e) => return Err(baseline_failure(e)),
    };
    let pinned = args.digest.is_some() || args.verify_key.is_some();
    let Some(actual) = digest else {
        if pinned {
            return Err(Failure::new(
                exit::BASELINE,
                format!(
                    "{}: no baseline, so it cannot match the given digest or key",
                    file.display()
                ),
            ));
        }
        return Ok(None);
    };
    if let Some(want) = &args.digest {
        if !want.trim().eq_ignore_ascii_case(&actual) {
            return Err(Failure::new(
                exit::BASELINE,
                format!(
                    "{}: baseline SHA-256 is {actual}, not the pinned {}: the baseline was changed or replaced",
                    file.display(),
                    want.trim()
                ),
            ));
        }
    }
    if let Some(key) = &args.verify_key {
        sign::verify_baseline(file, &actual, key)
            .map_err(|e| Failure::new(exit::BASELINE, format!("baseline signature: {e}")))?;
    }
    Ok(Some(actual))
}
