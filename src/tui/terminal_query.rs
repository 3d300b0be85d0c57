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
    Parser::query(Picker::halfblocks().tmux_detected(), options)
}

/// Parses the terminal's bytes as they come; `Some` once the answer is complete.
#[derive(Default)]
struct AnswerReader {
    parser: Parser,
    answer: Answer,
}

impl AnswerReader {
    fn push(&mut self, byte: u8) -> Option<Answer> {
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
        // No status report yet: not complete.
        assert_eq!(read(b"\x1b[?62;22c"), None);
    }
}
