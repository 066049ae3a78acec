//! Exit statuses: what a script can tell from `$?` without reading the message.
//!
//! The codes are those of BSD `sysexits.h` (64 usage, 66 no input, 69 unavailable, 70
//! software, 74 I/O, 77 permission), plus 1 for a sweep that ran but has failed cells (as `diff`
//! or a test runner say "ran, and the answer is no") and 130 for Ctrl-C (128 + SIGINT, the
//! shell's convention). One deviation from `sysexits.h`, so that a user error and missing data
//! never share a code: a sweep file that does not exist is 64 (a path typed wrong), and 66 is
//! kept for training data that is missing or unreadable.
//!
//! The code of an error is found by type, never by its text: [`classify`] walks the `anyhow`
//! chain from the outside in and takes the first error it knows (the library crates' typed
//! errors, tonic statuses, I/O errors, and the binary's own [`CliError`]). Whatever it does not
//! know is an internal failure.

use ensweep_coordinator::CoordError;
use ensweep_core::spec::{OverrideError, SpecError};
use ensweep_core::trainer::{ConfigError, TrainError};
use ensweep_results::query::QueryError;
use ensweep_results::tables::TablesError;
use ensweep_worker::WorkerError;
use std::error::Error;
use std::io::ErrorKind;

/// An exit status of `ensweep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// 0: everything asked for was done.
    Success = 0,
    /// 1: the sweep ran to its end, but some cells failed (the output lists why).
    CellsFailed = 1,
    /// 64 (EX_USAGE): the command line, a `--set`, or the sweep file is wrong, or names a
    /// file, sweep or column that does not exist. Fix what was typed and run again.
    Usage = 64,
    /// 66 (EX_NOINPUT): the training data is missing or unreadable (MNIST not found).
    NoInput = 66,
    /// 69 (EX_UNAVAILABLE): the coordinator cannot be reached, is shutting down, or its
    /// directory is held by another coordinator. Trying again later may work.
    Unavailable = 69,
    /// 70 (EX_SOFTWARE): an internal failure (a bug, a damaged ledger, an unexpected answer).
    Software = 70,
    /// 74 (EX_IOERR): reading or writing a file failed (disk full, permissions).
    Io = 74,
    /// 77 (EX_NOPERM): the coordinator refused the token.
    NoPerm = 77,
    /// 130: stopped by Ctrl-C; `run` resumes where it stopped when run again.
    Interrupted = 130,
}

impl Code {
    /// The process exit code.
    pub fn exit_code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self as u8)
    }
}

/// The table `ensweep --help` prints after the commands (README.md, "Exit codes", says the
/// same).
pub const HELP: &str = "\
Exit status (BSD sysexits.h codes where one fits):
  0    success
  1    the sweep ran to its end, but some cells failed
  64   usage: the command line, a --set or the sweep file is wrong (or names a missing file)
  66   the training data is missing or unreadable (MNIST not found)
  69   the coordinator is unreachable, shutting down, or its directory is in use
  70   internal failure (a bug, a damaged ledger)
  74   reading or writing a file failed
  77   the coordinator refused the token
  130  interrupted (Ctrl-C); `run` resumes when run again";

/// A failure the binary itself detects, carrying its code.
#[derive(Debug)]
pub enum CliError {
    /// The command line asks for something impossible.
    Usage(String),
    /// `run` finished with failed cells.
    CellsFailed {
        /// Sweep name.
        sweep: String,
        /// Failed cells.
        failed: u64,
        /// Cells in the sweep.
        total: u64,
    },
    /// Ctrl-C stopped the command.
    Interrupted,
    /// A coordinator call failed with this status (its message already explained for a
    /// person, see `ensweep_worker::rpc::explain`).
    Rpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// What to print.
        message: String,
    },
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Rpc { message, .. } => f.write_str(message),
            CliError::CellsFailed {
                sweep,
                failed,
                total,
            } => write!(
                f,
                "{failed} of {total} cells of `{sweep}` failed; fix the cause, then \
                 `ensweep retry` (with a coordinator) or run again after `--set` changes"
            ),
            CliError::Interrupted => {
                f.write_str("interrupted; run the same command again to resume")
            }
        }
    }
}

impl Error for CliError {}

/// Returns early with a [`CliError::Usage`] unless `cond` holds (`anyhow::ensure!` with the
/// usage exit status).
macro_rules! ensure_usage {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::exit::CliError::Usage(format!($($fmt)+)).into());
        }
    };
}
pub(crate) use ensure_usage;

impl CliError {
    fn code(&self) -> Code {
        match self {
            CliError::Usage(_) => Code::Usage,
            CliError::CellsFailed { .. } => Code::CellsFailed,
            CliError::Interrupted => Code::Interrupted,
            CliError::Rpc { code, .. } => rpc_code(*code),
        }
    }
}

/// The exit status for `err`: the first error of its chain whose type says what kind of
/// failure it is; an internal failure when none does.
pub fn classify(err: &anyhow::Error) -> Code {
    err.chain().find_map(code_of).unwrap_or(Code::Software)
}

