//! TLS for the HTTP providers (web, Prometheus, SkyWalking, the built-in admin client):
//! rustls with the ring provider (as the rest of weir; no aws-lc) and the system's trust
//! roots, as Argo's Go controller has them.
//!
//! - Roots come from [`rustls_native_certs`]: the platform's store, or `SSL_CERT_FILE` /
//!   `SSL_CERT_DIR` when set — the same variables Go's `crypto/x509` reads on Linux, so a CA
//!   that signs an in-house metric server is trusted the way Argo's controller is told to
//!   trust it. (Argo has no per-metric CA field; weir adds none.)
//! - `insecure: true` (Argo's `web.insecure` and `prometheus.insecure`) skips verification of
//!   the certificate chain and name, as Go's `InsecureSkipVerify`; the handshake signatures
//!   are still checked.
//! - A certificate that does not verify is an Error measurement whose text is Go's
//!   (`tls: failed to verify certificate: x509: certificate signed by unknown authority`),
//!   never a silent success.

use std::error::Error as StdError;
use std::sync::{Arc, LazyLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// The system's trust roots, loaded once per process.
static SYSTEM_ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "cannot load a system TLS root certificate");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    if ignored > 0 {
        tracing::warn!(ignored, "system TLS root certificates that do not parse were ignored");
    }
    tracing::debug!(added, "system TLS roots loaded");
    Arc::new(roots)
});

/// The system's trust roots (see the module docs).
pub(crate) fn system_roots() -> Arc<RootCertStore> {
    SYSTEM_ROOTS.clone()
}

/// A provider's two HTTP clients: one verifying servers against its roots, one for metrics
/// with `insecure: true`. Each is built once, or holds why it could not be.
#[derive(Debug)]
pub(crate) struct Clients {
    verifying: Result<reqwest::Client, String>,
    insecure: Result<reqwest::Client, String>,
}

impl Clients {
    /// Clients trusting the system's roots.
    pub(crate) fn new() -> Self {
        Self::with_roots(system_roots())
    }

    /// Clients trusting `roots`.
    pub(crate) fn with_roots(roots: Arc<RootCertStore>) -> Self {
        Clients { verifying: client(Some(roots)), insecure: client(None) }
    }

    /// The client for a metric: the insecure one if `insecure`, else the verifying one.
    pub(crate) fn get(&self, insecure: bool) -> Result<&reqwest::Client, String> {
        let client = if insecure { &self.insecure } else { &self.verifying };
        client.as_ref().map_err(Clone::clone)
    }
}

/// A reqwest client without a global timeout (each request sets its own) that verifies
/// servers against `roots`, or verifies nothing when `roots` is `None`.
pub(crate) fn client(roots: Option<Arc<RootCertStore>>) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?;
    let config = match roots {
        Some(roots) => builder.with_root_certificates(roots).with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerification(provider)))
            .with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Go's `InsecureSkipVerify`: any certificate chain and name, signatures still checked.
#[derive(Debug)]
struct SkipVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS failure somewhere in `err`'s cause chain, in Go's words (`crypto/tls`,
/// `crypto/x509`), or `None` when the failure is not about TLS.
pub(crate) fn describe(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(tls) = rustls_error(e) {
            return Some(go_text(tls));
        }
        next = e.source();
    }
    None
}

/// `e` as a rustls error, looking through `io::Error`s (whose `source()` skips the error they
/// wrap: reqwest's chain is `io::Error(Other, io::Error(InvalidData, rustls::Error))`).
fn rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// A rustls error as Go's TLS client reports the same failure.
fn go_text(err: &rustls::Error) -> String {
    const VERIFY: &str = "tls: failed to verify certificate: x509:";
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                format!("{VERIFY} certificate signed by unknown authority")
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                format!("{VERIFY} certificate has expired or is not yet valid")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("{VERIFY} certificate is not valid for the requested name ({err})")
            }
            _ => format!("{VERIFY} {err}"),
        },
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "http: server gave HTTP response to HTTPS client".to_owned()
        }
        _ => format!("tls: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_read_as_go_prints_them() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::other(unknown);
        assert_eq!(
            describe(&io).as_deref(),
            Some(
                "tls: failed to verify certificate: x509: certificate signed by unknown authority"
            )
        );
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert_eq!(
            describe(&expired).as_deref(),
            Some(
                "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
            )
        );
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert_eq!(
            describe(&plain).as_deref(),
            Some("http: server gave HTTP response to HTTPS client")
        );
        let nested = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        assert!(describe(&nested).is_some_and(|t| t.ends_with("signed by unknown authority")));
        let other = std::io::Error::other("connection refused");
        assert_eq!(describe(&other), None);
    }

    #[test]
    fn clients_build_with_and_without_verification() {
        let clients = Clients::with_roots(Arc::new(RootCertStore::empty()));
        assert!(clients.get(false).is_ok());
        assert!(clients.get(true).is_ok());
    }
}
