//! The WordPress package source: each detected core and each plugin with a checked manifest is
//! a package whose files the manifest vouches for ([`crate::pkgdb::PackageDb`]). Components
//! without a usable manifest are listed with the reason; their files stay under the baseline
//! rules.

use super::detect::{detect, Install};
use super::manifest::{self, Manifest};
use super::{read_small, Error, ReadError, MANIFEST_DIR};
use crate::pkgdb::{
    DigestAlgo, InstalledPackage, OwnedFile, OwnedIndex, PackageDb, PackageSnapshot, SigStatus,
};
use crate::scan::fs::Dir;
use sha2::Digest as _;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The arch of every WordPress package's full name: what tells them from rpm packages in the
/// baseline's snapshot.
pub const ARCH: &str = "wordpress";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Core,
    Plugin,
    Theme,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Core => "core",
            Kind::Plugin => "plugin",
            Kind::Theme => "theme",
        }
    }
}

/// What vouches for a component's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestState {
    /// Checked and in force; `sha256` is the manifest file's digest (the snapshot's header
    /// digest: a replaced manifest is a changed package).
    Loaded { manifest: Manifest, sha256: String },
    /// No manifest file yet (`quietwire wordpress fetch` names the URL).
    Missing,
    /// The manifest file is unusable; nothing in it is trusted.
    Invalid(String),
    /// The component's version could not be read, so no manifest can be chosen.
    NoVersion(String),
    /// WordPress publishes no checksums for themes.
    Unsupported,
}

/// A core, plugin or theme of one install.
#[derive(Debug, Clone)]
pub struct Component {
    pub kind: Kind,
    /// The install's directory, absolute inside the root.
    pub install: PathBuf,
    /// `wordpress` for core, else the directory name.
    pub slug: String,
    pub version: Option<String>,
    /// Core only.
    pub locale: Option<String>,
    pub manifest: ManifestState,
}

impl Component {
    /// The directory the manifest's paths are relative to.
    pub fn base(&self) -> PathBuf {
        match self.kind {
            Kind::Core => self.install.clone(),
            Kind::Plugin => self.install.join("wp-content/plugins").join(&self.slug),
            Kind::Theme => self.install.join("wp-content/themes").join(&self.slug),
        }
    }

    /// Unique full name in rpm's `name-version-release.arch` shape, so the baseline's package
    /// snapshot groups and explains it like an rpm package ("updated from … to …"): name
    /// `SLUG@INSTALL`, release the locale (core) or `plugin`/`theme`, arch `wordpress`; a `-`
    /// in the version becomes `~` (rpm's shape has none there).
    /// `wordpress@/var/www/html-6.4.3-en_US.wordpress`, `akismet@/var/www/html-5.3-plugin.wordpress`.
    pub fn nevra(&self) -> String {
        let v = self
            .version
            .as_deref()
            .unwrap_or("unknown")
            .replace('-', "~");
        let release = match self.kind {
            Kind::Core => self.locale.as_deref().unwrap_or("en_US"),
            Kind::Plugin => "plugin",
            Kind::Theme => "theme",
        };
        format!(
            "{}@{}-{v}-{release}.{ARCH}",
            self.slug,
            self.install.display()
        )
    }

    /// The manifest's file name under [`MANIFEST_DIR`], when the component can have one.
    pub fn manifest_name(&self) -> Option<String> {
        let v = self.version.as_deref()?;
        match self.kind {
            Kind::Core => Some(format!(
                "core-{v}-{}.json",
                self.locale.as_deref().unwrap_or("en_US")
            )),
            Kind::Plugin => Some(format!("plugin-{}-{v}.json", self.slug)),
            Kind::Theme => None,
        }
    }

    /// Where the API at `bases` serves the manifest (the version, locale and slug are checked
    /// to be URL- and file-name-safe when read).
    pub fn manifest_url(&self, bases: &super::fetch::Bases) -> Option<String> {
        let v = self.version.as_deref()?;
        match self.kind {
            Kind::Core => Some(format!(
                "{}/core/checksums/1.0/?version={v}&locale={}",
                bases.api,
                self.locale.as_deref().unwrap_or("en_US")
            )),
            Kind::Plugin => Some(format!(
                "{}/plugin-checksums/{}/{v}.json",
                bases.downloads, self.slug
            )),
            Kind::Theme => None,
        }
    }

    pub fn loaded(&self) -> Option<&Manifest> {
        match &self.manifest {
            ManifestState::Loaded { manifest, .. } => Some(manifest),
            _ => None,
        }
    }
}

/// The WordPress installs of a root and their manifests, read once.
#[derive(Debug)]
pub struct WordPressDb {
    manifest_dir: PathBuf,
    pub installs: Vec<Install>,
    /// Every component, install by install (core first).
    pub components: Vec<Component>,
    /// Indexes into `components` of those with a loaded manifest: the packages.
    vouched: Vec<usize>,
}

/// Check a downloaded body for `c` as [`WordPressDb::open`] would check the saved file.
pub fn check_body(c: &Component, body: &[u8]) -> Result<Manifest, String> {
    let v = c.version.as_deref().ok_or("no version")?;
    match c.kind {
        Kind::Core => manifest::parse_core(body, v).map(without_bundled),
        Kind::Plugin => manifest::parse_plugin(body, &c.slug, v),
        Kind::Theme => Err("WordPress publishes no theme checksums".to_string()),
    }
}

