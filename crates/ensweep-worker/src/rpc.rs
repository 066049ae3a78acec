//! Connection to the coordinator and the retry policy of every call.
//!
//! The channel connects lazily and reconnects by itself; calls that fail because the
//! coordinator is unreachable are retried with jittered exponential backoff (50 ms doubling to
//! 2 s), so a worker rides out a coordinator restart without losing its results.

use crate::WorkerError;
use ensweep_core::token::Token;
use ensweep_proto::v1::coordinator_client::CoordinatorClient;
use std::future::Future;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

/// The generated client over a channel that attaches the caller's token to every call.
pub type Client = CoordinatorClient<InterceptedService<Channel, Bearer>>;

/// Largest message accepted (lease batches of big configs).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Adds `authorization: Bearer <token>` to every request (nothing without a token).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// PEM material for reaching a coordinator over TLS (`https://` URLs).
#[derive(Clone)]
pub struct ClientTls {
    /// CA that signed the coordinator's certificate.
    pub ca_pem: Vec<u8>,
    /// Our certificate and key, for a coordinator that requires mutual TLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Never prints the private key.
impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("client_certificate", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the coordinator is and how to prove who we are: the one description every command
/// that talks to a coordinator (worker, submit, status, cancel, retry) builds its client from.
#[derive(Clone, Debug)]
pub struct Connection {
    /// `http://host:port` or `https://host:port` (a bare `host:port` gets `http://`).
    pub url: String,
    /// Bearer token of our role, if the coordinator requires one.
    pub token: Option<Token>,
    /// TLS settings; required by, and only allowed with, an `https://` URL.
    pub tls: Option<ClientTls>,
}

impl Connection {
    /// A plaintext connection without a token.
    pub fn open(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            tls: None,
        }
    }

    fn url(&self) -> String {
        if self.url.contains("://") {
            self.url.clone()
        } else {
            format!("http://{}", self.url)
        }
    }

    fn endpoint(&self) -> Result<Endpoint, WorkerError> {
        let url = self.url();
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|_| WorkerError::Address(url.clone()))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20));
        let https = url.starts_with("https://");
        match (&self.tls, https) {
            (None, false) => Ok(endpoint),
            (Some(tls), true) => {
                let mut config =
                    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
                if let Some((cert, key)) = &tls.identity {
                    config = config.identity(Identity::from_pem(cert, key));
                }
                endpoint
                    .tls_config(config)
                    .map_err(|e| WorkerError::Tls(describe(&e)))
            }
            (None, true) => Err(WorkerError::Tls(format!(
                "{url} is https:// but no CA was given (--tls-ca): the coordinator's certificate cannot be checked"
            ))),
            (Some(_), false) => Err(WorkerError::Tls(format!(
                "TLS settings were given but {url} is not https://"
            ))),
        }
    }

    fn client(&self, channel: Channel) -> Result<Client, WorkerError> {
        let bearer = match &self.token {
            Some(t) => {
                let mut v: MetadataValue<Ascii> = format!("Bearer {}", t.expose())
                    .parse()
                    .map_err(|_| WorkerError::Token)?;
                // Kept out of HTTP/2 header compression tables (never indexed).
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(CoordinatorClient::with_interceptor(channel, Bearer(bearer))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE))
    }

    /// A client that connects lazily and reconnects by itself (workers ride out restarts).
    pub fn connect_lazy(&self) -> Result<Client, WorkerError> {
        self.client(self.endpoint()?.connect_lazy())
    }

    /// A client connected now, so a wrong address fails at once with a clear error.
    pub async fn connect(&self) -> Result<Client, WorkerError> {
        let channel = self
            .endpoint()?
            .connect()
            .await
            .map_err(|e| WorkerError::Connect(self.url(), describe(&e)))?;
        self.client(channel)
    }
}

/// A failed call's message, with a hint when it is a bare transport failure: that is how a
/// plaintext client talking to a TLS coordinator (or the reverse) shows up.
pub fn explain(url: &str, status: &Status) -> String {
    let msg = status.message();
    // A plaintext HTTP/2 client talking to a TLS server sees the connection torn down, which
    // surfaces as UNAVAILABLE, UNKNOWN, INTERNAL or (depending on timing) CANCELLED.
    let transport = matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled
    ) && !msg.contains("refused");
    match (transport, url.starts_with("https://")) {
        (false, _) => msg.to_owned(),
        (true, true) => {
            format!("{msg} (is {url} serving TLS, with a certificate signed by --tls-ca?)")
        }
        (true, false) => format!("{msg} (if {url} serves TLS, use an https:// URL and --tls-ca)"),
    }
}

/// A transport error with its causes, which carry the useful part ("connection refused").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether a failed call may succeed later (the coordinator is away or restarting).
fn transient(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
    )
}

/// Calls `f` until it succeeds or fails with a non-transient status.
pub async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(s) if transient(&s) => {
                tracing::debug!(call = what, status = %s, "coordinator unreachable; retrying");
                // Jitter from the clock's nanoseconds: enough to spread reconnecting workers.
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let jitter = Duration::from_millis(u64::from(nanos % 50));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(s) => return Err(s),
        }
    }
}
