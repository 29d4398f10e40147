//! The policy: which trees are watched for unowned files, how each path is classified, and how
//! severe each kind of finding is.
//!
//! The default is `data/policy.toml`, compiled in. One override is applied on top of it:
//! `--policy FILE` when given, otherwise `/etc/quietwire/policy.toml` inside the root when it exists
//! (never both). An override with `inherit = true` (the default) extends the default: its `watch`
//! trees are added, each key of its `[class.NAME]` tables replaces the same key (or defines a new
//! class), `setuid` replaces, and its `[[rule]]`s are appended after the default rules. With
//! `inherit = false` the override is the whole policy.
//!
//! Matching: every rule pattern is a glob on the absolute path inside the root; a pattern that
//! matches a directory also matches everything under it; the **last** matching rule wins; a path no
//! rule matches is in class `normal` (rule name `default`).
//!
//! This module never touches the file system: the run layer reads the override file (inside the
//! root through `crate::scan::fs`) and hands its bytes to [`Policy::from_override_bytes`]. The
//! walk's fixed exclusions ([`NEVER_ENTERED`]) and the default hashing cap
//! ([`DEFAULT_MAX_HASH_BYTES`]) are defined here, below the scan that applies them.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The embedded default policy.
pub const DEFAULT_POLICY: &str = include_str!("../../data/policy.toml");

/// Where the system-wide override lives, inside the checked root.
pub const SYSTEM_POLICY: &str = "/etc/quietwire/policy.toml";

/// The only policy format version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// Name of the class given to paths that no rule matches; every policy must define it.
pub const DEFAULT_CLASS: &str = "normal";

/// Rule name reported for paths that no rule matches.
pub const DEFAULT_RULE: &str = "default";

/// Class and rule name given to quietwire's own files (see [`PROTECTED_PATHS`]).
pub const PROTECTED_CLASS: &str = "quietwire";
pub const PROTECTED_RULE: &str = "quietwire-protected";

/// The files that define what quietwire does: its policy, the binary, the package-manager hooks,
/// the units and their settings (data/README.md gives the install locations). The trusted keys of
/// `[signatures]` are added per policy. A policy can neither stop watching them nor quiet them:
/// whoever can edit the policy in a checked root must not be able to blind the check with it.
pub const PROTECTED_PATHS: &[&str] = &[
    "/etc/quietwire",
    "/usr/local/sbin/quietwire",
    "/usr/sbin/quietwire",
    "/usr/bin/quietwire",
    "/usr/libexec/quietwire",
    "/usr/lib/systemd/system/quietwire-check.service",
    "/usr/lib/systemd/system/quietwire-check.timer",
    // Debian without merged /usr installs units under /lib.
    "/lib/systemd/system/quietwire-check.service",
    "/lib/systemd/system/quietwire-check.timer",
    "/etc/systemd/system/quietwire-check.service",
    "/etc/systemd/system/quietwire-check.service.d",
    "/etc/systemd/system/quietwire-check.timer",
    "/etc/systemd/system/quietwire-check.timer.d",
    "/etc/systemd/system/timers.target.wants/quietwire-check.timer",
    "/etc/dnf/plugins/post-transaction-actions.d/quietwire.action",
    "/etc/dnf/libdnf5-plugins/actions.d/quietwire.actions",
    "/etc/yum/post-actions/quietwire.action",
    "/etc/logrotate.d/quietwire",
    "/etc/sysconfig/quietwire",
    "/etc/apt/apt.conf.d/80quietwire",
    "/etc/default/quietwire",
];

/// The class of protected paths, whatever the policy says about a class of that name.
pub static PROTECTED_SPEC: ClassSpec = ClassSpec {
    skip: false,
    log: false,
    added: Some(Severity::High),
    removed: Some(Severity::High),
    content: Some(Severity::High),
    metadata: Some(Severity::High),
};

/// Most patterns compiled into one glob set (see `Policy::globs`).
const GLOBS_PER_SET: usize = 256;

/// Whether a pattern is a plain path: none of the characters `globset` gives a meaning.
fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// Largest policy file read (a policy is a few kilobytes; anything bigger is a mistake).
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

/// Top-level directories of the root that are never entered, whatever the policy says (pseudo
/// file systems and live device nodes); a `watch` there is ignored with a warning.
pub const NEVER_ENTERED: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Bytes of data hashed per file when the policy does not say (`max_hash_bytes`).
pub const DEFAULT_MAX_HASH_BYTES: u64 = 4 << 30;

/// The one severity scale, defined with the finding vocabulary; a policy chooses it for most
/// findings.
pub use crate::finding::Severity;

/// A severity as a policy file spells it (`none` included). Only (de)serialisation uses it;
/// everything else sees `Option<Severity>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    None,
    Info,
    Low,
    Medium,
    High,
}

impl Level {
    fn severity(self) -> Option<Severity> {
        match self {
            Level::None => None,
            Level::Info => Some(Severity::Info),
            Level::Low => Some(Severity::Low),
            Level::Medium => Some(Severity::Medium),
            Level::High => Some(Severity::High),
        }
    }

    /// `critical` is not a policy word; a policy never holds it (only [`Level::severity`] fills
    /// it), but were it there it would render as the highest word rather than fail.
    fn of(s: Option<Severity>) -> Level {
        match s {
            None => Level::None,
            Some(Severity::Info) => Level::Info,
            Some(Severity::Low) => Level::Low,
            Some(Severity::Medium) => Level::Medium,
            Some(Severity::High | Severity::Critical) => Level::High,
        }
    }
}

/// `#[serde(with)]` for an `Option<Severity>` written as a policy word (`none` for `None`), so
/// the rendered policy, and with it the policy digest baselines record, stays byte-identical.
mod level {
    use super::{Level, Severity};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
        Level::of(*v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
        Level::deserialize(d).map(Level::severity)
    }
}

/// What a class means for the paths in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    /// Volatile: never walked (a directory is not entered), never recorded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip: bool,
    /// Contents may grow and rotate; only a shrink or replacement without rotation is reported.
    #[serde(default, skip_serializing_if = "is_false")]
    pub log: bool,
    #[serde(default, with = "level")]
    pub added: Option<Severity>,
    #[serde(default, with = "level")]
    pub removed: Option<Severity>,
    #[serde(default, with = "level")]
    pub content: Option<Severity>,
    #[serde(default, with = "level")]
    pub metadata: Option<Severity>,
}

