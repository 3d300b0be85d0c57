//! The real binary on a pseudo-terminal of the test's own, outside tmux (no `TMUX`,
//! `TERM=xterm-256color`, no terminal hints in the environment). The test plays the terminal:
//! it answers vchat's graphics query as kitty does, or never, as some terminals and an ssh out
//! of a tmux pane do, and then pastes with bracketed paste, as a user's first act often is.
//! Before the fix, a query left unanswered left a reader on stdin that swallowed that paste.
#![cfg(unix)]

mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::tiny_model;
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};
use vchat::chats::{ChatStore, TurnRecord};

/// The end of vchat's graphics query: a status report request, which every terminal answers
/// last.
const QUERY_END: &[u8] = b"\x1b[5n";

/// kitty's answer: graphics OK, its device attributes, 10×20-pixel cells, the status report.
const KITTY_ANSWER: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c\x1b[6;20;10t\x1b[0n";

/// vchat on a pty; a thread drains its output and, once the query is seen, writes `reply`.
struct PlayedTerminal {
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
    child: Child,
    cache: PathBuf,
    data: PathBuf,
    _dirs: tempfile::TempDir,
}

impl PlayedTerminal {
    fn start(reply: &'static [u8]) -> Self {
        let dirs = tempfile::tempdir().unwrap();
        let (cache, data) = (dirs.path().join("cache"), dirs.path().join("data"));
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("a pseudo-terminal");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let terminal = File::options()
            .read(true)
            .write(true)
            .open(OsStr::from_bytes(name.as_bytes()))
            .unwrap();
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 1200,
            ws_ypixel: 800,
        };
        tcsetwinsize(&terminal, size).unwrap();
        // `setsid -c`: a session of its own with the pty as its controlling terminal, as a
        // shell in a terminal window gives it.
        let child = Command::new("setsid")
            .arg("-c")
            .arg(env!("CARGO_BIN_EXE_vchat"))
            .arg("--model")
            .arg(tiny_model())
            .args(["--cpu", "--max-tokens", "4"])
            // Only the played terminal's answers decide: no TMUX, TERM_PROGRAM, KITTY_*, ….
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dirs.path())
            .env("TERM", "xterm-256color")
            .env("VCHAT_CACHE_DIR", &cache)
            .env("VCHAT_CONFIG_DIR", dirs.path().join("config"))
            .env("VCHAT_DATA_DIR", &data)
            .env("HF_HUB_OFFLINE", "1")
            .stdin(terminal.try_clone().unwrap())
            .stdout(terminal.try_clone().unwrap())
            .stderr(terminal)
            .spawn()
            .expect("start vchat");
        let master = File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, mut writer) = (master.try_clone().unwrap(), master.try_clone().unwrap());
        let seen = Arc::clone(&output);
        // Drains everything vchat draws (a full pty would block it) and answers the query.
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            let mut answered = false;
            while let Ok(n @ 1..) = reader.read(&mut buffer) {
                let mut out = seen.lock().unwrap();
                out.extend_from_slice(&buffer[..n]);
                if !answered && out.windows(QUERY_END.len()).any(|w| w == QUERY_END) {
                    answered = true;
                    let _ = writer.write_all(reply);
                }
            }
        });
        Self {
            master,
            output,
            child,
            cache,
            data,
            _dirs: dirs,
        }
    }

    /// The line vchat logs once the graphics query is over.
    fn protocol_chosen(&self) -> String {
        let log = self.cache.join("vchat.log");
        wait_for(&self.output, "the image protocol in the log", || {
            let text = std::fs::read_to_string(&log).ok()?;
            let line = text.lines().find(|l| l.contains("image protocol:"))?;
            Some(line.to_string())
        })
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// The first message of the saved chat (vchat saves after every change).
    fn first_message(&self) -> String {
        let store = ChatStore::new(&self.data);
        wait_for(&self.output, "the pasted message in the saved chat", || {
            let (chats, _) = store.list();
            let file = store.load(&chats.first()?.id).ok()?.file;
            file.turns.iter().find_map(|t| match t {
                TurnRecord::User { text, .. } => Some(text.clone()),
                TurnRecord::Assistant { .. } => None,
            })
        })
    }

    /// The labels of the first message's images.
    fn first_images(&self) -> Vec<String> {
        let store = ChatStore::new(&self.data);
        let (chats, _) = store.list();
        let file = store.load(&chats[0].id).unwrap().file;
        file.turns[0]
            .image_records()
            .map(|r| r.label.clone())
            .collect()
    }

    /// Quits; vchat must exit cleanly and leave the terminal as it found it.
    fn quit(&mut self) {
        self.send(b"\x1b[200~/quit\x1b[201~\r");
        let child = &mut self.child;
        let status = wait_for(&self.output, "vchat to exit", || child.try_wait().unwrap());
        assert!(status.success(), "{status:?}");
        let out = self.output.lock().unwrap();
        for restore in [&b"\x1b[?2004l"[..], b"\x1b[?1049l"] {
            assert!(
                out.windows(restore.len()).any(|w| w == restore),
                "{:?} restored",
                String::from_utf8_lossy(restore)
            );
        }
    }
}

