//! quietwire's own Debian package (scripts/build-deb, packaging/deb/), built from this build's
//! binary and driven with the real dpkg 1.21 (issue 17.1):
//!
//! - the package holds the files data/README.md ("The .deb") lists, with their modes, owned by
//!   root:root, with Depends from dpkg-shlibdeps, conffiles and md5sums; two builds with the
//!   same SOURCE_DATE_EPOCH are byte-identical;
//! - installed with `dpkg --root` (maintainer scripts chrootless, so they run with DPKG_ROOT)
//!   into a test root whose dpkg database holds only stand-ins for the packages it depends on:
//!   the postinst makes /var/lib/quietwire and /var/log/quietwire 0700, enables the timer
//!   inside the root (deb-systemd-helper) and never the host's, and only hints at `init`;
//!   `quietwire check --owned-only --format dpkg` equals `dpkg --verify` (clean, then a changed
//!   byte of the binary, then an edited conffile); an upgrade keeps the edited
//!   /etc/default/quietwire and an administrator's disabled timer; remove keeps the conffiles
//!   and the baseline, purge removes the conffiles, the logs and the timer's enablement but
//!   keeps a baseline unless QUIETWIRE_PURGE_BASELINE=yes;
//! - the apt hook: the installed /etc/apt/apt.conf.d/80quietwire parsed by `apt-config`, and
//!   a real `apt-get install` of a local .deb in the root running the installed hook.
//!
//! Without `dpkg-deb` / `dpkg-shlibdeps` (Debian: dpkg, dpkg-dev) the tests print SKIPPED and
//! pass, except under `CI=true`, where they fail. Needs root (chown in the maintainer scripts).
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use support::{have_tools, quietwire_bin, run_command, RpmOutput};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The SOURCE_DATE_EPOCH of the test builds: 2023-11-14 22:13:20 UTC.
const EPOCH: &str = "1700000000";
const HINT: &str = "quietwire: no baseline yet";
const KEPT: &str = "quietwire: kept /var/lib/quietwire";
const WANTS: &str = "/etc/systemd/system/timers.target.wants/quietwire-check.timer";
const DSH_STATE: &str =
    "/var/lib/systemd/deb-systemd-helper-enabled/quietwire-check.timer.dsh-also";

fn have_build_tools() -> bool {
    have_tools(&[
        ("dpkg-deb", "dpkg"),
        ("dpkg", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
    ])
}

/// quietwire's .deb with Debian revision `revision`, built into `out` by scripts/build-deb from
/// this build's binary, compressed with `compression` (xz is the default, gzip the fast one).
fn build_deb(out: &Path, revision: &str, compression: &str) -> PathBuf {
    let o = run_command(
        Command::new(Path::new(REPO).join("scripts/build-deb"))
            .env("QW_DEB_REVISION", revision)
            .env("QW_DEB_COMPRESSION", compression)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .arg(out)
            .arg(quietwire_bin()),
    )
    .success();
    let path = PathBuf::from(o.stdout_str().trim());
    assert!(path.is_file(), "build-deb printed {path:?}");
    path
}

/// A directory removed when dropped, under cargo's test tmpdir.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// The revision-1 package, built once per test process.
fn quietwire_deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        // A directory per process, so parallel test processes do not share one.
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("qw-own-deb")
            .join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&out);
        build_deb(&out, "1", "xz")
    })
}

fn arch() -> String {
    run_command(Command::new("dpkg").arg("--print-architecture"))
        .success()
        .stdout_str()
        .trim()
        .to_string()
}

fn field(deb: &Path, name: &str) -> String {
    run_command(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))
        .success()
        .stdout_str()
        .trim()
        .to_string()
}

/// The package's `(mode string, owner, mtime, path)` from `dpkg-deb -c`, paths without `./`.
fn contents(deb: &Path) -> Vec<(String, String, String, String)> {
    run_command(Command::new("dpkg-deb").env("TZ", "UTC").arg("-c").arg(deb))
        .success()
        .stdout_str()
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            assert!(c.len() >= 6, "dpkg-deb -c line {l:?}");
            let path = c[5].trim_start_matches('.').trim_end_matches('/');
            (
                c[0].to_string(),
                c[1].to_string(),
                format!("{} {}", c[3], c[4]),
                if path.is_empty() { "/" } else { path }.to_string(),
            )
        })
        .collect()
}

