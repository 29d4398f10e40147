//! dpkg test roots: tiny real `.deb`s built with `dpkg-deb --build` and installed with the real
//! `dpkg --root`, so that the status file, `.list`, `.md5sums` and `dpkg.log` are dpkg's own.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// One file of a test package: path inside the package (no leading `/`), content, mode.
pub struct DebFile<'a> {
    pub path: &'a str,
    pub content: &'a [u8],
    pub mode: u32,
    pub conffile: bool,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (apt-get install dpkg)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Build `NAME_VERSION_all.deb` in `dir`; `md5sums: false` leaves the md5sums file out (as
/// some third-party packages do).
pub fn build_deb(
    dir: &Path,
    name: &str,
    version: &str,
    files: &[DebFile],
    md5sums: bool,
) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let tree = dir.join(format!("{name}-{version}"));
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    let mut sums = String::new();
    let mut conf = String::new();
    for f in files {
        let p = tree.join(f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f.content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).unwrap();
        if f.conffile {
            conf.push_str(&format!("/{}\n", f.path));
        } else {
            let md5 =
                quietwire::scan::hash::hash_reader(quietwire::pkgdb::DigestAlgo::Md5, f.content)
                    .unwrap()
                    .to_hex();
            sums.push_str(&format!("{md5}  {}\n", f.path));
        }
    }
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: quietwire tests <t@example.org>\nDescription: quietwire test package\n"
        ),
    )
    .unwrap();
    if md5sums {
        std::fs::write(tree.join("DEBIAN/md5sums"), sums).unwrap();
    }
    if !conf.is_empty() {
        std::fs::write(tree.join("DEBIAN/conffiles"), conf).unwrap();
    }
    let deb = dir.join(format!("{name}_{version}_all.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&deb));
    deb
}

/// An empty dpkg root: `var/lib/dpkg` with an empty status file, and `var/log`.
pub fn empty_root() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    std::fs::create_dir_all(r.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(r.join("var/lib/dpkg/updates")).unwrap();
    std::fs::create_dir_all(r.join("var/log")).unwrap();
    std::fs::write(r.join("var/lib/dpkg/status"), "").unwrap();
    t
}

/// `dpkg --root ROOT -i DEB` (logging into the root's own `var/log/dpkg.log`).
pub fn install(root: &Path, deb: &Path) {
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", root.join("var/log/dpkg.log").display()))
        .args([
            "--force-script-chrootless",
            "--force-not-root",
            "--force-downgrade",
            "-i",
        ])
        .arg(deb));
}
