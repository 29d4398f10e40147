//! WordPress as a package source: detection of installs, plugins and themes in a synthetic
//! tree, manifests in the official JSON formats for two versions, `quietwire wordpress` and
//! `wordpress fetch` through the binary, verification verdicts (update quiet; backdoored core
//! file, extra PHP in wp-includes/, trojaned plugin file keeping size and mtime: high), and
//! hostile version strings and manifests.

mod support;

use md5::Md5;
use quietwire::pkgdb::{snapshot_diff, PackageDb};
use quietwire::scan::fs::Dir;
use quietwire::wordpress::db::WordPressDb;
use quietwire::wordpress::verify::{verify, Problem, Verdict};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use support::{qw, text, TestRoot};

const SITE: &str = "/var/www/html";
const MDIR: &str = "/var/lib/quietwire/wordpress";

/// Core files (besides version.php), relative to the install; content depends on the version.
const CORE: &[&str] = &[
    "index.php",
    "wp-login.php",
    "wp-settings.php",
    "wp-load.php",
    "xmlrpc.php",
    "wp-admin/index.php",
    "wp-admin/admin.php",
    "wp-admin/includes/file.php",
    "wp-admin/includes/plugin.php",
    "wp-admin/css/common.css",
    "wp-includes/load.php",
    "wp-includes/plugin.php",
    "wp-includes/functions.php",
    "wp-includes/class-wp.php",
    "wp-includes/js/jquery/jquery.js",
    "wp-includes/blocks/index.php",
    "wp-content/index.php",
    // Bundled with core, but core does not vouch for it (it updates on its own).
    "wp-content/plugins/akismet/akismet.php",
];

const PLUGIN: &[&str] = &[
    "akismet.php",
    "class.akismet.php",
    "readme.txt",
    "views/notice.php",
];

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn write(root: &TestRoot, abs: impl AsRef<Path>, body: &[u8]) {
    let p = root.join(abs);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
}

fn site(rel: &str) -> PathBuf {
    Path::new(SITE).join(rel)
}

fn plugin_file(rel: &str) -> PathBuf {
    site("wp-content/plugins/akismet").join(rel)
}

/// Install (or update to) core `version`: every core file rewritten. Returns path → content.
fn install_core(root: &TestRoot, version: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![(
        "wp-includes/version.php".to_string(),
        format!("<?php\n/**\n * The WordPress version string.\n */\n$wp_version = '{version}';\n$wp_db_version = 56657;\n$wp_local_package = 'de_DE';\n").into_bytes(),
    )];
    for f in CORE {
        files.push((
            f.to_string(),
            format!("<?php // {f} of WordPress {version}\n").into_bytes(),
        ));
    }
    for (f, body) in &files {
        write(root, site(f), body);
    }
    write(
        root,
        site("wp-config.php"),
        b"<?php define('DB_NAME', 'wp');\n",
    );
    write(
        root,
        site("wp-content/uploads/2024/01/cat.jpg"),
        b"\xff\xd8 jpeg",
    );
    files
}

fn install_plugin(root: &TestRoot, version: &str) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = PLUGIN
        .iter()
        .map(|f| {
            let body = if *f == "akismet.php" {
                format!("<?php\n/*\nPlugin Name: Akismet Anti-spam\nVersion: {version}\n*/\n")
            } else {
                format!("<?php // {f} of akismet {version}\n")
            };
            (f.to_string(), body.into_bytes())
        })
        .collect();
    for (f, body) in &files {
        write(root, plugin_file(f), body);
    }
    files
}

fn core_manifest_flat(files: &[(String, Vec<u8>)]) -> serde_json::Value {
    let sums: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(f, b)| (f.clone(), json!(md5_hex(b))))
        .collect();
    json!({ "checksums": sums })
}

/// The multi-version shape (`{"checksums": {"V": {...}}}`).
fn core_manifest_multi(version: &str, files: &[(String, Vec<u8>)]) -> serde_json::Value {
    json!({ "checksums": { version: core_manifest_flat(files)["checksums"].clone() } })
}

