//! Images in real terminals, on a virtual X display (Xvfb): the real binary in xterm with sixel
//! (`-ti vt340`), plain xterm, and kitty, and a screenshot of the screen (`xwd`) to see what
//! the terminal drew. The picture is one solid colour, so its pixels are easy to count:
//! sixel draws it pixel for pixel; half-blocks draw it cell by cell; kitty before 0.28, sent
//! kitty images placed with Unicode placeholders, drew empty boxes (and logged `Malformed
//! GraphicsCommand control block`), which is what vchat must avoid.
//!
//! Needs `Xvfb`, `xwd`, `xterm` and `kitty` on the PATH (`.ci/run` installs them:
//! `apt install xvfb x11-apps xterm kitty`). The screenshots are kept under
//! `target/tmp/terminals/` to look at.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tiny_model;

/// The picture's colour and size: magenta appears nowhere else on vchat's screen.
const COLOUR: [u8; 3] = [255, 0, 255];
const SIDE: u32 = 96;

/// Fewer magenta pixels than this and the picture was not drawn. Half-blocks draw the 96 × 96
/// picture in whole cells, a few thousand pixels; kitty's empty boxes in the image's id
/// colour, a few hundred.
const DRAWN: usize = 1500;

/// An X server of its own, on a display number it picks.
struct Display {
    server: Child,
    number: String,
}

impl Display {
    fn start() -> Self {
        let mut server = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb)");
        // Xvfb writes the display number once it accepts clients.
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let number = format!(":{}", line.trim());
        assert!(number.len() > 1, "Xvfb gave no display number");
        Self { server, number }
    }

    /// The whole screen, as `xwd` dumps it.
    fn screenshot(&self) -> image::RgbImage {
        let output = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.number])
            .output()
            .expect("xwd (apt install x11-apps)");
        assert!(output.status.success(), "xwd failed");
        parse_xwd(&output.stdout)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// An XWD dump of a 24-bit TrueColor screen (what Xvfb gives): a header of big-endian words,
/// the colour map, then rows of pixels.
fn parse_xwd(bytes: &[u8]) -> image::RgbImage {
    let word = |i: usize| u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
    let (header, width, height) = (word(0) as usize, word(4), word(5));
    let (byte_order, bits_per_pixel, bytes_per_line) = (word(7), word(11), word(12) as usize);
    let colours = word(19) as usize;
    // 32 bits a pixel with a pad byte, or packed in 24 (once kitty's OpenGL visual is in use).
    let step = match bits_per_pixel {
        32 => 4,
        24 => 3,
        other => panic!("a {other}-bit dump: expected a 24-bit TrueColor screen"),
    };
    let pixels = &bytes[header + colours * 12..];
    image::RgbImage::from_fn(width, height, |x, y| {
        let at = y as usize * bytes_per_line + x as usize * step;
        let p = &pixels[at..at + step];
        // LSBFirst: B, G, R (, pad); MSBFirst: (pad,) R, G, B.
        let rgb = if byte_order == 0 {
            [p[2], p[1], p[0]]
        } else {
            [p[step - 3], p[step - 2], p[step - 1]]
        };
        image::Rgb(rgb)
    })
}

fn magenta_pixels(shot: &image::RgbImage) -> usize {
    shot.pixels()
        .filter(|p| p[0] > 200 && p[1] < 60 && p[2] > 200)
        .count()
}

/// What one terminal showed: the protocol vchat chose, its magenta pixels once the count
/// stopped changing (or the last count after 30 s), and the terminal's own output.
struct Shown {
    protocol: String,
    pixels: usize,
    terminal_output: String,
}

