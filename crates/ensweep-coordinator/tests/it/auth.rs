//! Tokens, roles and TLS on a real coordinator served on 127.0.0.1 (port 0), called through
//! the worker crate's connection helper, the one every `ensweep` command uses.

use ensweep_coordinator::auth::Tokens;
use ensweep_coordinator::{Coordinator, ServeOptions, ServerTls};
use ensweep_core::token::Token;
use ensweep_proto::v1 as pb;
use ensweep_worker::rpc::{Client, ClientTls, Connection};
use tonic::{Code, Status};

const WORKER: &str = "worker-token-0123456789abcdef";
const CLIENT: &str = "client-token-0123456789abcdef";

use crate::common;

/// A coordinator serving with `options` until stopped.
struct Server {
    addr: std::net::SocketAddr,
    served: common::Served,
    coordinator: Coordinator,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(options: ServeOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let coordinator =
            Coordinator::start(common::config(dir.path())).expect("coordinator starts");
        let served = common::serve(coordinator.handle(), options).await;
        Self {
            addr: served.addr,
            served,
            coordinator,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.served.stop().await;
        self.coordinator.shutdown();
    }
}

fn token(secret: &str) -> Option<Token> {
    Some(Token::new(secret).expect("valid token"))
}

/// One call of `method` with a request that passes authentication wherever it is allowed.
async fn call(c: &mut Client, method: &str) -> Result<(), Status> {
    match method {
        "RegisterWorker" => c
            .register_worker(pb::RegisterWorkerRequest {
                protocol_version: ensweep_proto::PROTOCOL_VERSION,
                worker_name: "w".into(),
                slots: 1,
                ..Default::default()
            })
            .await
            .map(drop),
        "LeaseCells" => c
            .lease_cells(pb::LeaseCellsRequest::default())
            .await
            .map(drop),
        "Heartbeat" => c.heartbeat(pb::HeartbeatRequest::default()).await.map(drop),
        "CompleteCells" => c
            .complete_cells(pb::CompleteCellsRequest::default())
            .await
            .map(drop),
        "FailCells" => c
            .fail_cells(pb::FailCellsRequest::default())
            .await
            .map(drop),
        "ReleaseCells" => c
            .release_cells(pb::ReleaseCellsRequest::default())
            .await
            .map(drop),
        "SubmitSweep" => c
            .submit_sweep(pb::SubmitSweepRequest::default())
            .await
            .map(drop),
        "WatchStatus" => c
            .watch_status(pb::WatchStatusRequest::default())
            .await
            .map(drop),
        "CancelSweep" => c
            .cancel_sweep(pb::CancelSweepRequest::default())
            .await
            .map(drop),
        other => panic!("no call for {other}"),
    }
}

const WORKER_METHODS: [&str; 6] = [
    "RegisterWorker",
    "LeaseCells",
    "Heartbeat",
    "CompleteCells",
    "FailCells",
    "ReleaseCells",
];
const CLIENT_METHODS: [&str; 3] = ["SubmitSweep", "WatchStatus", "CancelSweep"];

fn code(r: &Result<(), Status>) -> Option<Code> {
    r.as_ref().err().map(Status::code)
}

/// Every RPC: no token and a wrong token are UNAUTHENTICATED, the other role's token is
/// PERMISSION_DENIED, and the right role's token gets past authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_needs_its_role() {
    let server = Server::start(ServeOptions {
        tokens: Tokens {
            worker: token(WORKER),
            client: token(CLIENT),
        },
        tls: None,
    })
    .await;
    let url = format!("http://{}", server.addr);
    let with = |t: Option<Token>| Connection {
        url: url.clone(),
        token: t,
        tls: None,
    };
    let mut none = with(None).connect().await.expect("connect");
    let mut wrong = with(token("not-the-token-0123456789"))
        .connect()
        .await
        .expect("connect");
    let mut worker = with(token(WORKER)).connect().await.expect("connect");
    let mut client = with(token(CLIENT)).connect().await.expect("connect");
    let all = WORKER_METHODS.iter().map(|m| (m, true));
    for (method, is_worker) in all.chain(CLIENT_METHODS.iter().map(|m| (m, false))) {
        for c in [&mut none, &mut wrong] {
            let r = call(c, method).await;
            assert_eq!(code(&r), Some(Code::Unauthenticated), "{method}: {r:?}");
        }
        let (right, other) = if is_worker {
            (&mut worker, &mut client)
        } else {
            (&mut client, &mut worker)
        };
        let r = call(other, method).await;
        assert_eq!(code(&r), Some(Code::PermissionDenied), "{method}: {r:?}");
        let r = call(right, method).await;
        assert!(
            !matches!(
                code(&r),
                Some(Code::Unauthenticated | Code::PermissionDenied)
            ),
            "{method} refused to its own role: {r:?}"
        );
    }
    // Past authentication, the handlers answer for real.
    call(&mut worker, "RegisterWorker").await.expect("register");
    call(&mut client, "WatchStatus").await.expect("status");
    server.stop().await;
}

