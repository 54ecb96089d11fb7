//! rustls configuration for TLS listeners and outbound TLS (RFC 3261 §26.2.1),
//! using the `ring` provider so the crate builds without cmake or nasm.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::config::{TlsConfig, TransportConfig};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

fn load_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(path, "no certificate in PEM file"));
    }
    Ok(certs)
}

/// Builds the server configuration of one TLS listener.
pub(crate) fn server_config(tls: &TlsConfig) -> io::Result<Arc<ServerConfig>> {
    let certs = load_certs(&tls.cert_pem)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_pem).map_err(|e| invalid(&tls.key_pem, e))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(&tls.cert_pem, e))?;
    Ok(Arc::new(config))
}

/// The outbound TLS configuration: the explicit one if given, else one that
/// trusts only `tls_client_roots`. `None` when neither is configured, in
/// which case outbound TLS is unavailable (no public roots offline).
pub(crate) fn client_config(config: &TransportConfig) -> io::Result<Option<Arc<ClientConfig>>> {
    if let Some(client) = &config.tls_client {
        return Ok(Some(client.clone()));
    }
    if config.tls_client_roots.is_empty() {
        return Ok(None);
    }
    let mut roots = RootCertStore::empty();
    for path in &config.tls_client_roots {
        for cert in load_certs(path)? {
            roots.add(cert).map_err(|e| invalid(path, e))?;
        }
    }
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(client)))
}
