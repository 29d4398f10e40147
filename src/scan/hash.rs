//! Content digests in a package's algorithm, read once with a large per-thread buffer.
//!
//! Owns no policy: callers decide which algorithm and which descriptor. Never opens files.

use crate::rpmdb::DigestAlgo;
use std::cell::RefCell;
use std::io::Read;

/// Read buffer size: large reads keep syscall overhead negligible next to hashing.
pub const BUF_SIZE: usize = 256 * 1024;

/// Longest digest we produce (SHA-512).
pub const MAX_DIGEST: usize = 64;

/// A computed digest (inline, no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    bytes: [u8; MAX_DIGEST],
    len: usize,
}

impl Digest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algo: DigestAlgo) -> Hasher {
        use sha2::Digest as _;
        match algo {
            // rpm hashes an algorithm its crypto backend does not know as MD5.
            DigestAlgo::Md5 | DigestAlgo::Unknown(_) => Hasher::Md5(md5::Md5::new()),
            DigestAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            DigestAlgo::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            DigestAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            DigestAlgo::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            DigestAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        use sha2::Digest as _;
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> Digest {
        use sha2::Digest as _;
        let mut out = Digest {
            bytes: [0; MAX_DIGEST],
            len: 0,
        };
        let mut put = |b: &[u8]| {
            out.bytes[..b.len()].copy_from_slice(b);
            out.len = b.len();
        };
        match self {
            Hasher::Md5(h) => put(&h.finalize()),
            Hasher::Sha1(h) => put(&h.finalize()),
            Hasher::Sha224(h) => put(&h.finalize()),
            Hasher::Sha256(h) => put(&h.finalize()),
            Hasher::Sha384(h) => put(&h.finalize()),
            Hasher::Sha512(h) => put(&h.finalize()),
        }
        out
    }
}

thread_local! {
    /// One read buffer per worker thread, allocated on first use and reused for every file.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hash everything `reader` yields until EOF.
pub fn hash_reader<R: Read>(algo: DigestAlgo, mut reader: R) -> std::io::Result<Digest> {
    BUF.with(|cell| {
        let mut guard = cell.try_borrow_mut();
        let mut local;
        // Re-entrancy cannot happen here, but fall back to a fresh buffer rather than panic.
        let buf: &mut Vec<u8> = match guard {
            Ok(ref mut b) => b,
            Err(_) => {
                local = Vec::new();
                &mut local
            }
        };
        if buf.len() < BUF_SIZE {
            buf.resize(BUF_SIZE, 0);
        }
        let mut h = Hasher::new(algo);
        loop {
            match reader.read(&mut buf[..]) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(h.finish())
    })
}

/// Decode a FILEDIGESTS entry the way rpm does: two characters per byte, any non-hex character
/// counting as nibble 0 (rpm's `rnibble`). The caller has checked the length.
pub fn decode_rpm_hex(hex: &[u8], out: &mut [u8]) {
    fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0,
        }
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let d = |a| hash_reader(a, &b"abc"[..]).unwrap().to_hex();
        assert_eq!(d(DigestAlgo::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            d(DigestAlgo::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            d(DigestAlgo::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d(DigestAlgo::Sha224).len(), 56);
        assert_eq!(d(DigestAlgo::Sha384).len(), 96);
        assert_eq!(d(DigestAlgo::Sha512).len(), 128);
        assert_eq!(d(DigestAlgo::Unknown(99)), d(DigestAlgo::Md5));
    }

    #[test]
    fn large_input_spans_buffers() {
        let data = vec![7u8; BUF_SIZE * 2 + 17];
        let a = hash_reader(DigestAlgo::Sha256, &data[..]).unwrap();
        use sha2::Digest as _;
        assert_eq!(a.as_bytes(), &sha2::Sha256::digest(&data)[..]);
    }

    #[test]
    fn rpm_hex_decoding_treats_garbage_as_zero() {
        let mut out = [0u8; 2];
        decode_rpm_hex(b"fFzz", &mut out);
        assert_eq!(out, [0xff, 0x00]);
    }
}
