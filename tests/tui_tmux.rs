//! The real binary in a real terminal: vchat runs full-screen in a detached tmux session of a
//! fixed size, driven with `send-keys` and read with `capture-pane`, as a user would.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{test_png, tiny_model};

/// A tmux server of our own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        Self::start_named(command, "main")
    }

    /// A server of its own per `name`, so that tests running at once do not meet.
    fn start_named(command: &str, name: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("vchat-test-{name}-{}", std::process::id()),
        };
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "app",
            "-x",
            "120",
            "-y",
            "40",
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (apt-get install -y tmux)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "app"]).stdout).into_owned()
    }

    /// Types text literally, then presses the given keys.
    fn keys(&self, literal: &str, keys: &[&str]) {
        if !literal.is_empty() {
            self.run(&["send-keys", "-t", "app", "-l", literal]);
        }
        for key in keys {
            self.run(&["send-keys", "-t", "app", key]);
        }
    }

    /// Polls the screen until `done` holds; a bounded number of short retries (about 60 s in
    /// all, for slow CI machines), then fails showing the screen.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..600 {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}; the screen:\n{}",
            self.screen()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Sends `question` (after pressing `keys`), waits for its answer, quits, and returns the
/// first user turn of the one chat saved in `data`.
fn ask_quit_and_read_first_turn(
    tmux: &Tmux,
    question: &str,
    keys: &[&str],
    data: &Path,
) -> vchat::conversation::UserTurn {
    tmux.keys(question, keys);
    tmux.wait_for("the answer's stats", |s| s.contains("tokens/s"));
    tmux.keys("/quit", &["Enter"]);
    tmux.wait_for("vchat to exit", |s| s.contains("VCHAT-EXITED 0"));
    match saved_chat(data).turns.into_iter().next() {
        Some(vchat::conversation::Turn::User(turn)) => turn,
        _ => panic!("the message was saved"),
    }
}

/// The one chat saved in `data`, as vchat reads it back.
fn saved_chat(data: &Path) -> vchat::conversation::Conversation {
    let store = vchat::chats::ChatStore::new(data);
    let (chats, problems) = store.list();
    assert!(problems.is_empty() && chats.len() == 1, "{problems:?}");
    let saved = store.load(&chats[0].id).unwrap();
    vchat::chats::to_conversation(&saved.file, &saved.images)
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn chat_in_a_real_terminal_then_quit_to_the_normal_screen() {
    let cache = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.toml"),
        "theme = \"high-contrast\"\nbogus = 1\n",
    )
    .unwrap();
    let command = format!(
        "env VCHAT_CACHE_DIR={} VCHAT_CONFIG_DIR={} VCHAT_DATA_DIR={} HF_HUB_OFFLINE=1 {} --model {} --image {} --cpu --max-tokens 12 --seed 7; \
         echo VCHAT-EXITED $?; exec sleep 600",
        shell_quote(cache.path()),
        shell_quote(config.path()),
        shell_quote(data.path()),
        shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
        shell_quote(tiny_model()),
        shell_quote(&test_png(2)),
    );
    let tmux = Tmux::start(&command);

    let screen = tmux.wait_for("the model to load", |s| {
        // The status bar starts with the app's state.
        s.lines().any(|l| l.starts_with(" ready "))
    });
    assert!(
        screen.contains("Settings") && screen.contains("pattern-2.png"),
        "{screen}"
    );

    tmux.keys("What is in the picture?", &["Enter"]);
    tmux.wait_for("the first answer's stats", |s| {
        s.matches("tokens/s").count() == 1
    });

    // Tab to the settings panel (input → chat → settings), temperature one step up.
    tmux.keys("", &["Tab", "Tab", "Right"]);
    tmux.wait_for("temperature 0.3 in the status bar", |s| {
        s.contains("temp 0.3")
    });

    // Back to the input (settings → image → input) and ask again.
    tmux.keys("", &["Tab", "Tab"]);
    tmux.keys("And the colours?", &["Enter"]);
    tmux.wait_for("the second answer's stats", |s| {
        s.matches("tokens/s").count() == 2
    });

    // Copy the answer: OSC 52 reaches tmux, which (with set-clipboard on) keeps it as a buffer.
    tmux.run(&["set", "-g", "set-clipboard", "on"]);
    tmux.keys("/copy", &["Enter"]);
    let screen = tmux.wait_for("the copy notice", |s| s.contains("copied "));
    let buffer = String::from_utf8_lossy(&tmux.run(&["show-buffer"]).stdout).into_owned();
    let copied: usize = screen
        .split("copied ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the notice says how many characters");
    assert_eq!(buffer.chars().count(), copied, "{buffer:?}");
    assert!(copied > 0);

    tmux.keys("/quit", &["Enter"]);
    let screen = tmux.wait_for("vchat to exit", |s| s.contains("VCHAT-EXITED"));
    assert!(screen.contains("VCHAT-EXITED 0"), "{screen}");
    assert!(
        !screen.contains("Settings") && !screen.contains("┌"),
        "the alternate screen was left:\n{screen}"
    );
}