impl ClassSpec {
    /// Whether regular files of this class are hashed: not for classes whose content changes are
    /// never reported. Logs are: their family check (`verify::logfamily`) follows contents.
    pub fn hashes_content(&self) -> bool {
        !self.skip && self.content.is_some()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One `[[rule]]`: paths (globs) and the class they get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub class: String,
    /// Match the patterns without regard to letter case (`shell.PHP`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub case_insensitive: bool,
    pub paths: Vec<String>,
}

/// A class table as written in a file: every key optional, so an override can change one key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    skip: Option<bool>,
    log: Option<bool>,
    added: Option<Level>,
    removed: Option<Level>,
    content: Option<Level>,
    metadata: Option<Level>,
}

/// A policy file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    inherit: Option<bool>,
    watch: Option<Vec<String>>,
    expected_mounts: Option<Vec<String>>,
    setuid: Option<Level>,
    max_hash_bytes: Option<ByteSize>,
    #[serde(default)]
    class: BTreeMap<String, ClassFile>,
    #[serde(default)]
    rule: Vec<Rule>,
    signatures: Option<SignaturesFile>,
}

/// `max_hash_bytes` as written: a byte count, or a string with a binary suffix (`"4G"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ByteSize {
    Count(u64),
    Text(String),
}

impl ByteSize {
    fn bytes(&self) -> Result<u64, String> {
        let text = match self {
            ByteSize::Count(n) => return Ok(*n),
            ByteSize::Text(t) => t.trim(),
        };
        let (digits, shift) = match text.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                let shift = match c.to_ascii_uppercase() {
                    'K' => 10,
                    'M' => 20,
                    'G' => 30,
                    'T' => 40,
                    _ => return Err(format!("{text:?}: unknown suffix (use K, M, G or T)")),
                };
                (&text[..i], shift)
            }
            _ => (text, 0),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not a size such as 4096, \"512M\" or \"4G\""))?;
        n.checked_mul(1u64 << shift)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

/// The `[signatures]` table as written: every key optional, so an override can change one key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignaturesFile {
    trusted_keys: Option<Vec<String>>,
    unsigned_allowed: Option<Vec<String>>,
    require_signatures: Option<bool>,
}

/// How installed packages' header signatures are judged (`[signatures]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signatures {
    /// OpenPGP public key files or directories of them, absolute paths inside the checked root
    /// (`--keys` replaces them with host paths). Default: `/etc/pki/rpm-gpg`.
    pub trusted_keys: Vec<String>,
    /// Package names (globs, e.g. `local-*`) whose missing signature or untrusted key is only
    /// informational: local builds.
    pub unsigned_allowed: Vec<String>,
    /// Whether an unsigned package (or one signed by an untrusted key) is critical rather than
    /// medium (high for an untrusted key).
    pub require_signatures: bool,
}

impl Default for Signatures {
    fn default() -> Signatures {
        Signatures {
            trusted_keys: vec!["/etc/pki/rpm-gpg".to_string()],
            unsigned_allowed: Vec::new(),
            require_signatures: false,
        }
    }
}

impl Signatures {
    /// Whether `name` is on the allow-list (exact name or glob).
    pub fn allows_unsigned(&self, name: &str) -> bool {
        self.unsigned_allowed.iter().any(|pat| {
            pat == name
                || globset::Glob::new(pat)
                    .map(|g| g.compile_matcher().is_match(name))
                    .unwrap_or(false)
        })
    }
}

/// The effective policy, rendered by [`Policy::to_toml`] (complete, `inherit = false`).
#[derive(Debug, Clone, Serialize)]
struct PolicyOut<'a> {
    version: u32,
    inherit: bool,
    watch: Vec<String>,
    /// Only when some are listed, so that policies written before the setting keep their digest.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    expected_mounts: &'a [String],
    setuid: Level,
    /// Only when not the default, so that policies written before the setting keep their digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_hash_bytes: Option<u64>,
    class: &'a BTreeMap<String, ClassSpec>,
    signatures: &'a Signatures,
    rule: &'a [Rule],
}

/// Said in `quietwire policy` before the rendering.
const PROTECTED_NOTE: &str =
    "# The last rule, `quietwire-protected`, and class `quietwire` are built in and cannot be\n\
# overridden: quietwire's own files and the trusted keys are always watched and always high\n\
# (quietwire-policy(5), PROTECTED PATHS).\n";

/// Why a policy could not be loaded. Every variant names the file it came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// The effective policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Watched trees, absolute, normalised, sorted in path order, without duplicates.
    watch: Vec<PathBuf>,
    /// `expected_mounts` as written (for the rendering) and compiled: directories under a watched
    /// tree that may be another file system and are then not entered, without an issue.
    expected_mounts: Vec<String>,
    mounts: GlobSets,
    setuid: Option<Severity>,
    /// Bytes of a file's content hashed at most (`max_hash_bytes`); the rest is not checked.
    max_hash_bytes: u64,
    classes: BTreeMap<String, ClassSpec>,
    rules: Vec<Rule>,
    signatures: Signatures,
    /// Where the policy came from, for messages: `built-in default`, then the override file.
    sources: Vec<String>,
    /// What the policy asks for but will not get, each naming its file; for stderr.
    warnings: Vec<String>,
    /// Patterns without glob metacharacters (matched case-sensitively): the pattern's bytes to
    /// the last rule that names it. A path is looked up with each of its ancestors, which is
    /// what "a pattern that matches a directory matches everything under it" means for them.
    /// Thousands of generated literal paths would otherwise make one huge automaton.
    literals: HashMap<Vec<u8>, usize>,
    /// The real globs (each also as `P/**`), in rule order, in sets of at most
    /// [`GLOBS_PER_SET`] so that no single automaton grows past what the glob library builds
    /// quickly; each set comes with the rule of each of its patterns.
    globs: GlobSets,
    /// Class of each rule, resolved once.
    rule_class: Vec<String>,
    /// [`PROTECTED_PATHS`] and the trusted keys, normalised: always watched, always in
    /// [`PROTECTED_CLASS`].
    protected: Vec<PathBuf>,
}

/// The outcome of classifying one path.
#[derive(Debug, Clone, Copy)]
pub struct Classified<'a> {
    /// Name of the rule that decided (`default` when none matched).
    pub rule: &'a str,
    /// Name of the class.
    pub class: &'a str,
    pub spec: &'a ClassSpec,
}

/// The glob rules' matchers, compiled at load, or on first use for the built-in policy alone.
///
/// Compiling them is most of the time a policy takes to load (about 2 ms for the built-in
/// one), and a check of package files alone never classifies a path. The built-in patterns are
/// fixed and a test compiles them, so deferring their compilation cannot defer an error; a
/// policy file's are compiled at once, so that a bad one fails the command before it starts.
#[derive(Debug, Clone, Default)]
struct GlobSets {
    /// The globs of each set with the rule of each, for a deferred compilation.
    pending: Vec<(Vec<Glob>, Vec<usize>)>,
    compiled: std::sync::OnceLock<Vec<(GlobSet, Vec<usize>)>>,
}