fn plugin_manifest(version: &str, files: &[(String, Vec<u8>)], arrays: bool) -> serde_json::Value {
    let sums: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(f, b)| {
            let (m, s) = (md5_hex(b), sha256_hex(b));
            let v = if arrays {
                json!({"md5": ["0123456789abcdef0123456789abcdef", m], "sha256": [s]})
            } else {
                json!({"md5": m, "sha256": s})
            };
            (f.clone(), v)
        })
        .collect();
    json!({
        "plugin": "akismet",
        "version": version,
        "source": format!("https://plugins.svn.wordpress.org/akismet/tags/{version}/"),
        "zip": format!("https://downloads.wordpress.org/plugins/akismet.{version}.zip"),
        "files": sums,
    })
}

fn save_manifest(root: &TestRoot, name: &str, body: &serde_json::Value) {
    write(
        root,
        Path::new(MDIR).join(name),
        body.to_string().as_bytes(),
    );
}

/// A root with core 6.4.2 and akismet 5.3, both with manifests.
fn site_642(root: &TestRoot) {
    let core = install_core(root, "6.4.2");
    save_manifest(root, "core-6.4.2-de_DE.json", &core_manifest_flat(&core));
    let plugin = install_plugin(root, "5.3");
    save_manifest(
        root,
        "plugin-akismet-5.3.json",
        &plugin_manifest("5.3", &plugin, false),
    );
    write(
        root,
        site("wp-content/themes/twentytwentyfour/style.css"),
        b"/*\nTheme Name: Twenty Twenty-Four\nVersion: 1.0\n*/\n",
    );
}

fn open(root: &TestRoot) -> WordPressDb {
    WordPressDb::open(root.path(), &[PathBuf::from("/var/www")]).unwrap()
}

fn verdicts(root: &TestRoot) -> Vec<Verdict> {
    verify(&Dir::open_root(root.path()).unwrap(), &open(root))
}

