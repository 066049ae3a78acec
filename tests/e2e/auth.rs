//! Tokens end to end: a coordinator with token files, a worker and a client presenting theirs.

use crate::harness::{coordinator_with, ensweep, ensweep_ok, runs_rows, spec, worker_with};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const WORKER: &str = "e2e-worker-token-0123456789abcdef";
const CLIENT: &str = "e2e-client-token-0123456789abcdef";

fn token_file(dir: &Path, name: &str, secret: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).expect("write token");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// A sweep finishes with every call authenticated; a client without a token is refused.
#[test]
fn sweep_with_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = token_file(dir, "worker.token", WORKER, 0o600);
    let c = token_file(dir, "client.token", CLIENT, 0o600);
    let (w, c) = (w.to_str().unwrap(), c.to_str().unwrap());
    let (_coord, addr) = coordinator_with(
        dir,
        "127.0.0.1:0",
        "coordinator.log",
        &["--worker-token-file", w, "--client-token-file", c],
    );
    let url = format!("http://{addr}");
    let calls = dir.join("calls.log");
    let _worker = worker_with(dir, &addr, "w0", 2, &calls, &["--token-file", w]);
    let spec = spec(dir, "auth", 3, &[1.0, 2.0], 0);
    let spec = spec.to_str().unwrap();

    let refused = ensweep(&["submit", spec, "--coordinator", &url], &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("token"),
        "{stderr}"
    );
    let as_worker = ensweep(
        &["submit", spec, "--coordinator", &url, "--token-file", w],
        &[],
    );
    let stderr = String::from_utf8_lossy(&as_worker.stderr);
    assert!(
        !as_worker.status.success() && stderr.contains("client role"),
        "{stderr}"
    );

    ensweep_ok(
        &["submit", spec, "--coordinator", &url, "--token-file", c],
        &[],
    );
    // The client token from the environment instead of a file.
    let status = ensweep_ok(
        &["status", "--coordinator", &url, "--sweep", "auth", "--wait"],
        &[("ENSWEEP_TOKEN", Path::new(CLIENT))],
    );
    assert!(status.contains("6/6 done"), "{status}");
    assert_eq!(runs_rows(&dir.join("ledger").join("auth")), (6, 6));
}

/// Refusals before serving: a non-loopback address without tokens (unless --insecure), and a
/// token file others can read.
#[test]
fn unsafe_setups_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = dir.join("ledger");
    let ledger = ledger.to_str().unwrap();
    let open = ensweep(
        &["coordinator", "--listen", "0.0.0.0:0", "--dir", ledger],
        &[],
    );
    let stderr = String::from_utf8_lossy(&open.stderr);
    assert!(
        !open.status.success() && stderr.contains("--insecure"),
        "{stderr}"
    );

    let loose = token_file(dir, "loose.token", WORKER, 0o644);
    let out = ensweep(
        &[
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--dir",
            ledger,
            "--worker-token-file",
            loose.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("chmod 600"),
        "{stderr}"
    );
}
