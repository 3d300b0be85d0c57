//! Just enough Markdown for answers in the chat pane: paragraphs, headings, bullet and numbered
//! lists (with hanging indents), fenced code blocks, `**bold**`, `*italic*` and `` `code` ``.
//!
//! Layout is separate from styling: this module turns text into wrapped lines of marked
//! segments; the chat widget picks the colours. Unclosed markers (an answer still streaming)
//! are shown as written, so text never jumps around once the closing marker arrives.

use crate::ui::wrap::{width, wrap};

/// How a piece of text is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Plain,
    Bold,
    Italic,
    /// Inline code.
    Code,
    /// A line of a fenced code block.
    CodeBlock,
    /// A list item's bullet or number.
    ListMarker,
}

/// A run of text with one mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub mark: Mark,
}

/// One screen line.
pub type StyledLine = Vec<Segment>;

/// Plain text wrapped to `max` cells, unmarked.
pub fn plain(text: &str, max: usize) -> Vec<StyledLine> {
    wrap(text, max)
        .into_iter()
        .map(|line| vec![segment(line, Mark::Plain)])
        .collect()
}

/// Markdown text laid out in lines at most `max` cells wide.
pub fn layout(text: &str, max: usize) -> Vec<StyledLine> {
    let mut out = Vec::new();
    layout_into(text, max, false, &mut out);
    out
}

/// Lays out `text` as if it followed lines that left a fenced code block open (or not),
/// appending to `out`; returns whether a code block is open after it. Each source line's layout
/// depends only on itself and that one flag, so a text can be laid out piece by piece, split at
/// newlines: what lets a streaming answer be laid out one line at a time.
pub fn layout_into(
    text: &str,
    max: usize,
    mut in_code_block: bool,
    out: &mut Vec<StyledLine>,
) -> bool {
    let max = max.max(1);
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            for piece in wrap_chars(&line.replace('\t', "    "), max) {
                out.push(vec![segment(piece, Mark::CodeBlock)]);
            }
            continue;
        }
        if let Some(heading) = heading_text(trimmed) {
            out.extend(fill(&[segment(heading.to_string(), Mark::Bold)], max, 0));
            continue;
        }
        if let Some((marker, rest)) = list_item(line) {
            let indent = width(&marker);
            let mut lines = fill(&inline(rest), max, indent);
            if let Some(first) = lines.first_mut() {
                first.insert(0, segment(marker, Mark::ListMarker));
            }
            for line in lines.iter_mut().skip(1) {
                line.insert(0, segment(" ".repeat(indent), Mark::Plain));
            }
            out.extend(lines);
            continue;
        }
        out.extend(fill(&inline(line), max, 0));
    }
    in_code_block
}

fn segment(text: impl Into<String>, mark: Mark) -> Segment {
    Segment {
        text: text.into(),
        mark,
    }
}

/// `# Title` … `###### Title`.
fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    (1..=6)
        .contains(&hashes)
        .then(|| line[hashes..].strip_prefix(' '))
        .flatten()
}

/// `- item`, `* item`, `+ item` or `12. item`, possibly indented: the marker as shown
/// (indent kept, bullets drawn as `•`) and the item's text.
fn list_item(line: &str) -> Option<(String, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    for bullet in ["- ", "* ", "+ "] {
        if let Some(text) = rest.strip_prefix(bullet) {
            return Some((format!("{}• ", " ".repeat(indent)), text));
        }
    }
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        if let Some(text) = rest[digits..].strip_prefix(". ") {
            return Some((format!("{}{}. ", " ".repeat(indent), &rest[..digits]), text));
        }
    }
    None
}

/// Splits a line into marked segments. A marker without its closing twin stays literal.
fn inline(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = [("`", Mark::Code), ("**", Mark::Bold), ("*", Mark::Italic)]
            .into_iter()
            .filter_map(|(marker, mark)| {
                let (start, len) = first_span(rest, marker)?;
                Some((start, marker, mark, start + marker.len(), len))
            })
            .min_by_key(|(start, marker, ..)| (*start, std::cmp::Reverse(marker.len())));
        let Some((start, marker, mark, inner_start, len)) = next else {
            out.push(segment(rest, Mark::Plain));
            break;
        };
        if start > 0 {
            out.push(segment(&rest[..start], Mark::Plain));
        }
        out.push(segment(&rest[inner_start..inner_start + len], mark));
        rest = &rest[inner_start + len + marker.len()..];
    }
    if out.is_empty() {
        out.push(segment("", Mark::Plain));
    }
    out
}

