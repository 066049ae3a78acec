//! Fixtures for the workspace's tests: a dev-dependency only, never linked into a binary.
//!
//! It lives in its own crate so that test-only paths (which are compile-time paths of this
//! checkout) cannot leak into the `ensweep` binary, and so both trainers' tests find the same
//! data the same way.

use std::path::PathBuf;

/// Environment variable that points tests (and runs) at another MNIST directory, e.g. the full
/// 60,000 + 10,000 set: the trainers' own variable, so tests and runs agree.
pub use ensweep_trainkit::mnist::DATA_ENV;

/// The MNIST directory tests read: `$ENSWEEP_DATA` when set, else the 1,000 + 1,000-image subset
/// committed under `data/mnist-subset` (so a fresh clone passes its tests with nothing beside it).
pub fn mnist_dir() -> PathBuf {
    match std::env::var(DATA_ENV) {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => mnist_subset_dir(),
    }
}

/// The committed subset itself, whatever `$ENSWEEP_DATA` says.
pub fn mnist_subset_dir() -> PathBuf {
    workspace_root().join("data/mnist-subset")
}

/// Whether tests run on the committed subset (1,000 training and 1,000 test images) rather than
/// a directory named by `$ENSWEEP_DATA`.
pub fn on_subset() -> bool {
    mnist_dir() == mnist_subset_dir()
}

/// The workspace root (the directory with the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}
