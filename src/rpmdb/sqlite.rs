//! Placeholder: the sqlite reader is being written.

use super::{DbError, RecordResult};
use std::path::Path;

/// Every record of `Packages`, in rowid order.
pub fn read(path: &Path) -> Result<Vec<RecordResult>, DbError> {
    Err(DbError::Sqlite {
        path: path.to_path_buf(),
        message: "sqlite backend not implemented yet".into(),
    })
}
