//! A PEM certificate chain and private key read into a rustls server
//! configuration (ring provider, TLS 1.2 and 1.3 with rustls's safe
//! defaults, RFC 5246 and RFC 8446; no client certificates). Shared by
//! RTMPS and HTTPS (`runtime::tls`) and SIP `tls:` listeners
//! (`sip::transports`); a leaf: it imports nothing from the crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Why a certificate or key file cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct TlsFileError {
    /// The file at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// A chain and key that rustls accepted, with their PEM text.
pub struct ServerPair {
    /// The certificate file's bytes.
    pub cert_pem: Vec<u8>,
    /// The key file's bytes.
    pub key_pem: Vec<u8>,
    /// Whether the key is a SEC1 `EC PRIVATE KEY` (not PKCS#8 or PKCS#1).
    pub sec1: bool,
    /// The server configuration (no ALPN, rustls's default tickets).
    pub config: ServerConfig,
}

/// Reads `cert` (PEM chain, leaf first) and `key` (PEM private key).
///
/// # Errors
/// [`TlsFileError`] naming the file that cannot be read, holds no
/// certificate or key, or that rustls refuses (a key that does not match
/// the certificate names the key).
pub fn server_pair(cert: &Path, key: &Path) -> Result<ServerPair, TlsFileError> {
    let fail = |path: &Path, reason: String| TlsFileError {
        path: path.to_path_buf(),
        reason,
    };
    let cert_pem = std::fs::read(cert).map_err(|e| fail(cert, e.to_string()))?;
    let key_pem = std::fs::read(key).map_err(|e| fail(key, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(fail(cert, "no CERTIFICATE in the file".into()));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| fail(key, e.to_string()))?;
    let sec1 = matches!(private, PrivateKeyDer::Sec1(_));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| fail(key, e.to_string()))?;
    Ok(ServerPair {
        cert_pem,
        key_pem,
        sec1,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_name_the_file() {
        let dir = std::env::temp_dir().join(format!("rtmp2sip-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, b"").unwrap();
        let missing = dir.join("missing.pem");
        let e = server_pair(&missing, &empty).err().unwrap();
        assert_eq!(e.path, missing);
        let e = server_pair(&empty, &empty).err().unwrap();
        assert_eq!(e.path, empty);
        assert!(e.reason.contains("no CERTIFICATE"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
