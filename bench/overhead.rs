//! vchat against the engine it drives, and the cost of each dtype/quantization on CPU.
//!
//! 1. Engine overhead: vchat one-shot (`--prompt`, output to a pipe) against a minimal direct
//!    mistral.rs program (this file's `--direct` mode, built on the same patched mistral.rs),
//!    same model, image and question, greedy, 256 new tokens; interleaved runs; time to first
//!    token, decode tokens/s and peak RSS, and their ratios. Then decode again with sampling on
//!    (temperature 0.2, the default), where vchat picks each token with its own seeded sampler
//!    and mistral.rs with its own.
//! 2. Quantization on CPU: vchat one-shot at f32, f16, f32 + q8_0 and f32 + q4k.
//!
//! Each measurement is a process of its own; peak RSS is its VmHWM (Linux), read while it runs.
//! Results are printed and written to BENCHMARKS.md. Run by `bench/run.sh`.
//!
//! Usage: overhead VCHAT_BINARY [RUNS]
//!        overhead --direct MODEL IMAGE PROMPT MAX_TOKENS greedy|sample   (the child)

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "stats.rs"]
mod stats;

use stats::{holds, median, paired_ratios, replace_section, spread};
use vchat::tiny_model::{write_tiny_llava, TinyLlavaSpec};

const PROMPT: &str = "Describe the image";
const MAX_TOKENS: &str = "256";
const QUANT_TOKENS: &str = "64";
/// The goals for vchat ÷ direct: decode speed, time to first token, peak RSS.
const TPS_GOAL: f64 = 0.98;
const TTFT_GOAL: f64 = 1.05;
const RSS_GOAL: f64 = 1.10;

