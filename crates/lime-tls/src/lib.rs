//! The TLS kit both LIME adapters share: a rustls client configuration
//! with the crypto provider the cargo features name, never a process-wide
//! default (an application's own rustls set-up is left alone), and the
//! trust roots an agent's [`Config`] asks for; and the verifiers' RS256
//! check and clock, which `lime_core::site`'s rules take as arguments.
//!
//! It does no HTTP and holds no state; `lime-core` stays free of I/O, and
//! the adapters (`lime-tokio`, `lime-blocking`) make the connections.
//!
//! | feature | what it adds |
//! |---|---|
//! | `aws-lc-rs` (adapters' default) | rustls's `aws-lc-rs` provider, rustls's own default |
//! | `ring` | rustls's `ring` provider (used when `aws-lc-rs` is off) |
//! | `webpki-roots` (adapters' default) | Mozilla's roots, compiled in |
//! | `os-roots` | the operating system's trust store, read when an agent is built |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!("lime-tls needs a crypto provider: enable its `aws-lc-rs` or `ring` feature");

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;

use lime_core::drive::{TransportError, TransportErrorKind};
use lime_core::site::{
    self, Expected, KeySet, VerifiedBinding, VerifiedMcpToken, VerifiedPassport,
};
use lime_core::{Config, Error, Hint};

/// The crypto library this build uses, chosen once: `aws-lc-rs` when that
/// feature is on (rustls's default, so an app with rustls's defaults has
/// one provider), else `ring`. Its rustls provider and its RS256 verifier
/// (the one that provider maps `RSA_PKCS1_SHA256` to) come from here.
#[cfg(feature = "aws-lc-rs")]
mod library {
    pub(crate) use rustls::crypto::aws_lc_rs::default_provider;
    pub(crate) use webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256 as RS256;
    pub(crate) const NAME: &str = "aws-lc-rs";
}
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
mod library {
    pub(crate) use rustls::crypto::ring::default_provider;
    pub(crate) use webpki::ring::RSA_PKCS1_2048_8192_SHA256 as RS256;
    pub(crate) const NAME: &str = "ring";
}

/// The crypto provider this build was compiled with: `aws-lc-rs` when that
/// feature is on (rustls's default, so an app with rustls's defaults has
/// one provider), else `ring`.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(library::default_provider())
}

/// The name of [`crypto_provider`]'s provider, for logs and tests.
pub fn crypto_provider_name() -> &'static str {
    library::NAME
}

/// A TLS failure classified from a client's error chain: a
/// [`TransportErrorKind::Tls`] error, carrying the [`Hint::TrustCa`] when
/// the server's certificate chains to no trusted root. `None` when no
/// rustls error is in the chain.
pub fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<TransportError> {
    let tls = lime_core::drive::find_in_chain::<rustls::Error>(error)?;
    let failure = TransportError::new(TransportErrorKind::Tls, tls.to_string());
    let untrusted = matches!(
        tls,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
    );
    Some(if untrusted {
        failure.with_hint(Hint::TrustCa)
    } else {
        failure
    })
}

/// Every root `config` trusts: the bundled web PKI roots (feature
/// `webpki-roots`), the OS store when asked for (feature `os-roots`), and
/// its extra roots.
///
/// # Errors
/// [`Error::Config`] when the OS store was asked for without the
/// `os-roots` feature, when it cannot be read, or when no root is left.
pub fn root_certificates(config: &Config) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut extra = config.extra_roots().to_vec();
    if let Some(path) = config.ca_cert_file() {
        extra.extend(roots_from_file(path)?);
    }
    roots_with(&extra, config.os_roots())
}

/// The certificates in the PEM file at `path` (named by
/// [`CA_CERT_ENV`](lime_core::settings::CA_CERT_ENV)), read with a size
/// bound of [`MAX_CA_CERT_BYTES`](lime_core::settings::MAX_CA_CERT_BYTES).
fn roots_from_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    use lime_core::settings::{CA_CERT_ENV, MAX_CA_CERT_BYTES};
    use std::io::Read as _;
    let bad = |why: String| Error::config(format!("{CA_CERT_ENV}={}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_CERT_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_CERT_BYTES {
        return Err(bad(format!("larger than {MAX_CA_CERT_BYTES} bytes")));
    }
    lime_core::drive::certificates_from_pem(&pem).map_err(bad)
}

