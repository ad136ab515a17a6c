//! `[auth]`: client authentication with JSON Web Tokens (RFC 7519).
//!
//! `mode = "none"` (shipped) admits every client. `mode = "jwt"` requires a
//! signed token on `connect` (see [`crate::auth`]); the key is read from a
//! file at load, so `check-config` catches a missing or malformed key.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, non_empty, ConfigError};

/// Largest key file read, in bytes (a PEM public key is a few hundred).
pub const MAX_KEY_FILE: u64 = 16 * 1024;
/// Shortest HS256 secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET: usize = 32;
/// Largest `leeway_s`, in seconds.
pub const MAX_LEEWAY_S: u64 = 300;

/// Whether clients must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every client is admitted (no identity).
    #[default]
    None,
    /// A signed JWT is required on `connect`.
    Jwt,
}

/// The JWS algorithm tokens must be signed with (RFC 7518 §3.1, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum JwtAlgorithm {
    /// HMAC SHA-256 with the shared secret in `secret_file`.
    #[default]
    HS256,
    /// ECDSA P-256 SHA-256 with the public key in `public_key_file` (PEM).
    ES256,
    /// Ed25519 with the public key in `public_key_file` (PEM).
    EdDSA,
}

/// Key bytes from a key file; `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(Vec<u8>);

