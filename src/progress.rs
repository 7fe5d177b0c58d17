//! A one-line text progress bar for long commands (training), drawn on stderr.

use std::io::Write;

/// `[#####     ] done/total`, 30 characters wide.
#[must_use]
pub fn bar(done: usize, total: usize) -> String {
    let filled = (done * 30).checked_div(total).unwrap_or(30).min(30);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(30 - filled)
    )
}

/// Redraws the current stderr line with `line`.
pub fn redraw(line: &str) {
    eprint!("\r{line:<72}");
    std::io::stderr().flush().ok();
}
