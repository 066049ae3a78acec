//! The one-line answers of the client commands (`submit`, `retry`) on stdout.
//!
//! These commands own a gRPC socket, so they keep Rust's ignored SIGPIPE (see
//! `exit_quietly_on_closed_pipe` in main.rs) and a reader that has gone away reaches them as a
//! write error, which `println!` turns into a panic. By the time the answer is printed the
//! coordinator has already done what was asked, so a closed stdout (`ensweep submit x.toml |
//! grep -q accepted`) ends the command with success, as it would under the default SIGPIPE.

use anyhow::Context;
use std::fmt::Display;
use std::io::{ErrorKind, Write};

/// Write `line` and a newline to stdout; a reader that has gone away is not an error.
pub fn print(line: impl Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the answer to stdout"),
    }
}
