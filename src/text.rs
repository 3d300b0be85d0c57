//! Making untrusted text safe to print: model output, file names and error messages must never
//! carry an escape sequence to the terminal.

/// Removes control characters except newline and tab. ESC, BEL, CR, C1 controls and the
/// Unicode bidi overrides are dropped, so no escape sequence can reach the terminal.
pub fn sanitize(text: &str) -> String {
    text.chars().filter(|&c| is_safe(c)).collect()
}

fn is_safe(c: char) -> bool {
    match c {
        '\n' | '\t' => true,
        // Bidirectional overrides and isolates can make text display differently from what it is.
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => false,
        c => !c.is_control(),
    }
}

/// Squashes a possibly multi-line message (a candle backtrace, a nested error) into one safe
/// line: the first non-empty line, control characters removed, trimmed.
pub fn one_line(text: &str) -> String {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    sanitize(first).replace('\t', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed() {
        assert_eq!(sanitize("a\x1b[2Jb\x07c\r\n\u{9b}d"), "a[2Jbc\nd");
    }

    #[test]
    fn one_line_keeps_the_first_line() {
        assert_eq!(
            one_line("\n  first\x1b problem \nstack backtrace:\n 0: x"),
            "first problem"
        );
    }
}