/// [`root_certificates`] without a [`Config`]: the bundled roots, the OS
/// store when `os_roots` says so (`None`: with the `os-roots` feature), and
/// `extra`.
///
/// # Errors
/// As [`root_certificates`].
pub fn roots_with(
    extra: &[CertificateDer<'static>],
    os_roots: Option<bool>,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut roots: Vec<CertificateDer<'static>> = Vec::new();
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if os_roots.unwrap_or(cfg!(feature = "os-roots")) {
        roots.extend(self::os_roots()?);
    }
    roots.extend(extra.iter().cloned());
    if roots.is_empty() {
        return Err(Error::config(
            "no TLS trust roots: enable the `webpki-roots` or `os-roots` feature, \
             or add a CA with add_root_certificates_pem",
        ));
    }
    Ok(roots)
}

/// A rustls client configuration with [`crypto_provider`] and
/// [`root_certificates`]: TLS 1.2 and 1.3, no client certificate.
///
/// # Errors
/// As [`root_certificates`].
pub fn client_config(config: &Config) -> Result<rustls::ClientConfig, Error> {
    client_config_with(root_certificates(config)?)
}

/// A rustls client configuration with [`crypto_provider`] trusting `roots`
/// (from [`roots_with`]), for clients that have no agent [`Config`] (a
/// site's tools).
///
/// # Errors
/// [`Error::Config`] when none of `roots` can be used.
pub fn client_config_with(
    roots: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, Error> {
    let mut store = rustls::RootCertStore::empty();
    let (_, unusable) = store.add_parsable_certificates(roots);
    tracing::debug!(target: "lime", roots = store.len(), unusable, provider = crypto_provider_name(), "TLS roots loaded");
    if store.is_empty() {
        return Err(Error::config("none of the TLS trust roots could be used"));
    }
    rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS set-up: {e}")))
        .map(|builder| builder.with_root_certificates(store).with_no_client_auth())
}

#[cfg(feature = "os-roots")]
fn os_roots() -> Result<Vec<CertificateDer<'static>>, Error> {
    let loaded = rustls_native_certs::load_native_certs();
    if loaded.certs.is_empty() && !loaded.errors.is_empty() {
        return Err(Error::config(format!(
            "the OS trust store could not be read ({} errors); turn it off with os_roots(false)",
            loaded.errors.len()
        )));
    }
    Ok(loaded.certs)
}

#[cfg(not(feature = "os-roots"))]
fn os_roots() -> Result<Vec<CertificateDer<'static>>, Error> {
    Err(Error::config(
        "os_roots(true) needs the `os-roots` feature of lime-tokio or lime-blocking",
    ))
}

/// RS256 passport signatures checked with the RSA PKCS#1 SHA-256 verifier
/// of [`crypto_provider`]'s library (aws-lc-rs or ring, whichever this
/// build has; the one rustls maps `RSA_PKCS1_SHA256` to): the key's `n` and
/// `e` become the DER `RSAPublicKey` it takes. Nothing is built per check.
///
/// ```
/// use lime_core::site::SignatureCheck;
/// // A key that signed nothing verifies nothing.
/// assert!(!lime_tls::ProviderRs256.rs256(&[0xc3; 256], &[1, 0, 1], b"m", &[0; 256]));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderRs256;

impl lime_core::site::SignatureCheck for ProviderRs256 {
    fn rs256(&self, n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let key = rsa_public_key_der(n, e);
        library::RS256
            .verify_signature(&key, message, signature)
            .is_ok()
    }
}

/// `lime_core::site`'s passport check as of the system clock, with
/// [`ProviderRs256`]: the two things the sans-IO rules take as arguments.
///
/// # Errors
/// [`Error::PassportRefused`] with the first rule `passport` breaks.
pub fn verify_passport(
    passport: &str,
    keys: &KeySet,
    expected: &Expected,
) -> Result<VerifiedPassport, Error> {
    site::verify_passport(passport, keys, expected, unix_now(), &ProviderRs256)
        .map_err(Error::PassportRefused)
}

/// [`verify_passport`] for a binding passport issued by `issuer`.
///
/// # Errors
/// [`Error::PassportRefused`] with the first rule `passport` breaks.
pub fn verify_binding_passport(
    passport: &str,
    keys: &KeySet,
    issuer: &str,
) -> Result<VerifiedBinding, Error> {
    site::verify_binding_passport(passport, keys, issuer, unix_now(), &ProviderRs256)
        .map_err(Error::PassportRefused)
}

/// [`verify_passport`] for an MCP access token issued by `issuer` for the
/// server of `domain`.
///
/// # Errors
/// [`Error::McpTokenRefused`] with the first rule `token` breaks.
pub fn verify_mcp_token(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    domain: &str,
) -> Result<VerifiedMcpToken, Error> {
    site::verify_mcp_token(token, keys, issuer, domain, unix_now(), &ProviderRs256)
        .map_err(Error::McpTokenRefused)
}

/// The clock's Unix seconds, for the claim checks.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
/// (RFC 8017), DER.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed = match bytes.iter().position(|&b| b != 0) {
            Some(first) => &bytes[first..],
            None => &[0][..],
        };
        let mut content = Vec::with_capacity(trimmed.len() + 1);
        if trimmed[0] & 0x80 != 0 {
            content.push(0); // positive
        }
        content.extend_from_slice(trimmed);
        tagged(0x02, &content)
    }
    fn tagged(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let first = bytes
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(bytes.len() - 1);
            out.push(0x80 | (bytes.len() - first) as u8);
            out.extend_from_slice(&bytes[first..]);
        }
        out.extend_from_slice(content);
        out
    }
    let mut body = integer(n);
    body.extend(integer(e));
    tagged(0x30, &body)
}