/// PEM text of a CA, a server certificate for 127.0.0.1 and a client certificate it signed.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ensweep test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf(vec!["127.0.0.1".into(), "localhost".into()]),
        client: leaf(vec!["worker-1".into()]),
    }
}

fn server_tls(pki: &Pki, mutual: bool) -> ServerTls {
    ServerTls {
        cert_pem: pki.server.0.clone().into_bytes(),
        key_pem: pki.server.1.clone().into_bytes(),
        client_ca_pem: mutual.then(|| pki.ca.clone().into_bytes()),
    }
}

fn https(addr: std::net::SocketAddr, pki: &Pki, with_cert: bool) -> Connection {
    Connection {
        url: format!("https://{addr}"),
        token: token(CLIENT),
        tls: Some(ClientTls {
            ca_pem: pki.ca.clone().into_bytes(),
            identity: with_cert.then(|| {
                (
                    pki.client.0.clone().into_bytes(),
                    pki.client.1.clone().into_bytes(),
                )
            }),
        }),
    }
}

async fn status(conn: &Connection) -> Result<(), Status> {
    let mut c = match conn.connect().await {
        Ok(c) => c,
        Err(e) => return Err(Status::unavailable(e.to_string())),
    };
    call(&mut c, "WatchStatus").await
}

/// TLS connects with the CA; plaintext to it fails with a hint to use https://; with mutual
/// TLS a client certificate connects and a client without one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    let pki = pki();
    let tokens = || Tokens {
        worker: token(WORKER),
        client: token(CLIENT),
    };
    let server = Server::start(ServeOptions {
        tokens: tokens(),
        tls: Some(server_tls(&pki, false)),
    })
    .await;
    status(&https(server.addr, &pki, false))
        .await
        .expect("TLS status");
    let plain_url = format!("http://{}", server.addr);
    let plain = Connection {
        url: plain_url.clone(),
        token: token(CLIENT),
        tls: None,
    };
    let err = status(&plain)
        .await
        .expect_err("plaintext to TLS must fail");
    let msg = ensweep_worker::rpc::explain(&plain_url, &err);
    assert!(msg.contains("https://"), "unclear error: {msg}");
    server.stop().await;

    let server = Server::start(ServeOptions {
        tokens: tokens(),
        tls: Some(server_tls(&pki, true)),
    })
    .await;
    status(&https(server.addr, &pki, true))
        .await
        .expect("mutual TLS status");
    let err = status(&https(server.addr, &pki, false))
        .await
        .expect_err("no client certificate must be refused");
    assert!(
        !matches!(
            err.code(),
            Code::Ok | Code::Unauthenticated | Code::PermissionDenied
        ),
        "refused at TLS, not by a handler: {err:?}"
    );
    server.stop().await;
}