/// `(destination, mode)` of each row of data/README.md's "The .deb" table.
fn documented_deb_files() -> Vec<(String, String)> {
    let readme = fs::read_to_string(Path::new(REPO).join("data/README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("The .deb"))
        .expect("data/README.md has a section \"The .deb\"");
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| what"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let dest = cols.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((dest.to_string(), cols.get(3)?.to_string()))
        })
        .collect()
}

fn mode_string(mode: &str) -> String {
    let bits = u32::from_str_radix(mode, 8).unwrap_or_else(|_| panic!("mode {mode:?}"));
    let mut s = String::new();
    for shift in [6, 3, 0] {
        let b = (bits >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

#[test]
fn own_deb_holds_the_documented_files_and_builds_reproducibly() {
    if !have_build_tools() {
        return;
    }
    let deb = quietwire_deb();
    let arch = arch();
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("quietwire_0.1.0-1_{arch}.deb")
    );
    assert_eq!(field(deb, "Package"), "quietwire");
    assert_eq!(field(deb, "Version"), "0.1.0-1");
    assert_eq!(field(deb, "Architecture"), arch);
    // dpkg-shlibdeps on the binary: at least the C library, with a minimum version.
    let depends = field(deb, "Depends");
    assert!(depends.contains("libc6 (>= "), "Depends: {depends}");

    let files = contents(deb);
    for (mode, owner, mtime, path) in &files {
        assert_eq!(owner, "root/root", "{path}");
        assert_eq!(mtime, "2023-11-14 22:13", "{path}: SOURCE_DATE_EPOCH");
        assert!(!mode.contains('s'), "{path}: {mode}");
    }
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f.3 == p)
            .unwrap_or_else(|| panic!("{p} not in the package: {files:#?}"))
    };
    let documented = documented_deb_files();
    assert!(documented.len() >= 10, "{documented:?}");
    for (dest, mode) in &documented {
        let f = find(dest);
        assert_eq!(
            &f.0[1..],
            mode_string(mode),
            "mode of {dest} (data/README.md)"
        );
        assert!(f.0.starts_with('-'), "{dest} is a regular file: {}", f.0);
    }
    // Nothing undocumented: every regular file of the package is in the table.
    for f in files.iter().filter(|f| f.0.starts_with('-')) {
        assert!(
            documented.iter().any(|(d, _)| *d == f.3),
            "{} is in the package but not in data/README.md's table",
            f.3
        );
    }
    // The baseline and log directories are made by the postinst, not shipped.
    assert!(!files.iter().any(|f| f.3.starts_with("/var")), "{files:#?}");

    let control_dir = scratch();
    let control = control_dir.path();
    run_command(Command::new("dpkg-deb").arg("-e").arg(deb).arg(control)).success();
    let conffiles = fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        [
            "/etc/apt/apt.conf.d/80quietwire",
            "/etc/default/quietwire",
            "/etc/logrotate.d/quietwire"
        ]
    );
    let md5sums = fs::read_to_string(control.join("md5sums")).unwrap();
    let listed: Vec<&str> = md5sums
        .lines()
        .map(|l| l.split_once("  ").map_or("", |(_, p)| p))
        .collect();
    assert!(listed.contains(&"usr/bin/quietwire"), "{md5sums}");
    assert!(!listed.iter().any(|p| p.starts_with("etc/")), "{md5sums}");
    for script in ["postinst", "prerm", "postrm"] {
        let m = fs::metadata(control.join(script))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o755, "{script}");
    }

    // Reproducible: the same inputs give the same bytes.
    let again_dir = scratch();
    let again = build_deb(again_dir.path(), "1", "xz");
    assert!(
        fs::read(deb).unwrap() == fs::read(&again).unwrap(),
        "two builds differ: {} {}",
        deb.display(),
        again.display()
    );
}

// ---- installed into a test root with dpkg --root ----

