//! Connection to the coordinator and the retry policy of every call.
//!
//! The channel connects lazily and reconnects by itself; calls that fail because the
//! coordinator is unreachable are retried with jittered exponential backoff (50 ms doubling to
//! 2 s), so a worker rides out a coordinator restart without losing its results.

use crate::WorkerError;
use ensweep_proto::v1::coordinator_client::CoordinatorClient;
use std::future::Future;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The generated client over a lazily connecting channel.
pub type Client = CoordinatorClient<Channel>;

/// Largest message accepted (lease batches of big configs).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// A client for `url` (`http://host:port`; a bare `host:port` gets `http://`).
pub fn connect(url: &str) -> Result<Client, WorkerError> {
    let url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|_| WorkerError::Address(url.clone()))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(20));
    Ok(CoordinatorClient::new(endpoint.connect_lazy())
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
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
