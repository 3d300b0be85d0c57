//! Commands typed in the input: `/image`, `/new`, `/system`, `/set`, `/help`, `/quit`.

/// A command the user typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Load an image (path or URL) for the next user turn.
    Image(String),
    /// Open the file picker (`/image` or `/video` without a path).
    PickFile,
    /// Attach frame N of the last clip (none: the one shown) at full size.
    Frame(Option<usize>),
    /// Attach the image on the system clipboard.
    Paste,
    /// Load another model (id or folder) and go on with it; empty: name the one in use.
    Model(String),
    /// Take the attached images off the next message.
    Detach,
    /// Start a new chat, with a new image if one is named.
    New(Option<String>),
    /// Set (or, with empty text, clear) the system prompt.
    System(String),
    /// Change a sampling setting.
    Set { name: String, value: String },
    /// Ask the last question again (new answer, current settings).
    Regenerate,
    /// Let the model go on with the last answer (stopped or cut off).
    Continue,
    /// Put user message N (1-based; none = the last) back in the input; what followed goes.
    Edit(Option<usize>),
    /// Show the conversation text as the model sees it.
    Prompt,
    /// Copy an answer (N counts from 1; none = the last), or its last code block.
    Copy { answer: Option<usize>, code: bool },
    /// Open the list of saved chats.
    Chats,
    /// Rename the current chat.
    Rename(String),
    /// Export the current chat.
    Export {
        format: crate::chats::ExportFormat,
        path: Option<String>,
    },
    /// Show the help overlay.
    Help,
    /// Leave the app.
    Quit,
}

/// Splits the input into vchat's notes at its start (the lines in brackets that `/video` and
/// `/frame` put there, such as `[video clip.mp4, …]`) and what follows, so that a command
/// typed after them still runs, and the notes stay for the message to come.
pub fn split_notes(text: &str) -> (&str, &str) {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if !(line.ends_with('\n') && trimmed.starts_with('[') && trimmed.ends_with(']')) {
            break;
        }
        end += line.len();
    }
    text.split_at(end)
}

/// Every command with its arguments and what it does, for the help overlay and the README.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "/image [PATH|URL]",
        "attach an image to the next message (Tab completes paths; none: pick a file); again for more",
    ),
    (
        "/video PATH|URL",
        "attach a clip's sampled frames (MP4, WebM, MKV, MOV via ffmpeg; animated GIF, PNG, WebP)",
    ),
    (
        "/frame [N]",
        "attach frame N of the last clip (or the one shown) at full size, to ask about details",
    ),
    (
        "/paste",
        "attach the image on the clipboard (as Ctrl-V does)",
    ),
    ("/detach", "take the attached images off the next message"),
    (
        "/model [ID|PATH]",
        "load another model in the background and go on with it (a remote server: its model id)",
    ),
    (
        "/new [PATH|URL]",
        "start a new chat (keeps the settings, and the image unless one is named)",
    ),
    (
        "/continue",
        "let the model go on with a stopped or cut-off answer",
    ),
    (
        "/regen",
        "answer the last question again (current settings); the old answer stays as a version",
    ),
    (
        "/edit [N]",
        "edit your last (or N-th) message and send it again; the old one stays as a version",
    ),
    (
        "/prompt",
        "show the conversation text exactly as the model sees it",
    ),
    (
        "/copy [N] [code]",
        "copy the last (or N-th) answer, or its last code block",
    ),
    ("/chats", "list saved chats: open, rename, delete"),
    ("/rename TITLE", "rename this chat"),
    (
        "/export md|md-all|json [PATH]",
        "export this chat (images beside it); md-all adds its other versions, json has all",
    ),
    ("/system TEXT", "set the system prompt (empty clears it)"),
    (
        "/set NAME VALUE",
        "change a setting, e.g. /set temperature 0.7",
    ),
    ("/help", "show the keys and commands"),
    ("/quit", "leave vchat"),
];

/// Parses a typed line. `None` when it is a message, not a command (it does not start with
/// `/`); an error message when it is a command that cannot be understood.
pub fn parse(text: &str) -> Option<Result<Command, String>> {
    let text = text.trim();
    let rest = text.strip_prefix('/')?;
    let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    Some(match name {
        // Without a path: pick one.
        "image" | "img" | "video" if args.is_empty() => Ok(Command::PickFile),
        "image" | "img" => Ok(Command::Image(args.to_string())),
        // A clip given to /image is a clip as well: the file decides, not the command.
        "video" => Ok(Command::Image(args.to_string())),
        "frame" if args.is_empty() => Ok(Command::Frame(None)),
        "frame" => match args.parse::<usize>() {
            Ok(n) => Ok(Command::Frame(Some(n))),
            Err(_) => Err("usage: /frame [N], N the frame's number from 1".into()),
        },
        "paste" => Ok(Command::Paste),
        "model" => Ok(Command::Model(args.to_string())),
        "detach" => Ok(Command::Detach),
        "new" | "clear" => Ok(Command::New((!args.is_empty()).then(|| args.to_string()))),
        "system" => Ok(Command::System(args.to_string())),
        "set" => parse_set(args),
        "regen" | "regenerate" | "retry" => Ok(Command::Regenerate),
        "continue" | "cont" => Ok(Command::Continue),
        "edit" if args.is_empty() => Ok(Command::Edit(None)),
        "edit" => args
            .parse()
            .map(|n| Command::Edit(Some(n)))
            .map_err(|_| "usage: /edit [N] (N counts your messages from 1)".to_string()),
        "prompt" => Ok(Command::Prompt),
        "copy" => parse_copy(args),
        "chats" | "list" => Ok(Command::Chats),
        "rename" if args.is_empty() => Err("usage: /rename TITLE".into()),
        "rename" => Ok(Command::Rename(args.to_string())),
        "export" => parse_export(args),
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" | "q" => Ok(Command::Quit),
        other => Err(format!(
            "unknown command /{} (try /help)",
            crate::text::one_line(other)
        )),
    })
}

