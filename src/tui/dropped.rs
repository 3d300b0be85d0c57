//! A file dropped onto the terminal, or an image path or URL pasted: terminals paste a dropped
//! file as its path, quoted or escaped in their own way (`'/a b.png'`, `/a\ b.png`,
//! `file:///a%20b.png`). A paste that is nothing but one image (or video clip) is attached, as Ollama's and
//! crush's users expect; anything else is text for the input.

use std::path::Path;

/// Extensions of the image files vchat decodes.
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "avif", "ico", "pnm", "qoi",
];

/// The image a paste names, as `/image` takes it: an existing image file's path, or an
/// http(s) URL of an image. `None` when the paste is anything else.
pub fn pasted_image(pasted: &str) -> Option<String> {
    let item = unquote(pasted.trim())?;
    let is_url = item.starts_with("http://") || item.starts_with("https://");
    let path_part = if is_url {
        item.split(['?', '#']).next().unwrap_or_default()
    } else {
        &item
    };
    let extension = Path::new(path_part)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    // Clips are attached the same way (their frames): see media::video.
    if !IMAGE_EXTENSIONS.contains(&extension.as_str())
        && !crate::media::video::is_container_video(path_part)
    {
        return None;
    }
    (is_url || Path::new(&item).is_file()).then_some(item)
}

/// One item as a terminal writes a dropped file: quoted, backslash-escaped or a `file://`
/// URL. `None` for text with more than one line or unescaped spaces between words.
fn unquote(text: &str) -> Option<String> {
    if text.is_empty() || text.contains(['\n', '\r']) {
        return None;
    }
    if let Some(path) = text.strip_prefix("file://") {
        // `file:///a%20b.png`, or `file://localhost/…`.
        let path = path.strip_prefix("localhost").unwrap_or(path);
        return percent_decode(path);
    }
    for quote in ['\'', '"'] {
        if let Some(inner) = text
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            // A single quote inside single quotes is written `'\''` by shells and terminals.
            return Some(inner.replace("'\\''", "'"));
        }
    }
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            // An unescaped space: words, not one dropped path.
            ' ' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// `%20` and the like decoded; `None` when they do not form UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_paths_are_read_as_terminals_write_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("my photo's copy.PNG");
        std::fs::write(&file, b"not checked here").unwrap();
        let path = file.to_str().unwrap();
        let escaped: String = path
            .chars()
            .flat_map(|c| match c {
                ' ' | '\'' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let url_path = path.replace(' ', "%20").replace('\'', "%27");
        for pasted in [
            escaped,
            format!("'{}'", path.replace('\'', "'\\''")),
            format!("\"{path}\""),
            format!("file://{url_path}"),
            format!("  '{}'\n", path.replace('\'', "'\\''")),
        ] {
            assert_eq!(pasted_image(&pasted).as_deref(), Some(path), "{pasted:?}");
        }
    }

    #[test]
    fn other_pastes_stay_text() {
        let dir = tempfile::tempdir().unwrap();
        let text_file = dir.path().join("notes.txt");
        std::fs::write(&text_file, b"x").unwrap();
        let missing = dir.path().join("missing.png");
        for pasted in [
            "What is in this picture?".to_string(),
            "look at a.png".to_string(),
            text_file.display().to_string(),
            missing.display().to_string(),
            format!("{}\n{}", missing.display(), missing.display()),
            "https://example.com/page.html".to_string(),
            String::new(),
        ] {
            assert_eq!(pasted_image(&pasted), None, "{pasted:?}");
        }
        assert_eq!(
            pasted_image("https://example.com/cat.JPG?size=large").as_deref(),
            Some("https://example.com/cat.JPG?size=large")
        );
    }
}
