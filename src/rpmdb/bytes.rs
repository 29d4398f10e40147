//! Bounds-checked reads from untrusted bytes.
//!
//! Every parser of database pages, slots and header blobs reads through [`Bytes`], so that
//! nothing in `src/rpmdb/` indexes a slice directly: a bad offset becomes a [`FormatError`]
//! naming the offset, never a panic.

use std::fmt;

/// Byte order of multi-byte integers in a database structure (header blobs are always big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl fmt::Display for Endian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        })
    }
}

/// A structural problem in untrusted bytes, located by byte offset within the structure read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (at byte offset {offset})")]
pub struct FormatError {
    pub offset: u64,
    pub what: String,
}

impl FormatError {
    pub fn new(offset: u64, what: impl Into<String>) -> FormatError {
        FormatError {
            offset,
            what: what.into(),
        }
    }
}

/// A byte slice whose accessors cannot panic.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `len` bytes starting at `offset`.
    pub fn bytes_at(&self, offset: u64, len: u64) -> Result<&'a [u8], FormatError> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| FormatError::new(offset, "length overflows"))?;
        if end > self.len() {
            return Err(FormatError::new(
                offset,
                format!(
                    "{len} bytes needed but only {} available",
                    self.len().saturating_sub(offset)
                ),
            ));
        }
        // Both bounds were checked against the slice length above, and the slice length fits in usize.
        self.0
            .get(offset as usize..end as usize)
            .ok_or_else(|| FormatError::new(offset, "out of range"))
    }

    pub fn array_at<const N: usize>(&self, offset: u64) -> Result<[u8; N], FormatError> {
        let s = self.bytes_at(offset, N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8_at(&self, offset: u64) -> Result<u8, FormatError> {
        Ok(self.array_at::<1>(offset)?[0])
    }

    pub fn u16_at(&self, offset: u64, endian: Endian) -> Result<u16, FormatError> {
        let a = self.array_at::<2>(offset)?;
        Ok(match endian {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    pub fn u32_at(&self, offset: u64, endian: Endian) -> Result<u32, FormatError> {
        let a = self.array_at::<4>(offset)?;
        Ok(match endian {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    pub fn i32_at(&self, offset: u64, endian: Endian) -> Result<i32, FormatError> {
        Ok(self.u32_at(offset, endian)? as i32)
    }

    pub fn u64_at(&self, offset: u64, endian: Endian) -> Result<u64, FormatError> {
        let a = self.array_at::<8>(offset)?;
        Ok(match endian {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }

    /// The bytes from `offset` up to (not including) the next NUL, which must exist.
    pub fn cstr_at(&self, offset: u64) -> Result<&'a [u8], FormatError> {
        let rest = self.bytes_at(offset, self.len().saturating_sub(offset))?;
        match rest.iter().position(|&b| b == 0) {
            Some(n) => Ok(rest.get(..n).unwrap_or_default()),
            None => Err(FormatError::new(offset, "string without NUL terminator")),
        }
    }

    /// A sub-slice as its own `Bytes` (offsets inside it restart at 0).
    pub fn sub(&self, offset: u64, len: u64) -> Result<Bytes<'a>, FormatError> {
        Ok(Bytes(self.bytes_at(offset, len)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let b = Bytes(&[1, 2, 3, 4, 0, 5]);
        assert_eq!(b.u32_at(0, Endian::Big), Ok(0x01020304));
        assert_eq!(b.u32_at(0, Endian::Little), Ok(0x04030201));
        assert!(b.u32_at(3, Endian::Big).is_err());
        assert!(b.bytes_at(u64::MAX, 2).is_err());
        assert_eq!(b.cstr_at(2), Ok(&[3u8, 4][..]));
        assert!(b.cstr_at(5).is_err());
        assert!(b.cstr_at(6).is_err());
    }
}
