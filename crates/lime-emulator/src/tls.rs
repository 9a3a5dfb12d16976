//! HTTPS for the emulator: a certificate authority made at start (its PEM
//! exported for clients to trust) or a certificate and key from files.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS setup failed: {0}")]
pub struct TlsError(pub String);

/// Where the server's certificate comes from.
#[derive(Clone)]
pub enum TlsSource {
    /// A CA generated at start signs a certificate for `localhost` and `127.0.0.1`.
    Generated,
    /// A certificate chain and key in PEM, e.g. read from files.
    Pem {
        /// The certificate chain, leaf first.
        cert_chain: String,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: String,
    },
}

impl std::fmt::Debug for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsSource::Generated => f.write_str("Generated"),
            TlsSource::Pem { .. } => f.write_str("Pem { .. }"),
        }
    }
}

/// A ready server configuration, and the CA to trust when one was generated.
pub(crate) struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    pub(crate) ca_pem: Option<String>,
}

pub(crate) fn server_tls(
    source: &TlsSource,
    extra_names: &[String],
) -> Result<ServerTls, TlsError> {
    let fail = |e: &dyn std::fmt::Display| TlsError(e.to_string());
    let (chain, key, ca_pem) = match source {
        TlsSource::Generated => {
            let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.distinguished_name
                .push(DnType::CommonName, "lime emulator local CA");
            let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(|e| fail(&e))?)
                .map_err(|e| fail(&e))?;
            let leaf_key = KeyPair::generate().map_err(|e| fail(&e))?;
            let mut names = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            names.extend(extra_names.iter().cloned());
            let mut leaf = CertificateParams::new(names).map_err(|e| fail(&e))?;
            leaf.distinguished_name
                .push(DnType::CommonName, "lime emulator");
            let leaf = leaf.signed_by(&leaf_key, &ca).map_err(|e| fail(&e))?;
            let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| fail(&e))?;
            (
                vec![leaf.der().clone(), ca.der().clone()],
                key,
                Some(ca.pem()),
            )
        }
        TlsSource::Pem { cert_chain, key } => {
            let chain = CertificateDer::pem_slice_iter(cert_chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(&e))?;
            if chain.is_empty() {
                return Err(TlsError("no certificate in the PEM".to_owned()));
            }
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| fail(&e))?;
            (chain, key, None)
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| fail(&e))?;
    Ok(ServerTls {
        config: Arc::new(config),
        ca_pem,
    })
}
