//! Small helpers shared by the benchmark programs: order statistics, where the project is, and
//! BENCHMARKS.md sections.
#![allow(dead_code)]

use std::path::PathBuf;

/// The project's root (this crate lives in its `bench/` folder): models, images and
/// BENCHMARKS.md are found from there.
pub fn project_root() -> PathBuf {
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).to_path_buf()
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

pub fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// The "holds" cell of a goal's row.
pub fn holds(held: bool) -> &'static str {
    if held {
        "yes"
    } else {
        "NO"
    }
}

/// The ratios of paired runs, `a[i] / b[i]`. With interleaved runs (a, b, a, b, …) each pair
/// ran under about the same conditions, so their median is steadier on a machine whose speed
/// drifts than the ratio of the two medians.
pub fn paired_ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// A table cell: the median and, in brackets, the spread (min – max), each times `scale`
/// (1e3 for seconds shown as ms) with `digits` decimals.
pub fn spread(values: &[f64], scale: f64, digits: usize) -> String {
    format!(
        "{:.digits$} ({:.digits$} – {:.digits$})",
        median(values) * scale,
        min(values) * scale,
        max(values) * scale
    )
}

/// Replaces the section of BENCHMARKS.md that starts with `heading` (up to the next `## `),
/// or adds `section` at the end.
pub fn replace_section(section: &str, heading: &str) -> Result<(), String> {
    let path = project_root().join("BENCHMARKS.md");
    let mut report = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    if let Some(start) = report.find(heading) {
        let end = report[start + 1..]
            .find("\n## ")
            .map_or(report.len(), |i| start + 1 + i);
        report.replace_range(start..end, "");
    }
    report.push_str(section);
    std::fs::write(&path, report).map_err(|e| e.to_string())
}

/// "DATE on CPU (N cores), commit C": when, where and on what code a figure was measured.
pub fn measured_on() -> String {
    let run = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let commit = run("git", &["rev-parse", "--short", "HEAD"]);
    let date = run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{date} on {cpu} ({cores} cores), commit {commit}")
}