impl WordPressDb {
    /// Detect installs under `trees` (absolute inside `root`) and read their manifests from
    /// [`MANIFEST_DIR`].
    pub fn open(root: &Path, trees: &[PathBuf]) -> Result<WordPressDb, Error> {
        let top = Dir::open_root(root).map_err(|e| Error::new(root, e.message()))?;
        let installs = detect(&top, trees);
        let manifest_dir = PathBuf::from(MANIFEST_DIR);
        let mdir = super::open_dir(&top, &manifest_dir).ok();
        let mut components = Vec::new();
        for inst in &installs {
            let mut core = Component {
                kind: Kind::Core,
                install: inst.path.clone(),
                slug: "wordpress".to_string(),
                version: inst.version.as_ref().ok().cloned(),
                locale: Some(inst.locale.clone()),
                manifest: ManifestState::Missing,
            };
            core.manifest = match &inst.version {
                Err(e) => ManifestState::NoVersion(e.to_string()),
                Ok(v) => load(mdir.as_ref(), &manifest_dir, &core, |b| {
                    manifest::parse_core(b, v).map(without_bundled)
                }),
            };
            components.push(core);
            for (kind, list) in [(Kind::Plugin, &inst.plugins), (Kind::Theme, &inst.themes)] {
                for p in list {
                    let mut c = Component {
                        kind,
                        install: inst.path.clone(),
                        slug: p.slug.clone(),
                        version: p.version.as_ref().ok().cloned(),
                        locale: None,
                        manifest: ManifestState::Unsupported,
                    };
                    c.manifest = match (&p.version, kind) {
                        (_, Kind::Theme) => ManifestState::Unsupported,
                        (Err(e), _) => ManifestState::NoVersion(e.clone()),
                        (Ok(v), _) => load(mdir.as_ref(), &manifest_dir, &c, |b| {
                            manifest::parse_plugin(b, &p.slug, v)
                        }),
                    };
                    components.push(c);
                }
            }
        }
        let vouched = (0..components.len())
            .filter(|&i| components.get(i).and_then(Component::loaded).is_some())
            .collect();
        Ok(WordPressDb {
            manifest_dir,
            installs,
            components,
            vouched,
        })
    }

    /// The components that are packages (a loaded manifest), in package order.
    pub fn vouched(&self) -> impl Iterator<Item = &Component> {
        self.vouched.iter().filter_map(|&i| self.components.get(i))
    }
}

/// Core manifests list the bundled plugins and themes too, but those update (or are deleted)
/// on their own; like `wp core verify-checksums`, core does not vouch for them. A plugin's own
/// manifest does.
fn without_bundled(mut m: Manifest) -> Manifest {
    m.files.retain(|p, _| {
        !p.starts_with("wp-content/plugins/") && !p.starts_with("wp-content/themes/")
    });
    m
}

fn load(
    mdir: Option<&Dir>,
    manifest_dir: &Path,
    c: &Component,
    parse: impl Fn(&[u8]) -> Result<Manifest, String>,
) -> ManifestState {
    let (Some(dir), Some(name)) = (mdir, c.manifest_name()) else {
        return ManifestState::Missing;
    };
    let file = manifest_dir.join(&name);
    match read_small(dir, OsStr::new(&name), manifest::MAX_MANIFEST_BYTES, true) {
        Err(ReadError::Missing) => ManifestState::Missing,
        Err(ReadError::Other(p)) => ManifestState::Invalid(Error::new(&file, p).to_string()),
        Ok(body) => match parse(&body) {
            Ok(manifest) => ManifestState::Loaded {
                manifest,
                sha256: hex::encode(sha2::Sha256::digest(&body)),
            },
            Err(p) => ManifestState::Invalid(Error::new(&file, p).to_string()),
        },
    }
}

impl PackageDb for WordPressDb {
    fn manager(&self) -> &'static str {
        "wordpress"
    }

    fn location(&self) -> &Path {
        &self.manifest_dir
    }

    fn packages(&self) -> Vec<InstalledPackage> {
        self.vouched()
            .enumerate()
            .map(|(index, c)| InstalledPackage {
                index,
                name: c.slug.clone(),
                nevra: c.nevra(),
                version: c.version.clone().unwrap_or_default(),
                arch: None,
                install_time: None,
                trust: SigStatus::NotChecked,
            })
            .collect()
    }

    fn matches(&self, index: usize, arg: &str) -> bool {
        self.vouched().nth(index).is_some_and(|c| {
            let v = c.version.as_deref().unwrap_or("");
            arg == c.slug || arg == format!("{}-{v}", c.slug) || arg == c.nevra()
        })
    }

    fn owned_index(&self) -> OwnedIndex {
        let mut idx = OwnedIndex::new();
        for c in self.vouched() {
            let Some(m) = c.loaded() else { continue };
            let base = c.base();
            let nevra = c.nevra();
            for (rel, sums) in &m.files {
                let (digest, algo) = match (sums.sha256.first(), sums.md5.first()) {
                    (Some(s), _) => (s.clone(), DigestAlgo::Sha256),
                    (None, Some(m)) => (m.clone(), DigestAlgo::Md5),
                    (None, None) => continue,
                };
                idx.insert(
                    base.join(rel),
                    OwnedFile {
                        nevra: nevra.clone(),
                        digest,
                        algo,
                        reason: None,
                    },
                );
            }
        }
        idx
    }

    fn snapshot(&self) -> Vec<PackageSnapshot> {
        let mut out: Vec<PackageSnapshot> = self
            .vouched()
            .map(|c| PackageSnapshot {
                nevra: c.nevra(),
                install_tid: None,
                sha256_header: match &c.manifest {
                    ManifestState::Loaded { sha256, .. } => Some(sha256.clone()),
                    _ => None,
                },
                trust: None,
                trust_key: None,
            })
            .collect();
        out.sort();
        out
    }

    fn config_files(&self, _nevra: &str) -> Vec<PathBuf> {
        Vec::new()
    }

    fn leftover_suffixes(&self) -> &'static [&'static str] {
        &[]
    }
}
