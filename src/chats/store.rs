//! Chats on disk: `chats/ID.json` (one versioned JSON file per chat) and `images/HASH.EXT`
//! (each image once, by content hash) under the data directory.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::atomic::write_atomic;
use super::format::{
    decode, decode_summary, encode, ChatFile, ChatSummary, ParseError, FORMAT_VERSION,
};
use crate::conversation::{ChatImage, EncodedImage};
use crate::media::{decode_image, DecodeLimits};

/// Why a chat could not be read or written; one line each, with the file's path.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "'{0}' is not a vchat chat id (letters, digits, '-' and '_', at most 64; see vchat --list)"
    )]
    BadId(String),
    #[error("no saved chat '{0}' (see vchat --list)")]
    NotFound(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is corrupt and was left as it is: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{path} was written by a newer vchat (format {found}, this one reads {FORMAT_VERSION}) and was left as it is")]
    Newer { path: String, found: u32 },
    #[error("cannot save {path}: {reason}; the previous version is kept")]
    Write { path: String, reason: String },
}

/// A chat read back: the file, its images by stored file name, and images that could not be
/// read (their turns keep the text; the problem is reported).
#[derive(Debug, Clone)]
pub struct LoadedChat {
    /// With [`ChatStore::load_tail`], only the last turns.
    pub file: ChatFile,
    /// The index of `file.turns[0]` in the whole chat: 0 when every turn was read.
    pub first_turn: usize,
    pub images: HashMap<String, ChatImage>,
    pub problems: Vec<String>,
}

/// The saved chats under one data directory.
#[derive(Debug, Clone)]
pub struct ChatStore {
    root: PathBuf,
}

impl ChatStore {
    /// The store under `root` (the data directory); folders are made on the first save.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The store in the platform data directory (or `VCHAT_DATA_DIR`).
    pub fn open_default() -> Self {
        Self::new(crate::paths::data_dir())
    }

