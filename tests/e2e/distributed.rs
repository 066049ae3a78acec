//! A coordinator and several worker processes on 127.0.0.1, with crashes.

use crate::harness::{coordinator, ensweep_ok, invocations, runs_rows, spec, worker};

/// Three workers, one SIGKILLed mid-run: every cell completes, exactly one row each.
#[test]
fn worker_killed_mid_run_every_cell_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let calls = dir.join("calls.log");
    let (_coord, addr) = coordinator(dir, "127.0.0.1:0", "coordinator.log");
    let url = format!("http://{addr}");
    let mut workers: Vec<_> = (0..3)
        .map(|i| worker(dir, &addr, &format!("w{i}"), 2, &calls))
        .collect();
    let spec = spec(dir, "crash", 10, &[1.0, 2.0, 3.0], 100);
    let out = ensweep_ok(
        &["submit", spec.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    assert!(out.contains("30 cells"), "{out}");
    ensweep_ok(&["status", "--coordinator", &url, "--wait-done", "6"], &[]);
    workers[0].kill();
    let status = ensweep_ok(
        &[
            "status",
            "--coordinator",
            &url,
            "--sweep",
            "crash",
            "--wait",
        ],
        &[],
    );
    assert!(status.contains("30/30 done"), "{status}");
    let json = ensweep_ok(
        &[
            "status",
            "--coordinator",
            &url,
            "--sweep",
            "crash",
            "--json",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(
        (
            v["done"].as_u64(),
            v["finished"].as_bool(),
            v["eta_s"].is_null()
        ),
        (Some(30), Some(true), true),
        "{json}"
    );
    assert_eq!(runs_rows(&dir.join("ledger").join("crash")), (30, 30));
    // Every cell ran; cells the dead worker held ran again elsewhere.
    let calls = invocations(&calls);
    assert_eq!(calls.len(), 30);
}

/// The coordinator SIGKILLed mid-sweep and restarted on the same directory and port: the sweep
/// finishes, nothing finished is trained again, no row is lost or doubled.
#[test]
fn coordinator_killed_and_restarted_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let calls = dir.join("calls.log");
    let (mut coord, addr) = coordinator(dir, "127.0.0.1:0", "coordinator-1.log");
    let url = format!("http://{addr}");
    let _workers: Vec<_> = (0..2)
        .map(|i| worker(dir, &addr, &format!("w{i}"), 2, &calls))
        .collect();
    let spec = spec(dir, "restart", 10, &[1.0, 2.0, 3.0, 4.0], 50);
    ensweep_ok(
        &["submit", spec.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    ensweep_ok(&["status", "--coordinator", &url, "--wait-done", "10"], &[]);
    coord.kill();
    let (_coord2, addr2) = coordinator(dir, &addr, "coordinator-2.log");
    assert_eq!(addr2, addr);
    let status = ensweep_ok(
        &[
            "status",
            "--coordinator",
            &url,
            "--sweep",
            "restart",
            "--wait",
        ],
        &[],
    );
    assert!(status.contains("40/40 done"), "{status}");
    assert_eq!(runs_rows(&dir.join("ledger").join("restart")), (40, 40));
    // Leases survive the restart (their fences are in the ledger), so no cell ran twice.
    let calls = invocations(&calls);
    assert_eq!(calls.len(), 40);
    let repeated: Vec<_> = calls.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "cells trained more than once: {repeated:?}"
    );
}

/// `ensweep status | grep -q ...`, and the same for `submit` and `retry`: once the reader has
/// gone, the client commands end quietly with success instead of panicking in `println!` (they
/// keep Rust's ignored SIGPIPE, since they own a socket, so the closed pipe reaches them as a
/// write error). What was asked is still done: the sweep submitted into the closed pipe exists.
#[test]
fn client_commands_into_a_closed_pipe_end_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let (_coord, addr) = coordinator(tmp.path(), "127.0.0.1:0", "coordinator.log");
    let url = format!("http://{addr}");
    let spec = spec(tmp.path(), "piped", 1, &[1.0], 0);
    let commands: [&[&str]; 3] = [
        &["status", "--coordinator", &url],
        &["submit", spec.to_str().unwrap(), "--coordinator", &url],
        &["retry", "piped", "--coordinator", &url],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(crate::harness::bin())
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?}: {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let status = ensweep_ok(&["status", "--coordinator", &url], &[]);
    assert!(status.contains("piped"), "{status}");
}