/// One process's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    first_token: f64,
    tokens_per_second: f64,
    peak_rss_mb: f64,
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--direct") {
        let [_, _, model, image, prompt, max_tokens, mode] = &args[..] else {
            return Err(
                "usage: overhead --direct MODEL IMAGE PROMPT MAX_TOKENS greedy|sample".into(),
            );
        };
        return direct(
            model,
            image,
            prompt,
            max_tokens.parse().map_err(|_| "bad max")?,
            mode == "sample",
        );
    }
    let vchat = PathBuf::from(args.get(1).ok_or("usage: overhead VCHAT_BINARY [RUNS]")?);
    let runs: usize = args
        .get(2)
        .map_or(Ok(5), |r| r.parse())
        .map_err(|_| "bad RUNS")?;
    let root = stats::project_root();
    let model = root.join("target/bench-models/llava-1024x8");
    if !model.join("model.safetensors").is_file() {
        write_tiny_llava(&model, &TinyLlavaSpec::large()).map_err(|e| e.to_string())?;
    }
    let image = model.join("example.png");
    let this = std::env::current_exe().map_err(|e| e.to_string())?;

    // vchat, direct, vchat, direct, …: full answers (decode speed and peak RSS, and their
    // time to first token), then as many one-token answers, which only add time-to-first-token
    // samples. It is the noisiest figure (a few seconds of prefill, each run a process of its
    // own) and one-token runs cost little more than the prefill.
    let interleaved = |max_tokens: &str, sample: bool| -> Result<(Vec<Run>, Vec<Run>), String> {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let (mode, sampling) = match sample {
            true => (
                "sample",
                &["--sampling", "on", "--temperature", "0.2", "--seed", "7"][..],
            ),
            false => ("greedy", &["--greedy"][..]),
        };
        for _ in 0..runs {
            ours.push(measure(
                Command::new(&vchat).args(vchat_args(&model, &image, max_tokens, sampling)),
                parse_vchat,
            )?);
            theirs.push(measure(
                Command::new(&this).args([
                    "--direct".as_ref(),
                    model.as_os_str(),
                    image.as_os_str(),
                    PROMPT.as_ref(),
                    max_tokens.as_ref(),
                    mode.as_ref(),
                ]),
                parse_direct,
            )?);
        }
        Ok((ours, theirs))
    };
    let (ours, theirs) = interleaved(MAX_TOKENS, false)?;
    let (our_short, their_short) = interleaved("1", false)?;
    let (our_sampled, their_sampled) = interleaved(MAX_TOKENS, true)?;

    let mut quant_rows = String::new();
    for (name, flags) in [
        ("f32", &["--dtype", "f32", "--isq", "none"][..]),
        ("f16", &["--dtype", "f16", "--isq", "none"][..]),
        ("f32 + q8_0", &["--dtype", "f32", "--isq", "q8_0"][..]),
        ("f32 + q4k", &["--dtype", "f32", "--isq", "q4k"][..]),
    ] {
        let run = measure(
            Command::new(&vchat).args(vchat_args(
                &model,
                &image,
                QUANT_TOKENS,
                &[&["--greedy"], flags].concat(),
            )),
            parse_vchat,
        )?;
        quant_rows.push_str(&format!(
            "| {name} | {:.2} s | {:.1} | {:.0} MB |\n",
            run.first_token, run.tokens_per_second, run.peak_rss_mb
        ));
    }

    let pick = |v: &[Run], f: fn(&Run) -> f64| v.iter().map(f).collect::<Vec<f64>>();
    let first_tokens = |full: &[Run], short: &[Run]| {
        let mut all = pick(full, |r| r.first_token);
        all.extend(pick(short, |r| r.first_token));
        all
    };
    let (our_ttft, their_ttft) = (
        first_tokens(&ours, &our_short),
        first_tokens(&theirs, &their_short),
    );
    let (our_tps, their_tps) = (
        pick(&ours, |r| r.tokens_per_second),
        pick(&theirs, |r| r.tokens_per_second),
    );
    let (our_rss, their_rss) = (
        pick(&ours, |r| r.peak_rss_mb),
        pick(&theirs, |r| r.peak_rss_mb),
    );
    let ttft_ratios = paired_ratios(&our_ttft, &their_ttft);
    let tps_ratios = paired_ratios(&our_tps, &their_tps);
    let (our_sampled_tps, their_sampled_tps) = (
        pick(&our_sampled, |r| r.tokens_per_second),
        pick(&their_sampled, |r| r.tokens_per_second),
    );
    let sampled_ratios = paired_ratios(&our_sampled_tps, &their_sampled_tps);
    let sampled_holds = median(&sampled_ratios) >= TPS_GOAL;
    let rss_ratios = paired_ratios(&our_rss, &their_rss);
    let (ttft_ratio, tps_ratio, rss_ratio) = (
        median(&ttft_ratios),
        median(&tps_ratios),
        median(&rss_ratios),
    );
    let (tps_holds, ttft_holds, rss_holds) = (
        tps_ratio >= TPS_GOAL,
        ttft_ratio <= TTFT_GOAL,
        rss_ratio <= RSS_GOAL,
    );
    let section = format!(
        "\n## Engine overhead: vchat against a direct mistral.rs program\n\n\
         The 108M-parameter random LLaVA-1.5, F32 on CPU, one 336 × 336 PNG, \"{PROMPT}\", \
         greedy, {MAX_TOKENS} new tokens; {runs} interleaved runs, each a process of its own, \
         then {runs} interleaved runs of one new token that add time-to-first-token samples (so \
         that figure is a median of {} runs); median (spread). vchat: one-shot mode, output to a pipe, `--stats`. Direct: \
         bench/overhead.rs `--direct`, the same patched mistral.rs called as its README shows \
         (the model's own chat template), time to the first streamed chunk and chunks per \
         second after it. Peak RSS: the process's VmHWM.\n\n\
         | | time to first token | decode tokens/s | peak RSS |\n|---|---|---|---|\n\
         | vchat | {} s | {} | {} MB |\n\
         | direct mistral.rs | {} s | {} | {} MB |\n\n\
         Each ratio is the median of the runs' own ratios (each vchat run ÷ the direct run \
         after it), with their spread.\n\n\
         | ratio (vchat ÷ direct) | measured | goal | holds |\n|---|---|---|---|\n\
         | decode tokens/s | {} | ≥ {TPS_GOAL} | {} |\n\
         | decode tokens/s, sampling at temperature 0.2 (vchat {} · direct {} tokens/s) | {} | ≥ {TPS_GOAL} | {} |\n\
         | time to first token | {} | ≤ {TTFT_GOAL} | {} |\n\
         | peak RSS | {} | ≤ {RSS_GOAL:.2} | {} |\n",
        2 * runs,
        spread(&our_ttft, 1.0, 2),
        spread(&our_tps, 1.0, 1),
        spread(&our_rss, 1.0, 0),
        spread(&their_ttft, 1.0, 2),
        spread(&their_tps, 1.0, 1),
        spread(&their_rss, 1.0, 0),
        spread(&tps_ratios, 1.0, 3),
        holds(tps_holds),
        spread(&our_sampled_tps, 1.0, 1),
        spread(&their_sampled_tps, 1.0, 1),
        spread(&sampled_ratios, 1.0, 3),
        holds(sampled_holds),
        spread(&ttft_ratios, 1.0, 3),
        holds(ttft_holds),
        spread(&rss_ratios, 1.0, 3),
        holds(rss_holds),
    );
    let quantization = format!(
        "\n## Quantization on CPU\n\n\
         vchat one-shot on the same model, greedy, {QUANT_TOKENS} new tokens, one run each \
         (a guide for choosing, not a comparison of runs).\n\n\
         | dtype / ISQ | time to first token | decode tokens/s | peak RSS |\n|---|---|---|---|\n\
         {quant_rows}"
    );
    println!("{section}{quantization}");
    replace_section(&section, "\n## Engine overhead")?;
    replace_section(&quantization, "\n## Quantization on CPU")?;
    if tps_holds && ttft_holds && rss_holds && sampled_holds {
        Ok(())
    } else {
        Err("an engine-overhead goal was missed (see the table)".into())
    }
}