#[test]
fn a_hang_up_mid_answer_saves_it_and_resume_shows_it() {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let env = format!(
        "env VCHAT_CACHE_DIR={} VCHAT_CONFIG_DIR={} VCHAT_DATA_DIR={} HF_HUB_OFFLINE=1",
        shell_quote(cache.path()),
        shell_quote(cache.path()),
        shell_quote(data.path()),
    );
    let vchat = format!(
        "{} --model {} --cpu --greedy",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
        shell_quote(tiny_model()),
    );
    // `exec`: the pane's process is vchat itself, as it is under an SSH session's shell.
    let tmux = Tmux::start_named(
        &format!(
            "exec {env} {vchat} --image {} --max-tokens 100000",
            shell_quote(&test_png(1))
        ),
        "hangup",
    );
    tmux.wait_for("the model to load", |s| {
        s.lines().any(|l| l.starts_with(" ready "))
    });
    let pid = String::from_utf8_lossy(
        &tmux
            .run(&["display", "-p", "-t", "app", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .to_string();
    tmux.keys("Tell me a long story", &["Enter"]);
    tmux.wait_for("the answer's first words", |s| {
        let mut lines = s.lines().skip_while(|l| !l.contains("Assistant #1  …"));
        lines
            .nth(1)
            .is_some_and(|l| !l.trim_start_matches('│').starts_with(' '))
    });

    // Closing the pane hangs up its terminal, as a dropped SSH connection does.
    tmux.run(&["kill-pane", "-t", "app"]);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    };
    for _ in 0..600 {
        if !alive() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(), "vchat ended after the hang-up");

    let store = vchat::chats::ChatStore::new(data.path());
    let (chats, problems) = store.list();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(chats.len(), 1, "the chat was saved");
    let saved = store.load(&chats[0].id).unwrap().file;
    let Some(vchat::chats::TurnRecord::Assistant { text, stats, .. }) = saved.turns.last() else {
        panic!("the partial answer is the last turn: {saved:?}");
    };
    assert!(!text.is_empty(), "the partial answer's text is kept");
    assert_eq!(
        stats.as_ref().unwrap().finish,
        vchat::conversation::FinishReason::Interrupted
    );

    // `--resume` reopens it, partial answer included, marked as interrupted.
    let resumed = Tmux::start_named(&format!("exec {env} {vchat} --resume"), "resume");
    resumed.wait_for("the resumed chat", |s| {
        s.contains("Tell me a long story") && s.contains("tokens · interrupted")
    });
}

/// A clip in the app, with a model that takes several images (a tiny Qwen2.5-VL): its frames
/// are attached, the line that times them waits at the start of the input, the image pane
/// steps through the frames with their times in its title, and the message goes with them.
#[test]
fn a_clip_attaches_its_frames_and_the_image_pane_steps_through_them() {
    let model = common::generated_model("make_hf_qwen_vl.py", &["2.5"], "tiny-qwen2_5-vl");
    let home = tempfile::tempdir().unwrap();
    // Four frames of 500 ms (a 2-second clip), named without a folder so the title has room.
    let colours: Vec<[u8; 3]> = (0..4).map(|i| [60 * i as u8, 100, 200]).collect();
    std::fs::write(
        home.path().join("loop.gif"),
        common::animated_gif(&colours, 500),
    )
    .unwrap();
    let command = format!(
        "cd {home} && env VCHAT_CACHE_DIR={home} VCHAT_CONFIG_DIR={home} VCHAT_DATA_DIR={home} HF_HUB_OFFLINE=1 {} --model {} --video loop.gif --frames 4 --cpu --greedy --max-tokens 3; echo VCHAT-EXITED $?; exec sleep 600",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
        shell_quote(&model),
        home = shell_quote(home.path()),
    );
    let tmux = Tmux::start_named(&command, "clip");
    tmux.wait_for("the frames to be attached", |s| {
        s.contains("video ready: 4 frames as frames")
    });
    let screen = tmux.screen();
    assert!(
        screen.contains("[video loop.gif, 2.00 s long: 4 frames at 0.25, 0.75, 1.25, 1.75 s]"),
        "the note waits in the input:\n{screen}"
    );
    assert!(screen.contains("Image: loop.gif @ 0.25 s"), "{screen}");

    // Tab to the image pane (input → chat → settings → image), then step through the frames.
    tmux.keys("", &["Tab", "Tab", "Tab"]);
    for time in ["0.75", "1.25", "1.75"] {
        tmux.keys("", &["Right"]);
        tmux.wait_for("the next frame", |s| {
            s.contains(&format!("Image: loop.gif @ {time} s"))
        });
    }
    tmux.keys("", &["Left"]);
    tmux.wait_for("the frame before", |s| {
        s.contains("Image: loop.gif @ 1.25 s")
    });
    // Space plays on from the frame shown, one frame per 0.5 s, and stops at the last.
    tmux.keys("", &["Space"]);
    tmux.wait_for("the clip to play to its last frame", |s| {
        s.contains("Image: loop.gif @ 1.75 s")
    });

    // Back to the input; frame 2 again, at the clip's own size, for the same message.
    tmux.keys("", &["Tab"]);
    tmux.keys("/frame 2", &["Enter"]);
    tmux.wait_for("the full-size frame", |s| {
        s.contains("image ready: loop.gif @ 0.75 s, full size")
    });
    // The question goes after the notes, with the four frames and the full-size one.
    // The saved chat holds the message with the notes, the question and the frames.
    let turn = ask_quit_and_read_first_turn(&tmux, "What changes?", &["End", "Enter"], home.path());
    assert!(
        turn.text
            .starts_with("[frame 2 of loop.gif at 0.75 s, full size]\n[video loop.gif")
            && turn.text.ends_with("What changes?"),
        "{}",
        turn.text
    );
    let labels: Vec<&str> = turn.images.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "loop.gif @ 0.25 s",
            "loop.gif @ 0.75 s",
            "loop.gif @ 1.25 s",
            "loop.gif @ 1.75 s",
            "loop.gif @ 0.75 s, full size"
        ]
    );
}

