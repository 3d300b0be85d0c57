//! A small file picker for `/image` and `/video` without a path: the folder's images, clips
//! and subfolders, moved through with the arrow keys, the selected image previewed in the
//! image pane; Enter attaches the file as `/image PATH` would. The folders are read and the
//! previews loaded by the event loop.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::commands::Command;
use super::{Effect, State, Ticket};
use crate::conversation::ChatImage;

/// A file or folder the picker lists.
#[derive(Debug, Clone, PartialEq)]
pub struct PickerEntry {
    pub name: String,
    pub is_dir: bool,
}

/// The open picker.
#[derive(Debug, Clone)]
pub struct FilePicker {
    pub dir: PathBuf,
    /// Folders first, then files, each sorted by name; `..` leads up.
    pub entries: Vec<PickerEntry>,
    pub selected: usize,
    /// The listing of `dir` awaited, if any.
    pub listing: Option<Ticket>,
    /// Why the folder could not be read.
    pub error: Option<String>,
    /// The preview awaited: only its result is shown.
    pub preview: Option<Ticket>,
    /// What the image pane showed before the picker: shown again when it closes.
    pub shown_before: Option<ChatImage>,
}

/// The extensions the picker lists: what vchat reads as images or clips.
const MEDIA: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "mp4", "m4v", "mov", "mkv", "webm",
    "avi", "mpg", "mpeg", "ts", "3gp",
];

/// True when the picker lists a file of this name.
pub fn is_media_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA.contains(&e.to_ascii_lowercase().as_str()))
}

/// The entries of a folder as the picker lists them (blocking: run by the event loop).
pub fn list_folder(dir: &Path) -> Result<Vec<PickerEntry>, String> {
    let mut entries: Vec<PickerEntry> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let is_dir = e.path().is_dir();
            (!name.starts_with('.') && (is_dir || is_media_name(&name)))
                .then_some(PickerEntry { name, is_dir })
        })
        .collect();
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    if dir.parent().is_some() {
        entries.insert(
            0,
            PickerEntry {
                name: "..".into(),
                is_dir: true,
            },
        );
    }
    Ok(entries)
}

/// A key of the picker, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum PickerKey {
    Up,
    Down,
    /// Enter: into a folder, or attach the file.
    Choose,
    /// The folder above.
    Parent,
    Close,
}

/// What a key does while the picker is open.
pub fn key_action(key: KeyEvent) -> Option<PickerKey> {
    use KeyCode::*;
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == Char('c') {
        return Some(PickerKey::Close);
    }
    Some(match key.code {
        Up | Char('k') => PickerKey::Up,
        Down | Char('j') => PickerKey::Down,
        Enter | Right | Char('l') => PickerKey::Choose,
        Left | Backspace | Char('h') => PickerKey::Parent,
        Esc | Char('q') => PickerKey::Close,
        _ => return None,
    })
}

/// The keys the picker's footer shows.
pub const PICKER_KEYS: &str =
    "↑/↓ select · Enter attach or open folder · ← folder above · Esc close";

impl State {
    /// Opens the picker in `dir`.
    pub(super) fn open_file_picker(&mut self, dir: PathBuf) -> Vec<Effect> {
        let ticket = self.ticket();
        self.file_picker = Some(FilePicker {
            dir: dir.clone(),
            entries: Vec::new(),
            selected: 0,
            listing: Some(ticket),
            error: None,
            preview: None,
            shown_before: self.shown_image.clone(),
        });
        vec![Effect::ListFolder { ticket, dir }]
    }

    /// A folder's listing arrived.
    pub(super) fn on_folder_listed(
        &mut self,
        ticket: Ticket,
        result: Result<Vec<PickerEntry>, String>,
    ) -> Vec<Effect> {
        let Some(picker) = self
            .file_picker
            .as_mut()
            .filter(|p| p.listing == Some(ticket))
        else {
            return vec![];
        };
        picker.listing = None;
        match result {
            Ok(entries) => {
                // The first file, or the first folder below `..`.
                picker.selected = usize::from(entries.len() > 1 && entries[0].name == "..");
                picker.entries = entries;
                picker.error = None;
            }
            Err(message) => picker.error = Some(message),
        }
        self.preview_selected()
    }

    /// A preview arrived: shown if it is still the one asked for.
    pub(super) fn on_preview_loaded(
        &mut self,
        ticket: Ticket,
        result: Result<ChatImage, String>,
    ) -> Vec<Effect> {
        if let Some(picker) = self
            .file_picker
            .as_mut()
            .filter(|p| p.preview == Some(ticket))
        {
            picker.preview = None;
            match result {
                Ok(image) => self.shown_image = Some(image),
                Err(message) => picker.error = Some(message),
            }
        }
        vec![]
    }

    pub(super) fn on_picker_key(&mut self, key: PickerKey) -> Vec<Effect> {
        let Some(picker) = self.file_picker.as_mut() else {
            return vec![];
        };
        let count = picker.entries.len();
        match key {
            PickerKey::Up if count > 0 => {
                picker.selected = (picker.selected + count - 1) % count;
                self.preview_selected()
            }
            PickerKey::Down if count > 0 => {
                picker.selected = (picker.selected + 1) % count;
                self.preview_selected()
            }
            PickerKey::Up | PickerKey::Down => vec![],
            PickerKey::Parent => match picker.dir.parent() {
                Some(parent) => {
                    let parent = parent.to_path_buf();
                    self.open_file_picker_keeping_preview(parent)
                }
                None => vec![],
            },
            PickerKey::Choose => {
                let Some(entry) = picker.entries.get(picker.selected).cloned() else {
                    return vec![];
                };
                let path = picker.dir.join(&entry.name);
                if entry.is_dir {
                    let path = if entry.name == ".." {
                        picker.dir.parent().map_or(path, Path::to_path_buf)
                    } else {
                        path
                    };
                    return self.open_file_picker_keeping_preview(path);
                }
                self.close_file_picker();
                self.run_command(Command::Image(path.display().to_string()))
            }
            PickerKey::Close => {
                self.close_file_picker();
                vec![]
            }
        }
    }

    fn open_file_picker_keeping_preview(&mut self, dir: PathBuf) -> Vec<Effect> {
        let before = self.file_picker.take().and_then(|p| p.shown_before);
        let effects = self.open_file_picker(dir);
        if let Some(picker) = self.file_picker.as_mut() {
            picker.shown_before = before;
        }
        effects
    }

    fn close_file_picker(&mut self) {
        if let Some(picker) = self.file_picker.take() {
            self.shown_image = picker.shown_before;
        }
    }

    /// Asks for a preview of the selected entry when it is a still image (a clip is sampled
    /// only when attached: that takes ffmpeg a moment).
    fn preview_selected(&mut self) -> Vec<Effect> {
        let ticket = self.ticket();
        let Some(picker) = self.file_picker.as_mut() else {
            return vec![];
        };
        let Some(entry) = picker.entries.get(picker.selected) else {
            return vec![];
        };
        let is_clip = crate::media::video::is_container_video(&entry.name);
        if entry.is_dir || is_clip {
            picker.preview = None;
            return vec![];
        }
        picker.preview = Some(ticket);
        vec![Effect::LoadPreview {
            ticket,
            path: picker.dir.join(&entry.name),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_images_and_clips_are_listed_folders_first() {
        let dir = std::env::temp_dir().join(format!("vchat-picker-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.png", "a.JPG", "notes.txt", ".hidden.png", "clip.mp4"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let names: Vec<String> = list_folder(&dir)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names, ["..", "sub", "a.JPG", "b.png", "clip.mp4"]);
    }
}
