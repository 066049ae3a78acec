//! Disk full under a real coordinator: its `--dir` is a small tmpfs (needs root and `mount`;
//! skipped with a message otherwise). With the disk full the coordinator exits non-zero with a
//! clear message instead of listening without working; once space is freed it is started again
//! on the same directory, the refused sweep is submitted again and finishes, and the sweep that
//! finished before is still there.

use crate::harness::{DEADLINE, Proc, coordinator, ensweep, ensweep_ok, runs_rows, spec, worker};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;

/// Unmounts the tmpfs on drop (lazily, so a process still holding a file cannot block it).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Mount(at.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system refuses (ENOSPC).
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("create filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// Waits for `p` to exit by itself, SIGKILLing it (and failing) after [`DEADLINE`].
fn wait_exit(p: &mut Proc) -> ExitStatus {
    let pid = p.child.id().to_string();
    let (done, watchdog) = mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(DEADLINE).is_err() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    });
    let status = p.child.wait().expect("wait coordinator");
    let _ = done.send(());
    let _ = guard.join();
    status
}

#[test]
fn disk_full_stops_the_coordinator_cleanly_and_it_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(_mount) = Mount::tmpfs(&dir.join("ledger"), "4m") else {
        eprintln!("skipped disk-full test: cannot mount a tmpfs (needs root and mount)");
        return;
    };
    let calls = dir.join("calls.log");
    let (mut coord, addr) = coordinator(dir, "127.0.0.1:0", "coordinator-1.log");
    let url = format!("http://{addr}");
    let mut w = worker(dir, &addr, "w0", 2, &calls);
    let before = spec(dir, "before", 2, &[1.0, 2.0], 1);
    ensweep_ok(
        &["submit", before.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    let wait = |sweep: &str| {
        ensweep_ok(
            &["status", "--coordinator", &url, "--sweep", sweep, "--wait"],
            &[],
        )
    };
    assert!(wait("before").contains("4/4 done"));

    let filler = dir.join("ledger").join("filler");
    fill(&filler);
    let after = spec(dir, "after", 50, &[1.0, 2.0, 3.0, 4.0], 0);
    let refused = ensweep(
        &["submit", after.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    assert!(
        !refused.status.success(),
        "a full disk refuses the submission"
    );
    let exit = wait_exit(&mut coord);
    assert!(
        exit.code().is_some_and(|c| c != 0),
        "exits with an error, not a signal: {exit:?}"
    );
    let log = std::fs::read_to_string(&coord.log).unwrap_or_default();
    assert!(log.contains("could not be written"), "{log}");

    std::fs::remove_file(&filler).expect("free the space");
    let (_coord2, addr2) = coordinator(dir, &addr, "coordinator-2.log");
    assert_eq!(addr2, addr);
    // The worker may have given up on the dead coordinator; a fresh one is certain to connect.
    w.kill();
    let _w = worker(dir, &addr, "w1", 2, &calls);
    ensweep_ok(
        &["submit", after.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    assert!(wait("after").contains("200/200 done"));
    assert!(wait("before").contains("4/4 done"), "nothing done was lost");
    assert_eq!(runs_rows(&dir.join("ledger").join("before")), (4, 4));
    assert_eq!(runs_rows(&dir.join("ledger").join("after")), (200, 200));
}
