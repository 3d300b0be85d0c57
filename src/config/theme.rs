//! Themes: TOML files of styles. Three ship compiled in; users add their own as
//! `<config dir>/themes/NAME.toml`. A bad entry is reported and keeps the dark theme's style.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

use super::Problem;
use crate::ui::Theme;

/// The themes compiled into the binary, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Loads theme `name`: a user file in `config_dir/themes` first, then a built-in one.
pub fn load(name: &str, config_dir: Option<&Path>, problems: &mut Vec<Problem>) -> Theme {
    let user_file = config_dir.map(|d| d.join("themes").join(format!("{name}.toml")));
    if let Some(path) = user_file.filter(|p| p.is_file()) {
        let file = path.display().to_string();
        return match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text, &file, problems),
            Err(e) => {
                problems.push(Problem::new(&file, "", format!("cannot read: {e}")));
                Theme::default()
            }
        };
    }
    match BUILT_IN.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => parse(text, &format!("built-in theme {n}"), problems),
        None => {
            let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            problems.push(Problem::new(
                "config.toml",
                "theme",
                format!(
                    "unknown theme '{name}' (built in: {}); using dark",
                    known.join(", ")
                ),
            ));
            Theme::default()
        }
    }
}

/// Parses a theme file; entries it lacks or gets wrong keep the default theme's style.
pub fn parse(text: &str, file: &str, problems: &mut Vec<Problem>) -> Theme {
    let mut theme = Theme::default();
    let table = match toml::from_str::<toml::Table>(text) {
        Ok(table) => table,
        Err(e) => {
            problems.push(Problem::new(
                file,
                "",
                crate::text::one_line(&e.to_string()),
            ));
            return theme;
        }
    };
    for (key, value) in &table {
        let slot = match key.as_str() {
            "border" => &mut theme.border,
            "border_focused" => &mut theme.border_focused,
            "title" => &mut theme.title,
            "user" => &mut theme.user,
            "assistant" => &mut theme.assistant,
            "notice" => &mut theme.notice,
            "text" => &mut theme.text,
            "dim" => &mut theme.dim,
            "code" => &mut theme.code,
            "error" => &mut theme.error,
            "status" => &mut theme.status,
            "selected" => &mut theme.selected,
            _ => {
                problems.push(Problem::new(file, key, "unknown style name"));
                continue;
            }
        };
        match parse_style(value) {
            Ok(style) => *slot = style,
            Err(reason) => problems.push(Problem::new(file, key, reason)),
        }
    }
    theme
}

fn parse_style(value: &toml::Value) -> Result<Style, String> {
    let table = value
        .as_table()
        .ok_or("expected a table such as { fg = \"cyan\" }")?;
    let mut style = Style::new();
    for (key, value) in table {
        match key.as_str() {
            "fg" => style = style.fg(parse_color(value)?),
            "bg" => style = style.bg(parse_color(value)?),
            "modifiers" => {
                let list = value.as_array().ok_or("modifiers must be a list")?;
                for item in list {
                    style = style.add_modifier(parse_modifier(item.as_str().unwrap_or(""))?);
                }
            }
            other => return Err(format!("unknown field '{other}' (use fg, bg, modifiers)")),
        }
    }
    Ok(style)
}

fn parse_color(value: &toml::Value) -> Result<Color, String> {
    let text = value.as_str().ok_or("a colour must be a string")?;
    Color::from_str(text).map_err(|_| format!("unknown colour '{text}'"))
}

fn parse_modifier(name: &str) -> Result<Modifier, String> {
    Ok(match name {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        other => return Err(format!("unknown modifier '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_parse_cleanly() {
        for (name, text) in BUILT_IN {
            let mut problems = Vec::new();
            parse(text, name, &mut problems);
            assert!(problems.is_empty(), "{name}: {problems:?}");
        }
        let mut problems = Vec::new();
        assert_eq!(
            parse(BUILT_IN[0].1, "dark", &mut problems),
            Theme::default()
        );
    }

    #[test]
    fn bad_entries_are_reported_and_skipped() {
        let mut problems = Vec::new();
        let theme = parse(
            "user = { fg = \"nope\" }\nfoo = {}",
            "t.toml",
            &mut problems,
        );
        assert_eq!(theme.user, Theme::default().user);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].to_string().contains("t.toml"));
    }
}
