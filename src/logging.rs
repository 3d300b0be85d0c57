//! Logs go to a file, never to the terminal: mistral.rs logs to stdout when allowed to, which
//! would corrupt both the one-shot output and the full-screen app.

use std::path::Path;

use tracing_subscriber::EnvFilter;

/// Sends all tracing output (vchat's and mistral.rs's) to `log_path`, appending.
/// The level comes from `VCHAT_LOG` (e.g. `debug`), default `info`.
pub fn init(log_path: &Path) -> std::io::Result<()> {
    let dir = log_path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = log_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vchat.log".into());
    // Fail early, with an io::Error, if the file cannot be opened.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    let appender = tracing_appender::rolling::never(dir, file_name);
    let filter = EnvFilter::try_from_env("VCHAT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(appender)
        .with_ansi(false)
        .try_init();
    Ok(())
}

/// Panics anywhere (mistral.rs's engine thread included) are written to the log with a
/// backtrace. Only a panic on the main thread is also shown, as one line on stderr.
pub fn install_panic_hook(log_path: &Path) {
    let log_path = log_path.display().to_string();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let thread_name = thread.name().unwrap_or("unnamed");
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!("panic in thread '{thread_name}' at {location}: {message}\n{backtrace}");
        if thread_name == "main" {
            eprintln!(
                "vchat: internal error: {} (details in {log_path})",
                crate::text::one_line(&message)
            );
        }
    }));
}
