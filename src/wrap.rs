//! Word wrapping of chat text to a pane width, measured in terminal cells.
//!
//! Kept apart from drawing so that the chat pane can cache wrapped lines per message and a
//! frame only wraps what it shows.

use std::cell::RefCell;
use std::rc::Rc;

use ratatui::text::Span;

use crate::markdown::{self, StyledLine};

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
/// `&State`) fill the cache; any change to the text clears it.
#[derive(Debug, Default)]
pub struct WrapCache {
    cached: RefCell<Option<(u16, Rc<Vec<StyledLine>>)>>,
}

impl WrapCache {
    /// The lines of `text` at `width` (as Markdown or as plain text), laid out again only when
    /// the width or the text changed.
    pub fn lines(&self, text: &str, width: u16, as_markdown: bool) -> Rc<Vec<StyledLine>> {
        if let Some((w, lines)) = self.cached.borrow().as_ref() {
            if *w == width {
                return Rc::clone(lines);
            }
        }
        let max = usize::from(width);
        let lines = Rc::new(if as_markdown {
            markdown::layout(text, max)
        } else {
            markdown::plain(text, max)
        });
        *self.cached.borrow_mut() = Some((width, Rc::clone(&lines)));
        lines
    }

    /// True when lines are cached.
    pub fn is_filled(&self) -> bool {
        self.cached.borrow().is_some()
    }

    /// Forgets the cached lines (the text changed).
    pub fn clear(&self) {
        self.cached.borrow_mut().take();
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
    fn cache_follows_width() {
        let cache = WrapCache::default();
        assert_eq!(cache.lines("aa bb", 2, false).len(), 2);
        assert_eq!(cache.lines("aa bb", 10, false).len(), 1);
    }
}