fn wp(root: &TestRoot, args: &[&str]) -> (String, String, i32) {
    let mut a = vec!["wordpress"];
    a.extend_from_slice(args);
    let out = qw(root, &a);
    (
        text(&out.stdout),
        text(&out.stderr),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn listing_and_fetch_name_installs_versions_and_manifests() {
    let root = TestRoot::new();
    install_core(&root, "6.4.2");
    install_plugin(&root, "5.3");
    write(
        &root,
        site("wp-content/themes/twentytwentyfour/style.css"),
        b"/*\nTheme Name: Twenty Twenty-Four\nVersion: 1.0\n*/\n",
    );

    let (out, err, code) = wp(&root, &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "/var/www/html\tcore\twordpress\t6.4.2 de_DE\tmissing\t/var/lib/quietwire/wordpress/core-6.4.2-de_DE.json",
            "/var/www/html\tplugin\takismet\t5.3\tmissing\t/var/lib/quietwire/wordpress/plugin-akismet-5.3.json",
            "/var/www/html\ttheme\ttwentytwentyfour\t1.0\tunsupported\t",
        ]
    );

    let (out, err, code) = wp(&root, &["fetch", "--offline"]);
    assert_eq!(code, 21, "{err}");
    assert!(err.contains("2 manifest(s) still needed"), "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "https://api.wordpress.org/core/checksums/1.0/?version=6.4.2&locale=de_DE\t/var/lib/quietwire/wordpress/core-6.4.2-de_DE.json",
            "https://downloads.wordpress.org/plugin-checksums/akismet/5.3.json\t/var/lib/quietwire/wordpress/plugin-akismet-5.3.json",
        ]
    );

    site_642(&root);
    let (out, err, code) = wp(&root, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\tcore\twordpress\t6.4.2 de_DE\tok\t18 files\n"),
        "{out}"
    );
    assert!(
        out.contains("\tplugin\takismet\t5.3\tok\t4 files\n"),
        "{out}"
    );
    let (out, _, code) = wp(&root, &["fetch", "--offline"]);
    assert_eq!((out.as_str(), code), ("", 0));

    let (out, err, code) = wp(&root, &["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v[0]["package"],
        "wordpress@/var/www/html-6.4.2-de_DE.wordpress"
    );
    assert_eq!(v[1]["files"], 4);
}

#[test]
fn matching_files_are_clean_whatever_their_mtime_and_updates_stay_quiet() {
    let root = TestRoot::new();
    site_642(&root);
    assert_eq!(verdicts(&root), []);
    // Touching is not a change: the manifest vouches for the content.
    root.set_mtime(site("wp-includes/load.php"), 1_000_000_000);
    assert_eq!(verdicts(&root), []);

    let before = open(&root).snapshot();
    // Core update 6.4.2 → 6.4.3 (multi-version manifest shape) and plugin 5.3 → 5.3.1
    // (digest arrays): every file rewritten, all matching the new manifests.
    let core = install_core(&root, "6.4.3");
    save_manifest(
        &root,
        "core-6.4.3-de_DE.json",
        &core_manifest_multi("6.4.3", &core),
    );
    let plugin = install_plugin(&root, "5.3.1");
    save_manifest(
        &root,
        "plugin-akismet-5.3.1.json",
        &plugin_manifest("5.3.1", &plugin, true),
    );
    assert_eq!(verdicts(&root), []);

    let after = open(&root).snapshot();
    let (added, removed) = snapshot_diff(&before, &after);
    let names = |v: &[quietwire::pkgdb::PackageSnapshot]| -> Vec<String> {
        v.iter().map(|p| p.nevra.clone()).collect()
    };
    assert_eq!(
        names(&added),
        [
            "akismet@/var/www/html-5.3.1-plugin.wordpress",
            "wordpress@/var/www/html-6.4.3-de_DE.wordpress",
        ]
    );
    assert_eq!(
        names(&removed),
        [
            "akismet@/var/www/html-5.3-plugin.wordpress",
            "wordpress@/var/www/html-6.4.2-de_DE.wordpress",
        ]
    );
}

#[test]
fn owned_index_covers_manifest_files_only() {
    let root = TestRoot::new();
    site_642(&root);
    let db = open(&root);
    let idx = db.owned_index();
    let core = idx.get(&site("wp-includes/load.php")).unwrap();
    assert_eq!(core.nevra, "wordpress@/var/www/html-6.4.2-de_DE.wordpress");
    assert!(core.package_vouches_content());
    assert_eq!(
        idx.get(&plugin_file("views/notice.php")).unwrap().algo,
        quietwire::pkgdb::DigestAlgo::Sha256
    );
    // wp-config.php and uploads stay under the baseline rules.
    assert!(idx.get(&site("wp-config.php")).is_none());
    assert!(idx
        .get(&site("wp-content/uploads/2024/01/cat.jpg"))
        .is_none());
    // 17 core files + version.php (the bundled akismet path is left to the plugin's manifest),
    // 4 plugin files.
    assert_eq!(idx.len(), 18 + 4);
    assert_eq!(db.packages().len(), 2);
    assert_eq!(db.manager(), "wordpress");
}

#[test]
fn tampering_is_high() {
    let root = TestRoot::new();
    site_642(&root);
    // A backdoored core file.
    write(
        &root,
        site("wp-includes/functions.php"),
        b"<?php eval($_POST['x']);\n",
    );
    // A PHP file core does not ship, dropped into wp-includes/ (and a symlink one in wp-admin/).
    write(
        &root,
        site("wp-includes/blocks/wp-cache.php"),
        b"<?php system($_GET['c']);\n",
    );
    std::os::unix::fs::symlink("/tmp/x", root.join(site("wp-admin/shell.php"))).unwrap();
    // A trojaned plugin file keeping its size and mtime.
    let victim = plugin_file("class.akismet.php");
    let old = std::fs::read(root.join(&victim)).unwrap();
    let mut evil = old.clone();
    evil[7] ^= 0x20;
    root.rewrite_keep_mtime(&victim, &evil);
    // A core file removed.
    std::fs::remove_file(root.join(site("xmlrpc.php"))).unwrap();

    let mut got: Vec<(PathBuf, &'static str, String)> = verdicts(&root)
        .into_iter()
        .map(|v| {
            let kind = match v.problem {
                Problem::Mismatch { .. } => "mismatch",
                Problem::Missing => "missing",
                Problem::Unexpected => "unexpected",
                Problem::NotRegular(_) => "not-regular",
                Problem::Unreadable(_) => "unreadable",
            };
            assert_eq!(v.severity(), "high");
            (v.path.clone(), kind, v.package.clone())
        })
        .collect();
    got.sort();
    let core = "wordpress@/var/www/html-6.4.2-de_DE.wordpress".to_string();
    let plugin = "akismet@/var/www/html-5.3-plugin.wordpress".to_string();
    assert_eq!(
        got,
        [
            (site("wp-admin/shell.php"), "unexpected", core.clone()),
            (plugin_file("class.akismet.php"), "mismatch", plugin),
            (
                site("wp-includes/blocks/wp-cache.php"),
                "unexpected",
                core.clone()
            ),
            (site("wp-includes/functions.php"), "mismatch", core.clone()),
            (site("xmlrpc.php"), "missing", core),
        ]
    );
}

/// The listing's stderr and status for a root whose manifest or version.php is hostile.
fn listing_error(root: &TestRoot) -> String {
    let (_, err, code) = wp(root, &[]);
    assert_eq!(code, 20, "{err}");
    assert_eq!(
        open(root).packages().len(),
        0,
        "nothing may be trusted: {err}"
    );
    err
}

#[test]
fn hostile_version_strings_are_refused() {
    let root = TestRoot::new();
    install_core(&root, "6.4.2");
    for (bad, want) in [
        (
            "$wp_version = '../../../../etc/passwd';",
            "is not a version",
        ),
        (
            "$wp_version = \"6.4.2$x\";",
            "not assigned a plain string literal",
        ),
        (
            "$wp_version = '6.4.2'; $wp_local_package = 'de/../x';",
            "is not a locale",
        ),
        (
            "$wp_version = '6.4.2'; $wp_version = '9.9';",
            "assigned twice",
        ),
    ] {
        write(
            &root,
            site("wp-includes/version.php"),
            format!("<?php\n{bad}\n").as_bytes(),
        );
        let err = listing_error(&root);
        assert!(
            err.contains("/var/www/html/wp-includes/version.php: ") && err.contains(want),
            "{bad}: {err}"
        );
    }
    // A plugin version with a path in it: listed, no manifest looked for.
    install_core(&root, "6.4.2");
    write(
        &root,
        plugin_file("akismet.php"),
        b"<?php\n/*\nPlugin Name: A\nVersion: 1/../../x\n*/\n",
    );
    let (out, err, code) = wp(&root, &[]);
    assert_eq!(code, 20);
    assert!(out.contains("\tplugin\takismet\t?\tno-version\t"), "{out}");
    assert!(err.contains("unusable version"), "{err}");
}

#[test]
fn hostile_manifests_are_refused_and_nothing_is_trusted() {
    let root = TestRoot::new();
    let core = install_core(&root, "6.4.2");
    let name = "core-6.4.2-de_DE.json";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"{\"checksums\":false}".to_vec(),
            "no checksums for this version",
        ),
        (
            core_manifest_multi("6.4.1", &core).to_string().into_bytes(),
            "6.4.1 only, not for 6.4.2",
        ),
        (
            b"{\"checksums\":{\"../../etc/shadow\":\"d41d8cd98f00b204e9800998ecf8427e\"}}".to_vec(),
            "unsafe file path",
        ),
        (
            b"{\"checksums\":{\"index.php\":\"not-hex\"}}".to_vec(),
            "not a 32-digit hex digest",
        ),
        (b"{\"checksums\":".to_vec(), "not valid JSON"),
        (
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            "not valid JSON",
        ),
    ];
    for (body, want) in cases {
        write(&root, Path::new(MDIR).join(name), &body);
        let err = listing_error(&root);
        assert!(
            err.contains(&format!("{MDIR}/{name}: ")) && err.contains(want),
            "{want}: {err}"
        );
    }
    // Larger than the bound: refused before parsing.
    let big = std::fs::File::create(root.join(Path::new(MDIR).join(name))).unwrap();
    big.set_len(33 << 20).unwrap();
    assert!(listing_error(&root).contains("more than the limit"));
    // Not a regular file (a symlink to a valid manifest elsewhere).
    std::fs::remove_file(root.join(Path::new(MDIR).join(name))).unwrap();
    save_manifest(&root, "elsewhere.json", &core_manifest_flat(&core));
    std::os::unix::fs::symlink("elsewhere.json", root.join(Path::new(MDIR).join(name))).unwrap();
    assert!(listing_error(&root).contains("not a regular file"));

    // A plugin manifest for another version or another plugin.
    std::fs::remove_file(root.join(Path::new(MDIR).join(name))).unwrap();
    let plugin = install_plugin(&root, "5.3");
    save_manifest(
        &root,
        "plugin-akismet-5.3.json",
        &plugin_manifest("5.2", &plugin, false),
    );
    assert!(listing_error(&root).contains("manifest of version \"5.2\", not \"5.3\""));
    let mut other = plugin_manifest("5.3", &plugin, false);
    other["plugin"] = json!("jetpack");
    save_manifest(&root, "plugin-akismet-5.3.json", &other);
    assert!(listing_error(&root).contains("manifest of plugin \"jetpack\""));
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 answering `routes` (request target → body) with
/// 200 and anything else with 404; returns its base URL.
fn serve(routes: Vec<(String, Vec<u8>)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let target = line.split(' ').nth(1).unwrap_or("").to_string();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let (status, body) = match routes.iter().find(|(t, _)| *t == target) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", Vec::new()),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn fetch(root: &TestRoot, base: &str) -> (String, String, i32) {
    let out = support::qw_cmd(root, &["wordpress", "fetch"])
        .env("QUIETWIRE_WORDPRESS_API", base)
        .env("QUIETWIRE_WORDPRESS_DOWNLOADS", base)
        .output()
        .unwrap();
    (
        text(&out.stdout),
        text(&out.stderr),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn fetch_downloads_checks_and_saves_only_valid_manifests() {
    let root = TestRoot::new();
    let core = install_core(&root, "6.4.2");
    let plugin = install_plugin(&root, "5.3");
    let core_body = core_manifest_flat(&core).to_string().into_bytes();
    // The server answers the plugin URL with another version's manifest.
    let base = serve(vec![
        (
            "/core/checksums/1.0/?version=6.4.2&locale=de_DE".to_string(),
            core_body.clone(),
        ),
        (
            "/plugin-checksums/akismet/5.3.json".to_string(),
            plugin_manifest("5.2", &plugin, false)
                .to_string()
                .into_bytes(),
        ),
    ]);
    let (out, err, code) = fetch(&root, &base);
    assert_eq!(code, 20, "{err}");
    assert!(
        err.contains("saved /var/lib/quietwire/wordpress/core-6.4.2-de_DE.json (18 files)"),
        "{err}"
    );
    assert!(
        err.contains("/plugin-checksums/akismet/5.3.json: it is the manifest of version \"5.2\""),
        "{err}"
    );
    assert_eq!(out, format!("{base}/plugin-checksums/akismet/5.3.json\t/var/lib/quietwire/wordpress/plugin-akismet-5.3.json\n"));
    assert_eq!(
        std::fs::read(root.join(Path::new(MDIR).join("core-6.4.2-de_DE.json"))).unwrap(),
        core_body
    );
    assert!(!root
        .join(Path::new(MDIR).join("plugin-akismet-5.3.json"))
        .exists());
    let names: Vec<_> = std::fs::read_dir(root.join(MDIR))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    let (list, _, _) = wp(&root, &[]);
    assert!(
        list.contains("\tcore\twordpress\t6.4.2 de_DE\tok\t18 files\n"),
        "{list}"
    );

    // Nothing listening: the URLs to fetch elsewhere, with the files to save them as.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (out, err, code) = fetch(&root, &dead);
    assert_eq!(code, 20, "{err}");
    assert!(out.ends_with("/plugin-checksums/akismet/5.3.json\t/var/lib/quietwire/wordpress/plugin-akismet-5.3.json\n"), "{out}");
    assert!(err.contains("1 manifest(s) still needed"), "{err}");
}

#[test]
fn fetch_never_writes_through_a_symlink() {
    let root = TestRoot::new();
    let core = install_core(&root, "6.4.2");
    let base = serve(vec![(
        "/core/checksums/1.0/?version=6.4.2&locale=de_DE".to_string(),
        core_manifest_flat(&core).to_string().into_bytes(),
    )]);
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.join("/var/lib/quietwire")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.join(MDIR)).unwrap();
    let (_, err, code) = fetch(&root, &base);
    assert_eq!(code, 20, "{err}");
    assert!(err.contains("nothing saved"), "{err}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

/// `check --format json` through the binary: (findings as (path, rule, severity), exit code).
fn check_json(root: &TestRoot) -> (Vec<(String, String, String)>, serde_json::Value, i32) {
    let out = qw(root, &["check", "--no-progress", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    let mut f: Vec<(String, String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["rule"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    f.sort();
    (f, doc, out.status.code().unwrap_or(-1))
}

#[test]
fn check_through_the_binary_updates_quiet_tampering_high() {
    let root = TestRoot::new();
    site_642(&root);
    let out = qw(&root, &["init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (f, doc, code) = check_json(&root);
    assert_eq!((f.clone(), code), (vec![], 0), "{doc}");

    // Core update 6.4.2 → 6.4.3 and plugin update 5.3 → 5.3.1 with their manifests: quiet.
    let core = install_core(&root, "6.4.3");
    save_manifest(
        &root,
        "core-6.4.3-de_DE.json",
        &core_manifest_multi("6.4.3", &core),
    );
    let plugin = install_plugin(&root, "5.3.1");
    save_manifest(
        &root,
        "plugin-akismet-5.3.1.json",
        &plugin_manifest("5.3.1", &plugin, true),
    );
    let (f, doc, code) = check_json(&root);
    let loud: Vec<_> = f.iter().filter(|(_, _, s)| s != "info").collect();
    assert!(
        loud.is_empty() && code == 0,
        "update not quiet: {loud:?}\n{doc}"
    );
    // Explained like a package transaction: core and plugin updated, old → new.
    let updated = doc["package_changes"]["updated"].to_string();
    for (old, new) in [
        (
            "wordpress@/var/www/html-6.4.2-de_DE.wordpress",
            "wordpress@/var/www/html-6.4.3-de_DE.wordpress",
        ),
        (
            "akismet@/var/www/html-5.3-plugin.wordpress",
            "akismet@/var/www/html-5.3.1-plugin.wordpress",
        ),
    ] {
        assert!(updated.contains(old) && updated.contains(new), "{updated}");
    }
    assert_eq!(
        doc["package_changes"]["updated"].as_array().map(Vec::len),
        Some(2),
        "{doc}"
    );

    // A backdoored core file, an extra PHP file in wp-includes/, a trojaned plugin file
    // keeping size and mtime.
    write(
        &root,
        site("wp-includes/functions.php"),
        b"<?php eval($_POST['x']);\n",
    );
    write(
        &root,
        site("wp-includes/wp-tmp.php"),
        b"<?php system($_GET['c']);\n",
    );
    let victim = plugin_file("class.akismet.php");
    let mut evil = std::fs::read(root.join(&victim)).unwrap();
    evil[7] ^= 0x20;
    root.rewrite_keep_mtime(&victim, &evil);
    let (f, doc, code) = check_json(&root);
    let loud: Vec<_> = f.into_iter().filter(|(_, _, s)| s != "info").collect();
    assert_eq!(
        loud,
        [
            (
                plugin_file("class.akismet.php").display().to_string(),
                "wordpress.changed".to_string(),
                "high".to_string()
            ),
            (
                site("wp-includes/functions.php").display().to_string(),
                "wordpress.changed".to_string(),
                "high".to_string()
            ),
            (
                site("wp-includes/wp-tmp.php").display().to_string(),
                "wordpress.unexpected".to_string(),
                "high".to_string()
            ),
        ],
        "{doc}"
    );
    assert_eq!(code & 5, 5, "added and changed bits: {code}");
    // rpm's format keeps stdout rpm's; the WordPress verdicts go to stderr, and the status.
    let out = qw(&root, &["check", "--no-progress", "--format", "rpm"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("quietwire: high /var/www/html/wp-includes/wp-tmp.php: PHP file in wp-admin/ or wp-includes/ that core does not ship (wordpress@/var/www/html-6.4.3-de_DE.wordpress)"),
        "{err}"
    );
    assert_eq!(out.status.code().map(|c| c & 5), Some(5));
}

#[test]
fn a_manifest_rewritten_to_match_a_trojan_is_high_until_accepted() {
    let root = TestRoot::new();
    site_642(&root);
    assert!(qw(&root, &["init"]).status.success());
    // The attacker trojans a core file and rewrites the manifest (inside the root) to match.
    write(
        &root,
        site("wp-includes/load.php"),
        b"<?php eval($_POST['x']);\n",
    );
    let core: Vec<(String, Vec<u8>)> = std::iter::once("wp-includes/version.php")
        .chain(CORE.iter().copied())
        .map(|f| (f.to_string(), std::fs::read(root.join(site(f))).unwrap()))
        .collect();
    save_manifest(&root, "core-6.4.2-de_DE.json", &core_manifest_flat(&core));
    let (f, doc, code) = check_json(&root);
    assert_eq!(
        f,
        [(
            MDIR.to_string(),
            "wordpress.manifest-replaced".to_string(),
            "high".to_string()
        )],
        "{doc}"
    );
    assert_eq!(code & 4, 4);
    // Accepting the new package snapshot (the administrator's call) makes it the truth.
    assert!(qw(&root, &["accept", "--packages"]).status.success());
    let (f, doc, code) = check_json(&root);
    assert_eq!((f, code), (vec![], 0), "{doc}");
}

#[test]
fn special_files_in_the_tree_are_never_opened() {
    let root = TestRoot::new();
    site_642(&root);
    // A FIFO as a plugin's PHP file and as a core file: never opened (no hang), the core one
    // is a verdict; a FIFO as version.php: an error naming it.
    root.mkfifo(plugin_file("aaa.php"), 0o644);
    std::fs::remove_file(root.join(site("wp-load.php"))).unwrap();
    root.mkfifo(site("wp-load.php"), 0o644);
    let v = verdicts(&root);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].problem, Problem::NotRegular("fifo"));
    let (out, _, _) = wp(&root, &[]);
    assert!(out.contains("\tplugin\takismet\t5.3\tok\t"), "{out}");
    std::fs::remove_file(root.join(site("wp-includes/version.php"))).unwrap();
    root.mkfifo(site("wp-includes/version.php"), 0o644);
    let (_, err, code) = wp(&root, &[]);
    assert_eq!(code, 20);
    // Core is no package any more; the plugin (its own manifest) still is.
    assert_eq!(open(&root).packages().len(), 1);
    assert!(
        err.contains("/var/www/html/wp-includes/version.php: not a regular file"),
        "{err}"
    );
}
