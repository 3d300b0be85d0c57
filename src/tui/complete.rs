//! Tab completion of file paths after `/image`.

use std::path::Path;

/// Completes the path in `/image PARTIAL`: the longest common prefix of the matching entries
/// (a `/` added to a lone directory). `None` when nothing matches or the text is no `/image`.
pub fn complete_image_path(text: &str) -> Option<String> {
    let partial = text.strip_prefix("/image ")?;
    let (dir, prefix) = match partial.rfind('/') {
        Some(i) => (&partial[..=i], &partial[i + 1..]),
        None => ("", partial),
    };
    let read_from = if dir.is_empty() { "." } else { dir };
    let mut matches: Vec<(String, bool)> = std::fs::read_dir(read_from)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let hidden = name.starts_with('.') && !prefix.starts_with('.');
            (name.starts_with(prefix) && !hidden).then(|| (name, e.path().is_dir()))
        })
        .collect();
    matches.sort();
    let (first, _) = matches.first()?;
    let mut common = first.clone();
    for (name, _) in &matches[1..] {
        let shared = common
            .chars()
            .zip(name.chars())
            .take_while(|(a, b)| a == b)
            .count();
        common = common.chars().take(shared).collect();
    }
    if matches.len() == 1 && matches[0].1 {
        common.push('/');
    }
    let completed = format!("/image {dir}{common}");
    (completed != text || Path::new(&format!("{dir}{common}")).exists()).then_some(completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_unique_and_common_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("photo-1.png"), b"").unwrap();
        std::fs::write(dir.path().join("photo-2.png"), b"").unwrap();
        std::fs::create_dir(dir.path().join("pics")).unwrap();
        let base = dir.path().display();
        assert_eq!(
            complete_image_path(&format!("/image {base}/ph")),
            Some(format!("/image {base}/photo-"))
        );
        assert_eq!(
            complete_image_path(&format!("/image {base}/pi")),
            Some(format!("/image {base}/pics/"))
        );
        assert_eq!(complete_image_path(&format!("/image {base}/zz")), None);
    }
}
