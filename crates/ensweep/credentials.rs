//! Where tokens come from: a file (`--*-token-file`) or an environment variable, never a
//! command-line value (that would show in `ps` and shell history), and how commands that talk
//! to a coordinator build their connection from them.

use anyhow::Context;
use clap::Args;
use ensweep_core::token::Token;
use ensweep_worker::rpc::{ClientTls, Connection};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Environment variable of the token a worker or client presents.
pub const TOKEN_ENV: &str = "ENSWEEP_TOKEN";
/// Environment variable of the coordinator's worker token.
pub const WORKER_TOKEN_ENV: &str = "ENSWEEP_WORKER_TOKEN";
/// Environment variable of the coordinator's client token.
pub const CLIENT_TOKEN_ENV: &str = "ENSWEEP_CLIENT_TOKEN";

/// Reads a token file, refusing one that others on the machine could read.
pub fn read_token_file(path: &Path) -> anyhow::Result<Token> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading token file {}", path.display()))?;
    check_private(path, &meta)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading token file {}", path.display()))?;
    Token::new(&text).with_context(|| format!("token file {}", path.display()))
}

/// Refuses a token file readable by others, or by a group other than our own.
///
/// The one group-readable file accepted is a read-only one whose group is this process's own
/// group: that is how Kubernetes mounts a Secret (mode 0400 becomes 0440 under `fsGroup`), and
/// in a container that group is the process itself.
#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.permissions().mode() & 0o777;
    let fix = format!("run `chmod 600 {}`", path.display());
    crate::exit::ensure_usage!(
        mode & 0o007 == 0,
        "token file {} is readable by others (mode {mode:03o}); {fix}",
        path.display()
    );
    if mode & 0o070 != 0 {
        // `/proc/self` belongs to our effective uid and gid (Linux); elsewhere nothing matches.
        let own_group = std::fs::metadata("/proc/self").is_ok_and(|m| m.gid() == meta.gid());
        crate::exit::ensure_usage!(
            own_group && mode & 0o222 == 0,
            "token file {} is readable by its group (mode {mode:03o}); {fix}",
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> anyhow::Result<()> {
    Ok(())
}

/// The token from `file` if given, else from the environment variable `env`, else none.
pub fn token(file: Option<&Path>, env: &str) -> anyhow::Result<Option<Token>> {
    if let Some(path) = file {
        return read_token_file(path).map(Some);
    }
    match std::env::var(env) {
        Ok(v) => Token::new(&v)
            .map(Some)
            .with_context(|| format!("environment variable {env}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("environment variable {env}")),
    }
}

/// A fresh random token (32 bytes from the OS, hex): `ensweep run` makes one per role per run.
pub fn random_token() -> anyhow::Result<Token> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a run token")?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Token::new(&hex)?)
}

/// Reads a PEM file (certificate, key or CA) named by a flag.
pub fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
}

/// How a worker or client reaches the coordinator.
#[derive(Args, Clone, Debug)]
pub struct Remote {
    /// Coordinator address, e.g. `http://10.0.0.5:50051` (`https://` with --tls-ca).
    #[arg(long)]
    pub coordinator: String,
    /// File holding this caller's token (mode 600); else `ENSWEEP_TOKEN`; else none.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// PEM file of the CA that signed the coordinator's certificate (for `https://`).
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// PEM certificate of this caller, for a coordinator that requires mutual TLS.
    #[arg(long, requires = "tls_key", requires = "tls_ca")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl Remote {
    /// The connection these flags describe.
    pub fn connection(&self) -> anyhow::Result<Connection> {
        let tls = match &self.tls_ca {
            None => None,
            Some(ca) => Some(ClientTls {
                ca_pem: read_pem(ca, "CA certificate")?,
                identity: match (&self.tls_cert, &self.tls_key) {
                    (Some(cert), Some(key)) => Some((
                        read_pem(cert, "client certificate")?,
                        read_pem(key, "client key")?,
                    )),
                    _ => None,
                },
            }),
        };
        Ok(Connection {
            url: self.coordinator.clone(),
            token: token(self.token_file.as_deref(), TOKEN_ENV)?,
            tls,
        })
    }

    /// A refused or failed call as an error, with a hint for TLS mismatches; it keeps the
    /// status code, which decides the exit status.
    pub fn error(&self, status: &tonic::Status) -> anyhow::Error {
        crate::exit::CliError::Rpc {
            code: status.code(),
            message: ensweep_worker::rpc::explain(&self.coordinator, status),
        }
        .into()
    }
}
