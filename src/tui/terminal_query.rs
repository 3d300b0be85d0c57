//! Asks the terminal which graphics protocol and cell size it has, reading the answer here.
//!
//! ratatui-image 11.1's `Picker::from_query_stdio` reads the answer on a thread that outlives
//! its timeout: when the terminal never answers (ssh out of a tmux pane, a terminal without
//! the query's features), that thread is still blocked reading stdin and takes the first input
//! after it, through std's buffer, so a first paste vanished whole. This sends ratatui-image's
//! own query and parses the answer with its own parser, but reads the terminal on the calling
//! thread, one byte per read after `poll`, up to the terminal's final status report: nothing is
//! left reading stdin, and no byte after the answer is taken from the app. (ratatui-image 12
//! does the same upstream; it is only out as release candidates.)
//!
//! It also asks the terminal its name and version (XTVERSION), because kitty before 0.28
//! answers the graphics query yet cannot show what ratatui-image sends it: ratatui-image
//! places kitty images with Unicode placeholders, which kitty 0.28 introduced. Debian 12's
//! kitty 0.26 logged `Malformed GraphicsCommand control block` and drew boxes. There vchat
//! draws with half-blocks instead.

use std::time::{Duration, Instant};

use ratatui_image::picker::cap_parser::{Parser, QueryStdioOptions, Response};
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::FontSize;

/// How long the terminal has to answer (ratatui-image's own default).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// What the terminal said about itself.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub protocol: Option<ProtocolType>,
    /// A cell's width and height in pixels.
    pub cell_size: Option<(u16, u16)>,
    /// Its name and version as XTVERSION gives them, e.g. `kitty(0.26.5)`, `XTerm(390)`.
    pub terminal: Option<String>,
}

/// The first kitty that shows images placed with Unicode placeholders.
const KITTY_PLACEHOLDERS_SINCE: (u32, u32) = (0, 28);

/// True for a kitty older than [`KITTY_PLACEHOLDERS_SINCE`], by its XTVERSION answer.
fn kitty_without_placeholders(terminal: &str) -> bool {
    let Some(version) = terminal
        .strip_prefix("kitty(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return false;
    };
    let mut numbers = version.split('.').map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < KITTY_PLACEHOLDERS_SINCE,
        _ => false,
    }
}

/// The picker for this terminal: what it answered, else the environment's hints (tmux's outer
/// terminal, iTerm2) with the cell size the kernel knows; half-blocks without a cell size.
pub fn picker_from_terminal() -> Picker {
    let answer = ask_terminal(ANSWER_TIMEOUT).unwrap_or_else(|e| {
        tracing::info!("the terminal did not answer the graphics query ({e})");
        Answer::default()
    });
    answer.into_picker()
}

impl Answer {
    /// A picker as ratatui-image's `from_query_stdio` builds one from the same answer.
    pub fn into_picker(self) -> Picker {
        let Some(cell_size) = self.cell_size.or_else(cell_size_from_kernel) else {
            return Picker::halfblocks();
        };
        // The one constructor that takes a known cell size; it applies the environment's
        // hints, which the terminal's own answer then overrides.
        #[allow(deprecated)]
        let mut picker = Picker::from_fontsize(FontSize::from(cell_size));
        if let Some(protocol) = self.protocol {
            picker.set_protocol_type(protocol);
        }
        if let Some(terminal) = self.terminal.as_deref() {
            tracing::info!("terminal: {terminal}");
            if picker.protocol_type() == ProtocolType::Kitty && kitty_without_placeholders(terminal)
            {
                tracing::info!(
                    "{terminal} shows no kitty images placed with Unicode placeholders \
                     (kitty 0.28 and later do): half-blocks"
                );
                picker.set_protocol_type(ProtocolType::Halfblocks);
            }
        }
        picker
    }

    /// Takes one parsed response; true once the answer is complete (the status report that
    /// ends the query).
    fn take(&mut self, response: Response) -> bool {
        match response {
            Response::Status => return true,
            Response::Kitty => self.protocol = Some(ProtocolType::Kitty),
            // Kitty's graphics win over sixel, as in ratatui-image.
            Response::Sixel => {
                self.protocol.get_or_insert(ProtocolType::Sixel);
            }
            Response::CellSize(Some(size)) => self.cell_size = Some(size),
            _ => {}
        }
        false
    }
}

/// The cell size from the terminal's pixel and cell counts, where the kernel knows them.
fn cell_size_from_kernel() -> Option<(u16, u16)> {
    let size = crossterm::terminal::window_size().ok()?;
    (size.width > 0 && size.height > 0 && size.columns > 0 && size.rows > 0)
        .then(|| (size.width / size.columns, size.height / size.rows))
}

/// The query's text: ratatui-image's, without the protocols a terminal claims but draws
/// badly (as ratatui-image does), wrapped for tmux exactly when ratatui-image's encoders will
/// wrap their output.
fn query_text() -> String {
    let mut options = QueryStdioOptions::default();
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if set("WEZTERM_EXECUTABLE") || set("KONSOLE_VERSION") {
        options.blacklist_protocols = vec![ProtocolType::Kitty, ProtocolType::Sixel];
    }
    // XTVERSION first: terminals answer in order, and the query ends with the status report.
    format!(
        "{XTVERSION}{}",
        Parser::query(Picker::halfblocks().tmux_detected(), options)
    )
}

/// "Send me your name and version": answered as `DCS >| name(version) ST`, or ignored.
const XTVERSION: &str = "\x1b[>0q";

