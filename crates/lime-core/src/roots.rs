//! Extra trust roots (a corporate or test CA) from PEM, read the same way
//! by both adapters before each hands them to its TLS stack.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Every certificate in `pem`.
///
/// ```
/// assert!(lime_core::drive::certificates_from_pem(b"not a certificate").is_err());
/// ```
///
/// # Errors
/// Why the PEM cannot be used: a section that does not parse, or no
/// certificate at all.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certificates.is_empty() {
        return Err("no certificate in the PEM".to_owned());
    }
    Ok(certificates)
}
