//! Word wrapping of chat text to a pane width, measured in terminal cells.
//!
//! Kept apart from drawing so that the chat pane can cache wrapped lines per message and a
//! frame only wraps what it shows.

use std::cell::RefCell;
use std::rc::Rc;

use ratatui::text::Span;

use crate::text::sanitize;
use crate::ui::markdown::{self, StyledLine};

/// Display width of `text` in terminal cells (wide characters count twice).
pub fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// Wraps `text` (which may hold newlines) to lines at most `max` cells wide. Words longer than
/// a line are broken; tabs become four spaces; an empty text gives one empty line.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        wrap_paragraph(&paragraph.replace('\t', "    "), max, &mut out);
    }
    out
}

fn wrap_paragraph(paragraph: &str, max: usize, out: &mut Vec<String>) {
    let mut line = String::new();
    let mut line_width = 0;
    for word in paragraph.split_inclusive(' ') {
        let word_width = width(word);
        let trimmed_width = width(word.trim_end_matches(' '));
        if line_width + trimmed_width <= max {
            line.push_str(word);
            line_width += word_width;
            continue;
        }
        if !line.is_empty() {
            out.push(line.trim_end_matches(' ').to_string());
            line.clear();
            line_width = 0;
        }
        // A word wider than the whole line is broken at character boundaries.
        for c in word.chars() {
            let mut buf = [0u8; 4];
            let w = width(c.encode_utf8(&mut buf));
            if line_width + w > max && !line.is_empty() {
                out.push(std::mem::take(&mut line));
                line_width = 0;
            }
            line.push(c);
            line_width += w;
        }
    }
    out.push(line.trim_end_matches(' ').to_string());
}

/// Laid-out lines remembered for one width. Interior mutability lets drawing (which only sees
/// `&State`) fill the cache. A text that grew (a streaming answer) is laid out again from its
/// last line on; a text that changed otherwise is laid out anew: the cache keeps the text it
/// laid out and compares, so it is never stale whatever it is given. Control characters never
/// reach the lines, whatever the text holds (a crafted chat file, a model's escape sequence):
/// they are dropped as the text is laid out.
#[derive(Debug, Default)]
pub struct WrapCache {
    cached: RefCell<Option<Laid>>,
}

#[derive(Debug)]
struct Laid {
    width: u16,
    as_markdown: bool,
    /// The text laid out: a text that starts with it is this one with more appended.
    source: String,
    lines: Rc<Vec<StyledLine>>,
    /// Where the text's last source line starts (after its last newline); the screen lines
    /// before it; whether a code block is open there. Appended text changes nothing before.
    last_line_start: usize,
    lines_before_last: usize,
    code_open_at_last: bool,
}

impl Laid {
    fn empty(width: u16, as_markdown: bool) -> Self {
        Self {
            width,
            as_markdown,
            source: String::new(),
            lines: Rc::default(),
            last_line_start: 0,
            lines_before_last: 0,
            code_open_at_last: false,
        }
    }

    /// Lays out Markdown `text`, which starts with the text laid out so far: its last line
    /// again, and what follows.
    fn extend(self, text: &str) -> Self {
        let max = usize::from(self.width);
        // Frames drop their reference to the lines, so this is normally not a copy.
        let mut lines = Rc::try_unwrap(self.lines).unwrap_or_else(|shared| (*shared).clone());
        lines.truncate(self.lines_before_last);
        let (mut start, mut code_open) = (self.last_line_start, self.code_open_at_last);
        let new = &text[start..];
        if let Some(newline) = new.rfind('\n') {
            code_open =
                markdown::layout_into(&sanitize(&new[..newline]), max, code_open, &mut lines);
            start += newline + 1;
        }
        let lines_before_last = lines.len();
        markdown::layout_into(&sanitize(&text[start..]), max, code_open, &mut lines);
        let mut source = self.source;
        source.push_str(&text[source.len()..]);
        Self {
            source,
            lines: Rc::new(lines),
            last_line_start: start,
            lines_before_last,
            code_open_at_last: code_open,
            ..self
        }
    }
}

impl WrapCache {
    /// The lines of `text` at `width` (as Markdown or as plain text), laid out again only when
    /// the width changed or the text grew (then only from its last line on).
    pub fn lines(&self, text: &str, width: u16, as_markdown: bool) -> Rc<Vec<StyledLine>> {
        let mut cached = self.cached.borrow_mut();
        let kept = cached.take().filter(|laid| {
            laid.width == width
                && laid.as_markdown == as_markdown
                && text.as_bytes().starts_with(laid.source.as_bytes())
        });
        let laid = match kept {
            Some(laid) if laid.source.len() == text.len() => laid,
            Some(laid) if as_markdown => laid.extend(text),
            _ if as_markdown => Laid::empty(width, true).extend(text),
            _ => Laid {
                source: text.to_string(),
                lines: Rc::new(markdown::plain(&sanitize(text), usize::from(width))),
                ..Laid::empty(width, false)
            },
        };
        let lines = Rc::clone(&laid.lines);
        *cached = Some(laid);
        lines
    }

    /// True when lines are cached.
    pub fn is_filled(&self) -> bool {
        self.cached.borrow().is_some()
    }
}

impl Clone for WrapCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(
            wrap("the quick brown fox", 10),
            vec!["the quick", "brown fox"]
        );
    }

    #[test]
    fn breaks_long_words_and_keeps_newlines() {
        assert_eq!(
            wrap("abcdefghij\n\nx", 4),
            vec!["abcd", "efgh", "ij", "", "x"]
        );
    }

    #[test]
    fn wide_characters_count_twice() {
        assert_eq!(wrap("日本語です", 4), vec!["日本", "語で", "す"]);
    }

    #[test]
    fn a_growing_text_is_laid_out_as_a_whole_text_would_be() {
        let answer = "Intro **bold**\n\n# Title\n- item one that wraps around\n1. two\n\n\
                      ```rust\nfn main() {}\n\n```\nafter the `code` block\n";
        let cache = WrapCache::default();
        // Every split point, as tokens end mid-word, mid-line or just after a newline.
        for end in (0..=answer.len()).filter(|&i| answer.is_char_boundary(i)) {
            let text = &answer[..end];
            assert_eq!(
                *cache.lines(text, 12, true),
                markdown::layout(text, 12),
                "after {text:?}"
            );
        }
        // A new width lays it all out again.
        assert_eq!(*cache.lines(answer, 30, true), markdown::layout(answer, 30));
    }

    #[test]
    fn a_text_that_changed_is_laid_out_anew() {
        let cache = WrapCache::default();
        assert_eq!(
            *cache.lines("one two", 40, true),
            markdown::layout("one two", 40)
        );
        // Same length, other words; then shorter: never the old lines.
        assert_eq!(
            *cache.lines("six ten", 40, true),
            markdown::layout("six ten", 40)
        );
        assert_eq!(*cache.lines("six", 40, true), markdown::layout("six", 40));
        assert_eq!(*cache.lines("a\nb", 40, false), markdown::plain("a\nb", 40));
        assert_eq!(*cache.lines("a", 40, false), markdown::plain("a", 40));
    }

    #[test]
    fn cache_follows_width() {
        let cache = WrapCache::default();
        assert_eq!(cache.lines("aa bb", 2, false).len(), 2);
        assert_eq!(cache.lines("aa bb", 10, false).len(), 1);
    }
}