fn vchat_args(model: &Path, image: &Path, max_tokens: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--model",
        &model.display().to_string(),
        "--image",
        &image.display().to_string(),
        "--prompt",
        PROMPT,
        "--max-tokens",
        max_tokens,
        "--cpu",
        "--offline",
        "--no-image",
        "--stats",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs `command`, following its peak RSS, and parses its figures from (stdout, stderr).
fn measure(
    command: &mut Command,
    parse: fn(&str, &str) -> Option<(f64, f64)>,
) -> Result<Run, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status_file = format!("/proc/{}/status", child.id());
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    // Drain the pipes on threads so the child never blocks on a full pipe.
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut peak_kb = 0u64;
    let started = Instant::now();
    loop {
        if let Some(kb) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm_kb(&s))
        {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            return Err("a benchmark process ran for 10 minutes".into());
        }
        // Polling interval of the RSS reading (not a synchronisation).
        std::thread::sleep(Duration::from_millis(5));
    }
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let (first_token, tokens_per_second) =
        parse(&stdout, &stderr).ok_or_else(|| format!("no figures in:\n{stdout}\n{stderr}"))?;
    Ok(Run {
        first_token,
        tokens_per_second,
        peak_rss_mb: peak_kb as f64 / 1024.0,
    })
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// vchat's `--stats` line: `[answer 1] N tokens · first token X s · Y tokens/s · reason`.
fn parse_vchat(_stdout: &str, stderr: &str) -> Option<(f64, f64)> {
    let line = stderr.lines().find(|l| l.starts_with("[answer 1]"))?;
    let first = line
        .split("first token ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let rate = line.split(" · ").find(|p| p.ends_with("tokens/s"))?;
    Some((first, rate.split(' ').next()?.parse().ok()?))
}

/// The direct program's line: `FIRST_TOKEN_SECONDS TOKENS_PER_SECOND`.
fn parse_direct(stdout: &str, _stderr: &str) -> Option<(f64, f64)> {
    let mut parts = stdout.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The direct program: mistral.rs as its README shows, one streamed request, greedy or sampled
/// at temperature 0.2 by mistral.rs's own sampler.
fn direct(
    model: &str,
    image: &str,
    prompt: &str,
    max_tokens: usize,
    sample: bool,
) -> Result<(), String> {
    use mistralrs::{
        ModelDType, MultimodalMessages, MultimodalModelBuilder, RequestBuilder, Response,
        TextMessageRole, TokenSource,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let image = image::open(image).map_err(|e| e.to_string())?;
        let model = MultimodalModelBuilder::new(model)
            .with_force_cpu()
            .with_dtype(ModelDType::F32)
            .with_token_source(TokenSource::None)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let messages =
            MultimodalMessages::new().add_image_message(TextMessageRole::User, prompt, vec![image]);
        let mut request = RequestBuilder::from(messages).set_sampler_max_len(max_tokens);
        if sample {
            request = request.set_sampler_temperature(0.2);
        }
        let started = Instant::now();
        let mut stream = model
            .stream_chat_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (mut first, mut last, mut chunks) = (None, None, 0usize);
        while let Some(response) = stream.next().await {
            if let Response::Chunk(chunk) = response {
                if chunk.choices.iter().any(|c| c.delta.content.is_some()) {
                    let now = started.elapsed();
                    first.get_or_insert(now);
                    last = Some(now);
                    chunks += 1;
                }
            }
        }
        let (first, last) = (first.ok_or("no answer")?, last.ok_or("no answer")?);
        let decode = (last - first).as_secs_f64();
        let rate = if chunks > 1 && decode > 0.0 {
            (chunks - 1) as f64 / decode
        } else {
            0.0
        };
        println!("{:.4} {:.3}", first.as_secs_f64(), rate);
        Ok(())
    })
}
