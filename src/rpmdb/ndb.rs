//! Placeholder: the ndb reader is being written.

use super::{FormatError, RecordResult};

/// Every record of the database held in `data`, in rpm's order.
pub fn read(data: &[u8]) -> Result<Vec<RecordResult>, FormatError> {
    let _ = data;
    Err(FormatError::new(0, "ndb backend not implemented yet"))
}
