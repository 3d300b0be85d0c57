//! The multi-line input editor with a history of sent prompts. Positions are in characters,
//! never bytes, so that editing non-ASCII text cannot split a character.

/// Text being typed, as lines, with a cursor.
#[derive(Debug, Clone)]
pub struct InputEditor {
    lines: Vec<String>,
    row: usize,
    col: usize,
    history: Vec<String>,
    /// Position while browsing the history; `None` when editing a fresh draft.
    history_pos: Option<usize>,
    draft: String,
}

impl Default for InputEditor {
    fn default() -> Self {
        Self {
            lines: vec![String::new()],
            row: 0,
            col: 0,
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
        }
    }
}

fn byte_at(line: &str, col: usize) -> usize {
    line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

impl InputEditor {
    /// The lines being edited (never empty).
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Cursor as (row, column in characters).
    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    /// The whole text, lines joined by newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// True when nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.lines.len() == 1 && self.lines[0].is_empty()
    }

    /// Replaces the text and puts the cursor at its end.
    pub fn set_text(&mut self, text: &str) {
        self.lines = text.split('\n').map(str::to_string).collect();
        self.row = self.lines.len() - 1;
        self.col = self.lines[self.row].chars().count();
    }

    /// Takes the text out (after Enter), remembering it in the history.
    pub fn take(&mut self) -> String {
        let text = self.text();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
        }
        self.history_pos = None;
        self.set_text("");
        text
    }

    fn line_len(&self) -> usize {
        self.lines[self.row].chars().count()
    }

    /// Inserts typed or pasted text at the cursor (newlines split lines).
    pub fn insert(&mut self, text: &str) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            let at = byte_at(&self.lines[self.row], self.col);
            self.lines[self.row].insert_str(at, piece);
            self.col += piece.chars().count();
        }
    }

    /// Splits the line at the cursor.
    pub fn newline(&mut self) {
        let at = byte_at(&self.lines[self.row], self.col);
        let rest = self.lines[self.row].split_off(at);
        self.lines.insert(self.row + 1, rest);
        self.row += 1;
        self.col = 0;
    }

    /// Deletes the character before the cursor, joining lines at the start of one.
    pub fn backspace(&mut self) {
        if self.col > 0 {
            let line = &mut self.lines[self.row];
            let at = byte_at(line, self.col - 1);
            line.remove(at);
            self.col -= 1;
        } else if self.row > 0 {
            let line = self.lines.remove(self.row);
            self.row -= 1;
            self.col = self.line_len();
            self.lines[self.row].push_str(&line);
        }
    }

    /// Deletes the character under the cursor, joining with the next line at the end of one.
    pub fn delete(&mut self) {
        if self.col < self.line_len() {
            let line = &mut self.lines[self.row];
            let at = byte_at(line, self.col);
            line.remove(at);
        } else if self.row + 1 < self.lines.len() {
            let next = self.lines.remove(self.row + 1);
            self.lines[self.row].push_str(&next);
        }
    }

    /// Moves one character left, to the end of the previous line at the start of one.
    pub fn left(&mut self) {
        if self.col > 0 {
            self.col -= 1;
        } else if self.row > 0 {
            self.row -= 1;
            self.col = self.line_len();
        }
    }

    /// Moves one character right, to the start of the next line at the end of one.
    pub fn right(&mut self) {
        if self.col < self.line_len() {
            self.col += 1;
        } else if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = 0;
        }
    }

    /// Start of the line.
    pub fn home(&mut self) {
        self.col = 0;
    }

    /// End of the line.
    pub fn end(&mut self) {
        self.col = self.line_len();
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        let at = byte_at(&self.lines[self.row], self.col);
        self.lines[self.row].replace_range(..at, "");
        self.col = 0;
    }

    /// Deletes the word before the cursor, and the spaces after it (Ctrl-W).
    pub fn delete_word(&mut self) {
        let chars: Vec<char> = self.lines[self.row].chars().collect();
        let mut start = self.col;
        while start > 0 && chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && chars[start - 1] != ' ' {
            start -= 1;
        }
        let line = &mut self.lines[self.row];
        let (from, to) = (byte_at(line, start), byte_at(line, self.col));
        line.replace_range(from..to, "");
        self.col = start;
    }

    /// Up: the line above, or the previous history entry when on the first line.
    pub fn up(&mut self) {
        if self.row > 0 {
            self.row -= 1;
            self.col = self.col.min(self.line_len());
            return;
        }
        let pos = match self.history_pos {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(p) => p - 1,
        };
        self.history_pos = Some(pos);
        let entry = self.history[pos].clone();
        self.set_text(&entry);
    }

    /// Down: the line below, or the next history entry (then the draft) when on the last line.
    pub fn down(&mut self) {
        if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = self.col.min(self.line_len());
            return;
        }
        let Some(pos) = self.history_pos else { return };
        if pos + 1 < self.history.len() {
            self.history_pos = Some(pos + 1);
            let entry = self.history[pos + 1].clone();
            self.set_text(&entry);
        } else {
            self.history_pos = None;
            let draft = std::mem::take(&mut self.draft);
            self.set_text(&draft);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_keys() {
        let mut e = InputEditor::default();
        e.insert("héllo world");
        e.delete_word();
        assert_eq!(e.text(), "héllo ");
        e.home();
        e.right();
        e.delete();
        assert_eq!(e.text(), "hllo ");
        e.end();
        e.newline();
        e.insert("x");
        assert_eq!(e.text(), "hllo \nx");
        e.home();
        e.backspace();
        assert_eq!(e.text(), "hllo x");
        e.kill_to_start();
        assert_eq!(e.text(), "x");
    }

    #[test]
    fn history_walks_back_and_restores_the_draft() {
        let mut e = InputEditor::default();
        e.insert("one");
        e.take();
        e.insert("two");
        e.take();
        e.insert("draft");
        e.up();
        assert_eq!(e.text(), "two");
        e.up();
        assert_eq!(e.text(), "one");
        e.down();
        e.down();
        assert_eq!(e.text(), "draft");
    }
}