/// Ctrl-V attaches the image on the clipboard, read with the desktop's clipboard program
/// (here X11's `xclip`, played by a script that answers as xclip does); with text on the
/// clipboard it says so in one line and attaches nothing.
#[test]
fn ctrl_v_attaches_the_image_on_the_clipboard() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let png = test_png(1);
    let clipboard = home.path().join("clipboard-targets");
    std::fs::write(&clipboard, "UTF8_STRING\ntext/plain\n").unwrap();
    let xclip = bin.join("xclip");
    std::fs::write(
        &xclip,
        format!(
            "#!/bin/sh\ncase \"$*\" in\n  *TARGETS*) cat {targets} ;;\n  *image/png*) cat {png} ;;\n  *) exit 1 ;;\nesac\n",
            targets = shell_quote(&clipboard),
            png = shell_quote(&png),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&xclip, std::fs::Permissions::from_mode(0o755)).unwrap();
    let command = format!(
        "env -u WAYLAND_DISPLAY DISPLAY=:99 PATH={bin}:\"$PATH\" VCHAT_CACHE_DIR={home} VCHAT_CONFIG_DIR={home} VCHAT_DATA_DIR={home} HF_HUB_OFFLINE=1 {} --model {} --cpu --greedy --max-tokens 3; echo VCHAT-EXITED $?; exec sleep 600",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
        shell_quote(tiny_model()),
        bin = shell_quote(&bin),
        home = shell_quote(home.path()),
    );
    let tmux = Tmux::start_named(&command, "clipboard");
    tmux.wait_for("the model to load", |s| s.contains("model ready"));

    tmux.keys("", &["C-v"]);
    tmux.wait_for("the text-only clipboard refused", |s| {
        s.contains("the clipboard holds no image")
    });

    std::fs::write(&clipboard, "TARGETS\nimage/png\ntext/plain\n").unwrap();
    tmux.keys("", &["C-v"]);
    let (w, h) = image::image_dimensions(&png).unwrap();
    let label = format!("clipboard image {w}×{h}");
    tmux.wait_for("the clipboard's image", |s| {
        s.contains(&format!("image ready: {label}"))
    });
    // Saved with the message: the clipboard's bytes, as they were.
    let turn = ask_quit_and_read_first_turn(&tmux, "What is this?", &["Enter"], home.path());
    assert_eq!(turn.text, "What is this?");
    let [image] = &turn.images[..] else {
        panic!("one image: {:?}", turn.images.len());
    };
    assert_eq!(image.label, label);
    assert_eq!(image.encoded.bytes, std::fs::read(&png).unwrap());
}

