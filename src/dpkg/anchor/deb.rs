//! The `md5sums` a `.deb` ships: the archive is `ar` (`debian-binary`, then
//! `control.tar[.gz|.xz|.zst]`, then `data.tar.*`); the control member is a tar holding
//! `./md5sums`. Read as a stream that also hashes the whole file, so a `.deb` of hundreds of MiB
//! is read once and never held in memory; only the control member is kept, bounded.
//!
//! Everything here is hostile input (a `.deb` in the cache is root-writable): every size is
//! checked against the bytes present and a bound, and a bad archive is a one-line reason.

use super::unpack::{decompress, Compression};
use sha2::{Digest, Sha256};
use std::io::Read;

/// Largest control member (compressed or not) and largest control tar once decompressed: a
/// control area is a few KiB; the largest in Debian (md5sums of big data packages) a few MiB.
pub const MAX_CONTROL: u64 = 64 << 20;
/// Largest `md5sums` kept from the control tar (as for the installed one).
pub const MAX_MD5SUMS: u64 = crate::dpkg::MAX_INFO_BYTES;
/// Members read before the control member: `debian-binary` and a few `_`-prefixed extras,
/// which dpkg-deb allows there.
const MAX_MEMBERS_BEFORE_CONTROL: usize = 8;

/// What reading a `.deb` gave: the SHA-256 of the whole file, and the control area's
/// `md5sums` (`Ok(None)`: the package ships none) or why the archive is bad.
#[derive(Debug)]
pub struct Scanned {
    /// `None` when the ar structure before the control member is already invalid: the rest of
    /// the file is then not read, since no digest can make it a usable `.deb`.
    pub sha256: Option<String>,
    pub md5sums: Result<Option<Vec<u8>>, String>,
}

/// Hashes everything read through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Read `r` to its end: hash it, and take the `md5sums` out of its control member. An I/O
/// error is the only `Err`; a malformed archive is `Scanned::md5sums`'s `Err`.
pub fn scan(r: impl Read) -> std::io::Result<Scanned> {
    let mut h = Hashing {
        inner: r,
        hash: Sha256::new(),
    };
    let (name, body) = match read_control(&mut h) {
        Ok(c) => c,
        Err(Bad::Io(e)) => return Err(e),
        Err(Bad::Format(why)) => {
            return Ok(Scanned {
                sha256: None,
                md5sums: Err(why),
            })
        }
    };
    // The rest (data.tar) only feeds the hash.
    std::io::copy(&mut h, &mut std::io::sink())?;
    Ok(Scanned {
        sha256: Some(hex::encode(h.hash.finalize())),
        md5sums: md5sums_of_control(&name, &body),
    })
}

enum Bad {
    Io(std::io::Error),
    Format(String),
}

impl From<String> for Bad {
    fn from(s: String) -> Bad {
        Bad::Format(s)
    }
}

/// Fill `buf` or say how many bytes were there.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, Bad> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Bad::Io(e)),
        }
    }
    Ok(got)
}

/// One `ar` member header: name and data size.
fn member_header(h: &[u8; 60], index: usize) -> Result<(String, u64), String> {
    if &h[58..60] != b"`\n" {
        return Err(format!("ar member {index}: bad header terminator"));
    }
    let name = String::from_utf8_lossy(&h[..16]).trim_end().to_string();
    let name = name.strip_suffix('/').unwrap_or(&name).to_string();
    let size_field = std::str::from_utf8(&h[48..58])
        .map_err(|_| format!("ar member {index} ({name}): size is not ASCII"))?
        .trim_end();
    let size = size_field
        .parse::<u64>()
        .map_err(|_| format!("ar member {index} ({name}): bad size {size_field:?}"))?;
    Ok((name, size))
}

