//! Where vchat keeps its files (platform directories, from the `directories` crate).

use std::path::PathBuf;

use directories::ProjectDirs;

fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "vchat")
}

/// Cache directory: the log file and generated helper files. `VCHAT_CACHE_DIR` overrides it.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VCHAT_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    project_dirs()
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("vchat"))
}

/// The log file: everything mistral.rs and vchat log, and any panic with its backtrace.
pub fn log_file() -> PathBuf {
    cache_dir().join("vchat.log")
}

/// Data directory: saved chats and their images. `VCHAT_DATA_DIR` overrides it.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VCHAT_DATA_DIR") {
        return PathBuf::from(dir);
    }
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("vchat-data"))
}
