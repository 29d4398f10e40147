//! Test support: real RPMs built from `tests/specs/*.spec`, throw-away install roots with an
//! rpmdb, the real `rpm` run against them, Berkeley DB copies of that rpmdb, and a line-diff
//! assertion. Integration tests include it with
//!
//! ```ignore
//! mod support;                      // tests/support/mod.rs
//! use support::{build_packages, TestRoot, assert_lines_eq_sorted};
//! ```
//!
//! (`mod support;` in a file directly under `tests/` finds `tests/support/mod.rs`; cargo does
//! not treat `tests/support/` as a test target of its own.) The module also brings in
//! `tests/common/mod.rs`, re-exported as [`require_rpm_tools`] and [`rpmdb_fixtures`], so a test
//! does not need `mod common;` as well.
//!
//! Everything here needs real root and Debian's `rpm` 4.18 (`rpm`, `rpmbuild`; `db5.3_load`
//! from `db5.3-util` for [`TestRoot::to_bdb`]). Without them the helpers **panic with a message
//! saying what to install**; they never skip silently.
//!
//! # A typical test
//!
//! ```ignore
//! let root = TestRoot::new();
//! root.install(&["qw-files"]);
//! std::fs::write(root.join("/opt/qw-files/reg"), "tampered\n").unwrap();
//! let (lines, code) = root.rpm_va();
//! assert_lines_eq_sorted("rpm -Va", &["S.5....T.    /opt/qw-files/reg"], &lines);
//! assert_eq!(code, 1);
//! ```
//!
//! # API
//!
//! - [`build_packages`]`() -> &'static Packages`; [`Packages::path`]`(key) -> &Path`,
//!   [`Packages::keys`], [`Packages::query`]`(key, qf) -> String` (`rpm -qp --qf`).
//! - [`TestRoot::new`], [`TestRoot::new_in`]`(parent, name)`; `path()`, `join("/abs")`, `dbpath_dir()`, `keep()`;
//!   `install(&[keys])`, `install_with(&[keys], &[extra rpm args])`, `upgrade(key)`,
//!   `upgrade_with(key, extra)`, `erase(name)`;
//!   `rpm_va() -> (lines, code)`, `rpm_v(pkg)`, `verify(&[args])` (adds `--nodeps --noscripts`);
//!   `rpm_qa() -> Vec<String>` (`DBINSTANCE\tEPOCH\tN-V-R.A`), `rpm_ql(pkg)`, `rpm_dump(pkg)`,
//!   `query_format(pkg, qf) -> String`, `rpm(&[args]) -> RpmOutput` (anything else);
//!   `to_bdb(page_size, big_endian) -> PathBuf`, `rpm_bdb(&dir, &[args]) -> RpmOutput`,
//!   `rpm_qa_bdb(&dir)`; tampering helpers `set_mtime("/abs", secs)` (no follow),
//!   `rewrite_keep_mtime("/abs", bytes)`, `mkfifo("/abs", mode)`.
//! - [`assert_lines_eq`]`(what, &expected, &got)` (ordered) and [`assert_lines_eq_sorted`].
//! - [`require_rpm_tools`], [`require_tool`]`(tool, debian_package)`, [`run_command`]`(&mut
//!   Command) -> RpmOutput` (captured, with a hang guard), [`quietwire_bin`].
//!
//! # Packages (`build_packages().path(KEY)`; KEY = spec file stem)
//!
//! All files carry the fixed mtime 2020-01-01T00:00:00Z (1577836800) unless noted, so a test can
//! restore a tampered file's mtime to that value. Everything verifies clean after install
//! (`rpm -Va` prints nothing, exit 0) in a [`TestRoot`].
//!
//! | key | NEVRA | covers |
//! |---|---|---|
//! | `qw-files` | qw-files-1.0-1.noarch | SHA-256; file flags and `%verify` masks (below); **no FILECAPS tag** |
//! | `qw-special` | qw-special-1.0-1.noarch | owners, modes, links, devices, caps (below) |
//! | `qw-shared-a` | qw-shared-a-1.0-1.noarch | `/opt/qw-shared/shared` ("same\n", mtime 2020-01-01) |
//! | `qw-shared-b` | qw-shared-b-1.0-1.noarch | same path, same content, mtime 2021-01-01 (shared-file mtime rule: no `T`) |
//! | `qw-shared-c` | qw-shared-c-1.0-1.noarch | same path, **different** content ("different\n"): conflicts; install with `--replacefiles` to get the `(replaced)` state in a/b |
//! | `qw-md5` | qw-md5-1.0-1.noarch | MD5 digests, **no FILEDIGESTALGO tag** (CentOS 5/6 style) |
//! | `qw-sha512` | qw-sha512-1.0-1.<host arch> | SHA-512 (FILEDIGESTALGO 10); the only arch-specific package |
//! | `qw-upgrade-1` | qw-upgrade-1.0-1.noarch | upgrade base (mtime 2020-01-02) |
//! | `qw-upgrade-2` | qw-upgrade-2.0-1.noarch | `rpm -U` target (mtime 2020-01-03): see below |
//!
//! [`INSTALL_ALL`] lists the keys that install together without conflicts (all but
//! `qw-shared-c` and `qw-upgrade-2`).
//!
//! **qw-files** (`/opt/qw-files/…` unless absolute):
//! `reg` ("regular\n"), `empty` (0 bytes), `big` (300000 × 'q', more than one 128 KiB read),
//! `exec` (0755 script), `%config %doc cfgdoc` (attribute letter `d`), `%doc doc`,
//! `%doc README` → `/usr/share/doc/qw-files-1.0/README` (plus that directory),
//! `%license lic`, `%license LICENSE` → `/usr/share/licenses/qw-files-1.0/LICENSE`,
//! `%readme readme` (`r`), `%ghost ghost` (present at build, not installed),
//! `%ghost %attr(0640,root,root) /var/log/qw-files.log` (absent at build), `%ghost %dir ghostdir`,
//! `%missingok missingok` (`m`), `%artifact artifact` (`a`),
//! `%verify(not md5 size mtime) v-nomd5` (vflags 0xffffffdc),
//! `%verify(mode md5 size mtime) v-only` (0x63), `%verify(not mode) v-notmode` (0xffffffbf),
//! `%verify(not user group) v-notowner` (0xffffffe7),
//! `%verify(not md5 size link mtime mode user group rdev caps) v-none` (0xfffffe00),
//! `with space.txt`, `%dir dir with space`, `dir with space/inner file`, `café-ünï.txt`,
//! `日本語.txt`; `%dir /etc/qw-files`, `%config /etc/qw-files/replace.conf`,
//! `%config(noreplace) /etc/qw-files/noreplace.conf` (`c`),
//! `%config(missingok) /etc/qw-files/missingok.conf` (`c`).
//! After install, `rpm -Vva` shows `missing   g` for `ghost`, `ghostdir` and
//! `/var/log/qw-files.log`.
//!
//! **qw-special** (`/opt/qw-special/…`): `%dir dir`, `%attr(0700) %dir privdir`,
//! `%attr(1777) %dir sticky`, `%dir ddir` + `ddir/inner` (replace `ddir` by a symlink for the
//! 4.14.2+ directory-symlink rule), `reg`, `%attr(4755,root,root) suid-root`,
//! `%attr(2755,root,bin) sgid-bin`, `%attr(6755,root,root) suidsgid`,
//! `%attr(4755,nosuchuser,root) suid-unknown` and `%attr(2755,root,nosuchgroup) sgid-unknown`
//! (installed root-owned *without* the bit; verify clean), `%attr(0644,nosuchuser,nosuchgroup)
//! unknown-owner`, `%attr(0640,bin,daemon) owned-bin` (root's uid 1 / gid 2 — the host's Debian
//! passwd has them the other way round, so a verifier that reads the host's passwd fails),
//! `%attr(0600,alice,users) owned-alice` (1000:100), hardlinks `hl1` `hl2` `hl3`, symlinks
//! `link -> reg`, `abslink -> /opt/qw-special/reg`, `dangling -> does-not-exist`,
//! `dirlink -> dir`, `dotlink -> ../qw-special/dir/../reg`,
//! `%attr(0666,root,root) %dev(c,1,3) cdev` (FILERDEVS 259), `%attr(0660,root,disk)
//! %dev(b,7,0) bdev` (1792), `%caps(cap_net_raw=ep) capf`, `%caps(=) capempty`,
//! `%caps(cap_net_bind_service,cap_net_raw=eip) capmulti`, `nocaps` (FILECAPS "").
//! No FIFO: rpm 4.18 hangs installing one; make FIFOs by hand (`libc::mkfifo`) in a root.
//!
//! **qw-md5 / qw-sha512** (`/opt/qw-<x>/…`): `%dir sub`, `reg`, `empty`, `big` (200000 bytes),
//! `sub/file`, `link -> reg`, `%config(noreplace) /etc/qw-<x>.conf`.
//!
//! **qw-upgrade** (`/opt/qw-upgrade/…`), 1.0 → 2.0: `same` (same content, new mtime),
//! `changed` ("one\n" → "two\n"), `changed-target` (unchanged), `link` (`-> same` → `-> changed`),
//! `modechange` (0644 → 0755), `removed-in-2` (1.0 only), `added-in-2` (2.0 only),
//! `%config(noreplace) /etc/qw-upgrade/noreplace.conf` ("noreplace=1\n" → "noreplace=2\n";
//! edited before the upgrade, it stays and 2.0's lands in `.rpmnew`),
//! `%config /etc/qw-upgrade/replace.conf` (edited before the upgrade: saved as `.rpmsave`),
//! `%config(noreplace) /etc/qw-upgrade/stable.conf` (identical in both).
//!
//! # Roots
//!
//! [`TestRoot::new`] makes a fresh temporary root with `etc/passwd` ([`PASSWD`]: root 0, bin 1,
//! daemon 2, alice 1000, bob 1001) and `etc/group` ([`GROUP`]: root 0, bin 1, daemon 2, disk 6,
//! users 100, bob 1001) — but **not** [`UNKNOWN_USER`] / [`UNKNOWN_GROUP`] — and an empty sqlite
//! rpmdb in `var/lib/rpm`. All rpm calls use `--root R --dbpath /var/lib/rpm` and `LC_ALL=C`.
//! Set `QW_KEEP_ROOTS=1` to keep roots after the test (their paths are printed).
//!
//! The built packages are cached in `$CARGO_TARGET_TMPDIR/qw-rpms/<hash of the spec files and
//! rpmbuild version>/`, so test binaries and test processes (nextest) share one build; a change
//! to any spec file makes a new build.
#![allow(dead_code, unused_imports)]

#[path = "../common/mod.rs"]
mod common;

mod bdb;
mod diff;
mod packages;
mod root;
mod run;

pub use common::{quietwire_bin, qw, qw_cmd, require_rpm_tools, rpmdb_fixtures};
pub use diff::{assert_lines_eq, assert_lines_eq_sorted};
pub use packages::{build_packages, Packages, INSTALL_ALL};
pub use root::{
    rewrite_keep_mtime_at, set_mtime_at, TestRoot, FIXTURE_MTIME, GROUP, PASSWD, UNKNOWN_GROUP,
    UNKNOWN_USER,
};
pub use run::{have_tools, require_tool, run as run_command, RpmOutput};

/// Command output as text, lossily.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A stand-in for sendmail in `dir` that saves its arguments (`dir/args`) and the message
/// (`dir/message`) and exits with `code`.
pub fn fake_sendmail(dir: &std::path::Path, code: i32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{d}/args'\ncat > '{d}/message'\nexit {code}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}