/// A test root whose dpkg database holds, as stand-ins without files, the packages `depends`
/// names (at this host's versions), so that dpkg checks quietwire's dependencies for real.
fn dpkg_root(depends: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let admin = t.path().join("var/lib/dpkg");
    fs::create_dir_all(admin.join("info")).unwrap();
    fs::create_dir_all(admin.join("updates")).unwrap();
    let mut status = String::new();
    for dep in depends.split(',') {
        let name = dep
            .split('|')
            .next()
            .and_then(|d| d.split_whitespace().next())
            .unwrap();
        let q = run_command(
            Command::new("dpkg-query")
                .args(["-W", "-f", "${Version}\t${Architecture}"])
                .arg(name),
        )
        .success()
        .stdout_str();
        let (version, arch) = q.trim().split_once('\t').unwrap();
        status.push_str(&format!(
            "Package: {name}\nStatus: install ok installed\nMaintainer: test <root@localhost>\n\
             Architecture: {arch}\nVersion: {version}\nDescription: stand-in for the test root\n\n"
        ));
        fs::write(admin.join(format!("info/{name}.list")), "").unwrap();
    }
    fs::write(admin.join("status"), status).unwrap();
    t
}

/// `dpkg --root ROOT ARGS` with the maintainer scripts run chrootless (DPKG_ROOT=ROOT), no
/// terminal (a conffile prompt would fail it) and `env` added.
fn dpkg(root: &Path, args: &[&str], env: &[(&str, &str)]) -> RpmOutput {
    let mut c = Command::new("dpkg");
    c.env("LC_ALL", "C")
        .env_remove("DPKG_ROOT")
        .env_remove("QUIETWIRE_PURGE_BASELINE")
        .envs(env.iter().copied())
        .arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--log=/dev/null"])
        .args(args)
        .stdin(Stdio::null());
    run_command(&mut c)
}

/// Sorted lines of `dpkg --verify` and of `quietwire check --owned-only --format dpkg`, and
/// quietwire's exit status.
fn verify_both(root: &Path) -> (Vec<String>, Vec<String>, i32) {
    let sorted = |s: String| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let d = dpkg(root, &["--verify"], &[]);
    let q = run_command(
        Command::new(quietwire_bin())
            .args(["check", "--no-progress", "--owned-only", "--format", "dpkg"])
            .arg("--root")
            .arg(root),
    );
    assert!(q.stderr.is_empty(), "quietwire: {}", q.stderr);
    (sorted(d.stdout_str()), sorted(q.stdout_str()), q.code)
}

fn status_of(root: &Path) -> String {
    let o = run_command(
        Command::new("dpkg-query")
            .arg(format!(
                "--admindir={}",
                root.join("var/lib/dpkg").display()
            ))
            .args(["-W", "-f", "${Version} ${db:Status-Abbrev}", "quietwire"]),
    );
    if o.code == 0 {
        o.stdout_str().trim().to_string()
    } else {
        "not installed".to_string()
    }
}

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The host files the postinst/postrm would touch if they escaped the root.
fn host_systemd_state() -> Vec<bool> {
    [WANTS, DSH_STATE]
        .iter()
        .map(|p| fs::symlink_metadata(p).is_ok())
        .collect()
}

