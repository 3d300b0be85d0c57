//! Terminal setup and teardown. Every way out (quit, error, panic, signal) goes through
//! [`restore`], so the shell never gets a terminal in raw mode or the alternate screen.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// The terminal type the app draws on.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Set while the terminal is in the app's mode, so restoring twice is harmless.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Enters raw mode, the alternate screen, mouse capture and bracketed paste.
pub fn enter() -> io::Result<Tui> {
    install_panic_hook();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    // No `clear()`: it asks the terminal for the cursor position, and an answer swallowed by
    // the graphics query would hang it. A new alternate screen is blank anyway.
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Leaves everything [`enter`] set up. Safe to call more than once, and from a panic hook.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // Best effort: a failure here leaves nothing better to do.
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}

/// Restores the terminal before the existing hook (the log hook) reports a panic, so its
/// message lands on a normal screen. Only panics on the main thread, where the UI runs, end
/// the app: mistral.rs's engine thread recovers from its own panics.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            restore();
        }
        previous(info);
    }));
}

/// Restores the terminal when dropped, covering early returns and errors.
pub struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        restore();
    }
}