    pub fn chats_dir(&self) -> PathBuf {
        self.root.join("chats")
    }

    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Where chat `id` lives; refused unless `id` is a vchat id, so that no name read from a
    /// file or typed by the user can point outside `chats/`.
    pub fn chat_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !is_chat_id(id) {
            return Err(StoreError::BadId(crate::text::one_line(id)));
        }
        Ok(self.chats_dir().join(format!("{id}.json")))
    }

    /// Saves a chat: first every image not stored yet, then the chat file, each atomically.
    /// Folders are private to the user (0700), files too (0600): GPU boxes are shared.
    pub fn save(
        &self,
        file: &ChatFile,
        images: &[std::sync::Arc<EncodedImage>],
    ) -> Result<(), StoreError> {
        let path = self.chat_path(&file.id)?;
        let failed = |e: io::Error| StoreError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        make_private_dir(&self.chats_dir()).map_err(failed)?;
        if !images.is_empty() {
            make_private_dir(&self.images_dir()).map_err(failed)?;
        }
        for image in images {
            let image_path = self.images_dir().join(image.file_name());
            if !image_path.exists() {
                write_atomic(&image_path, &image.bytes).map_err(failed)?;
            }
        }
        let bytes = encode(file).map_err(|e| failed(io::Error::other(e)))?;
        write_atomic(&path, &bytes).map_err(failed)
    }

    /// Reads chat `id` with its images. Nothing on disk is changed, whatever is found.
    pub fn load(&self, id: &str) -> Result<LoadedChat, StoreError> {
        self.read(id, None)
    }

    /// Reads the last `turns` turns of chat `id` and their images: enough for a first screen
    /// of a long chat, whose other turns [`ChatStore::load`] reads afterwards.
    pub fn load_tail(&self, id: &str, turns: usize) -> Result<LoadedChat, StoreError> {
        self.read(id, Some(turns))
    }

    fn read(&self, id: &str, last: Option<usize>) -> Result<LoadedChat, StoreError> {
        let (file, first_turn) = self.read_file(id, last)?;
        let mut images = HashMap::new();
        let mut problems = Vec::new();
        let every_turn = file.turns.iter().chain(file.branches.turns());
        for record in every_turn.flat_map(|t| t.image_records()) {
            if images.contains_key(&record.file) {
                continue;
            }
            match self.read_image(&record.file, &record.label) {
                Ok(image) => {
                    images.insert(record.file.clone(), image);
                }
                Err(problem) => problems.push(problem),
            }
        }
        Ok(LoadedChat {
            file,
            first_turn,
            images,
            problems,
        })
    }

    fn read_image(&self, file: &str, label: &str) -> Result<ChatImage, String> {
        // Stored names are hashes; anything else (a hand-edited file) is not followed.
        if file.contains(['/', '\\']) || file.starts_with('.') {
            return Err(format!("image {label}: bad stored name '{file}'"));
        }
        let path = self.images_dir().join(file);
        let bytes =
            fs::read(&path).map_err(|e| format!("image {label} ({}): {e}", path.display()))?;
        let pixels =
            decode_image(&bytes, label, &DecodeLimits::default()).map_err(|e| e.to_string())?;
        Ok(ChatImage::new(label, bytes, pixels))
    }

    /// Every readable chat, newest first, and a line for each file that could not be read.
    pub fn list(&self) -> (Vec<ChatSummary>, Vec<StoreError>) {
        let mut chats = Vec::new();
        let mut problems = Vec::new();
        let Ok(entries) = fs::read_dir(self.chats_dir()) else {
            return (chats, problems);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(id) = chat_id_of(&path) else {
                continue;
            };
            match read_summary(&path, &id) {
                Ok(mut summary) => {
                    summary.id = id;
                    chats.push(summary)
                }
                Err(e) => problems.push(e),
            }
        }
        chats.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.id.cmp(&a.id)));
        (chats, problems)
    }

    /// The most recently saved chat's id.
    pub fn latest(&self) -> Option<String> {
        self.list().0.into_iter().next().map(|c| c.id)
    }

    /// Deletes chat `id` (its images stay: other chats may use them).
    pub fn delete(&self, id: &str) -> Result<(), StoreError> {
        let path = self.chat_path(id)?;
        fs::remove_file(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound(id.to_string()),
            _ => StoreError::Write {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
        })
    }

    /// The chat file alone (the turns, with `last` only the last ones), images not read. The
    /// chat's id is its file name, whatever the file says: a copied or crafted file is saved
    /// under its own name, never over another chat or outside the folder.
    fn read_file(&self, id: &str, last: Option<usize>) -> Result<(ChatFile, usize), StoreError> {
        let path = self.chat_path(id)?;
        let bytes = read_bytes(&path, id)?;
        let (mut file, first) = decode(&bytes, last).map_err(|e| parse_error(e, &path))?;
        file.id = id.to_string();
        Ok((file, first))
    }

    /// Gives chat `id` a new title (its images are neither read nor written again).
    pub fn rename(&self, id: &str, title: &str) -> Result<(), StoreError> {
        let (mut file, _) = self.read_file(id, None)?;
        file.title = title.trim().to_string();
        self.save(&file, &[])
    }
}

/// The id of a chat file (`ID.json`), or `None` for anything else in the folder (such as a
/// temporary file of a save in progress, or a name vchat would not write).
fn chat_id_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".json")
        .filter(|id| is_chat_id(id))
        .map(str::to_string)
}

/// True for the ids vchat makes (`20261125-054201-3f9a`) and names like them: letters,
/// digits, `-` and `_`, not starting with `-`, at most 64. Nothing that could leave the folder.
pub fn is_chat_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates `dir` (and its parents) readable by the user alone.
fn make_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        // Folders made by an older vchat (0755) are closed too.
        if fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

fn read_bytes(path: &Path, id: &str) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound(id.to_string()),
        _ => StoreError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        },
    })
}

/// Reads the first line only: listing many long chats stays cheap.
fn read_summary(path: &Path, id: &str) -> Result<ChatSummary, StoreError> {
    use std::io::BufRead;
    let file = fs::File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound(id.to_string()),
        _ => StoreError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        },
    })?;
    let mut first = Vec::new();
    io::BufReader::new(file)
        .read_until(b'\n', &mut first)
        .map_err(|e| StoreError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    decode_summary(&first).map_err(|e| parse_error(e, path))
}

fn parse_error(error: ParseError, path: &Path) -> StoreError {
    let path = path.display().to_string();
    match error {
        ParseError::Corrupt(reason) => StoreError::Corrupt { path, reason },
        ParseError::Newer(found) => StoreError::Newer { path, found },
    }
}
