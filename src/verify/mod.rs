//! Verdicts: `unowned` compares with the baseline; `owned` (rpm -V rules) and `finding` join it
//! from the scan branch.

pub mod unowned;
