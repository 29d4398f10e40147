//! Per-file metadata as one tab-separated line per file, from `rpm --qf` and from quietwire's
//! model, so the two can be compared line for line.
#![allow(dead_code)]

use quietwire::rpmdb::{self, Database};

/// Every per-file attribute the model carries, in `rpm --queryformat` form.
pub const FILE_QF: &str = "[%{=DBINSTANCE}\\t%{FILENAMES}\\t%{FILEMODES}\\t%{LONGFILESIZES}\\t%{FILEDIGESTS}\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILEMTIMES}\\t%{FILERDEVS}\\t%{FILELINKTOS}\\t%{FILEFLAGS}\\t%{FILEVERIFYFLAGS}\\t%{FILESTATES}\\t%{FILECAPS}\\t%{FILECOLORS}\\t%{FILEINODES}\\n]";

/// rpm's output of [`FILE_QF`], with "(none)" for an absent FILECOLORS shown as 0 like the model.
pub fn normalise_rpm(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let mut cols: Vec<&str> = l.split('\t').collect();
            if let Some(c) = cols.get_mut(14) {
                if *c == "(none)" {
                    *c = "0";
                }
            }
            cols.join("\t")
        })
        .collect()
}

/// The model's lines for every file of every package, in database and header order.
pub fn our_file_lines(db: &Database) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let mut lines = Vec::new();
    for p in &db.packages {
        for f in &p.files {
            lines.push(format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                p.hnum,
                String::from_utf8_lossy(f.path().as_os_str().as_bytes()),
                f.mode(),
                f.size(),
                f.digest_hex(),
                f.user(),
                f.group(),
                f.mtime(),
                f.rdev(),
                String::from_utf8_lossy(f.linkto()),
                f.flags(),
                f.verify_flags(),
                match f.state() {
                    rpmdb::FileState::Missing => "(none)".to_string(),
                    rpmdb::FileState::Normal => "0".into(),
                    rpmdb::FileState::Replaced => "1".into(),
                    rpmdb::FileState::NotInstalled => "2".into(),
                    rpmdb::FileState::NetShared => "3".into(),
                    rpmdb::FileState::WrongColor => "4".into(),
                    rpmdb::FileState::Unknown(v) => v.to_string(),
                },
                if p.files.iter().all(|f| f.caps().is_empty()) && f.caps().is_empty() {
                    "(none)".to_string()
                } else {
                    f.caps().to_string()
                },
                f.color(),
                f.inode(),
            ));
        }
    }
    lines
}
