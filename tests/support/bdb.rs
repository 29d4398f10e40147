//! Berkeley DB copies of a sqlite rpmdb, made with `db5.3_load` (db5.3-util): a hash database
//! `Packages` whose keys are the package numbers (hnum) as 4 bytes in the file's byte order,
//! whose values are the header blobs, and whose key 0 holds the highest hnum, as rpm's BDB
//! backend wrote them. Debian's rpm reads them with `--define '_db_backend bdb_ro'`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use super::run::{require_tool, run};

/// Writes `out_dir/Packages` (replacing it) from the `Packages` table of `sqlite`.
#[track_caller]
pub fn write_bdb_packages(sqlite: &Path, out_dir: &Path, page_size: u32, big_endian: bool) {
    require_tool("db5.3_load", "db5.3-util");
    assert!(
        page_size.is_power_of_two() && (512..=65536).contains(&page_size),
        "BDB page size must be a power of two in 512..=65536, got {page_size}"
    );
    let conn =
        rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", sqlite.display()));
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    let rows: Vec<(u32, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("read Packages from {}: {e}", sqlite.display()));

    let key = |n: u32| {
        if big_endian {
            n.to_be_bytes()
        } else {
            n.to_le_bytes()
        }
    };
    let mut dump = format!(
        "VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize={page_size}\ndb_lorder={}\nHEADER=END\n",
        if big_endian { 4321 } else { 1234 }
    );
    let max = rows.iter().map(|(h, _)| *h).max().unwrap_or(0);
    let mut push = |k: &[u8], v: &[u8]| {
        writeln!(dump, " {}\n {}", hex::encode(k), hex::encode(v)).unwrap();
    };
    push(&key(0), &key(max));
    for (hnum, blob) in &rows {
        push(&key(*hnum), blob);
    }
    dump.push_str("DATA=END\n");

    fs::create_dir_all(out_dir).unwrap();
    let packages = out_dir.join("Packages");
    let _ = fs::remove_file(&packages);
    let dump_path = out_dir.join("Packages.dump");
    fs::write(&dump_path, dump).unwrap();
    run(Command::new("db5.3_load")
        .arg("-f")
        .arg(&dump_path)
        .arg(&packages))
    .success();
    fs::remove_file(&dump_path).unwrap();
}