/// The first `marker`…`marker` span with text inside that neither starts nor ends with a
/// space (so `2 * 3 * 4` stays arithmetic): its start and the inner length.
fn first_span(text: &str, marker: &str) -> Option<(usize, usize)> {
    text.match_indices(marker).find_map(|(start, _)| {
        let inner_start = start + marker.len();
        let len = text[inner_start..].find(marker)?;
        let inner = &text[inner_start..inner_start + len];
        let valid = !inner.is_empty() && !inner.starts_with(' ') && !inner.ends_with(' ');
        valid.then_some((start, len))
    })
}

/// Greedy word wrap of marked segments; lines after the first leave `indent` cells free.
fn fill(segments: &[Segment], max: usize, indent: usize) -> Vec<StyledLine> {
    let room = max.saturating_sub(indent).max(1);
    let mut lines: Vec<StyledLine> = Vec::new();
    let mut line: StyledLine = Vec::new();
    let mut used = 0;
    for seg in segments {
        for word in seg.text.split_inclusive(' ') {
            let word_width = width(word.trim_end_matches(' '));
            if used + word_width > room && used > 0 {
                trim_line_end(&mut line);
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            if word_width > room {
                // A word wider than the line is broken at character boundaries.
                for piece in wrap_chars(word, room) {
                    if used > 0 {
                        lines.push(std::mem::take(&mut line));
                    }
                    used = width(&piece);
                    push(&mut line, piece, seg.mark);
                }
                continue;
            }
            used += width(word);
            push(&mut line, word.to_string(), seg.mark);
        }
    }
    trim_line_end(&mut line);
    lines.push(line);
    lines
}

/// Appends to the line, merging with the last segment when the mark is the same.
fn push(line: &mut StyledLine, text: String, mark: Mark) {
    match line.last_mut() {
        Some(last) if last.mark == mark => last.text.push_str(&text),
        _ => line.push(segment(text, mark)),
    }
}

fn trim_line_end(line: &mut StyledLine) {
    if let Some(last) = line.last_mut() {
        let trimmed = last.text.trim_end_matches(' ').len();
        last.text.truncate(trimmed);
    }
}

/// Breaks text into pieces at most `max` cells wide, at character boundaries.
fn wrap_chars(text: &str, max: usize) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let mut buf = [0u8; 4];
        let w = width(c.encode_utf8(&mut buf));
        if used + w > max && used > 0 {
            pieces.push(String::new());
            used = 0;
        }
        if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
        used += w;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[StyledLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.iter().map(|s| s.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn bold_italic_and_code_are_marked_and_their_markers_hidden() {
        let lines = layout("a **bold** and *it* with `x = 1`", 80);
        assert_eq!(texts(&lines), vec!["a bold and it with x = 1"]);
        let marks: Vec<Mark> = lines[0].iter().map(|s| s.mark).collect();
        assert_eq!(
            marks,
            vec![
                Mark::Plain,
                Mark::Bold,
                Mark::Plain,
                Mark::Italic,
                Mark::Plain,
                Mark::Code
            ]
        );
    }

    #[test]
    fn an_unclosed_marker_stays_as_written() {
        assert_eq!(
            texts(&layout("2 * 3 and **half", 80)),
            vec!["2 * 3 and **half"]
        );
    }

    #[test]
    fn list_items_get_bullets_and_hanging_indents() {
        let lines = layout("- one two three four\n2. next", 10);
        assert_eq!(
            texts(&lines),
            vec!["• one two", "  three", "  four", "2. next"]
        );
        assert_eq!(lines[0][0].mark, Mark::ListMarker);
    }

    #[test]
    fn code_blocks_keep_their_spacing_and_hide_fences() {
        let lines = layout("before\n```rust\n    let x = 1;\n```\nafter", 80);
        assert_eq!(texts(&lines), vec!["before", "    let x = 1;", "after"]);
        assert_eq!(lines[1][0].mark, Mark::CodeBlock);
    }

    #[test]
    fn headings_are_bold_and_long_words_are_broken() {
        let lines = layout("## Title\nabcdefghij", 4);
        assert_eq!(texts(&lines), vec!["Titl", "e", "abcd", "efgh", "ij"]);
        assert_eq!(lines[0][0].mark, Mark::Bold);
    }
}