fn compile_sets(
    pending: &[(Vec<Glob>, Vec<usize>)],
) -> Result<Vec<(GlobSet, Vec<usize>)>, globset::Error> {
    pending
        .iter()
        .map(|(globs, rules)| {
            let mut builder = GlobSetBuilder::new();
            for g in globs {
                builder.add(g.clone());
            }
            Ok((builder.build()?, rules.clone()))
        })
        .collect()
}

impl GlobSets {
    fn new(pending: Vec<(Vec<Glob>, Vec<usize>)>, defer: bool) -> Result<GlobSets, globset::Error> {
        let sets = GlobSets::default();
        if defer {
            return Ok(GlobSets { pending, ..sets });
        }
        let _ = sets.compiled.set(compile_sets(&pending)?);
        Ok(sets)
    }

    fn get(&self) -> &[(GlobSet, Vec<usize>)] {
        self.compiled.get_or_init(|| {
            compile_sets(&self.pending).unwrap_or_else(|e| {
                // Unreachable while the built-in policy's test passes; never a panic.
                eprintln!(
                    "quietwire: error: built-in policy: rules: {e}: its glob rules are not applied"
                );
                Vec::new()
            })
        })
    }
}

impl Policy {
    /// The built-in default policy alone.
    pub fn builtin() -> Result<Policy, PolicyError> {
        let base = parse_file("built-in default policy", DEFAULT_POLICY)?;
        build_deferring(
            "built-in default policy",
            base,
            vec!["built-in default".into()],
            true,
        )
    }

    /// The default extended (or replaced) by an override file's contents as read (at most
    /// [`MAX_POLICY_BYTES`] and one more: the caller reads the file, from the host for
    /// `--policy` or inside the checked root for [`SYSTEM_POLICY`]); `name` names it in errors.
    pub fn from_override_bytes(name: &str, bytes: Vec<u8>) -> Result<Policy, PolicyError> {
        let io = |source| PolicyError::Io {
            file: name.to_string(),
            source,
        };
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than {MAX_POLICY_BYTES} bytes"),
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not valid UTF-8",
            ))
        })?;
        Policy::from_override_str(name, &text)
    }

    /// The default extended (or replaced) by an override given as text; `name` names it in errors.
    pub fn from_override_str(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let over = parse_file(name, text)?;
        let sources = vec!["built-in default".to_string(), name.to_string()];
        if over.inherit == Some(false) {
            return build(name, over, sources);
        }
        let base = parse_file("built-in default policy", DEFAULT_POLICY)?;
        build(name, merge(base, over), sources)
    }

    /// Settings that are accepted but cannot take effect (one line each, naming the file).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Watched trees, sorted in path order.
    pub fn watch(&self) -> &[PathBuf] {
        &self.watch
    }

    /// Severity of a regular file added with, or gaining, the setuid/setgid bit.
    pub fn setuid_level(&self) -> Option<Severity> {
        self.setuid
    }

    /// Bytes of a regular file hashed at most; a larger file is reported as not fully checked.
    pub fn max_hash_bytes(&self) -> u64 {
        self.max_hash_bytes
    }

    pub fn classes(&self) -> &BTreeMap<String, ClassSpec> {
        &self.classes
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// How package signatures are judged.
    pub fn signatures(&self) -> &Signatures {
        &self.signatures
    }

    /// Where this policy came from (`built-in default`, then the override file if any).
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Classify an absolute path (inside the root): the last matching rule wins, except that a
    /// protected path (and a directory above one that a rule made volatile, so that the walk
    /// reaches it) is always in [`PROTECTED_CLASS`]: applied after the rules so that no rule,
    /// however late, can quiet it.
    pub fn classify(&self, path: &Path) -> Classified<'_> {
        let by_rules = self.classify_by_rules(path);
        let bytes = path_bytes(path);
        let protected = self
            .protected
            .iter()
            .any(|p| is_at_or_under(bytes, path_bytes(p)))
            || (by_rules.spec.skip
                && self
                    .protected
                    .iter()
                    .any(|p| is_at_or_under(path_bytes(p), bytes)));
        if protected {
            return Classified {
                rule: PROTECTED_RULE,
                class: PROTECTED_CLASS,
                spec: &PROTECTED_SPEC,
            };
        }
        by_rules
    }

    /// The protected paths: quietwire's own files and the trusted keys.
    pub fn protected(&self) -> &[PathBuf] {
        &self.protected
    }

    fn classify_by_rules(&self, path: &Path) -> Classified<'_> {
        let mut winner = path
            .ancestors()
            .filter_map(|a| self.literals.get(path_bytes(a)).copied())
            .max();
        // Sets hold ascending rule numbers: from the last set back, the first set that matches
        // holds the winning glob, and a set whose rules all precede the winner so far cannot win.
        for (set, rules) in self.globs.get().iter().rev() {
            if rules.last().copied() <= winner {
                break;
            }
            let best = set
                .matches(path)
                .into_iter()
                .filter_map(|i| rules.get(i).copied())
                .max();
            if best.is_some() {
                winner = winner.max(best);
                break;
            }
        }
        let (rule, class) = match winner {
            Some(r) => (
                self.rules.get(r).map_or(DEFAULT_RULE, |r| r.name.as_str()),
                self.rule_class.get(r).map_or(DEFAULT_CLASS, |c| c.as_str()),
            ),
            None => (DEFAULT_RULE, DEFAULT_CLASS),
        };
        // `build` checked that every rule's class and the default class exist.
        let spec = self
            .classes
            .get(class)
            .or_else(|| self.classes.get(DEFAULT_CLASS))
            .unwrap_or(&FALLBACK_CLASS);
        Classified { rule, class, spec }
    }

    /// Whether the policy expects `path` (a directory under a watched tree) to be another file
    /// system that the walk does not enter (`expected_mounts`).
    pub fn expected_mount(&self, path: &Path) -> bool {
        self.mounts.get().iter().any(|(set, _)| set.is_match(path))
    }

    /// Whether `path` is inside a watched tree (the tree's top included).
    pub fn is_watched(&self, path: &Path) -> bool {
        self.watch.iter().any(|w| path.starts_with(w))
    }

    /// The complete effective policy as TOML (`inherit = false`, so it can be used as an override
    /// file that reproduces exactly this policy). What `quietwire policy` prints.
    pub fn to_toml(&self) -> String {
        // Shown as the last rule so that the listing says what wins; `build` drops a rule of this
        // name when the rendering is read back, and adds the real one again.
        let mut rules = self.rules.clone();
        rules.push(Rule {
            name: PROTECTED_RULE.to_string(),
            class: PROTECTED_CLASS.to_string(),
            case_insensitive: false,
            paths: self
                .protected
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        });
        let out = PolicyOut {
            version: POLICY_VERSION,
            inherit: false,
            watch: self
                .watch
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect(),
            expected_mounts: &self.expected_mounts,
            setuid: Level::of(self.setuid),
            max_hash_bytes: (self.max_hash_bytes != DEFAULT_MAX_HASH_BYTES)
                .then_some(self.max_hash_bytes),
            class: &self.classes,
            signatures: &self.signatures,
            rule: &rules,
        };
        // Serialising plain strings, enums and tables cannot fail; keep a readable fallback anyway
        // rather than panicking.
        let body = toml::to_string_pretty(&out)
            .unwrap_or_else(|e| format!("# cannot render policy: {e}\n"));
        format!(
            "# quietwire effective policy (from: {})\n{PROTECTED_NOTE}{body}",
            self.sources.join(", ")
        )
    }

    /// SHA-256 (hex) of the canonical rendering of the effective policy, without the provenance
    /// comment: two policies with the same meaning have the same digest.
    pub fn digest(&self) -> String {
        let rendered = self.to_toml();
        let body = rendered
            .split_once('\n')
            .map_or(rendered.as_str(), |(_, b)| b);
        hex::encode(Sha256::digest(body.as_bytes()))
    }
}

