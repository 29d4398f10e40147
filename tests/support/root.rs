//! `TestRoot`: a throw-away install root with its own passwd/group and sqlite rpmdb, and the
//! real `rpm` run against it. Every rpm call passes `--root R --dbpath /var/lib/rpm` (Debian's
//! rpm would otherwise use `~/.rpmdb`) and runs with `LC_ALL=C`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::packages::build_packages;
use super::run::{run, RpmOutput};

/// The root's `/etc/passwd`. uid 1 is `bin` and uid 2 is `daemon` (as on RHEL; Debian hosts
/// have them swapped, so tests notice a verifier that reads the host's files).
pub const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
alice:x:1000:100:Alice:/home/alice:/bin/sh
bob:x:1001:1001:Bob:/home/bob:/bin/sh
";

/// The root's `/etc/group`.
pub const GROUP: &str = "\
root:x:0:
bin:x:1:
daemon:x:2:
disk:x:6:
users:x:100:alice
bob:x:1001:
";

/// A user name that packages use (`qw-special`) and the root's passwd lacks.
pub const UNKNOWN_USER: &str = "nosuchuser";
/// A group name that packages use (`qw-special`) and the root's group file lacks.
pub const UNKNOWN_GROUP: &str = "nosuchgroup";

/// The mtime of every file in the fixture packages unless the module docs say otherwise
/// (2020-01-01T00:00:00Z).
pub const FIXTURE_MTIME: i64 = 1_577_836_800;

/// The rpmdb location inside every test root.
pub const DBPATH: &str = "/var/lib/rpm";

/// `rpm -qa` query format used by [`TestRoot::rpm_qa`].
pub const QA_FORMAT: &str = "%{DBINSTANCE}\\t%{EPOCH}\\t%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n";

/// A fresh root directory with `etc/passwd`, `etc/group` and an initialised sqlite rpmdb in
/// `var/lib/rpm`. Removed on drop unless `QW_KEEP_ROOTS=1`.
pub struct TestRoot {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TestRoot {
    /// Creates the root and runs `rpm --root R --dbpath /var/lib/rpm --initdb`. Panics (saying
    /// what to install) without `rpm`/`rpmbuild` or without root privileges.
    #[track_caller]
    pub fn new() -> TestRoot {
        super::require_rpm_tools();
        let dir = tempfile::Builder::new()
            .prefix("qw-root-")
            .tempdir()
            .expect("temp root");
        Self::from_tempdir(dir)
    }

    /// Like [`new`](Self::new), but the root is the directory `parent/name` (which must not
    /// exist yet), e.g. one of several images under a common mount directory.
    #[track_caller]
    pub fn new_in(parent: &Path, name: &str) -> TestRoot {
        super::require_rpm_tools();
        let dir = tempfile::Builder::new()
            .prefix(name)
            .rand_bytes(0)
            .tempdir_in(parent)
            .unwrap_or_else(|e| panic!("root {}/{name}: {e}", parent.display()));
        Self::from_tempdir(dir)
    }

    #[track_caller]
    fn from_tempdir(dir: tempfile::TempDir) -> TestRoot {
        let path = dir.path().to_path_buf();
        // tempdir() makes the directory 0700; a real root is 0755 (matters for tests that drop
        // privileges).
        set_mode(&path, 0o755);
        fs::create_dir_all(path.join("etc")).unwrap();
        fs::write(path.join("etc/passwd"), PASSWD).unwrap();
        fs::write(path.join("etc/group"), GROUP).unwrap();
        fs::create_dir_all(path.join("var/lib/rpm")).unwrap();
        let root = if std::env::var_os("QW_KEEP_ROOTS").is_some_and(|v| v == "1") {
            eprintln!("QW_KEEP_ROOTS=1: keeping test root {}", path.display());
            TestRoot {
                dir: None,
                path: dir.keep(),
            }
        } else {
            TestRoot {
                dir: Some(dir),
                path,
            }
        };
        root.rpm(&["--initdb"]).success();
        root
    }

    /// The root directory on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Host path of `abs`, a path inside the root (`"/opt/x"` or `"opt/x"`).
    pub fn join(&self, abs: impl AsRef<Path>) -> PathBuf {
        let p = abs.as_ref();
        self.path.join(p.strip_prefix("/").unwrap_or(p))
    }

    /// Host path of the sqlite rpmdb directory (`R/var/lib/rpm`).
    pub fn dbpath_dir(&self) -> PathBuf {
        self.join(DBPATH)
    }

    /// Sets the mtime (seconds; nanoseconds 0) of `abs` inside the root without following a
    /// final symlink, e.g. to restore [`FIXTURE_MTIME`] after changing a file's content.
    #[track_caller]
    pub fn set_mtime(&self, abs: impl AsRef<Path>, secs: i64) {
        set_mtime_at(&self.join(abs), secs);
    }

