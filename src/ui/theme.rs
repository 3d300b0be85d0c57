//! Colours and text styles of every widget, in one place.

use ratatui::style::{Color, Modifier, Style};

/// The styles the widgets draw with.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    pub user: Style,
    pub assistant: Style,
    pub notice: Style,
    pub text: Style,
    pub dim: Style,
    /// Inline code and code blocks in answers.
    pub code: Style,
    pub error: Style,
    pub status: Style,
    pub selected: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            title: Style::new().add_modifier(Modifier::BOLD),
            user: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            assistant: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            notice: Style::new().fg(Color::Yellow),
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            code: Style::new().fg(Color::Cyan),
            error: Style::new().fg(Color::Red),
            status: Style::new().bg(Color::DarkGray).fg(Color::White),
            selected: Style::new().add_modifier(Modifier::REVERSED),
        }
    }
}
