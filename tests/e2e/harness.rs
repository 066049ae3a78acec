//! Spawning, waiting on and killing `ensweep` processes; reading results back.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest any single waiting command may take before the test fails (instead of hanging CI).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ensweep")
}

/// A child process killed and reaped on drop; its stderr goes to a log file kept for failures.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        // A failing test shows what the process logged; a passing one stays quiet.
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Starts `ensweep coordinator` and returns it with the address it announced.
pub fn coordinator(dir: &Path, listen: &str, log_name: &str) -> (Proc, String) {
    coordinator_with(dir, listen, log_name, &[])
}

/// [`coordinator`] with `extra` arguments (tokens, TLS).
pub fn coordinator_with(
    dir: &Path,
    listen: &str,
    log_name: &str,
    extra: &[&str],
) -> (Proc, String) {
    let log = dir.join(log_name);
    let mut child = Command::new(bin())
        .args(["coordinator", "--listen", listen, "--dir"])
        .arg(dir.join("ledger"))
        .args(["--lease-ttl-ms", "1500", "--export-interval-ms", "200"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn coordinator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read listening line");
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}; see {}", log.display()))
        .to_owned();
    (Proc { child, log }, addr)
}

/// Starts `ensweep worker`, with the synthetic trainer logging its invocations to `calls`.
pub fn worker(dir: &Path, addr: &str, name: &str, slots: u32, calls: &Path) -> Proc {
    worker_with(dir, addr, name, slots, calls, &[])
}

/// [`worker`] with `extra` arguments (a token).
pub fn worker_with(
    dir: &Path,
    addr: &str,
    name: &str,
    slots: u32,
    calls: &Path,
    extra: &[&str],
) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(bin())
        .args([
            "worker",
            "--coordinator",
            &format!("http://{addr}"),
            "--name",
            name,
        ])
        .args(["--slots", &slots.to_string(), "--prefetch", "1"])
        .args(extra)
        .env("ENSWEEP_SYNTHETIC_LOG", calls)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn worker");
    Proc { child, log }
}

/// Runs `ensweep <args>` to completion, failing the test if it outlives [`DEADLINE`].
pub fn ensweep(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(bin());
    // The binary's own default log filter, whatever the test runner's environment says.
    cmd.args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn ensweep");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!(
                "`ensweep {}` did not finish within {DEADLINE:?}",
                args.join(" ")
            );
        }
    }
}

/// Like [`ensweep`], asserting success; returns stdout.
pub fn ensweep_ok(args: &[&str], env: &[(&str, &Path)]) -> String {
    let out = ensweep(args, env);
    assert!(
        out.status.success(),
        "`ensweep {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a synthetic sweep file: `seeds` replicates of each `x`, sleeping `sleep_ms`.
pub fn spec(dir: &Path, name: &str, seeds: u32, xs: &[f64], sleep_ms: u64) -> PathBuf {
    let xs: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
    let text = format!(
        "[sweep]\nname = \"{name}\"\nseed = 7\nseeds = {seeds}\n\n[synthetic]\nsleep_ms = {sleep_ms}\n\n[grid]\nx = [{}]\n",
        xs.join(", ")
    );
    let path = dir.join(format!("{name}-{seeds}-{}.toml", xs.len()));
    std::fs::write(&path, text).expect("write spec");
    path
}

/// Trainer invocations per cell key, from the synthetic trainer's log.
pub fn invocations(calls: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in std::fs::read_to_string(calls).unwrap_or_default().lines() {
        let key = line.split_whitespace().next().expect("key").to_owned();
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// (rows, distinct cell keys) of a sweep's `runs` table.
pub fn runs_rows(sweep_dir: &Path) -> (usize, usize) {
    let df = ensweep_results::tables::read_table(sweep_dir, "runs").expect("read runs table");
    let distinct = df
        .column("cell_key")
        .expect("cell_key column")
        .n_unique()
        .expect("n_unique");
    (df.height(), distinct)
}
