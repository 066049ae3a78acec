//! Generated code of the ensweep wire protocol, and nothing else.
//!
//! The schema lives in `proto/ensweep/v1/ensweep.proto`. Messages are always built; the tonic
//! client and server stubs only with the `client` / `server` features, so crates that only need
//! messages do not compile the stubs they never use.
#![allow(missing_docs, clippy::all)]

/// The protocol version; `RegisterWorker` is refused when a worker speaks another one.
/// 2: worker-side calls carry the registration's session secret.
pub const PROTOCOL_VERSION: u32 = 2;

/// Package `ensweep.v1`.
pub mod v1 {
    tonic::include_proto!("ensweep.v1");
}