/// Regular files and symbolic links under `root`, outside dpkg's database.
fn leftovers(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            if rel == "/var/lib/dpkg" {
                continue;
            }
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

#[test]
fn own_deb_installs_verifies_upgrades_removes_and_purges_in_a_dpkg_root() {
    if !have_build_tools() || !have_tools(&[("deb-systemd-helper", "init-system-helpers")]) {
        return;
    }
    let deb = quietwire_deb().display().to_string();
    let host_before = host_systemd_state();
    let t = dpkg_root(&field(Path::new(&deb), "Depends"));
    let root = t.path();
    let at = |p: &str| root.join(p.trim_start_matches('/'));

    // Install: dependencies satisfied by the stand-ins, the postinst ran in the root.
    let o = dpkg(root, &["-i", &deb], &[]).success();
    assert!(
        o.stdout_str().contains(HINT),
        "the postinst hints at init: {o:?}"
    );
    assert_eq!(status_of(root), "0.1.0-1 ii");
    for dir in ["/var/lib/quietwire", "/var/log/quietwire"] {
        assert_eq!(mode_of(&at(dir)), 0o700, "{dir}");
    }
    assert!(
        !at("/var/lib/quietwire/baseline").exists(),
        "init never runs"
    );
    assert_eq!(
        fs::read_link(at(WANTS)).unwrap(),
        Path::new("/lib/systemd/system/quietwire-check.timer"),
        "the timer is enabled inside the root"
    );
    assert!(at(DSH_STATE).is_file());
    assert_eq!(
        host_systemd_state(),
        host_before,
        "the host's systemd is untouched"
    );
    for (inside, src) in [
        ("/etc/apt/apt.conf.d/80quietwire", "data/apt/quietwire"),
        ("/etc/default/quietwire", "data/sysconfig/quietwire"),
        (
            "/usr/libexec/quietwire/post-transaction",
            "data/quietwire-post-transaction",
        ),
    ] {
        assert_eq!(
            fs::read(at(inside)).unwrap(),
            fs::read(Path::new(REPO).join(src)).unwrap(),
            "{inside}"
        );
    }

    // Its own files verify clean, for dpkg and for quietwire.
    let (d, q, code) = verify_both(root);
    assert_eq!((d.as_slice(), q.as_slice(), code), (&[][..], &[][..], 0));

    // One byte of the installed binary changed (size kept): both report it.
    let bin = at("/usr/bin/quietwire");
    let original = fs::read(&bin).unwrap();
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&bin, &bytes).unwrap();
    let (d, q, code) = verify_both(root);
    assert_eq!(d, ["??5??????   /usr/bin/quietwire"]);
    assert_eq!(q, d);
    assert_eq!(code, 4);
    // The text report says the same, for quietwire's package only.
    let text = run_command(
        Command::new(quietwire_bin())
            .args([
                "check",
                "--no-progress",
                "--owned-only",
                "--package",
                "quietwire",
            ])
            .arg("--root")
            .arg(root),
    );
    let md5 = {
        use md5::{Digest, Md5};
        format!("{:x}", Md5::digest(&bytes))
    };
    // (The stand-ins have no md5sums: `info:` lines, which --package does not filter.)
    let findings: Vec<String> = text
        .lines()
        .into_iter()
        .filter(|l| !l.starts_with("info: package "))
        .collect();
    assert_eq!(
        findings,
        [format!(
            "high: /usr/bin/quietwire: content changed (md5 now {md5}) [package quietwire]"
        )],
        "{text:?}"
    );
    assert_eq!(text.code, 4);
    fs::write(&bin, &original).unwrap();

    // The administrator edits the settings (a conffile) and disables the timer.
    let conf = at("/etc/default/quietwire");
    let mut edited = fs::read_to_string(&conf).unwrap();
    edited.push_str("QUIETWIRE_CHECK_ARGS=\"--mail-to root@localhost\"\n");
    fs::write(&conf, &edited).unwrap();
    fs::remove_file(at(WANTS)).unwrap();
    let (d, q, code) = verify_both(root);
    assert_eq!(d, ["??5?????? c /etc/default/quietwire"]);
    assert_eq!(q, d);
    assert_eq!(code, 4);

    // Upgrade to revision 2 (gzip-compressed: faster to build): the edit and the disabled timer survive, no prompt, no
    // .dpkg-dist; the hook and the apt configuration are in place.
    let rev2_dir = scratch();
    let deb2 = build_deb(rev2_dir.path(), "2", "gzip");
    let o = dpkg(root, &["-i", &deb2.display().to_string()], &[]).success();
    assert_eq!(status_of(root), "0.1.0-2 ii", "{o:?}");
    assert_eq!(fs::read_to_string(&conf).unwrap(), edited);
    for suffix in [".dpkg-dist", ".dpkg-new", ".dpkg-old"] {
        assert!(!at(&format!("/etc/default/quietwire{suffix}")).exists());
    }
    assert!(
        fs::symlink_metadata(at(WANTS)).is_err(),
        "disabled stays disabled"
    );
    assert_eq!(
        mode_of(&at("/usr/libexec/quietwire/post-transaction")),
        0o755
    );
    assert!(fs::read_to_string(at("/etc/apt/apt.conf.d/80quietwire"))
        .unwrap()
        .contains("/usr/libexec/quietwire/post-transaction --apt"));
    let (d, q, code) = verify_both(root);
    assert_eq!(d, ["??5?????? c /etc/default/quietwire"]);
    assert_eq!((q, code), (d, 4));

    // A baseline (here a stand-in: what matters is that the directory holds the
    // administrator's data) and the hook's log. The administrator enables the timer again.
    fs::write(
        at("/var/lib/quietwire/baseline"),
        "the administrator's baseline\n",
    )
    .unwrap();
    fs::write(
        at("/var/log/quietwire/post-transaction.log"),
        "== a hook run\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/lib/systemd/system/quietwire-check.timer", at(WANTS)).unwrap();

    // Remove: the program goes; conffiles, baseline, logs and the enablement stay.
    dpkg(root, &["-r", "quietwire"], &[]).success();
    assert_eq!(status_of(root), "0.1.0-2 rc");
    for gone in [
        "/usr/bin/quietwire",
        "/usr/libexec/quietwire/post-transaction",
        "/lib/systemd/system/quietwire-check.timer",
        "/usr/share/man/man8/quietwire.8.gz",
    ] {
        assert!(!at(gone).exists(), "{gone} removed");
    }
    for kept in [
        "/etc/default/quietwire",
        "/etc/apt/apt.conf.d/80quietwire",
        "/etc/logrotate.d/quietwire",
        "/var/lib/quietwire/baseline",
        "/var/log/quietwire/post-transaction.log",
        DSH_STATE,
    ] {
        assert!(at(kept).exists(), "{kept} kept by remove");
    }
    assert_eq!(fs::read_to_string(&conf).unwrap(), edited);

    // Purge: conffiles, logs and the timer's enablement go; the baseline stays, said so.
    let o = dpkg(root, &["-P", "quietwire"], &[]).success();
    assert!(o.stdout_str().contains(KEPT), "{o:?}");
    assert_eq!(status_of(root), "not installed");
    assert_eq!(leftovers(root), ["/var/lib/quietwire/baseline"]);
    assert_eq!(mode_of(&at("/var/lib/quietwire")), 0o700);

    // Installed again over the kept baseline: no hint; purged with
    // QUIETWIRE_PURGE_BASELINE=yes: nothing left.
    let o = dpkg(root, &["-i", &deb], &[]).success();
    assert!(!o.stdout_str().contains(HINT), "{o:?}");
    assert!(at(WANTS).is_symlink(), "enabled again after a purge");
    let o = dpkg(
        root,
        &["-P", "quietwire"],
        &[("QUIETWIRE_PURGE_BASELINE", "yes")],
    )
    .success();
    assert!(!o.stdout_str().contains(KEPT), "{o:?}");
    assert_eq!(leftovers(root), Vec::<String>::new());

    // Without a baseline, a plain purge leaves nothing either.
    dpkg(root, &["-i", &deb], &[]).success();
    let o = dpkg(root, &["-P", "quietwire"], &[]).success();
    assert!(!o.stdout_str().contains(KEPT), "{o:?}");
    assert_eq!(leftovers(root), Vec::<String>::new());
    assert_eq!(
        host_systemd_state(),
        host_before,
        "the host's systemd is untouched"
    );
}