impl KeyBytes {
    /// Wraps key bytes (the loader reads them from the key file).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes (secret or PEM text).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// `[auth]`, validated.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `mode`: `"none"` (default, every client admitted) or `"jwt"` (a
    /// token is required on `connect`, RFC 7519).
    pub mode: AuthMode,
    /// `algorithm`: `"HS256"` (default), `"ES256"` or `"EdDSA"`; which key
    /// file is read follows from it (RFC 7518 §3.1, RFC 8037).
    pub algorithm: JwtAlgorithm,
    /// The HS256 secret or the PEM public key; `None` with `mode = "none"`.
    pub key: Option<KeyBytes>,
    /// Required `iss` claim, if set.
    pub issuer: Option<String>,
    /// Required `aud` claim (one of the token's audiences), if set.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf` (0..=300 s).
    pub leeway: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::None,
            algorithm: JwtAlgorithm::HS256,
            key: None,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AuthFile {
    mode: AuthMode,
    algorithm: JwtAlgorithm,
    secret_file: String,
    public_key_file: String,
    issuer: String,
    audience: String,
    leeway_s: u64,
}

impl Default for AuthFile {
    fn default() -> Self {
        Self {
            mode: AuthMode::None,
            algorithm: JwtAlgorithm::HS256,
            secret_file: String::new(),
            public_key_file: String::new(),
            issuer: String::new(),
            audience: String::new(),
            leeway_s: 30,
        }
    }
}

pub(super) fn validate_auth(file: &Path, a: AuthFile) -> Result<AuthConfig, ConfigError> {
    if a.leeway_s > MAX_LEEWAY_S {
        return Err(invalid(file, "auth.leeway_s", "must be 0..=300"));
    }
    let mut cfg = AuthConfig {
        mode: a.mode,
        algorithm: a.algorithm,
        key: None,
        issuer: non_empty(a.issuer),
        audience: non_empty(a.audience),
        leeway: Duration::from_secs(a.leeway_s),
    };
    if cfg.mode == AuthMode::None {
        return Ok(cfg);
    }
    let key = match cfg.algorithm {
        JwtAlgorithm::HS256 => read_secret(file, &a.secret_file)?,
        JwtAlgorithm::ES256 | JwtAlgorithm::EdDSA => {
            let key_name = "auth.public_key_file";
            let path = non_empty(a.public_key_file)
                .ok_or_else(|| invalid(file, key_name, "required with this algorithm"))?;
            read_key_file(file, key_name, &path)?
        }
    };
    cfg.key = Some(key);
    // Build the verifier once so a malformed PEM stops start-up.
    crate::auth::ClientAuth::new(&cfg).map_err(|e| {
        let key_name = match cfg.algorithm {
            JwtAlgorithm::HS256 => "auth.secret_file",
            _ => "auth.public_key_file",
        };
        invalid(file, key_name, e.to_string())
    })?;
    Ok(cfg)
}

/// The HS256 secret: the file's bytes without trailing whitespace (so a
/// final newline does not matter), at least [`MIN_SECRET`] bytes.
fn read_secret(file: &Path, path: &str) -> Result<KeyBytes, ConfigError> {
    let key_name = "auth.secret_file";
    let path = non_empty(path.to_string())
        .ok_or_else(|| invalid(file, key_name, "required with algorithm HS256"))?;
    let KeyBytes(mut bytes) = read_key_file(file, key_name, &path)?;
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    if bytes.len() < MIN_SECRET {
        return Err(invalid(
            file,
            key_name,
            format!("the secret must have at least {MIN_SECRET} bytes"),
        ));
    }
    Ok(KeyBytes(bytes))
}

fn read_key_file(file: &Path, key_name: &'static str, path: &str) -> Result<KeyBytes, ConfigError> {
    let path = PathBuf::from(path);
    let f = std::fs::File::open(&path).map_err(|e| {
        invalid(
            file,
            key_name,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let mut bytes = Vec::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            invalid(
                file,
                key_name,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(invalid(
            file,
            key_name,
            format!("{} is larger than {MAX_KEY_FILE} bytes", path.display()),
        ));
    }
    Ok(KeyBytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("test.toml"), text)
    }

    fn secret_file(content: &str) -> tempfile_path::TempPath {
        tempfile_path::write(content)
    }

    /// A tiny temp-file helper (no extra crate).
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        pub fn write(content: &str) -> TempPath {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "rtmp2sip-auth-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&p, content).expect("temp file");
            TempPath(p)
        }
    }

    #[test]
    fn default_is_none() {
        let c = load("").unwrap();
        assert_eq!(c.auth.mode, AuthMode::None);
        assert!(c.auth.key.is_none());
    }

    #[test]
    fn jwt_hs256_reads_and_trims_the_secret() {
        let f = secret_file("0123456789abcdef0123456789abcdef\n");
        let text = format!(
            "[auth]\nmode = \"jwt\"\nsecret_file = {:?}\nissuer = \"site\"\n",
            f.0.display().to_string()
        );
        let c = load(&text).unwrap();
        assert_eq!(c.auth.mode, AuthMode::Jwt);
        assert_eq!(c.auth.key.as_ref().unwrap().expose().len(), 32);
        assert_eq!(c.auth.issuer.as_deref(), Some("site"));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn bad_auth_values_name_the_key() {
        let short = secret_file("short");
        let cases = [
            ("[auth]\nmode = \"jwt\"\n".to_string(), "auth.secret_file"),
            (
                format!(
                    "[auth]\nmode = \"jwt\"\nsecret_file = {:?}\n",
                    short.0.display().to_string()
                ),
                "auth.secret_file",
            ),
            (
                "[auth]\nmode = \"jwt\"\nalgorithm = \"ES256\"\n".to_string(),
                "auth.public_key_file",
            ),
            (
                format!(
                    "[auth]\nmode = \"jwt\"\nalgorithm = \"ES256\"\npublic_key_file = {:?}\n",
                    short.0.display().to_string()
                ),
                "auth.public_key_file",
            ),
            ("[auth]\nleeway_s = 301\n".to_string(), "auth.leeway_s"),
            (
                "[auth]\nmode = \"jwt\"\nsecret_file = \"/nonexistent/x\"\n".to_string(),
                "auth.secret_file",
            ),
        ];
        for (text, key) in cases {
            let e = load(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(load("[auth]\nmode = \"basic\"\n").is_err());
        assert!(load("[auth]\nalgorithm = \"none\"\n").is_err());
    }
}
