//! The image path: a 24-megapixel JPEG from its file to (a) what vchat hands the model (read,
//! decode under limits, downscale to at most 2048 px a side) and (b) the image pane's encoded
//! half-block picture (ratatui-image, a 36 × 18 cell pane), against viuer printing the same file
//! as half-blocks at the same width (one-shot mode's printer; run in a child process with its
//! output discarded). Interleaved runs, medians and their ratio, written to BENCHMARKS.md.
//! Run by `bench/run.sh`.
//!
//! Usage: image_path            (the benchmark)
//!        image_path --viuer F  (the child: print F with viuer)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "stats.rs"]
mod stats;

use ratatui::layout::Size;
use ratatui_image::picker::Picker;
use ratatui_image::Resize;
use stats::{median, replace_section, spread};
use vchat::media::{load_image, MediaOptions};

const RUNS: usize = 5;
const WIDTH: u32 = 6000;
const HEIGHT: u32 = 4000;
const PANE: Size = Size {
    width: 36,
    height: 18,
};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, file] = &args[..] {
        if flag == "--viuer" {
            return print_with_viuer(Path::new(file));
        }
    }
    let jpeg = big_jpeg()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (mut to_model, mut to_pane, mut viuer) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let image = runtime
            .block_on(load_image(
                &jpeg.display().to_string(),
                &MediaOptions::default(),
            ))
            .map_err(|e| e.to_string())?;
        to_model.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        Picker::halfblocks()
            .new_protocol((*image.pixels).clone(), PANE, Resize::Fit(None))
            .map_err(|e| e.to_string())?;
        to_pane.push(started.elapsed().as_secs_f64());

        let started = Instant::now();
        let status = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .arg("--viuer")
            .arg(&jpeg)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("viuer failed".into());
        }
        viuer.push(started.elapsed().as_secs_f64());
    }
    let vchat: Vec<f64> = to_model.iter().zip(&to_pane).map(|(a, b)| a + b).collect();
    let ratio = median(&vchat) / median(&viuer);
    let row = |name: &str, v: &[f64]| format!("| {name} | {} ms |\n", spread(v, 1e3, 0));
    let section = format!(
        "\n## Image path: a 24-megapixel JPEG\n\n\
         A {WIDTH} × {HEIGHT} JPEG, {RUNS} interleaved runs, median (spread). vchat: read, decode \
         under limits and downscale to 2048 px (what the model gets), then encode the image \
         pane's half-blocks for a {} × {} cell pane. viuer: open the file and print it at the same width, \
         half-blocks, in a child process with its output discarded (process start included). \
         Dependencies optimised, vchat's own code in the debug profile.\n\n\
         | step | time |\n|---|---|\n{}{}{}{}\n\
         | ratio | measured |\n|---|---|\n\
         | vchat (model input + pane) ÷ viuer | {ratio:.2} |\n",
        PANE.width,
        PANE.height,
        row("vchat: file → model input", &to_model),
        row("vchat: model input → pane half-blocks", &to_pane),
        row("vchat: both", &vchat),
        row("viuer: file → printed half-blocks", &viuer),
    );
    println!("{section}");
    replace_section(&section, "\n## Image path")
}

/// A 24-megapixel JPEG with detail everywhere (so that it compresses like a photo), made once.
fn big_jpeg() -> Result<PathBuf, String> {
    let dir = stats::project_root().join("target/bench-images");
    let path = dir.join("24mp.jpg");
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut rng = vchat::rng::SplitMix64::new(24);
    let pixels = image::RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let noise = (rng.next_u64() % 32) as u8;
        image::Rgb([
            ((x / 7) % 200) as u8 + noise,
            ((y / 5) % 200) as u8 + noise,
            (((x + y) / 11) % 200) as u8 + noise,
        ])
    });
    pixels.save(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The child: what one-shot mode's printer does with the file.
fn print_with_viuer(file: &Path) -> Result<(), String> {
    let config = viuer::Config {
        width: Some(u32::from(PANE.width)),
        absolute_offset: false,
        use_kitty: false,
        use_iterm: false,
        ..viuer::Config::default()
    };
    // What viuer's `print_from_file` does (that function sits behind a cargo feature).
    let image = image::open(file).map_err(|e| e.to_string())?;
    viuer::print(&image, &config)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
