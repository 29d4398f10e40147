//! The man pages stay true: every subcommand and long option of the clap definition is
//! documented in quietwire(8) and the page documents no option that does not exist; every key of
//! the policy model is documented in quietwire-policy(5) and the page lists no key that does not
//! exist. Both pages are clean under `mandoc -T lint` when mandoc is installed.

use clap::CommandFactory;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn page(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("man")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every long option of every subcommand, and the subcommand names.
fn cli_surface() -> (BTreeSet<String>, BTreeSet<String>) {
    let cmd = quietwire::cli::Cli::command();
    let mut subcommands = BTreeSet::new();
    let mut longs: BTreeSet<String> = ["help", "version"].iter().map(|s| s.to_string()).collect();
    for sub in cmd.get_subcommands() {
        subcommands.insert(sub.get_name().to_string());
        for arg in sub.get_arguments() {
            if let Some(l) = arg.get_long() {
                longs.insert(l.to_string());
            }
        }
    }
    for arg in cmd.get_arguments() {
        if let Some(l) = arg.get_long() {
            longs.insert(l.to_string());
        }
    }
    (subcommands, longs)
}

/// Long options written in roff as `\-\-name\-with\-dashes`.
fn documented_longs(text: &str) -> BTreeSet<String> {
    let plain = text.replace("\\-", "-");
    let mut out = BTreeSet::new();
    let mut rest = plain.as_str();
    while let Some(i) = rest.find("--") {
        let tail = &rest[i + 2..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if !name.is_empty() {
            out.insert(name.trim_end_matches('-').to_string());
        }
        rest = tail;
    }
    out
}

#[test]
fn every_subcommand_and_option_is_documented_and_nothing_else() {
    let text = page("quietwire.8");
    let plain = text.replace("\\-", "-");
    let (subcommands, longs) = cli_surface();
    for s in &subcommands {
        assert!(
            plain.contains(&format!(".B quietwire {s}")),
            "quietwire.8: SYNOPSIS lacks `quietwire {s}`"
        );
        assert!(
            plain.contains(&format!(".TP\n.B {s}\n")),
            "quietwire.8: COMMANDS lacks `{s}`"
        );
    }
    for l in &longs {
        assert!(
            plain.contains(&format!("--{l}")),
            "quietwire.8 does not document --{l}"
        );
    }
    // rpm's and AIDE's options quoted in the text are not ours, nor the post-transaction hook
    // script's `--apt` (data/quietwire-post-transaction, FILES).
    let foreign: BTreeSet<&str> = ["nodeps", "noscripts", "dbpath", "apt"]
        .into_iter()
        .collect();
    for l in documented_longs(&text) {
        assert!(
            longs.contains(&l) || foreign.contains(l.as_str()),
            "quietwire.8 documents --{l}, which no subcommand has"
        );
    }
}

/// Every key that the policy model serialises, as `table.key` paths.
fn policy_keys() -> BTreeSet<String> {
    // Keys that are rendered only when they differ from their default (so that the policy digest
    // of existing baselines does not change) are set here, so the model shows every key.
    let policy = quietwire::policy::Policy::from_override_str(
        "test",
        "version = 1\nmax_hash_bytes = \"1G\"\n",
    )
    .expect("embedded policy with an override loads");
    let doc: toml::Table = toml::from_str(&policy.to_toml()).expect("rendered policy is TOML");
    let mut keys = BTreeSet::new();
    for (k, v) in &doc {
        match (k.as_str(), v) {
            ("class", toml::Value::Table(classes)) => {
                keys.insert("class".to_string());
                for spec in classes.values() {
                    if let toml::Value::Table(t) = spec {
                        keys.extend(t.keys().cloned());
                    }
                }
            }
            ("signatures", toml::Value::Table(t)) => {
                keys.insert("signatures".to_string());
                keys.extend(t.keys().cloned());
            }
            ("rule", toml::Value::Array(rules)) => {
                keys.insert("rule".to_string());
                for r in rules {
                    if let toml::Value::Table(t) = r {
                        keys.extend(t.keys().cloned());
                    }
                }
            }
            _ => {
                keys.insert(k.clone());
            }
        }
    }
    keys
}

/// Keys listed in the KEYS section: `.TP` items whose tag is `.B key` (or `[[rule]]`,
/// `[class.NAME]`).
fn documented_keys(text: &str) -> BTreeSet<String> {
    let section = text
        .split(".SH KEYS")
        .nth(1)
        .and_then(|s| s.split("\n.SH ").next())
        .expect("quietwire-policy.5 has a KEYS section");
    let lines: Vec<&str> = section.lines().collect();
    let mut keys = BTreeSet::new();
    for w in lines.windows(2) {
        if w[0] != ".TP" {
            continue;
        }
        let tag = w[1];
        if tag.starts_with(".BI [class.") {
            keys.insert("class".to_string());
        } else if let Some(k) = tag.strip_prefix(".B ") {
            let k = k
                .trim_start_matches("[[")
                .trim_end_matches("]]")
                .replace("\\-", "-");
            keys.insert(k);
        }
    }
    keys
}

#[test]
fn every_policy_key_is_documented_and_nothing_else() {
    let text = page("quietwire-policy.5");
    let model = policy_keys();
    let documented = documented_keys(&text);
    assert!(
        model.len() >= 10,
        "too few keys found in the model: {model:?}"
    );
    for k in &model {
        assert!(
            documented.contains(k),
            "quietwire-policy.5 does not document the key `{k}`"
        );
    }
    for k in &documented {
        assert!(
            model.contains(k),
            "quietwire-policy.5 documents `{k}`, which the policy model lacks"
        );
    }
}

#[test]
fn pages_are_clean_under_mandoc_lint() {
    let Ok(out) = std::process::Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man/quietwire.8"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man/quietwire-policy.5"))
        .output()
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "mandoc missing under CI (apt-get install mandoc)"
        );
        eprintln!("SKIPPED: mandoc not installed");
        return;
    };
    let msgs =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && msgs.trim().is_empty(),
        "mandoc -T lint: {msgs}"
    );
}

#[test]
fn every_exit_status_is_documented() {
    let exit_rs =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/exit.rs"))
            .unwrap();
    let text = page("quietwire.8");
    let section = text
        .split(".SH EXIT STATUS")
        .nth(1)
        .and_then(|s| s.split("\n.SH ").next())
        .unwrap();
    let values: Vec<&str> = exit_rs
        .lines()
        .filter_map(|l| l.strip_prefix("pub const "))
        .filter_map(|l| l.split("= ").nth(1))
        .map(|v| v.trim_end_matches(';'))
        .collect();
    assert!(values.len() >= 8, "{values:?}");
    for v in values {
        assert!(
            section.contains(&format!(".TP\n.B {v}\n")),
            "exit status {v} is not documented in quietwire.8"
        );
    }
}