    /// Replaces the content of the regular file `abs` inside the root, keeping its mtime
    /// (so only size and digest can change).
    #[track_caller]
    pub fn rewrite_keep_mtime(&self, abs: impl AsRef<Path>, content: impl AsRef<[u8]>) {
        rewrite_keep_mtime_at(&self.join(abs), content);
    }

    /// Creates a FIFO at `abs` inside the root (fixture packages contain none: rpm 4.18 hangs
    /// installing them).
    #[track_caller]
    pub fn mkfifo(&self, abs: impl AsRef<Path>, mode: u32) {
        use std::os::unix::ffi::OsStrExt;
        let p = self.join(abs);
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path without NUL");
        // SAFETY: `c` is a valid NUL-terminated path.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), mode as libc::mode_t) };
        assert_eq!(
            rc,
            0,
            "mkfifo {}: {}",
            p.display(),
            std::io::Error::last_os_error()
        );
    }

    /// Keeps the directory after the test and returns its path (for debugging).
    pub fn keep(mut self) -> PathBuf {
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        self.path.clone()
    }

    /// `rpm --root R --dbpath /var/lib/rpm ARGS...` with `LC_ALL=C`. Does not check the exit code.
    pub fn rpm(&self, args: &[&str]) -> RpmOutput {
        self.rpm_at(DBPATH, &[], args)
    }

    /// `rpm --root R --dbpath DBPATH DEFINES... ARGS...`; `dbpath` is a path inside the root.
    fn rpm_at(&self, dbpath: &str, defines: &[&str], args: &[&str]) -> RpmOutput {
        let mut cmd = Command::new("rpm");
        cmd.env("LC_ALL", "C")
            .arg("--root")
            .arg(&self.path)
            .arg("--dbpath")
            .arg(dbpath);
        for d in defines {
            cmd.arg("--define").arg(d);
        }
        cmd.args(args);
        run(&mut cmd)
    }

    /// `rpm -i --nodeps --noscripts --nosignature` of the fixture packages `keys` (see the
    /// module docs) in one transaction; panics with rpm's output on failure.
    #[track_caller]
    pub fn install(&self, keys: &[&str]) {
        self.install_with(keys, &[]);
    }

    /// [`install`](Self::install) with extra rpm options, e.g. `--replacefiles`,
    /// `--excludedocs`, `--nocaps`, `--excludepath=/opt/x`.
    #[track_caller]
    pub fn install_with(&self, keys: &[&str], extra: &[&str]) {
        self.transaction("-i", keys, extra);
    }

    /// `rpm -U --nodeps --noscripts --nosignature` of one fixture package (e.g. `qw-upgrade-2`).
    #[track_caller]
    pub fn upgrade(&self, key: &str) {
        self.upgrade_with(key, &[]);
    }

    /// [`upgrade`](Self::upgrade) with extra rpm options (e.g. `--oldpackage`, `--force`).
    #[track_caller]
    pub fn upgrade_with(&self, key: &str, extra: &[&str]) {
        self.transaction("-U", &[key], extra);
    }

    /// `rpm -e --nodeps --noscripts NAME` (a package name or NEVRA, not a fixture key).
    #[track_caller]
    pub fn erase(&self, name: &str) {
        self.rpm(&["-e", "--nodeps", "--noscripts", name]).success();
    }

    #[track_caller]
    fn transaction(&self, mode: &str, keys: &[&str], extra: &[&str]) {
        let pkgs = build_packages();
        let paths: Vec<String> = keys
            .iter()
            .map(|k| pkgs.path(k).display().to_string())
            .collect();
        let mut args = vec![mode, "--nodeps", "--noscripts", "--nosignature"];
        args.extend_from_slice(extra);
        args.extend(paths.iter().map(String::as_str));
        self.rpm(&args).success();
    }

    /// `LC_ALL=C rpm -Va --root R --dbpath /var/lib/rpm --nodeps --noscripts`: (stdout lines in
    /// rpm's order, exit code). stderr, if any, is echoed to the test's stderr.
    pub fn rpm_va(&self) -> (Vec<String>, i32) {
        self.verify(&["-Va"])
    }

    /// `rpm -V --nodeps --noscripts PKG` (a package name): (stdout lines, exit code).
    pub fn rpm_v(&self, pkg: &str) -> (Vec<String>, i32) {
        self.verify(&["-V", pkg])
    }

    /// `rpm --nodeps --noscripts ARGS...` for verify runs with other options, e.g.
    /// `&["-Vva"]`, `&["-V", "--nomtime", "qw-files"]`: (stdout lines, exit code).
    pub fn verify(&self, args: &[&str]) -> (Vec<String>, i32) {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--nodeps", "--noscripts"]);
        let o = self.rpm(&all);
        if !o.stderr.is_empty() {
            eprintln!("stderr of {}:\n{}", o.command, o.stderr);
        }
        (o.lines(), o.code)
    }

