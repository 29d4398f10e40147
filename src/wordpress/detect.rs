//! Finding WordPress installs, their plugins and themes, and their versions, without executing
//! PHP: `wp-includes/version.php` is read by a strict literal-assignment scanner, plugin and
//! theme versions from their header comment the way WordPress's `get_file_data` reads them
//! (the first 8 KiB).

use super::{read_small, valid_locale, valid_slug, valid_version, Error, ReadError};
use crate::scan::fs::Dir;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `version.php` is about 1 KiB; anything far larger is not WordPress's.
const VERSION_PHP_LIMIT: u64 = 64 * 1024;
/// What `get_file_data` reads of a header.
const HEADER_BYTES: u64 = 8 * 1024;
/// How deep below a watched tree an install may sit (`/var/www/example.org/htdocs`).
const MAX_DEPTH: usize = 4;
/// Directories looked at per tree, so a huge tree cannot make detection slow.
const MAX_DIRS: usize = 20_000;
/// Plugins and themes per install, and PHP files per plugin looked at for the header.
const MAX_COMPONENTS: usize = 2_000;
const MAX_PLUGIN_PHP: usize = 200;

/// A plugin or theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Directory name under `wp-content/plugins/` or `wp-content/themes/`.
    pub slug: String,
    /// The header's `Version:`, or why there is none usable.
    pub version: Result<String, String>,
}

/// One WordPress install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// Its directory, absolute inside the root.
    pub path: PathBuf,
    /// `$wp_version`, or why it could not be read.
    pub version: Result<String, Error>,
    /// `$wp_local_package`; `en_US` when absent (WordPress's default).
    pub locale: String,
    pub plugins: Vec<Component>,
    pub themes: Vec<Component>,
}

