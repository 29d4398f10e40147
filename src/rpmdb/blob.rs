//! Header blob validation (rpm's hdrblobVerifyInfo/hdrblobVerifyRegion rules). Being written.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("{0}")]
    Framing(String),
}
