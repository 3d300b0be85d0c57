//! A clip to the model's input: a 1-minute 1080p H.264 clip (written by ffmpeg from its test
//! source) sampled to 8 frames, then made into what each kind of model gets (the frames, or
//! LLaVA's contact sheet). Against the peer a naive tool would be: ffmpeg decoding the whole
//! clip (`ffmpeg -i clip -f null -`), which any approach that reads every frame pays at least.
//! Interleaved runs; median (spread). Printed and added to BENCHMARKS.md. Run by `bench/run.sh`.

use std::process::Command;
use std::time::Instant;

#[path = "stats.rs"]
mod stats;

use stats::{median, paired_ratios, replace_section, spread};
use vchat::media::video::{self, FrameSampling};
use vchat::media::{self, MediaOptions};

const RUNS: usize = 5;

fn main() -> Result<(), String> {
    let clip = stats::project_root().join("target/bench-models/clip-1080p-60s.mp4");
    if !clip.is_file() {
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=1920x1080:rate=30:duration=60")
            .args([
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
            ])
            .arg(&clip)
            .status()
            .map_err(|e| format!("ffmpeg: {e}"))?;
        if !status.success() {
            return Err("ffmpeg could not write the clip".into());
        }
    }
    let source = clip.to_str().ok_or("path")?.to_string();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let options = MediaOptions::default();
    let (mut sampled, mut sheet, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let loaded = runtime
            .block_on(media::load_clip(&source, &options, FrameSampling::Count(8)))
            .map_err(|e| e.to_string())?;
        let (frames, _) = video::for_model(&loaded, false).map_err(|e| e.to_string())?;
        sampled.push(started.elapsed().as_secs_f64());
        assert_eq!(frames.len(), 8);
        let started = Instant::now();
        video::for_model(&loaded, true).map_err(|e| e.to_string())?;
        sheet.push(started.elapsed().as_secs_f64());

        let started = Instant::now();
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(&clip)
            .args(["-f", "null", "-"])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("ffmpeg could not decode the clip".into());
        }
        whole.push(started.elapsed().as_secs_f64());
    }
    let ratios = paired_ratios(&sampled, &whole);
    let section = format!(
        "\n## Video: a 1-minute 1080p clip to the model's input\n\n\
         Measured {}. A 60 s, 1920 × 1080, 30 frames/s H.264 clip (ffmpeg's testsrc2, \
         `-preset veryfast`), {RUNS} interleaved runs; median (spread). vchat: `media::load_clip` \
         with 8 frames (ffprobe, then one ffmpeg seek and decode per frame, each frame scaled to \
         the model's limit and kept as a PNG) and the frames made into a request's images. \
         The contact sheet (LLaVA-1.5) is the extra time to tile those 8 frames into one image. \
         Peer: ffmpeg decoding every frame of the clip to nowhere, the least any tool that \
         reads the whole clip pays.\n\n\
         | what | time |\n|---|---|\n\
         | vchat: clip → 8 frames for the model | {} s |\n\
         | vchat: + contact sheet | {} s |\n\
         | ffmpeg: decode the whole clip | {} s |\n\n\
         | ratio | measured |\n|---|---|\n\
         | vchat 8 frames ÷ decoding the whole clip | {} |\n",
        stats::measured_on(),
        spread(&sampled, 1.0, 2),
        spread(&sheet, 1.0, 3),
        spread(&whole, 1.0, 2),
        spread(&ratios, 1.0, 3),
    );
    println!("{section}");
    println!(
        "bench: 8 frames in {:.2} s, whole decode {:.2} s",
        median(&sampled),
        median(&whole)
    );
    replace_section(&section, "\n## Video: a 1-minute")
}
