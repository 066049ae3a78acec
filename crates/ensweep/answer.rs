//! What the socket-owning client commands (`status`, `submit`, `retry`) write to stdout.
//!
//! These commands keep Rust's ignored SIGPIPE (see `exit_quietly_on_closed_pipe` in main.rs),
//! so a reader that has gone away reaches them as a write error, which `println!` turns into a
//! panic. By the time they write, the coordinator has already done what was asked, so a closed
//! stdout (`ensweep submit x.toml | grep -q accepted`) ends the command with success, as it
//! would under the default SIGPIPE.

use anyhow::Context;
use std::fmt::Display;
use std::io::{ErrorKind, Write};

/// Write `line` and a newline to stdout; a reader that has gone away is not an error.
pub fn print(line: impl Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{line}").and_then(|()| out.flush());
    reader_present(written, "writing the answer to stdout").map(drop)
}

/// The outcome of a write to stdout: `Ok(true)` if it was written, `Ok(false)` if the reader
/// has gone away (nothing more to say), an error otherwise.
pub fn reader_present(written: std::io::Result<()>, what: &'static str) -> anyhow::Result<bool> {
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context(what),
    }
}
