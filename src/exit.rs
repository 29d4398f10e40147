//! Exit status values, in one place (documented in quietwire(8)), and [`ExitStatus`], which
//! combines the statuses one run meets by an explicit precedence.
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

/// Errors in precedence order, first wins when one run meets several. Errors about the command
/// itself come first, then errors about the truth the check relies on (the policy saying what
/// to check, the baseline, the package database): a run that met one of them checked less than
/// it was asked to, whatever else went wrong. Then a failure to produce the requested output,
/// then the partial outcomes of a command that did run (a lock held, a query that found
/// nothing, refused paths), and last a mail not sent: the report itself still reached standard
/// output and the report file, so a scheduled job that sees 24 knows nothing else went wrong.
/// quietwire(8) documents this order.
const PRECEDENCE: [u8; 9] = [
    USAGE, POLICY, BASELINE, RPMDB, FAILURE, LOCKED, NOT_FOUND, REFUSED, MAIL,
];

/// The exit status of a run: [`CLEAN`], a mask of finding bits (below 16), or one error (16 and
/// above). Statuses met during one run are combined with [`ExitStatus::and`], never with
/// `max()`: an error outranks any finding, and of two errors the one earlier in the documented
/// precedence wins, whatever its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitStatus(u8);

impl ExitStatus {
    pub const CLEAN: ExitStatus = ExitStatus(CLEAN);

    /// The status with this value (one of the constants of this module, or a findings mask).
    pub const fn new(code: u8) -> ExitStatus {
        ExitStatus(code)
    }

    /// The value the process exits with.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// Whether this is an error rather than findings or clean.
    pub const fn is_error(self) -> bool {
        self.0 >= USAGE
    }

    /// The status of a run in which both `self` and `other` happened: two finding masks are
    /// OR-ed; an error outranks findings; of two errors, the one earlier in [`PRECEDENCE`].
    #[must_use]
    pub fn and(self, other: ExitStatus) -> ExitStatus {
        match (self.is_error(), other.is_error()) {
            (false, false) => ExitStatus(self.0 | other.0),
            (true, false) => self,
            (false, true) => other,
            (true, true) if rank(other.0) < rank(self.0) => other,
            (true, true) => self,
        }
    }
}

/// [`ExitStatus::and`] on bare values, for the code that still carries a `u8`.
pub fn combine(a: u8, b: u8) -> u8 {
    ExitStatus::new(a).and(ExitStatus::new(b)).code()
}

impl From<u8> for ExitStatus {
    fn from(code: u8) -> ExitStatus {
        ExitStatus(code)
    }
}

/// Position in [`PRECEDENCE`]; an error value not listed there ranks last.
fn rank(code: u8) -> usize {
    PRECEDENCE
        .iter()
        .position(|&c| c == code)
        .unwrap_or(PRECEDENCE.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(code: u8) -> ExitStatus {
        ExitStatus::new(code)
    }

    /// `a` wins over `b`, in either order.
    fn wins(a: u8, b: u8) {
        assert_eq!(s(a).and(s(b)).code(), a, "{a} over {b}");
        assert_eq!(s(b).and(s(a)).code(), a, "{a} over {b} (reversed)");
    }

    #[test]
    fn findings_are_ored_and_clean_is_neutral() {
        assert_eq!(s(ADDED).and(s(CHANGED)).code(), ADDED | CHANGED);
        assert_eq!(s(REMOVED).and(s(UNTRUSTED)).code(), REMOVED | UNTRUSTED);
        assert_eq!(s(CHANGED).and(s(CHANGED)).code(), CHANGED);
        for c in [ADDED, USAGE, RPMDB, MAIL, REFUSED] {
            assert_eq!(ExitStatus::CLEAN.and(s(c)).code(), c);
            assert_eq!(s(c).and(ExitStatus::CLEAN).code(), c);
        }
        assert!(!s(ADDED | REMOVED | CHANGED | UNTRUSTED).is_error());
        assert!(s(USAGE).is_error());
    }

    #[test]
    fn every_error_outranks_every_finding_mask() {
        for e in PRECEDENCE {
            for bits in 1..16 {
                wins(e, bits);
            }
        }
    }

    #[test]
    fn errors_follow_the_documented_precedence() {
        // Every pair, so a collision nobody thought of still has a tested answer.
        for (i, &a) in PRECEDENCE.iter().enumerate() {
            for &b in &PRECEDENCE[i + 1..] {
                wins(a, b);
            }
        }
    }

    #[test]
    fn the_collisions_that_max_got_wrong() {
        // A damaged rpmdb and a mail that failed: the report still went out, the rpmdb is the
        // news (max() said 24).
        wins(RPMDB, MAIL);
        // check --package naming a missing package, or accept with a pattern matching nothing or
        // refused paths, on a damaged rpmdb (max() said 21 and 25).
        wins(RPMDB, NOT_FOUND);
        wins(RPMDB, REFUSED);
        // A baseline failing its checks outranks a mail or report-file failure (max(): 24, 20).
        wins(BASELINE, MAIL);
        wins(BASELINE, FAILURE);
        // The report file not written is worse than the mail not sent (max() said 24).
        wins(FAILURE, MAIL);
        // A named package missing is a gap in the check; a mail not sent is not (max(): 24).
        wins(NOT_FOUND, MAIL);
        // accept: a pattern matching nothing outranks refused paths (max() said 25).
        wins(NOT_FOUND, REFUSED);
        // Among the truth errors the order is the old numeric one.
        wins(POLICY, BASELINE);
        wins(BASELINE, RPMDB);
        wins(USAGE, POLICY);
    }

    #[test]
    fn an_unknown_error_value_ranks_last_but_above_findings() {
        wins(MAIL, 23);
        wins(23, CHANGED);
    }
}
