//! vchat's build steps, run with `cargo xtask <command>`:
//!
//! - `setup`: prepares `target/patched/mistralrs-core-<version>`, the crates.io release of
//!   mistralrs-core with vchat's fixes (`patches/`, explained in PATCHES.md) applied. The main
//!   `Cargo.toml` points `[patch.crates-io]` at it, so nothing builds before this has run.
//! - `reference`: a Python virtual environment with transformers, for the conformance test.
//! - `test [ARGS]`: both, then `cargo test [ARGS]`.
//!
//! It uses only the standard library and the `tar`, `patch` and `sha256sum` (or `shasum`)
//! commands, so it builds in a second.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The crates.io release vchat patches, and the checksum crates.io publishes for it.
const CRATE: &str = "mistralrs-core";
const VERSION: &str = "0.8.1";
const CHECKSUM: &str = "a2b8b9e5c94491d9ceeded3a30291cb6af6ae74810a5776dd55e3bbb8b3429d4";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") | None => setup(),
        Some("reference") => reference_env().map(|_| ()),
        Some("test") => setup()
            .and_then(|_| reference_env())
            .and_then(|python| cargo_test(&args[1..], &python)),
        Some(other) => Err(format!(
            "unknown command '{other}' (use setup, reference or test)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a folder of the repository")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Prepares the patched engine crate, unless it is already there for the current patch.
fn setup() -> Result<(), String> {
    let root = repo_root();
    let patch = root.join(format!("patches/{CRATE}-{VERSION}.patch"));
    let patch_text = std::fs::read(&patch).map_err(|e| format!("cannot read {}: {e}", patch.display()))?;
    let stamp_value = format!("{CHECKSUM} {}", fingerprint(&patch_text));
    let patched_root = root.join("target/patched");
    let dest = patched_root.join(format!("{CRATE}-{VERSION}"));
    let stamp = dest.join(".vchat-patch-stamp");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_value) {
        return pin_build_script(&dest);
    }

    let archive = find_or_fetch_crate(&root)?;
    let sum = sha256(&archive)?;
    if sum != CHECKSUM {
        return Err(format!(
            "{} has checksum {sum}, not the published {CHECKSUM}: the download is corrupt or not the crates.io release; delete it and run `cargo xtask setup` again",
            archive.display()
        ));
    }

    let work = patched_root.join(".unpacking");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    run(Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&work), "unpack the crate")?;
    let unpacked = work.join(format!("{CRATE}-{VERSION}"));
    let applied = Command::new("patch")
        .args(["-p1", "--forward", "--batch", "--quiet", "-d"])
        .arg(&unpacked)
        .arg("-i")
        .arg(&patch)
        .status()
        .map_err(|e| format!("cannot run `patch` (install it, e.g. apt-get install patch): {e}"))?;
    if !applied.success() {
        return Err(format!(
            "{} no longer applies to {CRATE} {VERSION}. If you moved to another mistral.rs release, \
             check PATCHES.md: drop the fixes that release contains and regenerate the patch against it \
             (and update VERSION and CHECKSUM in xtask/src/main.rs)",
            patch.display()
        ));
    }
    std::fs::write(unpacked.join(".vchat-patch-stamp"), &stamp_value)
        .map_err(|e| format!("cannot write the stamp: {e}"))?;
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&unpacked, &dest).map_err(|e| format!("cannot move the patched crate into place: {e}"))?;
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("xtask: prepared {} (crates.io {CRATE} {VERSION} + {})", dest.display(), patch.display());
    pin_build_script(&dest)
}

/// mistralrs-core's build script asks to rerun when `.git/HEAD` changes, relative to the crate.
/// An unpacked crate has none, and a missing file counts as changed: every cargo command
/// would rebuild the engine (and everything above it). A fixed `.git/HEAD` keeps it built.
fn pin_build_script(crate_dir: &Path) -> Result<(), String> {
    let head = crate_dir.join(".git/HEAD");
    if head.is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(crate_dir.join(".git"))
        .and_then(|()| std::fs::write(&head, "vchat-patched\n"))
        .map_err(|e| format!("cannot write {}: {e}", head.display()))
}

/// The `.crate` archive from cargo's download cache, fetched through cargo if missing.
fn find_or_fetch_crate(root: &Path) -> Result<PathBuf, String> {
    if let Some(found) = cached_crate() {
        return Ok(found);
    }
    // A throwaway manifest that depends on exactly this release: `cargo fetch` downloads it
    // (and its dependencies, which the build needs anyway) through the user's own cargo setup.
    let scratch = root.join("target/xtask-fetch");
    std::fs::create_dir_all(scratch.join("src")).map_err(|e| e.to_string())?;
    std::fs::write(
        scratch.join("Cargo.toml"),
        format!("[package]\nname = \"fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n[dependencies]\n{CRATE} = \"={VERSION}\"\n"),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(scratch.join("src/lib.rs"), "").map_err(|e| e.to_string())?;
    run(
        Command::new(cargo()).arg("fetch").arg("--manifest-path").arg(scratch.join("Cargo.toml")),
        &format!("download {CRATE} {VERSION} from crates.io"),
    )?;
    cached_crate().ok_or_else(|| format!("cargo fetched {CRATE} {VERSION} but its archive is not in cargo's cache"))
}

fn cached_crate() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let cache = home.join("registry/cache");
    std::fs::read_dir(cache).ok()?.filter_map(Result::ok).find_map(|registry| {
        let candidate = registry.path().join(format!("{CRATE}-{VERSION}.crate"));
        candidate.is_file().then_some(candidate)
    })
}

fn sha256(file: &Path) -> Result<String, String> {
    for (tool, args) in [("sha256sum", &[][..]), ("shasum", &["-a", "256"][..])] {
        if let Ok(out) = Command::new(tool).args(args).arg(file).output() {
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout);
                return Ok(text.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    }
    Err("neither sha256sum nor shasum is available to check the crate's checksum".into())
}

/// A cheap content fingerprint (FNV-1a) to notice that the patch file changed.
fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// The reference environment: `target/reference-venv` with the pinned packages of
/// `reference/requirements.txt`. Returns its Python.
fn reference_env() -> Result<PathBuf, String> {
    let root = repo_root();
    let requirements = root.join("reference/requirements.txt");
    let wanted = std::fs::read(&requirements).map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let venv = root.join("target/reference-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(".vchat-requirements");
    if python.is_file() && std::fs::read(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(python);
    }
    let system_python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
        .ok_or("Python 3 is needed for the reference test (install python3 and python3-venv)")?;
    eprintln!("xtask: creating the reference Python environment (torch + transformers, about 2 minutes)");
    run(Command::new(system_python).args(["-m", "venv"]).arg(&venv), "create a virtual environment")?;
    run(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"]).arg(&requirements),
        "install the reference packages",
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    Ok(python)
}

fn cargo_test(args: &[String], python: &Path) -> Result<(), String> {
    run(
        Command::new(cargo()).arg("test").args(args).current_dir(repo_root()).env("VCHAT_REFERENCE_PYTHON", python),
        "run the tests",
    )
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("cannot {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("could not {what} ({status})"))
    }
}