/// Used only if a policy somehow lacks its default class (prevented by `build`).
static FALLBACK_CLASS: ClassSpec = ClassSpec {
    skip: false,
    log: false,
    added: Some(Severity::Medium),
    removed: Some(Severity::Medium),
    content: Some(Severity::Medium),
    metadata: Some(Severity::High),
};

fn parse_file(name: &str, text: &str) -> Result<PolicyFile, PolicyError> {
    let f: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Syntax {
        file: name.to_string(),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    if f.version != POLICY_VERSION {
        return Err(PolicyError::Invalid {
            file: name.to_string(),
            message: format!(
                "policy version {} is not supported (this build reads version {POLICY_VERSION})",
                f.version
            ),
        });
    }
    Ok(f)
}

/// Apply an inheriting override to the default (see the module doc).
fn merge(mut base: PolicyFile, over: PolicyFile) -> PolicyFile {
    if let Some(w) = over.watch {
        base.watch.get_or_insert_with(Vec::new).extend(w);
    }
    if let Some(m) = over.expected_mounts {
        base.expected_mounts.get_or_insert_with(Vec::new).extend(m);
    }
    if over.setuid.is_some() {
        base.setuid = over.setuid;
    }
    if over.max_hash_bytes.is_some() {
        base.max_hash_bytes = over.max_hash_bytes;
    }
    for (name, c) in over.class {
        let slot = base.class.entry(name).or_default();
        slot.skip = c.skip.or(slot.skip);
        slot.log = c.log.or(slot.log);
        slot.added = c.added.or(slot.added);
        slot.removed = c.removed.or(slot.removed);
        slot.content = c.content.or(slot.content);
        slot.metadata = c.metadata.or(slot.metadata);
    }
    base.rule.extend(over.rule);
    if let Some(o) = over.signatures {
        let slot = base.signatures.get_or_insert_with(SignaturesFile::default);
        slot.trusted_keys = o.trusted_keys.or(slot.trusted_keys.take());
        slot.unsigned_allowed = o.unsigned_allowed.or(slot.unsigned_allowed.take());
        slot.require_signatures = o.require_signatures.or(slot.require_signatures);
    }
    base
}

/// An absolute path without `.`, `..`, empty components or a trailing slash, as paths in the
/// baseline and the rpmdb are written.
fn normal_absolute(p: &str) -> Option<PathBuf> {
    let path = Path::new(p);
    if !p.starts_with('/') || p.as_bytes().contains(&0) {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => out.push(n),
            _ => return None,
        }
    }
    Some(out)
}

fn build(name: &str, f: PolicyFile, sources: Vec<String>) -> Result<Policy, PolicyError> {
    build_deferring(name, f, sources, false)
}

