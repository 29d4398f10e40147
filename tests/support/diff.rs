//! Line-list assertions that print expected, got and a line diff on failure.

use std::fmt::Write as _;

/// Asserts that `got` equals `expected` line for line, in order. On failure panics with both
/// lists and a diff (`-` only expected, `+` only got). Lines are shown with `{:?}` so
/// whitespace and control characters are visible.
#[track_caller]
pub fn assert_lines_eq<E: AsRef<str>, G: AsRef<str>>(what: &str, expected: &[E], got: &[G]) {
    let e: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    let g: Vec<&str> = got.iter().map(AsRef::as_ref).collect();
    if e != g {
        panic!("{}", render(what, &e, &g));
    }
}

/// Like [`assert_lines_eq`] after sorting both sides (rpm's order follows the database).
#[track_caller]
pub fn assert_lines_eq_sorted<E: AsRef<str>, G: AsRef<str>>(what: &str, expected: &[E], got: &[G]) {
    let mut e: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    let mut g: Vec<&str> = got.iter().map(AsRef::as_ref).collect();
    e.sort_unstable();
    g.sort_unstable();
    if e != g {
        panic!("{}", render(&format!("{what} (both sides sorted)"), &e, &g));
    }
}

const SHOW_FULL: usize = 200;
const SHOW_DIFF: usize = 500;

fn render(what: &str, e: &[&str], g: &[&str]) -> String {
    let mut s = format!(
        "{what}: lines differ (expected {} lines, got {})\n",
        e.len(),
        g.len()
    );
    if e.len() <= SHOW_FULL && g.len() <= SHOW_FULL {
        for (title, lines) in [("expected", e), ("got", g)] {
            writeln!(s, "--- {title}:").unwrap();
            for l in lines {
                writeln!(s, "    {l:?}").unwrap();
            }
        }
    }
    writeln!(s, "--- diff (- expected only, + got only):").unwrap();
    let ops = diff(e, g);
    let mut shown = 0;
    for (tag, line) in ops {
        if shown == SHOW_DIFF {
            writeln!(s, "    ... (diff truncated)").unwrap();
            break;
        }
        if tag != ' ' || (e.len() <= SHOW_FULL && g.len() <= SHOW_FULL) {
            writeln!(s, "  {tag} {line:?}").unwrap();
            shown += 1;
        }
    }
    s
}

/// Longest-common-subsequence diff; for very long inputs falls back to a multiset difference
/// (order of the `-`/`+` lines then follows each input).
fn diff<'a>(e: &[&'a str], g: &[&'a str]) -> Vec<(char, &'a str)> {
    let (n, m) = (e.len(), g.len());
    if n.saturating_mul(m) > 4_000_000 {
        let mut out = Vec::new();
        let mut gs: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for l in g {
            *gs.entry(l).or_default() += 1;
        }
        let mut es: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for l in e {
            *es.entry(l).or_default() += 1;
        }
        for l in e {
            match gs.get_mut(l) {
                Some(c) if *c > 0 => *c -= 1,
                _ => out.push(('-', *l)),
            }
        }
        for l in g {
            match es.get_mut(l) {
                Some(c) if *c > 0 => *c -= 1,
                _ => out.push(('+', *l)),
            }
        }
        return out;
    }
    // lcs[i][j] = LCS length of e[i..] and g[j..]
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if e[i] == g[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n && j < m {
        if e[i] == g[j] {
            out.push((' ', e[i]));
            i += 1;
            j += 1;
        } else if lcs[at(i + 1, j)] >= lcs[at(i, j + 1)] {
            out.push(('-', e[i]));
            i += 1;
        } else {
            out.push(('+', g[j]));
            j += 1;
        }
    }
    out.extend(e[i..].iter().map(|l| ('-', *l)));
    out.extend(g[j..].iter().map(|l| ('+', *l)));
    out
}
