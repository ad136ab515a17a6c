//! Certificate pinning for the CLI's `https://`: a server whose end-entity
//! certificate is byte for byte one of the pinned certificates (the
//! gateway's own `[http] tls_cert`, or a `--ca` file) is accepted once it
//! proves it holds the matching private key (the handshake signature,
//! checked by rustls with the ring provider's algorithms); any other
//! certificate goes through rustls's WebPKI verification against the
//! trust roots. This is what lets `rtmp2sip status -c FILE` reach a
//! listener with a self-signed certificate (`openssl req -x509` makes it a
//! CA certificate, which WebPKI refuses as an end entity).

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::{DigitallySignedStruct, Error, SignatureScheme};

/// Pinned certificates first, then WebPKI (when there are trust roots).
#[derive(Debug)]
pub struct PinnedOrWebPki {
    /// Certificates accepted as they are.
    pub pinned: Vec<CertificateDer<'static>>,
    /// The roots' verifier; `None` when no root could be loaded.
    pub webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The provider whose signature algorithms check the handshake.
    pub provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.webpki {
            Some(w) => {
                w.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(Error::InvalidCertificate(
                tokio_rustls::rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