/// Installs under `trees` (absolute inside the root `top`), sorted by path. Trees that do not
/// exist are skipped; a symlink is never followed.
pub fn detect(top: &Dir, trees: &[PathBuf]) -> Vec<Install> {
    let mut out = Vec::new();
    for tree in trees {
        let Ok(dir) = super::open_dir(top, tree) else {
            continue;
        };
        let mut budget = MAX_DIRS;
        search(&dir, tree, 0, &mut budget, &mut out);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

fn search(dir: &Dir, path: &Path, depth: usize, budget: &mut usize, out: &mut Vec<Install>) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    if let Ok(inc) = dir.open_child(OsStr::new("wp-includes")) {
        if inc.lstat(OsStr::new("version.php")).is_ok() {
            out.push(read_install(dir, &inc, path));
            return;
        }
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(names) = dir.entries() else { return };
    for name in names {
        if let Ok(child) = dir.open_child(&name) {
            search(&child, &path.join(&name), depth + 1, budget, out);
        }
    }
}

fn read_install(dir: &Dir, inc: &Dir, path: &Path) -> Install {
    let vfile = path.join("wp-includes/version.php");
    let (version, locale) =
        match read_small(inc, OsStr::new("version.php"), VERSION_PHP_LIMIT, true) {
            Ok(text) => match parse_version_php(&text) {
                Ok((v, l)) => (Ok(v), l),
                Err(p) => (Err(Error::new(&vfile, p)), "en_US".to_string()),
            },
            Err(ReadError::Missing) => (Err(Error::new(&vfile, "missing")), "en_US".to_string()),
            Err(ReadError::Other(p)) => (Err(Error::new(&vfile, p)), "en_US".to_string()),
        };
    let content = dir.open_child(OsStr::new("wp-content")).ok();
    let sub = |name: &str| {
        content
            .as_ref()
            .and_then(|c| c.open_child(OsStr::new(name)).ok())
    };
    let plugins = sub("plugins")
        .map(|d| components(&d, plugin_version))
        .unwrap_or_default();
    let themes = sub("themes")
        .map(|d| components(&d, theme_version))
        .unwrap_or_default();
    Install {
        path: path.to_path_buf(),
        version,
        locale,
        plugins,
        themes,
    }
}

fn components(dir: &Dir, version: fn(&Dir) -> Result<String, String>) -> Vec<Component> {
    let Ok(names) = dir.entries() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names.into_iter().take(MAX_COMPONENTS) {
        // Only directories: a single-file plugin (`hello.php`) has no checksum manifest.
        let Ok(sub) = dir.open_child(&name) else {
            continue;
        };
        let Some(slug) = name.to_str().filter(|s| valid_slug(s)) else {
            continue;
        };
        out.push(Component {
            slug: slug.to_string(),
            version: version(&sub),
        });
    }
    out
}

/// The version of the plugin in `dir`: WordPress takes the first top-level PHP file whose
/// header has `Plugin Name:`.
fn plugin_version(dir: &Dir) -> Result<String, String> {
    let names = dir.entries().map_err(|e| e.message())?;
    let php: Vec<OsString> = names
        .into_iter()
        .filter(|n| n.as_bytes().to_ascii_lowercase().ends_with(b".php"))
        .take(MAX_PLUGIN_PHP)
        .collect();
    for name in php {
        let Ok(head) = read_small(dir, &name, HEADER_BYTES, false) else {
            continue;
        };
        if header_field(&head, "Plugin Name").is_some() {
            return checked_version(header_field(&head, "Version"));
        }
    }
    Err("no main plugin file (no PHP file with a Plugin Name: header)".to_string())
}

fn theme_version(dir: &Dir) -> Result<String, String> {
    match read_small(dir, OsStr::new("style.css"), HEADER_BYTES, false) {
        Ok(head) => checked_version(header_field(&head, "Version")),
        Err(ReadError::Missing) => Err("no style.css".to_string()),
        Err(ReadError::Other(p)) => Err(format!("style.css: {p}")),
    }
}

fn checked_version(v: Option<String>) -> Result<String, String> {
    match v {
        None => Err("no Version: in the header".to_string()),
        Some(v) if valid_version(&v) => Ok(v),
        Some(v) => Err(format!(
            "unusable version {:?} (only letters, digits, '.', '-')",
            crate::escape::escape_bytes(v.as_bytes())
        )),
    }
}

/// A header field as `get_file_data` finds it: the first line matching
/// `^(\s*<?php)?[ \t/*#@]*NAME:(.*)$` (case-insensitive), the value trimmed and cut at `*/`
/// or `?>`.
pub fn header_field(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    for line in text.split(['\n', '\r']) {
        let mut l = line.trim_start_matches([' ', '\t']);
        // `get`, not slicing: byte 5 may fall inside a multibyte character of the file.
        if let Some(rest) = l
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("<?php"))
            .and_then(|_| l.get(5..))
        {
            l = rest;
        }
        let l = l.trim_start_matches([' ', '\t', '/', '*', '#', '@']);
        let Some(head) = l.get(..name.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(name) {
            continue;
        }
        let Some(rest) = l[name.len()..].strip_prefix(':') else {
            continue;
        };
        let mut v = rest;
        for end in ["*/", "?>"] {
            if let Some(i) = v.find(end) {
                v = &v[..i];
            }
        }
        return Some(v.trim().to_string());
    }
    None
}

/// `$wp_version` and `$wp_local_package` (default `en_US`) from `version.php`. Only a plain
/// assignment of a quoted literal without escapes or interpolation counts; comments and other
/// strings are skipped; a variable assigned twice with different values is refused.
pub fn parse_version_php(text: &[u8]) -> Result<(String, String), String> {
    let mut version: Option<String> = None;
    let mut locale: Option<String> = None;
    let mut i = 0usize;
    let n = text.len();
    let at = |j: usize| text.get(j).copied().unwrap_or(0);
    while i < n {
        let c = at(i);
        if c == b'/' && at(i + 1) == b'/' || c == b'#' {
            while i < n && at(i) != b'\n' {
                i += 1;
            }
        } else if c == b'/' && at(i + 1) == b'*' {
            i += 2;
            while i < n && !(at(i) == b'*' && at(i + 1) == b'/') {
                i += 1;
            }
            i += 2;
        } else if c == b'\'' || c == b'"' {
            i += 1;
            while i < n && at(i) != c {
                if at(i) == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == b'$' {
            let start = i + 1;
            let mut j = start;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            let ident = &text[start.min(n)..j.min(n)];
            let slot = match ident {
                b"wp_version" => Some((&mut version, "$wp_version")),
                b"wp_local_package" => Some((&mut locale, "$wp_local_package")),
                _ => None,
            };
            i = j;
            if let Some((slot, var)) = slot {
                let (value, next) = literal_assignment(text, j)
                    .ok_or_else(|| format!("{var} is not assigned a plain string literal"))?;
                if slot.as_ref().is_some_and(|old| *old != value) {
                    return Err(format!("{var} is assigned twice with different values"));
                }
                *slot = Some(value);
                i = next;
            }
        } else {
            i += 1;
        }
    }
    let version = version.ok_or("no $wp_version assignment")?;
    if !valid_version(&version) {
        return Err(format!(
            "$wp_version {:?} is not a version (only letters, digits, '.', '-')",
            crate::escape::escape_bytes(version.as_bytes())
        ));
    }
    let locale = locale.unwrap_or_else(|| "en_US".to_string());
    if !valid_locale(&locale) {
        return Err(format!(
            "$wp_local_package {:?} is not a locale",
            crate::escape::escape_bytes(locale.as_bytes())
        ));
    }
    Ok((version, locale))
}

/// `\s*=\s*'literal'\s*;` at `i`: the literal and the position after the `;`.
fn literal_assignment(text: &[u8], mut i: usize) -> Option<(String, usize)> {
    let at = |j: usize| text.get(j).copied().unwrap_or(0);
    let ws = |i: &mut usize| {
        while at(*i).is_ascii_whitespace() {
            *i += 1;
        }
    };
    ws(&mut i);
    if at(i) != b'=' || at(i + 1) == b'=' {
        return None;
    }
    i += 1;
    ws(&mut i);
    let q = at(i);
    if q != b'\'' && q != b'"' {
        return None;
    }
    i += 1;
    let start = i;
    while at(i) != q {
        // Escapes and interpolation would make the value something other than the bytes.
        if i >= text.len() || at(i) == b'\\' || at(i) == b'$' || at(i) == b'\n' {
            return None;
        }
        i += 1;
    }
    let value = std::str::from_utf8(text.get(start..i)?).ok()?.to_string();
    i += 1;
    ws(&mut i);
    if at(i) != b';' {
        return None;
    }
    Some((value, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_php_real_shape() {
        let t = b"<?php\n/**\n * $wp_version = '0.1';\n */\n$wp_version = '6.4.3';\n$wp_db_version = 56657;\n$wp_local_package = 'de_DE';\n";
        assert_eq!(
            parse_version_php(t),
            Ok(("6.4.3".to_string(), "de_DE".to_string()))
        );
    }

    #[test]
    fn version_php_hostile() {
        assert!(parse_version_php(b"<?php $wp_version = '../../etc';").is_err());
        assert!(parse_version_php(b"<?php $wp_version = \"6.4$x\";").is_err());
        assert!(parse_version_php(b"<?php $wp_version = get();").is_err());
        assert!(parse_version_php(b"<?php $wp_version = '6.4'; $wp_version = '6.5';").is_err());
        assert!(parse_version_php(b"<?php $wp_version = '6.4'; $wp_local_package='x/y';").is_err());
        assert!(parse_version_php(b"<?php").is_err());
        assert!(parse_version_php(b"<?php $wp_version = '6.4").is_err());
    }

    #[test]
    fn header_like_get_file_data() {
        let h = b"<?php\n/*\n * Plugin Name: Akismet\n * Version: 5.3 */\n";
        assert_eq!(header_field(h, "plugin name").as_deref(), Some("Akismet"));
        assert_eq!(header_field(h, "Version").as_deref(), Some("5.3"));
    }

    /// A line whose fifth byte is inside a multibyte character (a plugin's own text) used to
    /// panic the whole check; every cut of such lines is read without one.
    #[test]
    fn multibyte_text_never_panics() {
        let h = "<?php
abcdé x
/* Plugin Name: Evil
 * Version: 1.0 */
<?phé
";
        assert_eq!(
            header_field(h.as_bytes(), "Plugin Name").as_deref(),
            Some("Evil")
        );
        assert_eq!(
            header_field(h.as_bytes(), "Version").as_deref(),
            Some("1.0")
        );
        for end in 0..=h.len() {
            let _ = header_field(&h.as_bytes()[..end], "Version");
        }
        assert_eq!(
            header_field("<?PHP Version: 2".as_bytes(), "version").as_deref(),
            Some("2")
        );
    }
}
