//! vchat's entry point: parse the command line, send logs to a file, run the chosen mode.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use vchat::chats::ChatStore;
use vchat::cli::{Cli, Command, TinySize};
use vchat::oneshot::{self, Exit};
use vchat::tiny_model::{write_tiny_llava, TinyLlavaSpec, TokenizerFlavour};
use vchat::{logging, paths};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_path = paths::log_file();
    if let Err(e) = logging::init(&log_path) {
        eprintln!(
            "vchat: warning: cannot write the log file {}: {e}",
            log_path.display()
        );
    }
    logging::install_panic_hook(&log_path);

    let result = match cli.command {
        Some(Command::MakeTinyModel(args)) => make_tiny_model(args),
        Some(Command::Export(args)) => export_chat(args),
        None if cli.chat.sessions.list => list_chats(),
        None => run_chat(cli.chat),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            if !exit.message.is_empty() {
                eprintln!("vchat: error: {}", exit.message);
            }
            ExitCode::from(u8::try_from(exit.code).unwrap_or(1))
        }
    }
}

fn run_chat(args: vchat::cli::ChatArgs) -> Result<(), Exit> {
    if args.offline {
        // hf-hub (inside mistral.rs) reads this to never reach for the network. Set here,
        // before any runtime thread exists: changing the environment while other threads
        // may read it is a data race.
        std::env::set_var("HF_HUB_OFFLINE", "1");
    }
    if args.backend.list_models {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Exit::new(1, format!("cannot start the async runtime: {e}")))?;
        return runtime.block_on(oneshot::list_models(&args, paths::cache_dir()));
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if args.prompt.is_empty() && !interactive {
        return Err(Exit::new(
            Exit::USAGE,
            "no --prompt given; try: vchat --image photo.jpg --prompt \"Describe the image\"",
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Exit::new(1, format!("cannot start the async runtime: {e}")))?;
    let result = if args.prompt.is_empty() {
        runtime.block_on(vchat::tui::run(&args, paths::cache_dir()))
    } else {
        runtime.block_on(oneshot::run(&args, paths::cache_dir()))
    };
    // mistral.rs's engine thread never ends by itself: do not wait for it.
    runtime.shutdown_background();
    result
}

fn make_tiny_model(args: vchat::cli::MakeTinyModelArgs) -> Result<(), Exit> {
    let mut spec = match args.size {
        TinySize::Tiny => TinyLlavaSpec::tiny(),
        TinySize::Large => TinyLlavaSpec::large(),
        TinySize::Llava7b => TinyLlavaSpec::llava_7b(),
    };
    spec.seed = args.seed;
    if args.extended_tokenizer {
        spec.tokenizer = TokenizerFlavour::Extended;
    }
    write_tiny_llava(&args.dir, &spec).map_err(|e| Exit::new(1, format!("{e:#}")))?;
    println!("wrote a random LLaVA-1.5 to {}", args.dir.display());
    Ok(())
}

/// `vchat --list`: one line per saved chat, newest first; unreadable files on stderr.
fn list_chats() -> Result<(), Exit> {
    let store = ChatStore::open_default();
    let (chats, problems) = store.list();
    for problem in &problems {
        eprintln!("vchat: warning: {problem}");
    }
    if chats.is_empty() {
        eprintln!("no saved chats in {}", store.chats_dir().display());
    }
    for chat in chats {
        let updated = chat.last_saved();
        println!(
            "{}  {updated}  {:>4} turns  {}",
            chat.id,
            chat.turn_count,
            vchat::text::one_line(&chat.title)
        );
    }
    Ok(())
}

/// `vchat export ID`: the chat to Markdown or JSON, images copied beside it.
fn export_chat(args: vchat::cli::ExportArgs) -> Result<(), Exit> {
    let store = ChatStore::open_default();
    let loaded = store
        .load(&args.id)
        .map_err(|e| Exit::new(Exit::USAGE, e.to_string()))?;
    let output = args
        .output
        .unwrap_or_else(|| format!("{}.{}", args.id, args.format.extension()).into());
    let images: Vec<_> = loaded.images.values().map(|i| i.encoded.clone()).collect();
    let written = vchat::chats::export(&loaded.file, &images, args.format, &output)
        .map_err(|e| Exit::new(1, format!("cannot export to {}: {e}", output.display())))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