/// The kind of one error, when its type tells.
fn code_of(e: &(dyn Error + 'static)) -> Option<Code> {
    if let Some(e) = e.downcast_ref::<CliError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<SpecError>() {
        return Some(match e {
            SpecError::Io { source, .. } => io_code(source),
            SpecError::At { .. } | SpecError::Set { .. } | SpecError::File { .. } => Code::Usage,
        });
    }
    if e.is::<OverrideError>() || e.is::<ConfigError>() {
        return Some(Code::Usage);
    }
    if let Some(e) = e.downcast_ref::<TrainError>() {
        return Some(match e {
            TrainError::Data(_) => Code::NoInput,
            TrainError::Config(_) | TrainError::User(_) => Code::Usage,
            TrainError::Cancelled => Code::Interrupted,
            TrainError::Environment(_) => Code::Software,
        });
    }
    if let Some(e) = e.downcast_ref::<CoordError>() {
        return Some(coord_code(e));
    }
    if let Some(e) = e.downcast_ref::<WorkerError>() {
        return Some(match e {
            WorkerError::Address(_) | WorkerError::Token | WorkerError::Tls(_) => Code::Usage,
            WorkerError::Connect(..) => Code::Unavailable,
            WorkerError::Refused { code, .. } => rpc_code(*code),
        });
    }
    if let Some(e) = e.downcast_ref::<QueryError>() {
        return Some(match e {
            QueryError::NoSweeps(_) | QueryError::Sql(_) | QueryError::TableFunction(_) => {
                Code::Usage
            }
            QueryError::Tables(t) => tables_code(t),
            QueryError::Io { error, .. } => io_code(error),
            QueryError::Output(_) => Code::Io,
        });
    }
    if let Some(e) = e.downcast_ref::<TablesError>() {
        return Some(tables_code(e));
    }
    if let Some(s) = e.downcast_ref::<tonic::Status>() {
        return Some(rpc_code(s.code()));
    }
    if e.is::<tonic::transport::Error>() {
        return Some(Code::Unavailable);
    }
    if let Some(e) = e.downcast_ref::<std::io::Error>() {
        return Some(io_code(e));
    }
    None
}

/// A missing file is a path typed wrong; any other I/O failure is the machine's.
fn io_code(e: &std::io::Error) -> Code {
    match e.kind() {
        ErrorKind::NotFound => Code::Usage,
        _ => Code::Io,
    }
}

fn coord_code(e: &CoordError) -> Code {
    match e {
        CoordError::Spec(_) | CoordError::Incompatible { .. } | CoordError::UnknownSweep(_) => {
            Code::Usage
        }
        CoordError::Locked(_) | CoordError::ShuttingDown => Code::Unavailable,
        CoordError::Io { source, .. } => io_code(source),
        CoordError::Ledger { .. }
        | CoordError::LedgerVersion { .. }
        | CoordError::Protocol { .. }
        | CoordError::UnknownWorker(_)
        | CoordError::TooManyWorkers(_) => Code::Software,
    }
}

fn tables_code(e: &TablesError) -> Code {
    match e {
        TablesError::Io { source, .. } => io_code(source),
        _ => Code::Software,
    }
}

/// What a coordinator's refusal means for the caller.
fn rpc_code(code: tonic::Code) -> Code {
    use tonic::Code as C;
    match code {
        C::InvalidArgument | C::FailedPrecondition | C::NotFound | C::OutOfRange => Code::Usage,
        C::Unauthenticated | C::PermissionDenied => Code::NoPerm,
        C::Unavailable | C::DeadlineExceeded | C::ResourceExhausted => Code::Unavailable,
        _ => Code::Software,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: impl Error + Send + Sync + 'static) -> Code {
        classify(&anyhow::Error::new(e).context("doing something"))
    }

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let missing = || std::io::Error::from(ErrorKind::NotFound);
        let spec_missing = SpecError::Io {
            path: "x.toml".into(),
            source: missing(),
        };
        assert_eq!(code(spec_missing), Code::Usage);
        let bad_key = SpecError::At {
            path: "x.toml".into(),
            line: 3,
            column: 1,
            message: "unknown field `epoch`".into(),
        };
        assert_eq!(code(bad_key), Code::Usage);
        let no_mnist = TrainError::Data(Box::new(missing()));
        assert_eq!(code(no_mnist), Code::NoInput);
        assert_eq!(code(CoordError::ShuttingDown), Code::Unavailable);
        assert_eq!(code(tonic::Status::unauthenticated("no")), Code::NoPerm);
        assert_eq!(code(std::io::Error::from(ErrorKind::StorageFull)), Code::Io);
        let failed = CliError::CellsFailed {
            sweep: "s".into(),
            failed: 1,
            total: 2,
        };
        assert_eq!(code(failed), Code::CellsFailed);
    }

    #[test]
    fn an_error_of_no_known_type_is_internal() {
        assert_eq!(classify(&anyhow::anyhow!("a bug")), Code::Software);
        // Context lines are not kinds: the typed error beneath them decides.
        let e = anyhow::Error::new(CoordError::ShuttingDown)
            .context("submitting")
            .context("running the sweep");
        assert_eq!(classify(&e), Code::Unavailable);
    }
}
