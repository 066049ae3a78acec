//! What the coordinator's gRPC tests share: test settings, and serving a coordinator on
//! 127.0.0.1 with port 0 until told to stop.

use ensweep_coordinator::{CoordinatorConfig, Handle, ServeOptions};
use std::path::Path;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Settings for tests: long leases (no expiry unless a test asks), quick exports.
pub fn config(dir: &Path) -> CoordinatorConfig {
    CoordinatorConfig {
        dir: dir.to_owned(),
        lease_ttl_ms: 60_000,
        retries: 3,
        export_batch: 100,
        export_interval_ms: 50,
        restore_leases: true,
        max_result_bytes: ensweep_core::wire::DEFAULT_MAX_RESULT_BYTES,
        trainers: ensweep_worker::TRAINERS,
    }
}

/// A gRPC server on an ephemeral loopback port.
pub struct Served {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// `http://` and the address.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

/// Serves `handle` with `options` (tokens, TLS) on 127.0.0.1:0.
pub async fn serve(handle: Handle, options: ServeOptions) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(ensweep_coordinator::serve_with(
        handle,
        listener,
        options,
        async {
            let _ = stopped.await;
        },
    ));
    Served {
        addr,
        url: format!("http://{addr}"),
        stop: Some(stop),
        task: Some(task),
    }
}

impl Served {
    /// Stops serving and waits until the server has ended without error.
    pub async fn stop(mut self) {
        self.signal();
        let task = self.task.take().expect("running");
        task.await.expect("join").expect("served without error");
    }

    /// Tells the server to stop without waiting (for `Drop`).
    pub fn signal(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
