//! Checkpoints of long cells on disk: a cell cut off (worker killed, lease revoked, time limit)
//! resumes at its last checkpoint on whichever worker leases it next, provided that worker
//! sees the same directory (`ensweep run`: the sweep directory; a cluster: a shared
//! filesystem). docs/CHECKPOINTS.md.
//!
//! One file per cell, `<dir>/<cell key>.ckpt`: a header line naming the cell key, kind and
//! trainer version, then the trainer's bytes. A file is written whole to a temporary name and
//! renamed, so a reader sees the previous checkpoint or the new one, never half of one. A file
//! that does not name this very cell (a copy, a leftover of another trainer version) or cannot
//! be read is ignored and the cell starts afresh: a checkpoint can save time, never change a
//! result or fail a cell.

use ensweep_core::spec::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// First bytes of every checkpoint file (and of its format: bump with the header's layout).
const MAGIC: &[u8] = b"ensweep-checkpoint 1\n";

/// Largest checkpoint file read back (bytes). The trainers' own limit is higher; this one keeps
/// a stray huge file in the directory from being read into memory.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// A checkpoint file read for a person (`ensweep checkpoint`): the cell its header names and
/// the trainer's bytes after it.
#[derive(Debug)]
pub struct CheckpointFile {
    /// Cell key.
    pub key: String,
    /// Trainer kind (`sas_rnn`, `tanh_rnn`).
    pub kind: String,
    /// Trainer version that wrote it.
    pub trainer_version: String,
    /// The trainer's bytes.
    pub state: Vec<u8>,
}

/// Why a file is not a readable checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointFileError {
    /// The file could not be read.
    #[error("reading {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file does not start with a checkpoint header, or is larger than any checkpoint.
    #[error("{path}: not an ensweep checkpoint ({why})")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Reads the checkpoint file at `path`: its header line (`<key> <kind> <version>`) and the
