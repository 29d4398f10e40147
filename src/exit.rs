//! Exit status values, in one place (documented in quietwire(8)).
//!
//! Findings form a bitmask like AIDE's; errors use values of 16 and above so that they can never
//! be mistaken for a finding mask.

/// Nothing found.
pub const CLEAN: u8 = 0;
/// Paths were added.
pub const ADDED: u8 = 1;
/// Paths were removed or are missing.
pub const REMOVED: u8 = 2;
/// Paths were changed.
pub const CHANGED: u8 = 4;
/// Installed package headers cannot be trusted: a bad signature or header digest (critical), an
/// unsigned package or one signed by an untrusted key (unless the policy allows it).
pub const UNTRUSTED: u8 = 8;
/// The command line was invalid.
pub const USAGE: u8 = 16;
/// The rpm database could not be found or read, or some of its records are damaged.
pub const RPMDB: u8 = 17;
/// The baseline is missing where required, unreadable, or fails its integrity checks.
pub const BASELINE: u8 = 18;
/// The policy file is invalid.
pub const POLICY: u8 = 19;
/// Any other runtime failure (I/O error writing a report, ...).
pub const FAILURE: u8 = 20;
/// A query found nothing (e.g. `owner` on a path no package owns), like `rpm -qf`'s status 1
/// but outside the findings mask.
pub const NOT_FOUND: u8 = 21;
/// `init`/`accept`: another run held the baseline's writers' lock for the whole wait (60 s).
pub const LOCKED: u8 = 22;
/// `check --mail-to`: the report could not be mailed (sendmail missing, failing, or an invalid
/// address). The report itself was still written to stdout and the report file.
pub const MAIL: u8 = 24;
/// `accept --report`: some paths were refused because their state changed again after the
/// report was written (or they are package-owned); every other path of the report was accepted.
pub const REFUSED: u8 = 25;