impl Drop for PlayedTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` until it finds something (a minute at most); on a timeout, says what the
/// terminal last showed.
fn wait_for<T>(output: &Mutex<Vec<u8>>, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        if let Some(found) = probe() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = output.lock().unwrap();
    let tail = &out[out.len().saturating_sub(2000)..];
    panic!(
        "timed out waiting for {what}; the last output: {:?}",
        String::from_utf8_lossy(tail)
    );
}

/// A bracketed paste, then Enter, as the first input after the query.
fn paste_and_send(text: &str) -> Vec<u8> {
    format!("\x1b[200~{text}\x1b[201~\r").into_bytes()
}

#[test]
fn a_paste_arrives_when_the_terminal_never_answers_the_graphics_query() {
    let mut terminal = PlayedTerminal::start(b"");
    let protocol = terminal.protocol_chosen();
    assert!(protocol.contains("Halfblocks"), "{protocol}");
    // Two lines, as a terminal pastes them: the line break as CR.
    terminal.send(&paste_and_send("hello pasted text\rand a second line"));
    assert_eq!(
        terminal.first_message(),
        "hello pasted text\nand a second line"
    );
    terminal.quit();
}

#[test]
fn outside_tmux_kitty_is_detected_and_a_paste_right_after_its_answer_arrives() {
    // The paste comes in the same write as the answer's last byte: whatever follows the
    // answer belongs to the app, not to the query.
    let reply = [KITTY_ANSWER, &paste_and_send("what is this?")].concat();
    let mut terminal = PlayedTerminal::start(reply.leak());
    let protocol = terminal.protocol_chosen();
    assert!(protocol.contains("Kitty"), "{protocol}");
    assert_eq!(terminal.first_message(), "what is this?");
    terminal.quit();
}

/// kitty before 0.28 answers the graphics query but cannot show images placed with Unicode
/// placeholders, which is how they are sent (Debian 12's kitty 0.26 drew boxes): its
/// XTVERSION answer gets it half-blocks; a newer kitty keeps its graphics. A paste right after
/// either answer still arrives.
#[test]
fn kitty_before_0_28_gets_half_blocks_and_a_newer_one_its_graphics() {
    for (version, expected) in [("0.26.5", "Halfblocks"), ("0.35.2", "Kitty")] {
        let reply = [
            format!("\x1bP>|kitty({version})\x1b\\").as_bytes(),
            KITTY_ANSWER,
            &paste_and_send("and now?"),
        ]
        .concat();
        let mut terminal = PlayedTerminal::start(reply.leak());
        let protocol = terminal.protocol_chosen();
        assert!(protocol.contains(expected), "kitty {version}: {protocol}");
        assert_eq!(terminal.first_message(), "and now?");
        terminal.quit();
    }
}

/// A file dropped onto the terminal arrives as a bracketed paste of its quoted path: it is
/// attached, and the question typed (here pasted) right after goes with it, even though the
/// image was still loading when Enter came.
#[test]
fn a_dropped_image_is_attached_to_the_message() {
    let folder = tempfile::tempdir().unwrap();
    let image = folder.path().join("holiday photo.png");
    std::fs::copy(common::test_png(0), &image).unwrap();
    let dropped = format!("'{}'", image.display());
    let reply = [
        KITTY_ANSWER,
        format!("\x1b[200~{dropped}\x1b[201~").as_bytes(),
        &paste_and_send("What is in it?"),
    ]
    .concat();
    let mut terminal = PlayedTerminal::start(reply.leak());
    assert_eq!(terminal.first_message(), "What is in it?");
    assert_eq!(terminal.first_images(), [image.display().to_string()]);
    terminal.quit();
}
