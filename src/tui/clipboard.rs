//! An image from the system clipboard (Ctrl-V, `/paste`), read with the clipboard program of
//! the desktop vchat runs in: `wl-paste` on Wayland, `xclip` on X11 (also over `ssh -X`, where
//! it reads the clipboard of the machine you connect from), `pngpaste` or `osascript` on macOS.
//!
//! Terminals cannot hand an image over: a paste is text, and OSC 52 lets a program write the
//! clipboard (vchat's copy uses it) but not read an image from it. So over plain SSH there is
//! no route to the clipboard of the machine you sit at; the error says what works instead.

use std::process::{Command, Stdio};

/// How the clipboard can be read here.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `wl-paste` (wl-clipboard).
    Wayland,
    /// `xclip`.
    X11,
    /// `pngpaste`, else `osascript`.
    MacOs,
    /// None: why not, and what works instead.
    Unavailable(String),
}

/// What decides the route: the environment and which programs are on the PATH.
pub struct Desktop {
    pub wayland: bool,
    pub x11: bool,
    pub ssh: bool,
    pub macos: bool,
    pub has: fn(&str) -> bool,
}

impl Desktop {
    pub fn current() -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        Self {
            wayland: set("WAYLAND_DISPLAY"),
            x11: set("DISPLAY"),
            ssh: set("SSH_CONNECTION") || set("SSH_TTY"),
            macos: cfg!(target_os = "macos"),
            has: on_path,
        }
    }

    pub fn route(&self) -> Route {
        if self.macos {
            return Route::MacOs;
        }
        if self.wayland && (self.has)("wl-paste") {
            return Route::Wayland;
        }
        if self.x11 && (self.has)("xclip") {
            return Route::X11;
        }
        let why = if self.wayland || self.x11 {
            "pasting an image needs wl-paste (apt install wl-clipboard) on Wayland or xclip \
             (apt install xclip) on X11"
        } else if self.ssh {
            "over SSH the clipboard is on the machine you connect from, and a terminal cannot \
             pass an image (OSC 52 only writes the clipboard): connect with ssh -X and install \
             xclip here, or paste the image's http(s) URL, or copy the file over and /image PATH"
        } else {
            "no desktop clipboard here (no Wayland or X11 display): /image PATH|URL instead"
        };
        Route::Unavailable(why.into())
    }
}

/// The clipboard's image: its bytes (PNG, JPEG, … as the clipboard holds them).
pub fn read_image(route: &Route) -> Result<Vec<u8>, String> {
    match route {
        Route::Wayland => {
            let types = run("wl-paste", &["--list-types"])?;
            let kind = image_type(&types)?;
            run("wl-paste", &["--no-newline", "--type", &kind])
        }
        Route::X11 => {
            let types = run("xclip", &["-selection", "clipboard", "-t", "TARGETS", "-o"])?;
            let kind = image_type(&types)?;
            run("xclip", &["-selection", "clipboard", "-t", &kind, "-o"])
        }
        Route::MacOs => {
            if on_path("pngpaste") {
                return run("pngpaste", &["-"]);
            }
            mac_clipboard_png()
        }
        Route::Unavailable(why) => Err(why.clone()),
    }
}

/// The image type to ask for among the clipboard's types (one a line): PNG first, the
/// lossless one every desktop offers for a copied image.
fn image_type(types: &[u8]) -> Result<String, String> {
    let types = String::from_utf8_lossy(types);
    let images: Vec<&str> = types
        .lines()
        .map(str::trim)
        .filter(|t| t.starts_with("image/"))
        .collect();
    if let Some(png) = images.iter().find(|t| **t == "image/png") {
        return Ok(png.to_string());
    }
    images.first().map(|t| t.to_string()).ok_or_else(|| {
        let held: Vec<&str> = types.lines().map(str::trim).take(3).collect();
        if held.is_empty() {
            "the clipboard is empty".to_string()
        } else {
            format!("the clipboard holds no image (it has {})", held.join(", "))
        }
    })
}

/// macOS without pngpaste: AppleScript writes the clipboard's PNG to a temporary file, read
/// and removed here.
fn mac_clipboard_png() -> Result<Vec<u8>, String> {
    let path = std::env::temp_dir().join(format!(
        "vchat-clipboard-{}-{:016x}.png",
        std::process::id(),
        crate::rng::fresh_seed()
    ));
    let script = format!(
        "set f to open for access POSIX file \"{}\" with write permission\n\
         write (the clipboard as «class PNGf») to f\nclose access f",
        path.display()
    );
    let written = run("osascript", &["-e", &script]);
    let bytes = std::fs::read(&path);
    let _ = std::fs::remove_file(&path);
    written.map_err(|_| "the clipboard holds no image".to_string())?;
    bytes.map_err(|e| e.to_string())
}

fn run(program: &str, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        let reason = String::from_utf8_lossy(&output.stderr);
        let reason = crate::text::one_line(reason.trim());
        return Err(if reason.is_empty() {
            format!("{program} could not read the clipboard")
        } else {
            format!("{program}: {reason}")
        });
    }
    Ok(output.stdout)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desktop(wayland: bool, x11: bool, ssh: bool, has: fn(&str) -> bool) -> Desktop {
        Desktop {
            wayland,
            x11,
            ssh,
            macos: false,
            has,
        }
    }

    #[test]
    fn the_route_follows_the_desktop_and_its_programs() {
        let all: fn(&str) -> bool = |_| true;
        let none: fn(&str) -> bool = |_| false;
        assert_eq!(desktop(true, true, false, all).route(), Route::Wayland);
        assert_eq!(
            desktop(false, true, true, all).route(),
            Route::X11,
            "ssh -X"
        );
        let Route::Unavailable(why) = desktop(false, true, false, none).route() else {
            panic!("no program");
        };
        assert!(why.contains("xclip"), "{why}");
        let Route::Unavailable(why) = desktop(false, false, true, all).route() else {
            panic!("plain ssh");
        };
        assert!(why.contains("ssh -X") && why.contains("OSC 52"), "{why}");
    }

    #[test]
    fn png_is_preferred_and_text_is_not_an_image() {
        assert_eq!(
            image_type(b"TARGETS\nimage/jpeg\nimage/png\n").unwrap(),
            "image/png"
        );
        assert_eq!(image_type(b"image/jpeg\n").unwrap(), "image/jpeg");
        let err = image_type(b"UTF8_STRING\ntext/plain\n").unwrap_err();
        assert!(err.contains("no image"), "{err}");
        assert_eq!(image_type(b"").unwrap_err(), "the clipboard is empty");
    }
}
