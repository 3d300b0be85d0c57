//! The real `vchat` binary, run as a user would: answers on stdout, one-line errors on stderr,
//! the documented exit codes, and nothing from mistral.rs on either stream.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use vchat::tiny_model::{write_tiny_llava, TinyLlavaSpec, TokenizerFlavour};

fn vchat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vchat"))
        .args(args)
        .env("VCHAT_CACHE_DIR", scratch_dir().join("cli-cache"))
        // The developer's own config.toml (say, `backend = "remote"`) and chats stay out of it.
        .env("VCHAT_CONFIG_DIR", scratch_dir().join("cli-config"))
        .env("VCHAT_DATA_DIR", scratch_dir().join("cli-data"))
        .env("HF_HOME", scratch_dir().join("hf-home"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run vchat")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure a user can read: the expected exit code, exactly one line on stderr that says
/// `expected`, no panic text, nothing on stdout.
fn assert_one_line_error(o: &Output, code: i32, expected: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr, got: {err:?}");
    assert!(err.starts_with("vchat: error: "), "{err}");
    assert!(
        err.contains(expected),
        "{err:?} should mention {expected:?}"
    );
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "\x1b"] {
        assert!(!err.contains(bad), "{err}");
    }
    assert!(o.stdout.is_empty(), "nothing on stdout: {}", stdout(o));
}

fn ask(model: &Path, image: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--model",
        model.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--cpu",
    ];
    args.extend_from_slice(extra);
    vchat(&args)
}