// ---- the apt hook, run by the real apt ----

/// A one-file `Architecture: all` package built with dpkg-deb into `dir`.
fn dummy_deb(dir: &Path) -> PathBuf {
    let tree = dir.join("qw-dummy");
    fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    fs::create_dir_all(tree.join("opt/qw-dummy")).unwrap();
    fs::write(tree.join("opt/qw-dummy/f"), "dummy\n").unwrap();
    fs::write(
        tree.join("DEBIAN/control"),
        "Package: qw-dummy\nVersion: 1\nArchitecture: all\nMaintainer: test <test@example.org>\n\
         Description: fixture for the apt hook\n",
    )
    .unwrap();
    let deb = dir.join("qw-dummy_1_all.deb");
    run_command(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-b"])
            .arg(&tree)
            .arg(&deb),
    )
    .success();
    deb
}

#[test]
fn apt_reads_the_installed_hook_and_runs_it_after_its_dpkg_run() {
    if !have_build_tools() || !have_tools(&[("apt-get", "apt"), ("unshare", "util-linux")]) {
        return;
    }
    let deb = quietwire_deb().display().to_string();
    let t = dpkg_root(&field(Path::new(&deb), "Depends"));
    let root = t.path();
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    dpkg(root, &["-i", &deb], &[]).success();
    let work_dir = scratch();
    let work = work_dir.path();
    let r = root.display();

    // apt's configuration is that of the root: its apt.conf.d holds only quietwire's hook,
    // whose command apt-config gives back as installed.
    for d in [
        "/var/lib/apt/lists/partial",
        "/var/cache/apt/archives/partial",
        "/etc/apt/sources.list.d",
        "/etc/apt/preferences.d",
    ] {
        fs::create_dir_all(at(d)).unwrap();
    }
    let apt_conf = work.join("apt.conf");
    fs::write(
        &apt_conf,
        format!(
            "Dir \"{r}/\";\n\
             DPkg::Options {{ \"--root={r}\"; \"--force-script-chrootless\"; \"--log=/dev/null\"; }};\n\
             Debug::NoLocking \"true\";\nAPT::Sandbox::User \"root\";\n"
        ),
    )
    .unwrap();
    let dump = run_command(
        Command::new("apt-config")
            .env("APT_CONFIG", &apt_conf)
            .args(["dump", "--format", "%f=%v%n", "DPkg::Post-Invoke"]),
    )
    .success()
    .stdout_str();
    assert_eq!(
        dump.lines().collect::<Vec<_>>(),
        [
            "DPkg::Post-Invoke=",
            "DPkg::Post-Invoke::=if [ -x /usr/libexec/quietwire/post-transaction ]; then \
             /usr/libexec/quietwire/post-transaction --apt </dev/null || true; fi"
        ]
    );

    // The hook's command names /usr/libexec/quietwire: in a private mount namespace that
    // directory is the root's (the host's other /usr/libexec entries stay visible), and the
    // hook's settings point its binary, log and checks at the root. Then a real
    // `apt-get install` of a local package into the root.
    let dummy = dummy_deb(work);
    // The baseline, by the installed binary, so that the hook's check and accept have work.
    let init = run_command(
        Command::new(at("/usr/bin/quietwire"))
            .args(["init", "--root"])
            .arg(root),
    );
    assert_eq!(init.code, 0, "quietwire init on the root: {init:?}");
    let host_had_hook = fs::symlink_metadata("/usr/libexec/quietwire").is_ok();
    let host_libexec = work.join("host-libexec");
    fs::create_dir_all(&host_libexec).unwrap();
    let script = format!(
        "set -e\n\
         mount --bind /usr/libexec '{h}'\n\
         mount -t tmpfs -o mode=0755 quietwire-test /usr/libexec\n\
         for e in '{h}'/*; do ln -s \"$e\" /usr/libexec/; done\n\
         ln -s '{r}/usr/libexec/quietwire' /usr/libexec/quietwire\n\
         exec apt-get install -y -q '{d}'\n",
        h = host_libexec.display(),
        d = dummy.display(),
    );
    let o = run_command(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("LC_ALL", "C")
            .env("APT_CONFIG", &apt_conf)
            .env("QUIETWIRE", at("/usr/bin/quietwire"))
            .env("QUIETWIRE_LOGDIR", at("/var/log/quietwire"))
            .env("QUIETWIRE_SYSCONFIG", at("/etc/default/quietwire"))
            .env("QUIETWIRE_HOOK_ARGS", format!("--root {r}"))
            .stdin(Stdio::null()),
    );
    assert_eq!(o.code, 0, "apt-get in the root: {o:?}");
    assert_eq!(
        fs::read_to_string(at("/opt/qw-dummy/f")).unwrap(),
        "dummy\n",
        "apt installed the package into the root"
    );
    let log = fs::read_to_string(at("/var/log/quietwire/post-transaction.log"))
        .unwrap_or_else(|e| panic!("the hook left no log ({e}): {o:?}"));
    assert_eq!(
        log.matches("quietwire post-transaction check (apt DPkg::Post-Invoke)")
            .count(),
        1,
        "{log}"
    );
    // The hook's check saw the package apt installed, and recorded the new snapshot.
    assert!(log.contains("qw-dummy"), "{log}");
    assert!(log.contains("== accept exit status 0\n"), "{log}");
    let pc = run_command(
        Command::new(at("/usr/bin/quietwire"))
            .args(["check", "--packages-changed", "--no-progress", "--root"])
            .arg(root),
    );
    assert!(
        !pc.stdout_str().contains("qw-dummy"),
        "the snapshot with qw-dummy is recorded: {pc:?}"
    );
    assert_eq!(
        fs::symlink_metadata("/usr/libexec/quietwire").is_ok(),
        host_had_hook,
        "the host's /usr/libexec is untouched"
    );
}