/// Runs vchat on the solid picture in `terminal` (a command line that runs the program given
/// after it) on a display of its own.
fn show_in(name: &str, terminal: &[&str]) -> Shown {
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("magenta.png");
    image::RgbImage::from_pixel(SIDE, SIDE, image::Rgb(COLOUR))
        .save(&picture)
        .unwrap();
    let cache = dir.path().join("cache");
    let display = Display::start();
    let terminal_log = dir.path().join("terminal.log");
    let mut child = Command::new(terminal[0])
        .args(&terminal[1..])
        .arg(env!("CARGO_BIN_EXE_vchat"))
        .args([
            "--model",
            tiny_model().to_str().unwrap(),
            "--cpu",
            "--image",
        ])
        .arg(&picture)
        .env("DISPLAY", &display.number)
        // kitty needs OpenGL: Mesa's software renderer on a display without a GPU.
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("VCHAT_CACHE_DIR", &cache)
        .env("VCHAT_CONFIG_DIR", dir.path().join("config"))
        .env("VCHAT_DATA_DIR", dir.path().join("data"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("TMUX")
        .stdout(std::fs::File::create(&terminal_log).unwrap())
        .stderr(
            std::fs::File::options()
                .append(true)
                .open(&terminal_log)
                .unwrap(),
        )
        .spawn()
        .unwrap_or_else(|e| panic!("{} ({e}): apt install {}", terminal[0], terminal[0]));

    let log = cache.join("vchat.log");
    let protocol = poll(name, || {
        let text = std::fs::read_to_string(&log).ok()?;
        let line = text.lines().find(|l| l.contains("image protocol:"))?;
        Some(line.split("image protocol:").nth(1)?.trim().to_string())
    });
    // The picture is drawn once the first frames are out: wait until two screenshots a
    // moment apart agree (or 30 s pass), then count.
    let end = Instant::now() + Duration::from_secs(30);
    let mut shot = display.screenshot();
    let mut pixels = magenta_pixels(&shot);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
        let next = display.screenshot();
        let count = magenta_pixels(&next);
        shot = next;
        if count == pixels && count > 0 {
            break;
        }
        pixels = count;
    }
    let kept = screenshot_dir().join(format!("{name}.png"));
    shot.save(&kept).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let mut terminal_output = String::new();
    if let Ok(mut file) = std::fs::File::open(&terminal_log) {
        let _ = file.read_to_string(&mut terminal_output);
    }
    Shown {
        protocol,
        pixels,
        terminal_output,
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("terminals");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        if let Some(found) = probe() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: vchat chose no image protocol within a minute");
}

/// `kitty --version`: "kitty 0.26.5 created by Kovid Goyal" → (0, 26).
fn kitty_version() -> (u32, u32) {
    let output = Command::new("kitty")
        .arg("--version")
        .output()
        .expect("kitty (apt install kitty)");
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(1).expect("a version");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

#[test]
fn xterm_with_sixel_draws_the_picture_pixel_for_pixel() {
    let shown = show_in(
        "xterm-vt340",
        &[
            "xterm",
            "-ti",
            "vt340",
            "-xrm",
            "XTerm*numColorRegisters: 256",
            "-geometry",
            "120x40",
            "-e",
        ],
    );
    assert_eq!(shown.protocol, "Sixel");
    assert_eq!(
        shown.pixels,
        (SIDE * SIDE) as usize,
        "sixel shows the 96 × 96 picture at its own size"
    );
}

#[test]
fn plain_xterm_draws_the_picture_with_half_blocks() {
    let shown = show_in("xterm", &["xterm", "-geometry", "120x40", "-e"]);
    assert_eq!(shown.protocol, "Halfblocks");
    assert!(shown.pixels >= DRAWN, "{} pixels drawn", shown.pixels);
}

/// Debian 12's kitty is 0.26: it gets half-blocks, and draws them. A kitty of 0.28 or later
/// gets its own graphics and draws those.
#[test]
fn kitty_draws_the_picture_whatever_its_version() {
    let version = kitty_version();
    let shown = show_in(
        "kitty",
        &[
            "kitty",
            "--config",
            "NONE",
            "-o",
            "initial_window_width=1200",
            "-o",
            "initial_window_height=700",
            "-o",
            "remember_window_size=no",
        ],
    );
    let expected = if version < (0, 28) {
        "Halfblocks"
    } else {
        "Kitty"
    };
    assert_eq!(shown.protocol, expected, "kitty {version:?}");
    assert!(
        shown.pixels >= DRAWN,
        "kitty {version:?}: {} pixels drawn",
        shown.pixels
    );
    assert!(
        !shown.terminal_output.contains("Malformed"),
        "kitty refused what it was sent: {}",
        shown.terminal_output
    );
}
