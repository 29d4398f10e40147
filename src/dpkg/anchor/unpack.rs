//! Decompression of what apt and dpkg store compressed (index files, `.deb` control members),
//! chosen by the file name's suffix and bounded: a small hostile file must not expand into
//! memory without limit.

use std::io::{BufRead, Read, Write};

/// The compressions apt stores indexes with and `dpkg-deb` builds control members with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Lz4,
    Zstd,
}

impl Compression {
    /// The compression a name's suffix says, and the name without it; the name itself when it
    /// has none of ours (`.bz2` stays part of the stem).
    pub fn of(name: &str) -> (Compression, &str) {
        let table = [
            (".gz", Compression::Gzip),
            (".xz", Compression::Xz),
            (".lz4", Compression::Lz4),
            (".zst", Compression::Zstd),
        ];
        for (suffix, c) in table {
            if let Some(stem) = name.strip_suffix(suffix) {
                return (c, stem);
            }
        }
        (Compression::None, name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// A writer that refuses to hold more than `max` bytes.
struct Bounded {
    buf: Vec<u8>,
    max: usize,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            return Err(std::io::Error::other(format!(
                "expands to more than {} bytes",
                self.max
            )));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read_bounded(mut r: impl Read, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Bounded {
        buf: Vec::new(),
        max,
    };
    std::io::copy(&mut r, &mut out).map_err(|e| e.to_string())?;
    Ok(out.buf)
}

/// Decompress `data` (whole, in memory) to at most `max` bytes; a one-line reason otherwise.
pub fn decompress(c: Compression, data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let why = |e: String| format!("cannot decompress ({}): {e}", c.name());
    match c {
        Compression::None => match data.len() > max {
            true => Err(format!("larger than {max} bytes")),
            false => Ok(data.to_vec()),
        },
        Compression::Gzip => {
            read_bounded(flate2::read::MultiGzDecoder::new(data), max).map_err(why)
        }
        Compression::Lz4 => {
            read_bounded(lz4_flex::frame::FrameDecoder::new(data), max).map_err(why)
        }
        Compression::Zstd => ruzstd::decoding::StreamingDecoder::new(data)
            .map_err(|e| e.to_string())
            .and_then(|d| read_bounded(d, max))
            .map_err(why),
        Compression::Xz => {
            // lzma-rs decodes xz only into a writer.
            let mut input: &[u8] = data;
            let mut out = Bounded {
                buf: Vec::new(),
                max,
            };
            lzma_rs::xz_decompress(&mut (&mut input as &mut dyn BufRead), &mut out)
                .map_err(|e| why(e.to_string()))?;
            Ok(out.buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(
            Compression::of("deb.debian.org_debian_dists_x_main_binary-amd64_Packages.lz4"),
            (
                Compression::Lz4,
                "deb.debian.org_debian_dists_x_main_binary-amd64_Packages"
            )
        );
        assert_eq!(
            Compression::of("deb.debian.org_x_Packages"),
            (Compression::None, "deb.debian.org_x_Packages")
        );
        assert_eq!(
            Compression::of("x_Packages.bz2"),
            (Compression::None, "x_Packages.bz2")
        );
    }

    #[test]
    fn gzip_bomb_is_bounded() {
        use flate2::write::GzEncoder;
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 1 << 20]).unwrap();
        let z = e.finish().unwrap();
        let err = decompress(Compression::Gzip, &z, 1000).unwrap_err();
        assert!(err.contains("more than 1000 bytes"), "{err}");
        assert_eq!(
            decompress(Compression::Gzip, &z, 1 << 20).unwrap().len(),
            1 << 20
        );
    }

    #[test]
    fn lz4_round_trip_and_garbage() {
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(b"Package: a\n").unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(
            decompress(Compression::Lz4, &z, 100).unwrap(),
            b"Package: a\n"
        );
        assert!(decompress(Compression::Lz4, b"garbage", 100).is_err());
        assert!(decompress(Compression::Xz, b"garbage", 100).is_err());
        assert!(decompress(Compression::Zstd, b"garbage", 100).is_err());
    }
}
