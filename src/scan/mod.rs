//! File access for the walks. `walk` (unowned walk) and `capture` (per-path capture) belong to the
//! baseline work; the scan engineer's safe-open and hashing primitives join them here.

pub mod capture;
pub mod walk;
