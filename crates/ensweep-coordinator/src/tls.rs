//! The coordinator's TLS identity, handed in as PEM text (the binary reads the files).
//!
//! TLS runs through tonic's rustls support with the ring provider. With a client CA the
//! coordinator requires every caller to present a certificate signed by it (mutual TLS); the
//! roles still come from bearer tokens, so a certificate proves a machine, a token a role.

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// PEM material for serving TLS.
#[derive(Clone)]
pub struct ServerTls {
    /// Certificate chain of the coordinator, leaf first.
    pub cert_pem: Vec<u8>,
    /// Private key of the leaf certificate.
    pub key_pem: Vec<u8>,
    /// CA that signs client certificates; when set, a caller without one is refused.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl ServerTls {
    /// The tonic configuration of this identity.
    pub(crate) fn config(&self) -> ServerTlsConfig {
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        if let Some(ca) = &self.client_ca_pem {
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        config
    }
}

/// Never prints the private key (configs get logged).
impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("key_pem", &"<redacted>")
            .field("mutual", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}
