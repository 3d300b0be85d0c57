//! A saved chat as Markdown (for reading and sharing) or JSON (the chat file itself), with its
//! images copied into a folder beside the export.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::format::{BranchRecord, BranchesRecord, ChatFile, TurnRecord};
use crate::conversation::EncodedImage;
use crate::sampling::SamplingSettings;

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The version of the chat on screen.
    Md,
    /// Every version (the other ones after the one on screen).
    MdAll,
    /// The chat file itself, every version included.
    Json,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Md | Self::MdAll => "md",
            Self::Json => "json",
        }
    }
}

/// Writes chat `file` to `output` and its images (the bytes in `images`, which the chat's
/// records name by [`EncodedImage::file_name`]) into `<output stem>-images/` beside it. Works
/// from what it is given: nothing is read from or written to the chat store. Returns the paths
/// written (the export first).
pub fn export(
    file: &ChatFile,
    images: &[Arc<EncodedImage>],
    format: ExportFormat,
    output: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.id.clone());
    let images_folder = format!("{stem}-images");
    let body = match format {
        ExportFormat::Md => to_markdown(file, &images_folder),
        ExportFormat::MdAll => to_markdown_all_versions(file, &images_folder),
        ExportFormat::Json => serde_json::to_string_pretty(file).map_err(std::io::Error::other)?,
    };
    let mut written = vec![output.to_path_buf()];
    let names = image_files(file);
    if !names.is_empty() {
        let folder = output.with_file_name(&images_folder);
        fs::create_dir_all(&folder)?;
        for name in names {
            // An image that could not be loaded with the chat is named in the export only.
            let Some(image) = images.iter().find(|i| i.file_name() == name) else {
                continue;
            };
            let target = folder.join(&name);
            fs::write(&target, &image.bytes)?;
            written.push(target);
        }
    }
    fs::write(output, body)?;
    Ok(written)
}

/// The stored image files a chat refers to, each once, in order of appearance.
fn image_files(file: &ChatFile) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let every_turn = file.turns.iter().chain(file.branches.turns());
    for image in every_turn.flat_map(|t| t.image_records()) {
        if !names.contains(&image.file) {
            names.push(image.file.clone());
        }
    }
    names
}

/// The chat as Markdown: each turn under a heading, images as links into `images_folder`,
/// and under each answer the settings and stats it was made with. The version of the chat on
/// screen; a closing line says how many others there are.
pub fn to_markdown(file: &ChatFile, images_folder: &str) -> String {
    let mut out = header(file);
    write_turns(&mut out, &file.turns, images_folder, (0, 0));
    let others = versions(&file.branches).len();
    if others > 0 {
        let _ = writeln!(
            out,
            "*This chat has {others} other version(s) of its turns (from regenerates and edits): \
             `vchat export {} --format md-all` writes them too.*",
            file.id
        );
    }
    out
}

/// [`to_markdown`], then every other version of the chat, each from the turn where it
/// parts from the version on screen.
pub fn to_markdown_all_versions(file: &ChatFile, images_folder: &str) -> String {
    let mut out = header(file);
    write_turns(&mut out, &file.turns, images_folder, (0, 0));
    for (index, branch) in versions(&file.branches).into_iter().enumerate() {
        // Numbered on from the turns before the fork (on screen), as the chat pane would.
        let before = &file.turns[..branch.at.min(file.turns.len())];
        let counts = (
            before
                .iter()
                .filter(|t| matches!(t, TurnRecord::User { .. }))
                .count(),
            before
                .iter()
                .filter(|t| matches!(t, TurnRecord::Assistant { .. }))
                .count(),
        );
        let _ = writeln!(
            out,
            "---\n\n## Other version {} (from turn {})\n",
            index + 1,
            branch.at + 1
        );
        write_turns(&mut out, &branch.turns, images_folder, counts);
    }
    out
}

/// Every stored version, nested ones after the version they belong to.
fn versions(branches: &BranchesRecord) -> Vec<&BranchRecord> {
    let mut out = Vec::new();
    for branch in &branches.stored {
        out.push(branch);
        out.extend(versions(&branch.nested));
    }
    out
}

fn header(file: &ChatFile) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", file.title);
    let created = chrono::DateTime::from_timestamp(file.created, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let _ = writeln!(out, "vchat chat `{}`, started {created}.\n", file.id);
    if let Some(system) = &file.system_prompt {
        let _ = writeln!(out, "**System prompt:** {system}\n");
    }
    out
}

/// Writes `turns`, numbered on from `counts` (questions, answers) as in the chat pane (You
/// #2, Assistant #2): the N of `/edit N` and `/copy N`.
fn write_turns(
    out: &mut String,
    turns: &[TurnRecord],
    images_folder: &str,
    counts: (usize, usize),
) {
    let (mut questions, mut answers) = counts;
    for turn in turns {
        match turn {
            TurnRecord::User { text, .. } => {
                questions += 1;
                let _ = writeln!(out, "## You #{questions}\n");
                for image in turn.image_records() {
                    let _ = writeln!(
                        out,
                        "![{}]({images_folder}/{})\n",
                        image.label.replace(['[', ']'], ""),
                        image.file
                    );
                }
                let _ = writeln!(out, "{}\n", text.trim_end());
            }
            TurnRecord::Assistant {
                text,
                settings,
                stats,
                answered_by,
            } => {
                answers += 1;
                match answered_by {
                    Some(model) => {
                        let _ = writeln!(out, "## Assistant #{answers} ({model})\n");
                    }
                    None => {
                        let _ = writeln!(out, "## Assistant #{answers}\n");
                    }
                }
                let _ = writeln!(out, "{}\n", text.trim_end());
                let mut facts = vec![settings_summary(settings)];
                if let Some(stats) = stats {
                    facts.push(stats.summary());
                    if let (Some(seed), None) = (stats.seed, settings.seed) {
                        facts.push(format!("seed {seed}"));
                    }
                }
                let _ = writeln!(out, "> {}\n", facts.join(" · "));
            }
        }
    }
}

/// The settings of an answer in one line, e.g. `sampling, temperature 0.2, top-p 1, …`.
fn settings_summary(settings: &SamplingSettings) -> String {
    let mut parts = vec![if settings.do_sample {
        format!("temperature {}", settings.temperature)
    } else {
        "greedy".to_string()
    }];
    if settings.do_sample {
        if settings.top_p < 1.0 {
            parts.push(format!("top-p {}", settings.top_p));
        }
        if settings.top_k > 0 {
            parts.push(format!("top-k {}", settings.top_k));
        }
        if settings.min_p > 0.0 {
            parts.push(format!("min-p {}", settings.min_p));
        }
    }
    if settings.repetition_penalty != 1.0 {
        parts.push(format!(
            "repetition penalty {}",
            settings.repetition_penalty
        ));
    }
    parts.push(format!("max {} tokens", settings.max_new_tokens));
    if let Some(seed) = settings.seed {
        parts.push(format!("seed {seed}"));
    }
    parts.join(", ")
}