/// [`build`], compiling the glob rules on first use when `defer_globs` (see [`GlobSets`]).
fn build_deferring(
    name: &str,
    f: PolicyFile,
    sources: Vec<String>,
    defer_globs: bool,
) -> Result<Policy, PolicyError> {
    let invalid = |message: String| PolicyError::Invalid {
        file: name.to_string(),
        message,
    };
    let mut f = f;
    // Re-added below from the built-in list, whatever a file (or a rendering read back) says.
    f.rule.retain(|r| r.name != PROTECTED_RULE);
    let mut watch = Vec::new();
    let mut warnings = Vec::new();
    for w in f.watch.unwrap_or_default() {
        let p = normal_absolute(&w).ok_or_else(|| {
            invalid(format!(
                "watch: {w:?} is not an absolute path without `.`/`..`"
            ))
        })?;
        // The walk never enters these (pseudo file systems, live device nodes), whatever the
        // policy says; a watch there would otherwise be a silent no-op.
        if let Some(top) = NEVER_ENTERED.iter().find(|t| p.starts_with(t)) {
            warnings.push(format!(
                "{name}: watch: {w:?} is ignored: {top} is never entered (/proc, /sys and /dev never are)"
            ));
        }
        watch.push(p);
    }
    watch.sort();
    watch.dedup();
    let mut expected_mounts = f.expected_mounts.unwrap_or_default();
    expected_mounts.sort();
    expected_mounts.dedup();
    let mut mount_globs = Vec::new();
    for m in &expected_mounts {
        if !m.starts_with('/') {
            return Err(invalid(format!(
                "expected_mounts: {m:?} must be an absolute path or glob"
            )));
        }
        let trimmed = m.trim_end_matches('/');
        let glob = GlobBuilder::new(if trimmed.is_empty() { "/" } else { trimmed })
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| invalid(format!("expected_mounts: {e}")))?;
        mount_globs.push(glob);
    }
    // Deferred like the rules' globs: a check of package files never asks.
    let mounts = GlobSets::new(vec![(mount_globs, Vec::new())], defer_globs)
        .map_err(|e| invalid(format!("expected_mounts: {e}")))?;
    let mut classes: BTreeMap<String, ClassSpec> = f
        .class
        .into_iter()
        .map(|(n, c)| {
            let spec = ClassSpec {
                skip: c.skip.unwrap_or(false),
                log: c.log.unwrap_or(false),
                added: c.added.and_then(Level::severity),
                removed: c.removed.and_then(Level::severity),
                content: c.content.and_then(Level::severity),
                metadata: c.metadata.and_then(Level::severity),
            };
            (n, spec)
        })
        .collect();
    classes.insert(PROTECTED_CLASS.to_string(), PROTECTED_SPEC.clone());
    if !classes.contains_key(DEFAULT_CLASS) {
        return Err(invalid(format!(
            "class `{DEFAULT_CLASS}` (for paths no rule matches) is not defined"
        )));
    }
    if classes.get(DEFAULT_CLASS).is_some_and(|c| c.skip) {
        return Err(invalid(format!(
            "class `{DEFAULT_CLASS}` cannot be volatile (`skip = true`): nothing would be watched"
        )));
    }
    let mut literals: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut pending = Vec::new();
    let mut set_globs = Vec::new();
    let mut pattern_rule = Vec::new();
    let mut rule_class = Vec::new();
    for (ri, rule) in f.rule.iter().enumerate() {
        if !classes.contains_key(&rule.class) {
            return Err(invalid(format!(
                "rule `{}`: class `{}` is not defined",
                rule.name, rule.class
            )));
        }
        if rule.paths.is_empty() {
            return Err(invalid(format!("rule `{}` has no paths", rule.name)));
        }
        rule_class.push(rule.class.clone());
        for pat in &rule.paths {
            if !pat.starts_with('/') {
                return Err(invalid(format!(
                    "rule `{}`: pattern {pat:?} must start with `/` (use `/**/NAME` for any depth)",
                    rule.name
                )));
            }
            let trimmed = pat.trim_end_matches('/');
            if !rule.case_insensitive && is_literal(trimmed) {
                let key = if trimmed.is_empty() { "/" } else { trimmed };
                // Rules are visited in order, so the last rule naming a path is kept.
                literals.insert(key.as_bytes().to_vec(), ri);
                continue;
            }
            let mut variants = vec![if trimmed.is_empty() { "/" } else { trimmed }.to_string()];
            // A pattern that matches a directory also matches everything under it.
            if !trimmed.ends_with("/**") {
                variants.push(format!("{trimmed}/**"));
            }
            for v in variants {
                let glob = GlobBuilder::new(&v)
                    .literal_separator(true)
                    .case_insensitive(rule.case_insensitive)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| invalid(format!("rule `{}`: {e}", rule.name)))?;
                set_globs.push(glob);
                pattern_rule.push(ri);
                if pattern_rule.len() >= GLOBS_PER_SET {
                    pending.push((
                        std::mem::take(&mut set_globs),
                        std::mem::take(&mut pattern_rule),
                    ));
                }
            }
        }
    }
    if !pattern_rule.is_empty() {
        pending.push((set_globs, pattern_rule));
    }
    let globs = GlobSets::new(pending, defer_globs).map_err(|e| invalid(format!("rules: {e}")))?;
    let sig_file = f.signatures.unwrap_or_default();
    let defaults = Signatures::default();
    let signatures = Signatures {
        trusted_keys: sig_file.trusted_keys.unwrap_or(defaults.trusted_keys),
        unsigned_allowed: sig_file.unsigned_allowed.unwrap_or_default(),
        require_signatures: sig_file.require_signatures.unwrap_or(false),
    };
    for k in &signatures.trusted_keys {
        if normal_absolute(k).is_none() {
            return Err(invalid(format!(
                "signatures.trusted_keys: {k:?} is not an absolute path without `.`/`..`"
            )));
        }
    }
    for pat in &signatures.unsigned_allowed {
        globset::Glob::new(pat)
            .map_err(|e| invalid(format!("signatures.unsigned_allowed: {e}")))?;
    }
    let mut protected: Vec<PathBuf> = PROTECTED_PATHS.iter().map(PathBuf::from).collect();
    protected.extend(
        signatures
            .trusted_keys
            .iter()
            .filter_map(|k| normal_absolute(k)),
    );
    protected.sort();
    protected.dedup();
    watch.extend(protected.iter().cloned());
    watch.sort();
    watch.dedup();
    let max_hash_bytes = match &f.max_hash_bytes {
        None => DEFAULT_MAX_HASH_BYTES,
        Some(b) => match b.bytes() {
            Ok(0) => return Err(invalid("max_hash_bytes: must be more than 0".into())),
            Ok(n) => n,
            Err(e) => return Err(invalid(format!("max_hash_bytes: {e}"))),
        },
    };
    Ok(Policy {
        signatures,
        watch,
        expected_mounts,
        mounts,
        setuid: f.setuid.map_or(Some(Severity::High), Level::severity),
        max_hash_bytes,
        classes,
        rules: f.rule,
        sources,
        warnings,
        literals,
        globs,
        rule_class,
        protected,
    })
}

