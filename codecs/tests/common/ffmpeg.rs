//! Test-only: run ffmpeg (an outside peer) on files in a scratch
//! directory, and raw signed 16-bit little-endian PCM files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The ffmpeg binary: `$FFMPEG`, else `/usr/bin/ffmpeg`. `None` (and a note
/// on stderr) when it is missing outside CI; in CI (`CI` set) a missing
/// ffmpeg fails the test, since `scripts/install-test-deps.sh` installs it.
pub fn ffmpeg() -> Option<PathBuf> {
    let path = std::env::var_os("FFMPEG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/ffmpeg"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "ffmpeg not found at {}",
        path.display()
    );
    eprintln!("skipped: ffmpeg not found at {}", path.display());
    None
}

/// Runs ffmpeg quietly with `args` and panics with its stderr on failure.
pub fn run(ffmpeg: &Path, args: &[&str]) {
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("spawn ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// True if this ffmpeg has an encoder called `name`.
pub fn has_encoder(ffmpeg: &Path, name: &str) -> bool {
    Command::new(ffmpeg)
        .args(["-hide_banner", "-encoders"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|line| line.split_whitespace().nth(1) == Some(name))
        })
        .unwrap_or(false)
}

/// A fresh scratch directory for one test, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("rtmp2sip-codecs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    /// Path of `file` in the directory, as a string for ffmpeg.
    pub fn path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write_s16le(path: &str, pcm: &[i16]) {
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write PCM");
}

pub fn read_s16le(path: &str) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("read PCM");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}