/// The control member's name and bytes.
fn read_control(r: &mut impl Read) -> Result<(String, Vec<u8>), Bad> {
    let mut magic = [0u8; 8];
    if read_full(r, &mut magic)? != 8 || &magic != b"!<arch>\n" {
        return Err("not an ar archive (no !<arch> magic)".to_string().into());
    }
    for index in 1..=MAX_MEMBERS_BEFORE_CONTROL + 1 {
        let mut hdr = [0u8; 60];
        match read_full(r, &mut hdr)? {
            60 => {}
            0 => {
                return Err("ar archive ends before a control.tar member"
                    .to_string()
                    .into())
            }
            n => {
                return Err(format!("ar member {index}: truncated header ({n} of 60 bytes)").into())
            }
        }
        let (name, size) = member_header(&hdr, index)?;
        if index == 1 && name != "debian-binary" {
            return Err(format!("first ar member is {name:?}, not debian-binary").into());
        }
        // Members are padded to an even length.
        let padded = size + (size & 1);
        if name.starts_with("control.tar") {
            if size > MAX_CONTROL {
                return Err(format!("{name}: {size} bytes, more than {MAX_CONTROL}").into());
            }
            let mut body = vec![0u8; size as usize];
            let got = read_full(r, &mut body)?;
            if got as u64 != size {
                return Err(format!("{name}: truncated ({got} of {size} bytes)").into());
            }
            return Ok((name, body));
        }
        if index == 1 {
            let mut body = vec![0u8; size.min(16) as usize];
            read_full(r, &mut body)?;
            if size > 16 || !body.starts_with(b"2.") {
                return Err("debian-binary is not a 2.x format version"
                    .to_string()
                    .into());
            }
            skip(r, padded - size, &name)?;
            continue;
        }
        if !name.starts_with('_') {
            return Err(format!("unexpected ar member {name:?} before control.tar").into());
        }
        skip(r, padded, &name)?;
    }
    Err(format!("no control.tar among the first {MAX_MEMBERS_BEFORE_CONTROL} ar members").into())
}

fn skip(r: &mut impl Read, n: u64, name: &str) -> Result<(), Bad> {
    let got = std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(Bad::Io)?;
    if got != n {
        return Err(format!("{name}: truncated ({got} of {n} bytes)").into());
    }
    Ok(())
}

/// The `md5sums` file of a control member (`control.tar` with `name`'s compression).
pub fn md5sums_of_control(name: &str, body: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let compression = match name.strip_prefix("control.tar") {
        Some("") => Compression::None,
        Some(".gz") => Compression::Gzip,
        Some(".xz") => Compression::Xz,
        Some(".zst") => Compression::Zstd,
        _ => return Err(format!("unsupported control member {name:?}")),
    };
    let tar =
        decompress(compression, body, MAX_CONTROL as usize).map_err(|e| format!("{name}: {e}"))?;
    tar_member(&tar, "md5sums").map_err(|e| format!("{name}: {e}"))
}