/// `/set NAME VALUE`. Ollama's forms work too: `/set parameter NAME VALUE` and
/// `/set system TEXT`, so that its users' habits carry over.
fn parse_set(args: &str) -> Result<Command, String> {
    let (name, value) = args
        .split_once(char::is_whitespace)
        .map_or((args, ""), |(name, value)| (name, value.trim()));
    match name {
        "system" => Ok(Command::System(value.to_string())),
        "parameter" if !value.is_empty() => parse_set(value),
        _ if name.is_empty() || value.is_empty() || name == "parameter" => Err(format!(
            "usage: /set NAME VALUE (names: {})",
            crate::sampling::SETTING_NAMES.join(", ")
        )),
        _ => Ok(Command::Set {
            name: name.to_string(),
            value: value.to_string(),
        }),
    }
}

/// `/copy [N] [code]`: N counts the answers from 1 (none: the last), `code` takes the answer's
/// last code block; the two may come in either order.
fn parse_copy(args: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /copy [N] [code] (N counts the answers from 1)";
    let mut answer = None;
    let mut code = false;
    for word in args.split_whitespace() {
        match word {
            "code" if !code => code = true,
            _ if answer.is_none() => match word.parse::<usize>() {
                Ok(n) if n >= 1 => answer = Some(n),
                _ => return Err(USAGE.into()),
            },
            _ => return Err(USAGE.into()),
        }
    }
    Ok(Command::Copy { answer, code })
}

fn parse_export(args: &str) -> Result<Command, String> {
    use crate::chats::ExportFormat;
    let (format, path) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let format = match format {
        "" | "md" | "markdown" => ExportFormat::Md,
        "md-all" => ExportFormat::MdAll,
        "json" => ExportFormat::Json,
        _ => return Err("usage: /export md|md-all|json [PATH]".into()),
    };
    let path = path.trim();
    Ok(Command::Export {
        format,
        path: (!path.is_empty()).then(|| path.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_messages() {
        assert_eq!(parse("hello"), None);
        assert_eq!(
            parse("/set max_tokens 8"),
            Some(Ok(Command::Set {
                name: "max_tokens".into(),
                value: "8".into()
            }))
        );
        assert_eq!(
            parse("/image a b.png"),
            Some(Ok(Command::Image("a b.png".into())))
        );
        assert!(matches!(parse("/frob"), Some(Err(_))));
        assert!(matches!(parse("/set x"), Some(Err(_))));
    }

    #[test]
    fn a_command_after_vchats_notes_is_a_command() {
        let note = "[video a.mp4, 2.00 s long: 2 frames at 0.50, 1.50 s]\n";
        assert_eq!(split_notes(&format!("{note}/frame 2")), (note, "/frame 2"));
        let two = format!("[frame 1 of a.mp4 at 0.50 s, full size]\n{note}");
        assert_eq!(
            split_notes(&format!("{two}/paste")),
            (two.as_str(), "/paste")
        );
        // A message is not split into notes; a note alone has nothing after it.
        assert_eq!(split_notes("[x] is done\n/y"), ("", "[x] is done\n/y"));
        assert_eq!(split_notes("[only]"), ("", "[only]"));
        assert_eq!(parse(split_notes(&format!("{note}What?")).1), None);
    }

    #[test]
    fn ollama_set_forms_are_understood() {
        assert_eq!(
            parse("/set parameter temperature 0.7"),
            Some(Ok(Command::Set {
                name: "temperature".into(),
                value: "0.7".into()
            }))
        );
        assert_eq!(
            parse("/set system Answer in French."),
            Some(Ok(Command::System("Answer in French.".into())))
        );
        assert_eq!(parse("/set system"), Some(Ok(Command::System("".into()))));
        assert!(matches!(parse("/set parameter"), Some(Err(_))));
        assert!(matches!(parse("/set parameter top_k"), Some(Err(_))));
    }

    #[test]
    fn copy_takes_an_answer_number_and_code_in_either_order() {
        let copy = |answer, code| Some(Ok(Command::Copy { answer, code }));
        assert_eq!(parse("/copy"), copy(None, false));
        assert_eq!(parse("/copy code"), copy(None, true));
        assert_eq!(parse("/copy 2"), copy(Some(2), false));
        assert_eq!(parse("/copy 2 code"), copy(Some(2), true));
        assert_eq!(parse("/copy code 3"), copy(Some(3), true));
        for bad in ["/copy 0", "/copy x", "/copy 1 2", "/copy code code"] {
            assert!(matches!(parse(bad), Some(Err(_))), "{bad}");
        }
    }
}