/// Parses the terminal's bytes as they come; `Some` once the answer is complete.
///
/// Device control strings (`ESC P … ESC \`) are read here: the XTVERSION answer is one, and
/// ratatui-image's parser knows none. Every other byte goes to that parser.
#[derive(Default)]
struct AnswerReader {
    parser: Parser,
    answer: Answer,
    /// An ESC whose meaning depends on the next byte.
    escape: bool,
    /// Inside a device control string: its bytes so far.
    control_string: Option<Vec<u8>>,
}

/// Longest device control string kept; a longer one is skipped to its end.
const MAX_CONTROL_STRING: usize = 256;

impl AnswerReader {
    fn push(&mut self, byte: u8) -> Option<Answer> {
        const ESC: u8 = 0x1b;
        if let Some(string) = &mut self.control_string {
            match (std::mem::take(&mut self.escape), byte) {
                // ST (ESC \) or BEL ends it.
                (true, b'\\') | (false, 0x07) => {
                    let string = self.control_string.take().unwrap_or_default();
                    if let Some(name) = string.strip_prefix(b">|") {
                        let name = String::from_utf8_lossy(name);
                        self.answer.terminal = Some(crate::text::one_line(&name));
                    }
                }
                (false, ESC) => self.escape = true,
                (escaped, byte) => {
                    if escaped {
                        string.push(ESC);
                    }
                    if string.len() < MAX_CONTROL_STRING {
                        string.push(byte);
                    }
                }
            }
            return None;
        }
        if std::mem::take(&mut self.escape) {
            if byte == b'P' {
                self.control_string = Some(Vec::new());
                return None;
            }
            if let Some(answer) = self.feed(ESC) {
                return Some(answer);
            }
        }
        if byte == ESC {
            self.escape = true;
            return None;
        }
        self.feed(byte)
    }

    fn feed(&mut self, byte: u8) -> Option<Answer> {
        let mut done = false;
        for response in self.parser.push(char::from(byte)) {
            done |= self.answer.take(response);
        }
        done.then(|| std::mem::take(&mut self.answer))
    }
}

/// Sends the query and reads the answer from stdin (in raw mode) until `timeout`.
#[cfg(unix)]
fn ask_terminal(timeout: Duration) -> std::io::Result<Answer> {
    use std::io::{ErrorKind, Write};

    use rustix::event::{poll, PollFd, PollFlags, Timespec};

    let mut out = std::io::stdout().lock();
    out.write_all(query_text().as_bytes())?;
    out.flush()?;
    drop(out);

    let stdin = rustix::stdio::stdin();
    let deadline = Instant::now() + timeout;
    let mut reader = AnswerReader::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = Timespec::try_from(left).map_err(|_| ErrorKind::InvalidInput)?;
        let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
        match poll(&mut fds, Some(&left)) {
            Ok(0) => return Err(ErrorKind::TimedOut.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        if !fds[0].revents().contains(PollFlags::IN) {
            return Err(ErrorKind::BrokenPipe.into());
        }
        // One byte per read: whatever follows the answer stays for the app's own reader.
        let mut byte = [0u8; 1];
        if rustix::io::read(stdin, &mut byte)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        if let Some(answer) = reader.push(byte[0]) {
            return Ok(answer);
        }
    }
}

#[cfg(not(unix))]
fn ask_terminal(_: Duration) -> std::io::Result<Answer> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Option<Answer> {
        let mut reader = AnswerReader::default();
        bytes.iter().find_map(|&b| reader.push(b))
    }

    #[test]
    fn answers_of_real_terminals_are_understood() {
        // kitty: graphics OK, DA1, cell size, status.
        let kitty = read(b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c\x1b[6;20;10t\x1b[0n").unwrap();
        assert_eq!(kitty.protocol, Some(ProtocolType::Kitty));
        assert_eq!(kitty.cell_size, Some((10, 20)));
        // xterm -ti vt340: sixel (4) in DA1, no kitty reply.
        let xterm = read(b"\x1b[?63;1;2;4;6;9;15;22c\x1b[6;16;8t\x1b[0n").unwrap();
        assert_eq!(xterm.protocol, Some(ProtocolType::Sixel));
        // A terminal that answers only the status report.
        assert_eq!(read(b"\x1b[0n"), Some(Answer::default()));
        // XTVERSION's answer comes first and is read here, whatever follows.
        let named =
            read(b"\x1bP>|kitty(0.26.5)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[0n").unwrap();
        assert_eq!(named.terminal.as_deref(), Some("kitty(0.26.5)"));
        assert_eq!(named.protocol, Some(ProtocolType::Kitty));
        assert_eq!(named.cell_size, Some((10, 20)));
        let xterm = read(b"\x1bP>|XTerm(390)\x1b\\\x1b[?63;4c\x1b[0n").unwrap();
        assert_eq!(xterm.terminal.as_deref(), Some("XTerm(390)"));
        assert_eq!(xterm.protocol, Some(ProtocolType::Sixel));
        // No status report yet: not complete.
        assert_eq!(read(b"\x1b[?62;22c"), None);
    }

    #[test]
    fn kitty_before_0_28_is_known_by_its_version() {
        for old in ["kitty(0.26.5)", "kitty(0.27.1)", "kitty(0.19.3)"] {
            assert!(kitty_without_placeholders(old), "{old}");
        }
        for new in [
            "kitty(0.28.0)",
            "kitty(0.35.2)",
            "kitty(1.0)",
            "XTerm(390)",
            "kitty",
        ] {
            assert!(!kitty_without_placeholders(new), "{new}");
        }
    }
}