/// An octal tar number field (NUL/space padded). Base-256 sizes are refused: no control file
/// is 8 GiB.
fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// The body of the regular file `want` (with or without `./`) in a ustar/GNU tar image.
pub fn tar_member(tar: &[u8], want: &str) -> Result<Option<Vec<u8>>, String> {
    let mut at = 0usize;
    let mut long_name: Option<Vec<u8>> = None;
    while let Some(hdr) = tar.get(at..at + 512) {
        if hdr.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let size = octal(&hdr[124..136]).ok_or_else(|| format!("tar header at {at}: bad size"))?;
        let typ = hdr[156];
        let start = at + 512;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= tar.len())
            .ok_or_else(|| format!("tar member at {at}: {size} bytes run past the end"))?;
        let body = &tar[start..end];
        let name = match long_name.take() {
            Some(n) => n,
            None => {
                let base = &hdr[..100];
                let base = &base[..base.iter().position(|&b| b == 0).unwrap_or(100)];
                let prefix = &hdr[345..500];
                let prefix = &prefix[..prefix.iter().position(|&b| b == 0).unwrap_or(155)];
                match (&hdr[257..262] == b"ustar", prefix.is_empty()) {
                    (true, false) => [prefix, b"/", base].concat(),
                    _ => base.to_vec(),
                }
            }
        };
        match typ {
            // GNU long name: the body names the next member.
            b'L' => {
                let n = &body[..body.iter().position(|&b| b == 0).unwrap_or(body.len())];
                long_name = Some(n.to_vec());
            }
            b'0' | 0 => {
                let n = name.strip_prefix(b"./").unwrap_or(&name);
                if n == want.as_bytes() {
                    if size > MAX_MD5SUMS {
                        return Err(format!("{want}: {size} bytes, more than {MAX_MD5SUMS}"));
                    }
                    return Ok(Some(body.to_vec()));
                }
            }
            _ => {}
        }
        at = end
            .checked_add(511)
            .map(|e| e / 512 * 512)
            .ok_or_else(|| "tar offset overflow".to_string())?;
    }
    // A tar without its end-of-archive blocks: dpkg-deb always writes them.
    match at >= tar.len() {
        true => Ok(None),
        false => Err(format!("tar truncated at byte {at}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar_member(name: &str, body: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            "100644",
            body.len()
        )
        .into_bytes();
        v.extend_from_slice(body);
        if body.len() % 2 == 1 {
            v.push(b'\n');
        }
        v
    }

    fn tar_with(name: &str, body: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{:011o}\0", body.len());
        h[124..136].copy_from_slice(size.as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        let mut v = h;
        v.extend_from_slice(body);
        v.resize(v.len().div_ceil(512) * 512, 0);
        v.extend_from_slice(&[0u8; 1024]);
        v
    }

    fn deb(control: &[u8]) -> Vec<u8> {
        let mut v = b"!<arch>\n".to_vec();
        v.extend(ar_member("debian-binary", b"2.0\n"));
        v.extend(ar_member("control.tar", control));
        v.extend(ar_member("data.tar", &[0u8; 1024]));
        v
    }

    #[test]
    fn finds_md5sums_and_hashes_all() {
        let sums = b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n";
        let d = deb(&tar_with("./md5sums", sums));
        let s = scan(&d[..]).unwrap();
        assert_eq!(s.md5sums.unwrap().unwrap(), sums);
        assert_eq!(s.sha256, Some(hex::encode(Sha256::digest(&d))));
        let none = scan(&deb(&tar_with("./control", b"Package: x\n"))[..]).unwrap();
        assert_eq!(none.md5sums.unwrap(), None);
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_with(
            "./md5sums",
            b"d41d8cd98f00b204e9800998ecf8427e  x\n",
        ))
        .unwrap();
        let control = gz.finish().unwrap();
        let mut good = b"!<arch>\n".to_vec();
        good.extend(ar_member("debian-binary", b"2.0\n"));
        good.extend(ar_member("control.tar.gz", &control));
        assert!(scan(&good[..]).unwrap().md5sums.unwrap().is_some());
        // A fixed LCG: the same corruptions on every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut d = good.clone();
            for _ in 0..1 + (x % 4) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let at = (x >> 33) as usize % d.len();
                d[at] = (x >> 17) as u8;
            }
            let _ = scan(&d[..]).unwrap();
        }
    }

    #[test]
    fn hostile_archives_are_reasons() {
        let good = deb(&tar_with("./md5sums", b"x"));
        // Every truncation is a reason or a clean "no md5sums", never a panic.
        for n in 0..good.len() {
            let _ = scan(&good[..n]).unwrap();
        }
        let err = scan(&good[..good.len() / 2]).unwrap().md5sums.unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let mut huge = b"!<arch>\n".to_vec();
        huge.extend(ar_member("debian-binary", b"2.0\n"));
        huge.extend(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                "control.tar.gz", 0, 0, 0, "100644", "9999999999"
            )
            .bytes(),
        );
        let err = scan(&huge[..]).unwrap().md5sums.unwrap_err();
        assert!(err.contains("more than"), "{err}");
        let err = scan(&b"junk"[..]).unwrap().md5sums.unwrap_err();
        assert!(err.contains("not an ar archive"), "{err}");
        // Nothing past a bad ar structure is read: a huge file of junk costs nothing.
        let mut junk = std::io::repeat(b'x').take(1 << 30);
        let s = scan(&mut junk).unwrap();
        assert!(s.sha256.is_none() && s.md5sums.is_err());
        assert!(junk.limit() > (1 << 30) - 4096, "{} left", junk.limit());
        // A tar member claiming more bytes than the image holds.
        let mut t = tar_with("./md5sums", b"abc");
        t[124..136].copy_from_slice(b"77777777777\0");
        assert!(tar_member(&t, "md5sums")
            .unwrap_err()
            .contains("past the end"));
    }
}
