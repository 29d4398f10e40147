//! `rpm -V` output, as rpm prints it: one line per package-owned finding that carries a verify
//! line. The lines themselves (columns, attribute letter, state suffix) follow the package
//! source's rules and come from the finding's [`crate::finding::VerifyLine`], which the source
//! fills; this module only writes them out. Paths are printed raw, as rpm does (this format exists for scripts that
//! parse rpm's output).

use crate::finding::Finding;
use std::io::Write;

/// Render every package-owned finding as `rpm -V` prints it (non-verbose).
pub fn render(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    for f in findings {
        if let Some(v) = &f.verify_line {
            out.write_all(&v.line(&f.path))?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// Write lines made elsewhere (`rpm -Vv`, which also lists clean files), one per line.
pub fn render_lines(out: &mut dyn Write, lines: &[Vec<u8>]) -> std::io::Result<()> {
    for l in lines {
        out.write_all(l)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
