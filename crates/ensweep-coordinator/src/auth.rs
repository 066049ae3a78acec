//! Who may call which RPC: bearer tokens for two roles, checked before any handler runs.
//!
//! A *worker* token allows the lease protocol (register, lease, heartbeat, complete, fail,
//! release); a *client* token allows sweep management (submit, status, cancel, retry). The
//! check is a tower layer around the generated service rather than a tonic interceptor,
//! because an interceptor never sees the method path the role depends on. It wraps the
//! coordinator service only, so a health service added beside it needs no token.
//!
//! Without any token configured the service is open; the binary allows that only on loopback
//! (or with `--insecure`), see [`check_exposure`].

use ensweep_core::token::Token;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

/// What a credential allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs cells: the lease protocol.
    Worker,
    /// Manages sweeps: submit, status, cancel, retry.
    Client,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Worker => "worker",
            Role::Client => "client",
        })
    }
}

/// The gRPC path prefix of the coordinator service.
const SERVICE_PREFIX: &str = "/ensweep.v1.Coordinator/";

/// The one table from RPC method to the role it needs. Adding an RPC is one line here; a
/// method missing from the table is denied to everyone.
const ROLES: &[(&str, Role)] = &[
    ("RegisterWorker", Role::Worker),
    ("LeaseCells", Role::Worker),
    ("Heartbeat", Role::Worker),
    ("CompleteCells", Role::Worker),
    ("FailCells", Role::Worker),
    ("ReleaseCells", Role::Worker),
    ("SubmitSweep", Role::Client),
    ("WatchStatus", Role::Client),
    ("CancelSweep", Role::Client),
    ("RetryCells", Role::Client),
];

/// The role a gRPC method path (`/ensweep.v1.Coordinator/LeaseCells`) needs, if it is known.
pub fn role_of(path: &str) -> Option<Role> {
    let method = path.strip_prefix(SERVICE_PREFIX)?;
    ROLES.iter().find(|(m, _)| *m == method).map(|(_, r)| *r)
}

/// The tokens the coordinator accepts. A role without a token cannot be used at all once the
/// other role has one; with neither, the service is open.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    /// Token of the worker role.
    pub worker: Option<Token>,
    /// Token of the client role.
    pub client: Option<Token>,
}

impl Tokens {
    /// Whether no token is configured (every call is allowed).
    pub fn is_open(&self) -> bool {
        self.worker.is_none() && self.client.is_none()
    }

    /// Decides one call from its method path and `authorization` header.
    pub fn check(&self, path: &str, authorization: Option<&[u8]>) -> Result<(), Status> {
        if self.is_open() {
            return Ok(());
        }
        let presented = authorization
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer` token"))?;
        // Both comparisons always run, so timing does not tell which role was close.
        let is_worker = self.worker.as_ref().is_some_and(|t| t.matches(presented));
        let is_client = self.client.as_ref().is_some_and(|t| t.matches(presented));
        if !is_worker && !is_client {
            return Err(Status::unauthenticated("invalid token"));
        }
        match role_of(path) {
            Some(Role::Worker) if is_worker => Ok(()),
            Some(Role::Client) if is_client => Ok(()),
            Some(need) => Err(Status::permission_denied(format!(
                "{path} needs the {need} role; this token does not have it"
            ))),
            None => Err(Status::permission_denied(format!("unknown method {path}"))),
        }
    }
}

/// Why the coordinator refuses to listen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExposureError {
    /// A non-loopback address without tokens would let anyone on the network run sweeps.
    #[error(
        "refusing to listen on {0} without tokens: anyone who can reach it could submit, cancel \
         and forge results; set --worker-token-file and --client-token-file (or \
         ENSWEEP_WORKER_TOKEN / ENSWEEP_CLIENT_TOKEN), or pass --insecure"
    )]
    OpenToNetwork(SocketAddr),
}

/// Refuses an open service on a non-loopback address unless `insecure` says so explicitly.
pub fn check_exposure(
    addr: SocketAddr,
    tokens: &Tokens,
    insecure: bool,
) -> Result<(), ExposureError> {
    if tokens.is_open() && !addr.ip().is_loopback() && !insecure {
        return Err(ExposureError::OpenToNetwork(addr));
    }
    Ok(())
}

/// A service whose every call passes [`Tokens::check`] first.
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    tokens: Arc<Tokens>,
}

impl<S> Authenticated<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, tokens: Tokens) -> Self {
        Self {
            inner,
            tokens: Arc::new(tokens),
        }
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower_service::Service<http::Request<Body>> for Authenticated<S>
where
    S: tower_service::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        match self.tokens.check(req.uri().path(), header) {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_has_a_role_and_unknown_methods_none() {
        assert_eq!(
            role_of("/ensweep.v1.Coordinator/LeaseCells"),
            Some(Role::Worker)
        );
        assert_eq!(
            role_of("/ensweep.v1.Coordinator/SubmitSweep"),
            Some(Role::Client)
        );
        assert_eq!(role_of("/ensweep.v1.Coordinator/Nope"), None);
        assert_eq!(role_of("/other.Service/LeaseCells"), None);
        assert_eq!(
            role_of("/ensweep.v1.Coordinator/RetryCells"),
            Some(Role::Client)
        );
    }

    #[test]
    fn unknown_methods_are_denied_and_open_mode_allows_all() {
        let tokens = Tokens {
            worker: Some(Token::new("w-0123456789abcdef").expect("token")),
            client: Some(Token::new("c-0123456789abcdef").expect("token")),
        };
        let path = "/ensweep.v1.Coordinator/DropLedger";
        let err = tokens
            .check(path, Some(b"Bearer c-0123456789abcdef"))
            .expect_err("unknown method");
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let err = tokens
            .check(path, Some(b"c-0123456789abcdef"))
            .expect_err("no Bearer prefix");
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert!(Tokens::default().check(path, None).is_ok());
    }

    #[test]
    fn exposure() {
        let open = Tokens::default();
        let any: SocketAddr = "0.0.0.0:1".parse().expect("addr");
        let lo: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        assert!(check_exposure(lo, &open, false).is_ok());
        assert_eq!(
            check_exposure(any, &open, false),
            Err(ExposureError::OpenToNetwork(any))
        );
        assert!(check_exposure(any, &open, true).is_ok());
        let closed = Tokens {
            worker: Some(Token::new("w-0123456789abcdef").expect("token")),
            client: None,
        };
        assert!(check_exposure(any, &closed, false).is_ok());
    }
}