#[test]
fn a_question_about_an_image_streams_an_answer_and_exits_0() {
    let o = ask(
        tiny_model(),
        &test_png(0),
        &[
            "--prompt",
            "Describe the image",
            "--max-tokens",
            "16",
            "--greedy",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(!stdout(&o).trim().is_empty(), "an answer on stdout");
    assert!(o.stderr.is_empty(), "nothing on stderr: {}", stderr(&o));
    assert!(
        !stdout(&o).contains("INFO"),
        "no mistral.rs logs: {}",
        stdout(&o)
    );
    assert!(
        !stdout(&o).contains('\x1b'),
        "no escape sequence reaches the terminal"
    );
}

#[test]
fn follow_ups_continue_the_chat_and_show_prompt_prints_it() {
    let o = ask(
        tiny_model(),
        &test_png(1),
        &[
            "--prompt",
            "What is in the image?",
            "--prompt",
            "What color is it?",
            "--max-tokens",
            "6",
            "--greedy",
            "--show-prompt",
            "--stats",
            "--token-ids",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let (_, prompt) = out
        .split_once("--- the conversation as the model sees it ---")
        .expect("prompt section");
    let first = prompt
        .find("USER: <image>\nWhat is in the image? ASSISTANT:")
        .unwrap_or_else(|| panic!("{out}"));
    let second = prompt
        .find("USER: What color is it? ASSISTANT:")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(first < second);
    let err = stderr(&o);
    assert!(
        err.contains("[answer 1]") && err.contains("[answer 2]"),
        "{err}"
    );
    assert!(err.contains("tokens/s"), "{err}");
    // `--token-ids`: each answer's ids, as many as its statistics count.
    for answer in 1..=2 {
        let line = |prefix: String| {
            err.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {err}"))
                .to_string()
        };
        let ids: Vec<u32> = line(format!("[answer {answer} ids] "))
            .split(' ')
            .map(|id| id.parse().expect("a token id"))
            .collect();
        let counted: usize = line(format!("[answer {answer}] "))
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a token count");
        assert_eq!(ids.len(), counted, "{err}");
    }
}

/// `--image` twice: both go with the first question. LLaVA-1.5 sees one image per request,
/// so the second is sent and the first is named in the text; a bad second image fails before
/// the model loads.
#[test]
fn two_images_go_with_the_first_question() {
    let (first, second) = (test_png(0), test_png(2));
    let o = ask(
        tiny_model(),
        &first,
        &[
            "--image",
            second.to_str().unwrap(),
            "--prompt",
            "Compare them",
            "--max-tokens",
            "4",
            "--greedy",
            "--show-prompt",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let expected = format!(
        "USER: <image>\n[earlier image: {}]\nCompare them ASSISTANT:",
        first.display()
    );
    assert!(out.contains(&expected), "{out}");
    assert_eq!(out.matches("<image>").count(), 1, "{out}");

    let missing = first.with_file_name("no-such-image.png");
    let o = ask(
        tiny_model(),
        &first,
        &[
            "--image",
            missing.to_str().unwrap(),
            "--prompt",
            "Compare them",
        ],
    );
    assert_one_line_error(&o, 3, "no-such-image.png");
}

#[test]
fn a_model_with_another_tokenizer_and_sizes_works() {
    let dir = scratch_dir().join("other-llava");
    let spec = TinyLlavaSpec {
        text_hidden: 96,
        text_layers: 3,
        text_heads: 6,
        text_kv_heads: 3,
        text_intermediate: 160,
        vision_hidden: 48,
        vision_layers: 3,
        vision_heads: 4,
        vision_intermediate: 80,
        tokenizer: TokenizerFlavour::Extended,
        seed: 99,
        ..TinyLlavaSpec::tiny()
    };
    write_tiny_llava(&dir, &spec).unwrap();
    let o = ask(
        &dir,
        &test_png(2),
        &["--prompt", "Describe the image", "--max-tokens", "16"],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(!stdout(&o).trim().is_empty());
}

#[test]
fn invalid_settings_are_refused_with_the_allowed_range() {
    let png = test_png(0);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--temperature", "-1"],
            "temperature must be a number from 0 to 5 (got '-1')",
        ),
        (
            &["--top-p", "0"],
            "top_p must be a number above 0 and at most 1",
        ),
        (
            &["--max-tokens", "0"],
            "max_tokens must be a whole number from 1",
        ),
        (&["--top-k", "many"], "top_k must be a whole number"),
        (&["--sampling", "maybe"], "sampling must be on or off"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["--prompt", "hi"];
        args.extend_from_slice(flags);
        let o = ask(tiny_model(), &png, &args);
        assert_one_line_error(&o, 2, expected);
    }
}

#[test]
fn bad_images_give_one_line_and_exit_3() {
    let dir = scratch_dir().join("bad-images");
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.png");
    std::fs::write(&text, "this is not an image").unwrap();
    let full = std::fs::read(test_png(0)).unwrap();
    let truncated = dir.join("truncated.png");
    std::fs::write(&truncated, &full[..full.len() / 3]).unwrap();
    let bomb = dir.join("bomb.png");
    std::fs::write(&bomb, png_header_only(100_000, 100_000)).unwrap();

    let cases: Vec<(String, &str)> = vec![
        (
            dir.join("missing.png").display().to_string(),
            "image not found",
        ),
        (dir.display().to_string(), "it is a directory"),
        (text.display().to_string(), "not an image"),
        (
            truncated.display().to_string(),
            "corrupt or truncated image",
        ),
        (bomb.display().to_string(), "image too large"),
    ];
    for (image, expected) in cases {
        let o = ask(tiny_model(), Path::new(&image), &["--prompt", "hi"]);
        assert_one_line_error(&o, 3, expected);
    }
}

#[test]
fn bad_urls_give_one_line_and_exit_3() {
    // A closed port: connection refused.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let not_found = serve_once("404 Not Found", "text/plain", b"missing");
    let html = serve_once("200 OK", "text/html", b"<html>hello</html>");
    let silent = serve_silently();

    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            format!("http://127.0.0.1:{closed}/cat.png"),
            vec![],
            "connection refused",
        ),
        (format!("http://{not_found}/cat.png"), vec![], "HTTP 404"),
        (format!("http://{html}/cat.png"), vec![], "not an image"),
        (
            format!("http://{silent}/cat.png"),
            vec!["--fetch-timeout", "1"],
            "timed out",
        ),
    ];
    for (url, extra, expected) in cases {
        let mut args = vec!["--prompt", "hi"];
        args.extend(extra);
        let o = ask(tiny_model(), Path::new(&url), &args);
        assert_one_line_error(&o, 3, expected);
    }
}

#[test]
fn wrong_models_give_one_line_and_exit_4() {
    let png = test_png(0);
    let empty = scratch_dir().join("empty-folder");
    std::fs::create_dir_all(&empty).unwrap();

    // The tiny LLaVA with another architecture named in its config.json.
    let with_architecture = |name: &str, architecture: &str| {
        let dir = scratch_dir().join(name);
        copy_dir(tiny_model(), &dir);
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
        std::fs::write(
            dir.join("config.json"),
            config.replace(
                "\"LlavaForConditionalGeneration\"",
                &format!("\"{architecture}\""),
            ),
        )
        .unwrap();
        dir.display().to_string()
    };

    let broken = scratch_dir().join("broken-config");
    copy_dir(tiny_model(), &broken);
    std::fs::write(broken.join("config.json"), "{ not json").unwrap();

    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            "/no/such/model".into(),
            vec![],
            "model folder not found: /no/such/model",
        ),
        (
            empty.display().to_string(),
            vec![],
            "config.json is missing",
        ),
        (
            with_architecture("text-only", "LlamaForCausalLM"),
            vec![],
            "LlamaForCausalLM is not a vision-language model",
        ),
        (
            with_architecture("gemma3-text", "Gemma3ForCausalLM"),
            vec![],
            "Gemma3ForCausalLM takes no images (a text-only Gemma 3)",
        ),
        (
            with_architecture("voxtral", "VoxtralForConditionalGeneration"),
            vec![],
            "VoxtralForConditionalGeneration takes no images (an audio model)",
        ),
        (broken.display().to_string(), vec![], "not valid JSON"),
        (
            tiny_model().display().to_string(),
            vec!["--dtype", "bf16"],
            "bf16 does not work on CPU",
        ),
        (
            "someone/some-model".into(),
            vec![],
            "pass --model /path/to/a/local/model/folder",
        ),
    ];
    for (model, extra, expected) in cases {
        let mut args = vec!["--prompt", "hi"];
        args.extend(extra);
        let o = ask(Path::new(&model), &png, &args);
        assert_one_line_error(&o, 4, expected);
    }
}

/// A PNG announcing a huge image with (almost) no data: a decoder that trusted its header
/// would try to allocate width × height × 3 bytes.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Answers one HTTP request on loopback with a fixed response; returns `host:port`.
fn serve_once(status: &'static str, content_type: &'static str, body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    addr
}

/// Accepts one connection and never answers, until the client gives up and closes it.
fn serve_silently() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    addr
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The prompt section of `--show-prompt`'s output.
fn prompt_shown(o: &Output) -> String {
    let out = stdout(o);
    out.split_once("--- the conversation as the model sees it ---")
        .unwrap_or_else(|| panic!("no prompt section in {out}; stderr: {}", stderr(o)))
        .1
        .to_string()
}

/// What vchat tells the model about a 4-second clip sampled `frames` times.
fn clip_line(clip: &Path, frames: usize) -> String {
    use vchat::media::video::{format_time, sample_times, FrameSampling};
    let (times, _) = sample_times(4.0, FrameSampling::Count(frames), 40);
    let times: Vec<String> = times.into_iter().map(format_time).collect();
    format!(
        "[video {}, {} s long: {frames} frames at {} s",
        clip.display(),
        format_time(4.0),
        times.join(", ")
    )
}

/// One-shot on `clip` with `model`, greedy and short, `extra` flags added: the conversation as
/// `--show-prompt` prints it.
fn prompt_for_clip(model: &Path, clip: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "--model",
        model.to_str().unwrap(),
        "--video",
        clip.to_str().unwrap(),
        "--cpu",
        "--prompt",
        "What happens?",
        "--greedy",
        "--max-tokens",
        "4",
        "--show-prompt",
    ];
    args.extend_from_slice(extra);
    let o = vchat(&args);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    prompt_shown(&o)
}

/// `--video` with LLaVA-1.5, which sees one image per request: one contact sheet of the 8
/// frames goes with the question, and the text says which frames at which times it holds.
#[test]
fn a_clip_goes_to_llava_as_a_contact_sheet_with_its_times() {
    let clip = red_clock_clip("red-clock.mp4");
    let prompt = prompt_for_clip(tiny_model(), &clip, &[]);
    let expected = format!(
        "USER: <image>\n{}; shown as one contact sheet, left to right and top to bottom]\nWhat happens? ASSISTANT:",
        clip_line(&clip, 8)
    );
    assert!(
        prompt.contains(&expected),
        "{prompt}\nshould contain\n{expected}"
    );
    // What the sheet cost: LLaVA-1.5's 24 × 24 patches.
    assert!(
        prompt.contains("of them for 1 image (576 each)]"),
        "{prompt}"
    );
}

/// `--video` with a model that takes several images (Qwen2.5-VL): every sampled frame is an
/// image of its own, in time order, named with its time in the text.
#[test]
fn a_clip_goes_to_qwen_as_frames_with_their_times() {
    let model = generated_model("make_hf_qwen_vl.py", &["2.5"], "tiny-qwen2_5-vl");
    let clip = red_clock_clip("red-clock.mp4");
    let prompt = prompt_for_clip(&model, &clip, &["--frames", "3"]);
    let frame = "<|vision_start|><|image_pad|><|vision_end|>";
    let expected = format!("{}{}]\nWhat happens?", frame.repeat(3), clip_line(&clip, 3));
    assert!(
        prompt.contains(&expected),
        "{prompt}\nshould contain\n{expected}"
    );
    // What the frames cost: the same for each (the same size), counted from the sequence.
    let cost = prompt
        .split("of them for 3 images (")
        .nth(1)
        .and_then(|rest| rest.split(" each)").next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(cost.is_some_and(|n| n > 0), "{prompt}");
}

#[test]
fn bad_videos_give_one_line_and_exit_3() {
    let dir = scratch_dir().join("bad-videos");
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.mp4");
    std::fs::write(&text, "this is not a video").unwrap();
    let full = std::fs::read(red_clock_clip("red-clock.mp4")).unwrap();
    let truncated = dir.join("truncated.mp4");
    std::fs::write(&truncated, &full[..full.len() * 2 / 5]).unwrap();
    let audio = ffmpeg_clip(
        "audio-only.mp4",
        &["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac"],
    );
    // Ten hours at one frame every 100 s: quick to write, too long to sample.
    let long = ffmpeg_clip(
        "ten-hours.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=16x16:r=0.01:d=36000",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let cases = [
        (dir.join("missing.mp4"), "no such file"),
        (text, "not a video ffmpeg can read"),
        (truncated, "cannot use video"),
        (audio, "no video stream"),
        (long, "10.0 hours long"),
    ];
    for (clip, expected) in cases {
        let o = vchat(&[
            "--model",
            tiny_model().to_str().unwrap(),
            "--video",
            clip.to_str().unwrap(),
            "--prompt",
            "hi",
        ]);
        assert_one_line_error(&o, 3, expected);
    }

    // Without ffmpeg on the PATH: one line that says what to install.
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_vchat"))
        .args(["--model", tiny_model().to_str().unwrap(), "--video"])
        .arg(red_clock_clip("red-clock.mp4"))
        .args(["--prompt", "hi"])
        .env("PATH", &empty)
        .env("VCHAT_CONFIG_DIR", scratch_dir().join("cli-config"))
        .env("VCHAT_DATA_DIR", scratch_dir().join("cli-data"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "install ffmpeg");
}
