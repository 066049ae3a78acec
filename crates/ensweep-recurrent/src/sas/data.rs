//! The data a spike-and-slab RNN run trains and tests on: sequential MNIST (read once per
//! directory and shared by the cells of a process) or the MSI task's generator, and the batches
//! built from MNIST images.

use super::model::LossKind;
use super::model::SasNet;
use crate::RnnError;
use crate::tasks::Batch;
use crate::tasks::msi::{self, Msi};
use ensweep_core::config::sas_rnn::{MsiTask, SasRnnConfig, SasTask};
use ensweep_trainkit::mnist::{self, Split as Mnist};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The data a run trains and tests on.
pub enum TaskData {
    /// Sequential MNIST; `row` = 28 rows of 28 pixels, else 784 single pixels.
    Mnist {
        /// Training split (60k), shared by every cell of the process (see `cached_mnist`).
        train: Arc<Mnist>,
        /// Test split.
        test: Mnist,
        /// Row-by-row or pixel-by-pixel.
        row: bool,
    },
    /// Multisensory integration.
    Msi {
        /// Training-trial generator.
        train: Msi,
        /// Test-trial generator.
        test: Msi,
    },
}

impl TaskData {
    /// Loads or builds the data of `cfg.task`.
    pub fn load(cfg: &SasRnnConfig) -> Result<TaskData, RnnError> {
        Ok(match &cfg.task {
            SasTask::RowMnist(t) | SasTask::PixelMnist(t) => {
                let dir = mnist::resolve_data_dir(t.data_dir.as_deref())?;
                let m = cached_mnist(&dir)?;
                TaskData::Mnist {
                    train: Arc::clone(&m.train),
                    test: test_prefix(&m.test, t.test_size, &dir)?,
                    row: matches!(cfg.task, SasTask::RowMnist(_)),
                }
            }
            SasTask::Msi(m) => TaskData::Msi {
                train: Msi::new(m, false),
                test: Msi::new(m, true),
            },
        })
    }

    /// The MSI task simulated at another step `dt_ms` (the reference's analysis step), with
    /// the leak rate of `net` scaled to match: the same network in continuous time, sampled
    /// more finely. `None` for MNIST.
    pub fn msi_at_dt(cfg: &SasRnnConfig, net: &SasNet, dt_ms: f64) -> Option<(TaskData, SasNet)> {
        let SasTask::Msi(task) = &cfg.task else {
            return None;
        };
        let fine = MsiTask {
            dt_ms,
            ..task.clone()
        };
        let mut net = net.clone();
        net.alpha = (cfg.alpha * dt_ms / task.dt_ms) as f32;
        let data = TaskData::Msi {
            train: Msi::new(&fine, false),
            test: Msi::new(&fine, true),
        };
        Some((data, net))
    }

    /// (inputs, outputs).
    pub fn dims(&self) -> (usize, usize) {
        match self {
            TaskData::Mnist { row: true, .. } => (28, 10),
            TaskData::Mnist { row: false, .. } => (1, 10),
            TaskData::Msi { .. } => (msi::N_IN, msi::N_OUT),
        }
    }

    /// Loss of the task.
    pub fn loss_kind(&self) -> LossKind {
        match self {
            TaskData::Mnist { .. } => LossKind::CrossEntropy,
            TaskData::Msi { .. } => LossKind::Mse,
        }
    }
}

/// Both splits of one MNIST directory, as cached for the process.
struct Shared {
    train: Arc<Mnist>,
    test: Mnist,
}

/// MNIST decompressed once per process and directory: a worker runs many sas_rnn cells, and
/// gunzipping and validating the 55 MB of IDX files for each cell cost more than a short cell.
/// The whole test split is kept; each cell copies the prefix it asks for (`test_prefix`).
fn cached_mnist(dir: &Path) -> Result<Arc<Shared>, RnnError> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Shared>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if let Some(m) = cache.lock().expect("MNIST cache poisoned").get(&key) {
        return Ok(Arc::clone(m));
    }
    // Loaded outside the lock: two cells racing both load, and the first insert wins.
    let m = mnist::load(dir, usize::MAX, usize::MAX)?;
    let m = Arc::new(Shared {
        train: Arc::new(m.train),
        test: m.test,
    });
    let mut guard = cache.lock().expect("MNIST cache poisoned");
    Ok(Arc::clone(guard.entry(key).or_insert(m)))
}

/// The first `n` test images, or `DataError::TooFew` when the files hold fewer.
fn test_prefix(test: &Mnist, n: usize, dir: &Path) -> Result<Mnist, RnnError> {
    if n > test.len() {
        return Err(mnist::DataError::TooFew {
            path: dir.join("t10k-images-idx3-ubyte"),
            asked: n,
            available: test.len(),
        }
        .into());
    }
    Ok(Mnist {
        images: test.images[..n * mnist::PIXELS].to_vec(),
        labels: test.labels[..n].to_vec(),
    })
}

fn image(d: &Mnist, i: usize) -> &[f32] {
    &d.images[i * mnist::PIXELS..(i + 1) * mnist::PIXELS]
}

/// A sequential-MNIST batch: targets one-hot and mask 1 only at the last step.
pub fn mnist_batch(d: &Mnist, idx: &[usize], row: bool) -> Batch {
    let mut b = Batch {
        b: 0,
        t: 0,
        n_in: 0,
        n_out: 10,
        x: Vec::new(),
        y: Vec::new(),
        mask: Vec::new(),
        conditions: Vec::new(),
    };
    mnist_batch_into(&mut b, d, idx, row);
    b.conditions = idx.iter().map(|&i| d.labels[i].to_string()).collect();
    b
}

/// As [`mnist_batch`], reusing the buffers of `out` (without condition labels).
pub fn mnist_batch_into(out: &mut Batch, d: &Mnist, idx: &[usize], row: bool) {
    let (t, k) = if row { (28, 28) } else { (784, 1) };
    let b = idx.len();
    (out.b, out.t, out.n_in, out.n_out) = (b, t, k, 10);
    out.x.resize(t * b * k, 0.0);
    out.y.clear();
    out.y.resize(t * b * 10, 0.0);
    out.mask.clear();
    out.mask.resize(t * b, 0.0);
    out.conditions.clear();
    for (j, &i) in idx.iter().enumerate() {
        let img = image(d, i);
        for s in 0..t {
            out.x[(s * b + j) * k..(s * b + j + 1) * k].copy_from_slice(&img[s * k..(s + 1) * k]);
        }
        out.y[((t - 1) * b + j) * 10 + d.labels[i] as usize] = 1.0;
        out.mask[(t - 1) * b + j] = 1.0;
    }
}