/// trainer's bytes, which only the trainer that wrote them decodes.
pub fn read_checkpoint_file(path: &Path) -> Result<CheckpointFile, CheckpointFileError> {
    let io = |source| CheckpointFileError::Io {
        path: path.to_owned(),
        source,
    };
    let not = |why| CheckpointFileError::NotACheckpoint {
        path: path.to_owned(),
        why,
    };
    if std::fs::metadata(path).map_err(io)?.len() > MAX_FILE_BYTES {
        return Err(not("larger than any checkpoint"));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or(not("no `ensweep-checkpoint 1` header"))?;
    let end = rest
        .iter()
        .take(512)
        .position(|&b| b == b'\n')
        .ok_or(not("no header line"))?;
    let line = std::str::from_utf8(&rest[..end]).map_err(|_| not("header is not UTF-8"))?;
    let [key, kind, version] = line.split(' ').collect::<Vec<_>>()[..] else {
        return Err(not("header is not `<key> <kind> <version>`"));
    };
    Ok(CheckpointFile {
        key: key.to_owned(),
        kind: kind.to_owned(),
        trainer_version: version.to_owned(),
        state: rest[end + 1..].to_vec(),
    })
}

/// Where checkpoints go and how often: a worker's setting.
#[derive(Clone, Debug)]
pub struct CheckpointPolicy {
    /// The directory of the checkpoint files (created on the first save).
    pub dir: PathBuf,
    /// Least time between two saves of one cell. A row-MNIST epoch takes seconds: saving
    /// after each would write and sync a file every few seconds per slot (on a cluster's shared
    /// filesystem); once a minute loses at most a minute and an epoch.
    pub every: Duration,
}

/// The checkpoint file of one cell, and when it was last written.
pub(crate) struct CellCheckpoint {
    path: PathBuf,
    header: Vec<u8>,
    every: Duration,
    last_save: Instant,
}

impl CellCheckpoint {
    /// The checkpoint of `cell` under `policy`; `None` if its key is not a plain hex digest (a
    /// key is a file name here, so nothing else may become one).
    pub(crate) fn new(policy: &CheckpointPolicy, cell: &Cell) -> Option<Self> {
        let key = &cell.key;
        let plain =
            !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_hexdigit());
        if !plain {
            return None;
        }
        let header = format!("{key} {} {}\n", cell.kind, cell.trainer_version);
        Some(CellCheckpoint {
            path: policy.dir.join(format!("{key}.ckpt")),
            header: [MAGIC, header.as_bytes()].concat(),
            every: policy.every,
            last_save: Instant::now(),
        })
    }

    /// The trainer's bytes of this cell's checkpoint, if there is a readable one.
    pub(crate) fn load(&self) -> Option<Vec<u8>> {
        let meta = std::fs::metadata(&self.path).ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            tracing::warn!(path = %self.path.display(), "ignoring checkpoint: not a file or too large");
            return None;
        }
        let bytes = std::fs::read(&self.path).ok()?;
        match bytes.strip_prefix(self.header.as_slice()) {
            Some(state) => Some(state.to_vec()),
            None => {
                tracing::warn!(path = %self.path.display(), "ignoring checkpoint of another cell or format");
                None
            }
        }
    }

    /// Whether `every` has passed since the cell started or was last saved.
    pub(crate) fn due(&self) -> bool {
        self.last_save.elapsed() >= self.every
    }

    /// Writes `state` as this cell's checkpoint (atomically). A failure is logged, not raised:
    /// the cell goes on without a checkpoint.
    pub(crate) fn save(&mut self, epochs_done: u32, state: &[u8]) {
        self.last_save = Instant::now();
        match write_atomic(&self.path, &self.header, state) {
            Ok(()) => tracing::debug!(path = %self.path.display(), epochs_done, "checkpoint saved"),
            Err(err) => {
                tracing::warn!(path = %self.path.display(), %err, "could not save checkpoint")
            }
        }
    }

    /// Deletes the checkpoint once the cell has a result (or failed for good), with any
    /// temporary file of it that a killed attempt left mid-save (a later save uses a new name,
    /// so nothing else would ever remove one). Unlinking a temporary file another live attempt
    /// is still writing only fails that attempt's rename, which is logged and harmless: the
    /// cell already has its result.
    pub(crate) fn remove(&self) {
        remove_quietly(&self.path);
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let mut prefix = name.to_owned();
        prefix.push(TMP_INFIX);
        let prefix = prefix.to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                remove_quietly(&entry.path());
            }
        }
    }
}

/// What follows a checkpoint's file name in its temporary files' names.
const TMP_INFIX: &str = ".tmp";

/// Removes `path`; one already gone is fine, another failure is logged.
fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!(path = %path.display(), %err, "could not remove checkpoint"),
    }
}