/// Byte form of a path, for callers that match on raw names.
pub fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// Whether `path` is `dir` or lies below it, compared as bytes: `Path::starts_with` goes
/// component by component, too slow for `classify`, which runs for every walked entry. Both are
/// normalized absolute paths (no `.`, `..`, repeated or trailing `/`).
fn is_at_or_under(path: &[u8], dir: &[u8]) -> bool {
    match path.strip_prefix(dir) {
        Some(rest) => rest.is_empty() || rest.first() == Some(&b'/') || dir == b"/",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(p: &Policy, path: &str) -> (String, String) {
        let c = p.classify(Path::new(path));
        (c.rule.to_string(), c.class.to_string())
    }

    #[test]
    fn default_policy_parses_and_classifies() {
        let p = Policy::builtin().unwrap();
        let cls = |s| class_of(&p, s).1;
        assert_eq!(cls("/run"), "volatile");
        assert_eq!(cls("/var/run/httpd.pid"), "volatile");
        assert_eq!(cls("/var/lock/subsys/httpd"), "volatile");
        assert_eq!(cls("/var/log/messages"), "log");
        assert_eq!(cls("/var/log/sa/sa01"), "log");
        assert_eq!(cls("/var/log/journal/x/system.journal"), "volatile");
        assert_eq!(cls("/root/.viminfo"), "history");
        assert_eq!(cls("/home/alice/.bash_history"), "history");
        assert_eq!(cls("/etc/passwd"), "credentials");
        assert_eq!(cls("/etc/hosts"), "config");
        assert_eq!(cls("/usr/bin/evil"), "system");
        assert_eq!(cls("/usr/share/doc/x"), "normal");
        assert_eq!(
            cls("/var/www/html/wp-content/uploads/2024/01/cat.jpg"),
            "upload"
        );
        assert_eq!(
            cls("/var/www/html/wp-content/uploads/2024/01/shell.php"),
            "webexec"
        );
        assert_eq!(cls("/var/www/html/wp-content/uploads/x.PHP"), "webexec");
        assert_eq!(cls("/var/www/html/wp-config.php"), "webexec");
        assert_eq!(cls("/var/www/html/.htaccess"), "webexec");
        assert_eq!(cls("/var/www/html/index.php"), "webexec");
        assert_eq!(cls("/var/www/html/readme.html"), "normal");
        assert_eq!(cls("/etc/foo.conf.rpmnew"), "packaging");
        assert_eq!(cls("/etc/ld.so.cache"), "generated");
        assert!(p.is_watched(Path::new("/var/www/html/index.php")));
        assert!(!p.is_watched(Path::new("/var/lib/mysql/ibdata1")));
        // `*` does not cross `/`: /home/*/.ssh is not /home/a/b/.ssh.
        assert_eq!(cls("/home/a/.ssh/authorized_keys"), "credentials");
        assert_eq!(cls("/home/a/b/.ssh/authorized_keys"), "normal");
    }

    /// The built-in policy's glob rules are compiled on first use: they must compile, and
    /// classify exactly as when compiled at load.
    #[test]
    fn deferred_builtin_globs_compile_and_classify_as_compiled_at_load() {
        let lazy = Policy::builtin().unwrap();
        assert!(lazy.globs.compiled.get().is_none(), "compiled at load");
        let sets = compile_sets(&lazy.globs.pending).unwrap();
        assert!(!sets.is_empty());
        let base = parse_file("built-in default policy", DEFAULT_POLICY).unwrap();
        let eager = build("built-in default policy", base, vec![]).unwrap();
        assert!(eager
            .globs
            .compiled
            .get()
            .is_some_and(|s| s.len() == sets.len()));
        for path in [
            "/run/x",
            "/var/log/messages",
            "/var/log/sa/sa01",
            "/var/log/journal/x/system.journal",
            "/root/.viminfo",
            "/home/a/.ssh/authorized_keys",
            "/etc/foo.conf.rpmnew",
            "/var/www/html/wp-content/uploads/x.PHP",
            "/var/www/html/index.php",
            "/usr/bin/evil",
            "/usr/share/doc/x",
        ] {
            assert_eq!(class_of(&lazy, path), class_of(&eager, path), "{path}");
        }
        assert!(lazy.globs.compiled.get().is_some());
    }

    #[test]
    fn default_policy_quiet_classes() {
        let p = Policy::builtin().unwrap();
        let cls = |s: &str| class_of(&p, s).1;
        // known_hosts grows; every other file of ~/.ssh stays credentials.
        assert_eq!(cls("/root/.ssh/known_hosts"), "known-hosts");
        assert_eq!(cls("/home/alice/.ssh/known_hosts"), "known-hosts");
        assert!(p.classify(Path::new("/root/.ssh/known_hosts")).spec.log);
        for f in [
            "/root/.ssh/authorized_keys",
            "/root/.ssh/authorized_keys2",
            "/home/alice/.ssh/rc",
            "/home/alice/.ssh/config",
            "/root/.ssh/known_hosts.old",
            "/root/.ssh/id_ed25519",
        ] {
            assert_eq!(cls(f), "credentials", "{f}");
        }
        // WordPress page caches: served output is quiet, anything executable is not.
        let cache = "/var/www/html/wp-content/cache";
        for f in [
            "supercache/example.com/index.html",
            "supercache/example.com/index.html.gz",
            "page_enhanced/example.com/_index_ssl.html_gzip",
            "wp-rocket/example.com/index-https.html",
            "min/1/app.css",
            "min/1/app.js",
            "wpfc-minified/x/data.json",
        ] {
            assert_eq!(cls(&format!("{cache}/{f}")), "webcache", "{f}");
        }
        for f in [
            "shell.php",
            "supercache/x/wp-cache-1.PHP",
            ".htaccess",
            "x/a.phtml",
        ] {
            assert_eq!(cls(&format!("{cache}/{f}")), "webexec", "{f}");
        }
        assert_eq!(
            cls("/var/www/html/wp-content/upgrade/akismet-Ab12/akismet/readme.txt"),
            "webcache"
        );
        assert_eq!(
            cls("/var/www/html/wp-content/upgrade/akismet-Ab12/akismet/akismet.php"),
            "webexec"
        );
        assert!(p.is_watched(Path::new("/var/www/html/wp-content/upgrade/x")));
        // What a stock server rewrites by itself, and what must stay loud.
        assert_eq!(cls("/etc/mail/access.db"), "generated");
        assert_eq!(cls("/etc/mail/access"), "config");
        assert_eq!(cls("/etc/prelink.cache"), "generated");
        assert_eq!(cls("/etc/blkid/blkid.tab"), "generated");
        assert_eq!(cls("/etc/lvm/cache/.cache"), "generated");
        assert_eq!(cls("/root/.rnd"), "generated");
        assert_eq!(cls("/etc/ssh/ssh_host_rsa_key"), "system");
        assert_eq!(cls("/etc/sysconfig/iptables"), "config");
        assert_eq!(cls("/etc/yum.repos.d/evil.repo"), "config");
    }

    #[test]
    fn last_matching_rule_wins() {
        let over = r#"
            version = 1
            [[rule]]
            name = "first"
            class = "log"
            paths = ["/srv/app"]
            [[rule]]
            name = "second"
            class = "history"
            paths = ["/srv/app/state.db"]
            [[rule]]
            name = "third-broader-but-later"
            class = "generated"
            paths = ["/srv/app/cache"]
        "#;
        let p = Policy::from_override_str("test", over).unwrap();
        assert_eq!(
            class_of(&p, "/srv/app/x.log"),
            ("first".into(), "log".into())
        );
        assert_eq!(
            class_of(&p, "/srv/app/state.db"),
            ("second".into(), "history".into())
        );
        assert_eq!(
            class_of(&p, "/srv/app/cache/a/b"),
            ("third-broader-but-later".into(), "generated".into())
        );
        // An override rule comes after every default rule, so it beats the default's
        // more specific credentials rule: precedence is order, not specificity.
        let over = r#"
            version = 1
            [[rule]]
            name = "my-etc"
            class = "generated"
            paths = ["/etc"]
        "#;
        let p = Policy::from_override_str("test", over).unwrap();
        assert_eq!(class_of(&p, "/etc/passwd").1, "generated");
        assert_eq!(class_of(&p, "/usr/bin/ls").1, "system");
    }

    #[test]
    fn many_literal_and_wildcard_globs_build_and_keep_last_match_order() {
        use std::fmt::Write as _;
        let mut over = String::from("version = 1\n");
        // Interleaved so that literal and wildcard rules override each other both ways.
        for i in 0..20_000 {
            let _ = write!(
                over,
                "[[rule]]\nname = \"lit{i}\"\nclass = \"log\"\npaths = [\"/srv/d{}/f{i}\"]\n",
                i % 1000
            );
            if i % 10 == 0 {
                let g = i / 10;
                let _ = write!(
                    over,
                    "[[rule]]\nname = \"glob{g}\"\nclass = \"history\"\npaths = [\"/srv/d{g}/*.php\"]\n"
                );
            }
        }
        over.push_str(
            "[[rule]]\nname = \"last\"\nclass = \"generated\"\npaths = [\"/srv/d5/f5\"]\n",
        );
        let p = Policy::from_override_str("many", &over).unwrap();
        let builtin = Policy::builtin().unwrap().rules().len();
        assert_eq!(p.rules().len(), builtin + 22_001);
        // A literal path and everything under it.
        assert_eq!(class_of(&p, "/srv/d7/f1007").0, "lit1007");
        assert_eq!(class_of(&p, "/srv/d7/f1007/x/y").0, "lit1007");
        assert_eq!(class_of(&p, "/srv/d7/f1007x").0, "default");
        // glob7 (rule after lit70) matches /srv/d7/f7.php; no literal names that path.
        assert_eq!(class_of(&p, "/srv/d7/f7.php").0, "glob7");
        // A literal rule after the glob wins under it; one before it loses.
        let over2 = format!(
            "{over}[[rule]]\nname = \"late-lit\"\nclass = \"log\"\npaths = [\"/srv/d3/a.php\"]\n"
        );
        let q = Policy::from_override_str("many", &over2).unwrap();
        assert_eq!(class_of(&q, "/srv/d3/a.php").0, "late-lit");
        assert_eq!(class_of(&q, "/srv/d3/b.php").0, "glob3");
        // Across glob sets: the last glob rule and one of the first.
        assert_eq!(class_of(&p, "/srv/d1999/x.php").0, "glob1999");
        assert_eq!(class_of(&p, "/srv/d1/x.php").0, "glob1");
        assert_eq!(class_of(&p, "/srv/d199/f199").0, "lit199");
        // The final literal rule beats the earlier literal rule of the same path.
        assert_eq!(class_of(&p, "/srv/d5/f5").0, "last");
        // Default rules still classify.
        assert_eq!(class_of(&p, "/etc/passwd").1, "credentials");
        assert_eq!(class_of(&p, "/nothing/here").0, "default");

        // 20,000 real globs in one automaton failed ("error building NFA").
        let mut over = String::from("version = 1\n");
        for i in 0..20_000 {
            let _ = write!(
                over,
                "[[rule]]\nname = \"g{i}\"\nclass = \"log\"\npaths = [\"/srv/x{}/*.{i}\"]\n",
                i % 100
            );
        }
        let p = Policy::from_override_str("wild", &over).unwrap();
        assert_eq!(class_of(&p, "/srv/x42/a.19942").0, "g19942");
        assert_eq!(class_of(&p, "/srv/x0/a.0/b").0, "g0");
        assert_eq!(class_of(&p, "/srv/x1/a.0").0, "default");
    }

    #[test]
    fn literal_pattern_under_glob_and_glob_under_literal() {
        let over = r#"
            version = 1
            [[rule]]
            name = "tree"
            class = "log"
            paths = ["/srv/app"]
            [[rule]]
            name = "php"
            class = "webexec"
            paths = ["/srv/app/**/*.php"]
            [[rule]]
            name = "one"
            class = "history"
            paths = ["/srv/app/keep/x.php"]
            [[rule]]
            name = "root-any"
            class = "generated"
            case_insensitive = true
            paths = ["/srv/APP/LOUD"]
        "#;
        let p = Policy::from_override_str("t", over).unwrap();
        assert_eq!(class_of(&p, "/srv/app/a.txt").0, "tree");
        assert_eq!(class_of(&p, "/srv/app/b/a.php").0, "php");
        assert_eq!(class_of(&p, "/srv/app/keep/x.php").0, "one");
        assert_eq!(class_of(&p, "/srv/app/keep/y.php").0, "php");
        assert_eq!(class_of(&p, "/srv/app/loud/z").0, "root-any");
    }

    #[test]
    fn watch_under_proc_sys_dev_is_a_warning_naming_the_entry() {
        let p = Policy::from_override_str(
            "/etc/quietwire/policy.toml",
            "version = 1\nwatch = [\"/dev/shm\", \"/srv\", \"/proc\"]\n",
        )
        .unwrap();
        let w = p.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("/etc/quietwire/policy.toml: watch: \"/dev/shm\" is ignored"));
        assert!(w[0].contains("/dev is never entered"), "{w:?}");
        assert!(w[1].contains("\"/proc\""), "{w:?}");
        // Prefixes that only look alike are fine.
        let p = Policy::from_override_str("o", "version = 1\nwatch = [\"/devel\", \"/system\"]\n")
            .unwrap();
        assert!(p.warnings().is_empty());
        assert!(Policy::builtin().unwrap().warnings().is_empty());
    }

    #[test]
    fn inheriting_override_extends_sections() {
        let over = r#"
            version = 1
            watch = ["/data"]
            [class.log]
            content = "high"
            [class.mine]
            added = "low"
        "#;
        let p = Policy::from_override_str("/etc/quietwire/policy.toml", over).unwrap();
        assert!(p.watch().contains(&PathBuf::from("/data")));
        assert!(p.watch().contains(&PathBuf::from("/etc")));
        let log = p.classes().get("log").unwrap();
        assert_eq!(log.content, Some(Severity::High));
        assert!(log.log, "keys not given keep the default's value");
        assert_eq!(log.metadata, Some(Severity::High));
        assert_eq!(p.classes().get("mine").unwrap().added, Some(Severity::Low));
        assert_eq!(p.sources().len(), 2);
    }

    #[test]
    fn non_inheriting_override_replaces_everything() {
        let over = r#"
            version = 1
            inherit = false
            watch = ["/srv"]
            [class.normal]
            added = "low"
        "#;
        let p = Policy::from_override_str("x", over).unwrap();
        // Only /srv, and quietwire's own files, which are always watched.
        let extra: Vec<_> = p
            .watch()
            .iter()
            .filter(|w| !p.protected().contains(w))
            .collect();
        assert_eq!(extra, [&PathBuf::from("/srv")]);
        assert!(p.rules().is_empty());
        assert_eq!(class_of(&p, "/run/x").1, "normal");
        assert_eq!(
            p.classify(Path::new("/srv/a")).spec.added,
            Some(Severity::Low)
        );
    }

    #[test]
    fn rendered_policy_round_trips_with_same_digest() {
        let p = Policy::builtin().unwrap();
        let text = p.to_toml();
        let q = Policy::from_override_str("rendered", &text).unwrap();
        assert_eq!(p.digest(), q.digest());
        assert_eq!(p.rules(), q.rules());
        assert_eq!(p.classes(), q.classes());
        assert_eq!(p.watch(), q.watch());
        assert_eq!(p.signatures(), q.signatures());
        let changed = Policy::from_override_str("o", "version = 1\nsetuid = \"low\"\n").unwrap();
        assert_ne!(p.digest(), changed.digest());
    }

    #[test]
    fn signatures_table_defaults_merges_and_round_trips() {
        let p = Policy::builtin().unwrap();
        assert_eq!(p.signatures().trusted_keys, vec!["/etc/pki/rpm-gpg"]);
        assert!(!p.signatures().require_signatures);
        assert!(!p.signatures().allows_unsigned("anything"));
        let over = r#"
            version = 1
            [signatures]
            unsigned_allowed = ["local-*", "mytool"]
            require_signatures = true
        "#;
        let q = Policy::from_override_str("o", over).unwrap();
        assert_eq!(q.signatures().trusted_keys, vec!["/etc/pki/rpm-gpg"]);
        assert!(q.signatures().require_signatures);
        assert!(q.signatures().allows_unsigned("local-build"));
        assert!(q.signatures().allows_unsigned("mytool"));
        assert!(!q.signatures().allows_unsigned("mytool2"));
        assert_ne!(p.digest(), q.digest());
        let r = Policy::from_override_str("rendered", &q.to_toml()).unwrap();
        assert_eq!(r.signatures(), q.signatures());
        assert_eq!(r.digest(), q.digest());
        let bad = Policy::from_override_str(
            "b",
            "version = 1\n[signatures]\ntrusted_keys = [\"relative\"]\n",
        );
        assert!(bad.is_err());
        let bad = Policy::from_override_str("b", "version = 1\n[signatures]\nfoo = 1\n");
        assert!(bad.is_err());
    }

    #[test]
    fn protected_paths_survive_any_override() {
        let volatile_all = r#"
            version = 1
            [[rule]]
            name = "hide"
            class = "volatile"
            paths = ["/**"]
            [[rule]]
            name = quietwire-protected
            class = "volatile"
            paths = ["/srv"]
            [class.quietwire]
            skip = true
            added = "none"
        "#
        .replace(
            "name = quietwire-protected",
            "name = \"quietwire-protected\"",
        );
        let no_watch = "version = 1\ninherit = false\n[class.normal]\nadded = \"none\"\n\
            [class.quiet]\nskip = true\n[[rule]]\nname = \"all\"\nclass = \"quiet\"\npaths = [\"/\"]\n\
            [signatures]\ntrusted_keys = [\"/srv/keys\"]\n";
        for text in [volatile_all.as_str(), no_watch] {
            let p = Policy::from_override_str("/etc/quietwire/policy.toml", text).unwrap();
            for f in [
                "/etc/quietwire/policy.toml",
                "/usr/local/sbin/quietwire",
                "/usr/bin/quietwire",
                "/usr/libexec/quietwire/post-transaction",
                "/etc/dnf/plugins/post-transaction-actions.d/quietwire.action",
                "/usr/lib/systemd/system/quietwire-check.timer",
                "/etc/sysconfig/quietwire",
            ] {
                let c = p.classify(Path::new(f));
                assert_eq!((c.rule, c.class), (PROTECTED_RULE, PROTECTED_CLASS), "{f}");
                assert_eq!(*c.spec, PROTECTED_SPEC, "{f}");
                assert!(p.is_watched(Path::new(f)), "{f}");
            }
            // The walk must reach them through directories a rule made volatile...
            for d in ["/", "/usr", "/usr/local/sbin", "/etc/dnf/plugins"] {
                assert!(!p.classify(Path::new(d)).spec.skip, "{d}");
            }
            // ...but their siblings stay as the policy says.
            assert!(p.classify(Path::new("/usr/local/sbin/other")).spec.skip);
            assert!(p.classify(Path::new("/srv/app")).spec.skip);
            assert_eq!(p.classes().get(PROTECTED_CLASS), Some(&PROTECTED_SPEC));
            // Shown as the last rule, and read back to the same policy.
            let text = p.to_toml();
            assert!(text.contains("built in and cannot be"), "{text}");
            let q = Policy::from_override_str("rendered", &text).unwrap();
            assert_eq!(q.digest(), p.digest());
            assert_eq!(q.rules(), p.rules());
            assert_eq!(q.protected(), p.protected());
        }
        let p = Policy::from_override_str("o", no_watch).unwrap();
        assert!(p.protected().contains(&PathBuf::from("/srv/keys")));
        assert_eq!(
            p.classify(Path::new("/srv/keys/RPM-GPG-KEY")).class,
            PROTECTED_CLASS
        );
        let d = Policy::builtin().unwrap();
        assert_eq!(
            d.classify(Path::new("/etc/pki/rpm-gpg/RPM-GPG-KEY-x"))
                .class,
            PROTECTED_CLASS
        );
        assert!(d.rules().iter().all(|r| r.name != PROTECTED_RULE));
    }

    #[test]
    fn bad_policies_are_named_errors() {
        let cases = [
            ("version = 2", "version 2"),
            ("version = 1\nwatch = [\"etc\"]", "absolute"),
            ("version = 1\nwatch = [\"/a/../b\"]", "absolute"),
            (
                "version = 1\n[[rule]]\nname='x'\nclass='nope'\npaths=['/a']",
                "class `nope`",
            ),
            (
                "version = 1\n[[rule]]\nname='x'\nclass='log'\npaths=['a/b']",
                "must start with `/`",
            ),
            (
                "version = 1\n[[rule]]\nname='x'\nclass='log'\npaths=['/a/[']",
                "rule `x`",
            ),
            ("version = 1\nbogus = 1", "unknown field"),
            (
                "version = 1\n[class.log]\nadded = \"loud\"",
                "unknown variant",
            ),
            (
                "version = 1\ninherit = false\nwatch = ['/a']",
                "class `normal`",
            ),
        ];
        for (text, want) in cases {
            let e = Policy::from_override_str("/etc/quietwire/policy.toml", text).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with("/etc/quietwire/policy.toml: ") && msg.contains(want),
                "{text:?}: got {msg:?}, want {want:?}"
            );
        }
    }
}