/// `/model PATH` loads another model while the chat stays on screen; the next answer comes
/// from it, and the saved chat records which model gave each answer.
#[test]
fn model_switches_in_the_middle_of_a_chat() {
    let qwen = common::generated_model("make_hf_qwen_vl.py", &["2.5"], "tiny-qwen2_5-vl");
    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "env VCHAT_CACHE_DIR={home} VCHAT_CONFIG_DIR={home} VCHAT_DATA_DIR={home} HF_HUB_OFFLINE=1 {} --model {} --image {} --cpu --greedy --max-tokens 3; echo VCHAT-EXITED $?; exec sleep 600",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
        shell_quote(tiny_model()),
        shell_quote(&test_png(0)),
        home = shell_quote(home.path()),
    );
    let tmux = Tmux::start_named(&command, "switch");
    tmux.wait_for("the model to load", |s| s.contains("model ready"));
    tmux.keys("Describe the image", &["Enter"]);
    tmux.wait_for("the first answer", |s| s.matches("tokens/s").count() == 1);

    tmux.keys(&format!("/model {}", qwen.display()), &["Enter"]);
    tmux.wait_for("the switch", |s| s.contains("now answering with"));
    tmux.keys("And now?", &["Enter"]);
    tmux.wait_for("the second answer", |s| s.matches("tokens/s").count() == 2);
    tmux.keys("/quit", &["Enter"]);
    tmux.wait_for("vchat to exit", |s| s.contains("VCHAT-EXITED 0"));

    let chat = saved_chat(home.path());
    let by: Vec<Option<String>> = chat
        .turns
        .iter()
        .filter_map(|t| match t {
            vchat::conversation::Turn::Assistant(a) => Some(a.answered_by.clone()),
            vchat::conversation::Turn::User(_) => None,
        })
        .collect();
    assert_eq!(
        by,
        [
            Some(tiny_model().display().to_string()),
            Some(qwen.display().to_string())
        ]
    );
}