    /// Installed packages, one line each in rpm's (database) order:
    /// `DBINSTANCE<TAB>EPOCH<TAB>NAME-VERSION-RELEASE.ARCH`, EPOCH `(none)` when absent.
    #[track_caller]
    pub fn rpm_qa(&self) -> Vec<String> {
        self.rpm(&["-qa", "--qf", QA_FORMAT]).success().lines()
    }

    /// `rpm -ql PKG`.
    #[track_caller]
    pub fn rpm_ql(&self, pkg: &str) -> Vec<String> {
        self.rpm(&["-ql", pkg]).success().lines()
    }

    /// `rpm -q --dump PKG`: `path size mtime digest mode owner group isconfig isdoc rdev symlink`.
    #[track_caller]
    pub fn rpm_dump(&self, pkg: &str) -> Vec<String> {
        self.rpm(&["-q", "--dump", pkg]).success().lines()
    }

    /// `rpm -q --qf QF PKG` (stdout as one string), e.g. `"[%{FILEFLAGS}\n]"`.
    #[track_caller]
    pub fn query_format(&self, pkg: &str, qf: &str) -> String {
        self.rpm(&["-q", "--qf", qf, pkg]).success().stdout_str()
    }

    /// Writes a Berkeley DB hash `Packages` copy of the sqlite rpmdb to
    /// `R/var/lib/rpm-bdb-<page_size>-<le|be>/` and returns that host directory. See
    /// [`rpm_bdb`](Self::rpm_bdb) to run rpm on it.
    #[track_caller]
    pub fn to_bdb(&self, page_size: u32, big_endian: bool) -> PathBuf {
        let name = format!(
            "rpm-bdb-{page_size}-{}",
            if big_endian { "be" } else { "le" }
        );
        let dir = self.join("/var/lib").join(name);
        super::bdb::write_bdb_packages(
            &self.dbpath_dir().join("rpmdb.sqlite"),
            &dir,
            page_size,
            big_endian,
        );
        dir
    }

    /// `rpm --root R --dbpath <dir inside R> --define '_db_backend bdb_ro' ARGS...`, where
    /// `bdb_dir` is a host path returned by [`to_bdb`](Self::to_bdb). Only `Packages` exists
    /// there, so rpm warns about missing index files (Name, Basenames, ...) on stderr; `-qa`
    /// works, lookups by name may not.
    pub fn rpm_bdb(&self, bdb_dir: &Path, args: &[&str]) -> RpmOutput {
        let inside = bdb_dir.strip_prefix(&self.path).unwrap_or_else(|_| {
            panic!(
                "{} is not inside the root {}",
                bdb_dir.display(),
                self.path.display()
            )
        });
        let dbpath = format!("/{}", inside.display());
        self.rpm_at(&dbpath, &["_db_backend bdb_ro"], args)
    }

    /// [`rpm_qa`](Self::rpm_qa) read through the BDB copy in `bdb_dir`.
    #[track_caller]
    pub fn rpm_qa_bdb(&self, bdb_dir: &Path) -> Vec<String> {
        self.rpm_bdb(bdb_dir, &["-qa", "--qf", QA_FORMAT])
            .success()
            .lines()
    }
}

impl TestRoot {
    /// Write `/etc/quietwire/policy.toml` in the root: the embedded policy plus an allow-list of
    /// unsigned packages (the fixture packages are local builds without a vendor signature,
    /// which quietwire reports by default since issue 7).
    pub fn allow_unsigned(&self, patterns: &str) {
        let dir = self.join("/etc/quietwire");
        fs::create_dir_all(&dir).expect("create etc/quietwire");
        fs::write(
            dir.join("policy.toml"),
            format!("version = 1\n[signatures]\nunsigned_allowed = [{patterns}]\n"),
        )
        .expect("write policy override");
    }
}

impl AsRef<Path> for TestRoot {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Sets the mtime (seconds; nanoseconds 0) of the host path `p` without following a final
/// symlink; the access time is left alone.
#[track_caller]
pub fn set_mtime_at(p: &Path, secs: i64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path without NUL");
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: 0,
        },
    ];
    // SAFETY: `c` is a valid NUL-terminated path and `times` has the two entries utimensat reads.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(
        rc,
        0,
        "utimensat {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// Replaces the content of the regular file at host path `p`, keeping its mtime in seconds.
#[track_caller]
pub fn rewrite_keep_mtime_at(p: &Path, content: impl AsRef<[u8]>) {
    use std::os::unix::fs::MetadataExt;
    let mtime = fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mtime();
    fs::write(p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    set_mtime_at(p, mtime);
}
