//! TLS for `https`/`wss`: one rustls client configuration with the `ring` provider.
//!
//! The configuration is built explicitly (no process-wide default provider), so this crate
//! never needs `aws-lc-rs` or a native TLS library, and never panics for want of a provider.
//! Roots: the Mozilla set from `webpki-roots`, plus any DER certificates from the configuration
//! (private Routerlicious deployments).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::TinyliciousError;

/// Builds the client configuration; `alpn` is set for HTTP/1.1 when used by the REST client.
pub(crate) fn client_config(
    extra_roots: &[Vec<u8>],
    http1_alpn: bool,
) -> Result<ClientConfig, TinyliciousError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra_roots {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| TinyliciousError::Client(format!("invalid root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TinyliciousError::Client(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if http1_alpn {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_ring_and_refuses_garbage_roots() {
        let config = client_config(&[], true).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(matches!(
            client_config(&[vec![1, 2, 3]], false),
            Err(TinyliciousError::Client(_))
        ));
    }
}