/// Writes `header` + `state` to a temporary file beside `path`, syncs it and renames it over
/// `path`.
fn write_atomic(path: &Path, header: &[u8], state: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Unique per save: two attempts at one cell (a lease that expired while its slot still
    // ran) may save at once, in one process or two.
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let n = SAVES.fetch_add(1, Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!("{TMP_INFIX}{}-{n}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(header)?;
        f.write_all(state)?;
        f.sync_all()
    })();
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(key: &str) -> Cell {
        Cell {
            key: key.into(),
            sweep: "s".into(),
            kind: "sas_rnn".into(),
            trainer_version: "sas_rnn/9".into(),
            config_json: "{}".into(),
            sweep_seed: 1,
            replicate: 0,
            axes: Default::default(),
        }
    }

    /// The names of the files in `dir`, sorted.
    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn policy(dir: &Path) -> CheckpointPolicy {
        CheckpointPolicy {
            dir: dir.join("ckpt"),
            every: Duration::ZERO,
        }
    }

    #[test]
    fn saved_state_is_loaded_back_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = CellCheckpoint::new(&policy(tmp.path()), &cell("ab12")).unwrap();
        assert_eq!(c.load(), None, "nothing saved yet");
        c.save(3, b"state three");
        c.save(4, b"state four");
        assert_eq!(c.load().as_deref(), Some(&b"state four"[..]));
        assert_eq!(
            file_names(&tmp.path().join("ckpt")),
            ["ab12.ckpt"],
            "no temporary file left behind"
        );
        c.remove();
        assert_eq!(c.load(), None);
        c.remove(); // removing twice is fine
    }

    #[test]
    fn removal_takes_the_temporary_files_a_killed_save_left() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let mut c = CellCheckpoint::new(&p, &cell("ab12")).unwrap();
        c.save(1, b"state");
        // A process killed between creating its temporary file and renaming it.
        std::fs::write(p.dir.join("ab12.ckpt.tmp4069-1"), b"half").unwrap();
        // Another cell's checkpoint and temporary file stay.
        std::fs::write(p.dir.join("cd34.ckpt"), b"other").unwrap();
        std::fs::write(p.dir.join("cd34.ckpt.tmp1-0"), b"other").unwrap();
        c.remove();
        assert_eq!(file_names(&p.dir), ["cd34.ckpt", "cd34.ckpt.tmp1-0"]);
    }

    #[test]
    fn a_checkpoint_of_another_cell_or_version_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let mut a = CellCheckpoint::new(&p, &cell("ab12")).unwrap();
        a.save(1, b"x");
        // Another cell's file copied over this one's name.
        std::fs::copy(p.dir.join("ab12.ckpt"), p.dir.join("cd34.ckpt")).unwrap();
        assert_eq!(CellCheckpoint::new(&p, &cell("cd34")).unwrap().load(), None);
        // The same key under another trainer version.
        let mut newer = cell("ab12");
        newer.trainer_version = "sas_rnn/10".into();
        assert_eq!(CellCheckpoint::new(&p, &newer).unwrap().load(), None);
        // A truncated file.
        std::fs::write(p.dir.join("ab12.ckpt"), &MAGIC[..5]).unwrap();
        assert_eq!(a.load(), None);
    }

    #[test]
    fn a_saved_file_reads_back_with_its_header_and_a_foreign_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let mut c = CellCheckpoint::new(&p, &cell("ab12")).unwrap();
        c.save(2, b"state\ntwo");
        let f = read_checkpoint_file(&p.dir.join("ab12.ckpt")).unwrap();
        assert_eq!(
            (f.key.as_str(), f.kind.as_str(), f.trainer_version.as_str()),
            ("ab12", "sas_rnn", "sas_rnn/9")
        );
        assert_eq!(f.state, b"state\ntwo");
        let foreign = tmp.path().join("x.ckpt");
        for bytes in [
            &b"PAR1 not a checkpoint"[..],
            MAGIC,
            &[MAGIC, b"ab12 sas_rnn\n"].concat(),
        ] {
            std::fs::write(&foreign, bytes).unwrap();
            let err = read_checkpoint_file(&foreign).unwrap_err();
            assert!(
                matches!(err, CheckpointFileError::NotACheckpoint { .. }),
                "{err}"
            );
        }
        let missing = read_checkpoint_file(&tmp.path().join("missing.ckpt")).unwrap_err();
        assert!(
            matches!(missing, CheckpointFileError::Io { .. }),
            "{missing}"
        );
    }

    #[test]
    fn only_hex_keys_become_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        for key in ["", "../x", "a/b", "ab.ckpt", "..", &"a".repeat(129)] {
            assert!(CellCheckpoint::new(&p, &cell(key)).is_none(), "{key:?}");
        }
        assert!(CellCheckpoint::new(&p, &cell("0123456789abcdef")).is_some());
    }

    #[test]
    fn saves_are_spaced_by_the_policy() {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = policy(tmp.path());
        p.every = Duration::from_secs(3600);
        let mut c = CellCheckpoint::new(&p, &cell("ab12")).unwrap();
        assert!(!c.due(), "not due right after the cell started");
        p.every = Duration::ZERO;
        c = CellCheckpoint::new(&p, &cell("ab12")).unwrap();
        assert!(c.due());
    }
}
