//! TLS for the API listener: a private certificate authority and a serving certificate for
//! `127.0.0.1`, `::1` and `localhost`, generated on first start in the data directory, and the
//! rustls server configuration built from them.
//!
//! Why TLS at all: client-go (kubectl, k9s, Helm, …) sends a bearer token only over TLS, so a
//! Kubernetes client cannot authenticate to a plain-HTTP API. Why one port for both: see
//! [`listener`], which tells TLS from plain HTTP by the first byte a client sends, so the weir
//! CLI and a browser on `http://127.0.0.1:PORT` keep working next to kubectl on `https://`.
//!
//! Files (all in the data directory): `ca.crt`, `ca.key`, `apiserver.crt`, `apiserver.key`;
//! the keys are written with mode 0600. A missing or unreadable file makes a new CA and serving
//! certificate (the kubeconfig, rewritten on every start, then carries the new CA).
//! Signatures use ECDSA P-256 with SHA-256 through ring (rustls' `ring` provider).

pub(crate) mod listener;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The names the serving certificate is valid for: the API listens on loopback only.
pub(crate) const SERVING_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// How many years a generated certificate is valid after the year it is made in.
const VALID_YEARS: i32 = 10;

/// Why the TLS material could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A certificate or key could not be generated.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("cannot configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// Where the TLS files of a data directory are.
#[derive(Debug, Clone)]
pub(crate) struct TlsPaths {
    /// The CA certificate (PEM), also embedded in the kubeconfig.
    pub(crate) ca_cert: PathBuf,
    /// The CA's private key (PEM, mode 0600).
    pub(crate) ca_key: PathBuf,
    /// The API's serving certificate (PEM), signed by the CA.
    pub(crate) serving_cert: PathBuf,
    /// The serving certificate's private key (PEM, mode 0600).
    pub(crate) serving_key: PathBuf,
}

impl TlsPaths {
    /// The files in `dir`.
    pub(crate) fn in_dir(dir: &Path) -> Self {
        TlsPaths {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
        }
    }
}

/// The TLS material of a running API: the CA clients must trust and the server configuration.
#[derive(Debug, Clone)]
pub(crate) struct ServingTls {
    /// The CA certificate, PEM (what `certificate-authority-data` carries).
    pub(crate) ca_pem: String,
    /// rustls' configuration for the API listener (HTTP/1.1 only, as the API serves).
    pub(crate) config: Arc<ServerConfig>,
}

/// Loads the CA and serving certificate from `paths`, generating both when any file is missing
/// or unreadable.
pub(crate) fn ensure(paths: &TlsPaths) -> Result<ServingTls, TlsError> {
    match load(paths) {
        Ok(tls) => return Ok(tls),
        Err(e) if all_missing(paths) => {
            tracing::debug!(error = %e, "no TLS files yet: generating a CA");
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot use the TLS files: generating a new CA and serving certificate");
        }
    }
    generate(paths)?;
    load(paths)
}

fn all_missing(paths: &TlsPaths) -> bool {
    [&paths.ca_cert, &paths.ca_key, &paths.serving_cert, &paths.serving_key]
        .iter()
        .all(|p| !p.exists())
}

/// Reads the four files and builds the server configuration.
fn load(paths: &TlsPaths) -> Result<ServingTls, TlsError> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|source| TlsError::Io { path: path.to_owned(), source })
    };
    let invalid = |path: &Path, what: &str| TlsError::Io {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("no valid {what} in the file")),
    };
    for key in [&paths.ca_key, &paths.serving_key] {
        tighten(key)?;
    }
    let ca_pem = read(&paths.ca_cert)?;
    CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|_| invalid(&paths.ca_cert, "certificate"))?;
    read(&paths.ca_key)?;
    let serving_pem = read(&paths.serving_cert)?;
    let serving_cert = CertificateDer::from_pem_slice(serving_pem.as_bytes())
        .map_err(|_| invalid(&paths.serving_cert, "certificate"))?;
    let key_pem = read(&paths.serving_key)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|_| invalid(&paths.serving_key, "private key"))?;
    let config = server_config(serving_cert, key)?;
    Ok(ServingTls { ca_pem, config: Arc::new(config) })
}

/// Sets mode 0600 on a key file others can read (copied around with a lax umask, say).
fn tighten(path: &Path) -> Result<(), TlsError> {
    let io_error = |source| TlsError::Io { path: path.to_owned(), source };
    let mut permissions = fs::metadata(path).map_err(io_error)?.permissions();
    if permissions.mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "key file was readable by others; setting mode 0600");
        permissions.set_mode(0o600);
        fs::set_permissions(path, permissions).map_err(io_error)?;
    }
    Ok(())
}

/// rustls with the ring provider, HTTP/1.1 announced by ALPN (the API's router speaks HTTP/1).
fn server_config(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Makes a CA and a serving certificate signed by it, and writes the four files.
fn generate(paths: &TlsPaths) -> Result<(), TlsError> {
    let year = current_year();
    let validity = |params: &mut CertificateParams| {
        params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
        params.not_after = rcgen::date_time_ymd(year + VALID_YEARS, 1, 1);
    };

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "weir-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca_params);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let serving_key = KeyPair::generate()?;
    let mut serving_params =
        CertificateParams::new(SERVING_NAMES.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    serving_params.distinguished_name.push(DnType::CommonName, "weir-apiserver");
    serving_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    serving_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut serving_params);
    let serving_cert = serving_params.signed_by(&serving_key, &issuer)?;

    write_file(&paths.ca_key, &ca_key.serialize_pem(), 0o600)?;
    write_file(&paths.serving_key, &serving_key.serialize_pem(), 0o600)?;
    write_file(&paths.serving_cert, &serving_cert.pem(), 0o644)?;
    write_file(&paths.ca_cert, &ca_cert.pem(), 0o644)?;
    Ok(())
}

/// The calendar year now (to within a day around New Year, which the one-year margin of
/// `not_before` absorbs).
fn current_year() -> i32 {
    const SECONDS_PER_GREGORIAN_YEAR: u64 = 31_556_952;
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    1970 + i32::try_from(seconds / SECONDS_PER_GREGORIAN_YEAR).unwrap_or(0)
}

/// Writes `text` to `path` with `mode` through a temporary file and a rename, so a reader
/// never sees half a file and a key is never readable by others, even for a moment.
pub(crate) fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let io_error = |source| TlsError::Io { path: path.to_owned(), source };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_error)?;
    file.write_all(text.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    fs::rename(&tmp, path).map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_then_later_starts_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let paths = TlsPaths::in_dir(dir.path());
        let first = ensure(&paths).unwrap();
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        for key in [&paths.ca_key, &paths.serving_key] {
            let mode = fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
        }
        fs::set_permissions(&paths.ca_key, fs::Permissions::from_mode(0o644)).unwrap();
        let second = ensure(&paths).unwrap();
        assert_eq!(second.ca_pem, first.ca_pem, "the CA is kept across starts");
        let mode = fs::metadata(&paths.ca_key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a key readable by others is tightened");
        assert_eq!(first.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_damaged_file_makes_a_new_ca() {
        let dir = tempfile::tempdir().unwrap();
        let paths = TlsPaths::in_dir(dir.path());
        let first = ensure(&paths).unwrap();
        fs::write(&paths.serving_key, "not a key").unwrap();
        let second = ensure(&paths).unwrap();
        assert_ne!(second.ca_pem, first.ca_pem);
    }

    #[test]
    fn year_is_plausible() {
        assert!((2024..2200).contains(&current_year()));
    }
}