/// `/image` without a path opens the file picker: folders and images only, the selected
/// image previewed in the image pane, Enter into a folder and on a file to attach it.
#[test]
fn the_file_picker_previews_and_attaches_an_image() {
    let home = tempfile::tempdir().unwrap();
    let photos = home.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::copy(test_png(0), photos.join("cat.png")).unwrap();
    std::fs::copy(test_png(1), photos.join("dog.png")).unwrap();
    std::fs::write(home.path().join("notes.txt"), "not an image").unwrap();
    let command = format!(
        "cd {home} && env VCHAT_CACHE_DIR={home} VCHAT_CONFIG_DIR={home} VCHAT_DATA_DIR={home} HF_HUB_OFFLINE=1 {} --model {} --cpu --greedy --max-tokens 3; echo VCHAT-EXITED $?; exec sleep 600",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
        shell_quote(tiny_model()),
        home = shell_quote(home.path()),
    );
    let tmux = Tmux::start_named(&command, "picker");
    tmux.wait_for("the model to load", |s| s.contains("model ready"));

    tmux.keys("/image", &["Enter"]);
    let screen = tmux.wait_for("the picker", |s| s.contains(" photos/"));
    assert!(
        !screen.contains("notes.txt"),
        "only images and folders:\n{screen}"
    );
    tmux.keys("", &["Enter"]);
    tmux.wait_for("the first image's preview", |s| {
        s.contains(" cat.png") && s.contains("Image: cat.png")
    });
    tmux.keys("", &["Down"]);
    tmux.wait_for("the second image's preview", |s| {
        s.contains("Image: dog.png")
    });
    tmux.keys("", &["Enter"]);
    tmux.wait_for("the image attached", |s| s.contains("image ready:"));

    let turn = ask_quit_and_read_first_turn(&tmux, "Which animal?", &["Enter"], home.path());
    let labels: Vec<&str> = turn.images.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, [photos.join("dog.png").display().to_string()]);
}

/// Ctrl-R keeps the first answer as version 1 (‹2/2› on the new one); Alt-Left shows it
/// again; the saved chat keeps both, and `--resume` reopens it on the version left on screen.
#[test]
fn a_regenerated_answer_keeps_the_first_as_another_version() {
    let home = tempfile::tempdir().unwrap();
    let vchat_command = |extra: &str| {
        format!(
            "env VCHAT_CACHE_DIR={home} VCHAT_CONFIG_DIR={home} VCHAT_DATA_DIR={home} HF_HUB_OFFLINE=1 {} --model {} --image {} --cpu --max-tokens 6 --temperature 1 {extra}; echo VCHAT-EXITED $?; exec sleep 600",
            shell_quote(Path::new(env!("CARGO_BIN_EXE_vchat"))),
            shell_quote(tiny_model()),
            shell_quote(&test_png(0)),
            home = shell_quote(home.path()),
        )
    };
    let tmux = Tmux::start_named(&vchat_command("--seed 1"), "versions");
    tmux.wait_for("the model to load", |s| s.contains("model ready"));
    tmux.keys("Describe it", &["Enter"]);
    tmux.wait_for("the first answer", |s| s.matches("tokens/s").count() == 1);
    // Another seed for the second try, so that the two answers differ.
    tmux.keys("/set seed 2", &["Enter"]);
    tmux.keys("", &["C-r"]);
    tmux.wait_for("the second version", |s| {
        s.contains("‹2/2›") && s.contains("tokens/s")
    });
    tmux.keys("", &["M-Left"]);
    tmux.wait_for("the first version again", |s| s.contains("‹1/2›"));
    tmux.keys("/quit", &["Enter"]);
    tmux.wait_for("vchat to exit", |s| s.contains("VCHAT-EXITED 0"));

    let chat = saved_chat(home.path());
    assert_eq!(chat.branches.version_at(1), Some((1, 2)));
    drop(tmux);
    let again = Tmux::start_named(&vchat_command("--resume"), "versions-resumed");
    again.wait_for("the chat reopened on version 1", |s| s.contains("‹1/2›"));
    again.keys("", &["M-Right"]);
    again.wait_for("version 2", |s| s.contains("‹2/2›"));
}
