//! Minimal MNIST IDX reader (gzip or raw) for sequential MNIST.
//!
//! Local because the meanfield crate's loader was not yet available when this crate was
//! written; it follows the same search order for the data directory.

use crate::RnnError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Images as `count x 784` floats in [0, 1] and their labels.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// Pixels / 255, row-major per image.
    pub images: Vec<f32>,
    /// Digit labels.
    pub labels: Vec<u8>,
}

impl Mnist {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * 784..(i + 1) * 784]
    }
}

/// The MNIST directory: `explicit`, else `$ENSWEEP_DATA`, `../shared/data/mnist`, `data/mnist`
/// (relative to the working directory and to this crate's workspace root).
pub fn resolve_data_dir(explicit: Option<&str>) -> Result<PathBuf, RnnError> {
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Some(e) = explicit {
        cands.push(e.into());
    }
    if let Ok(e) = std::env::var("ENSWEEP_DATA") {
        cands.push(e.into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for base in [PathBuf::from("."), root] {
        cands.push(base.join("../shared/data/mnist"));
        cands.push(base.join("data/mnist"));
    }
    cands
        .into_iter()
        .find(|d| {
            d.join("train-labels-idx1-ubyte.gz").exists()
                || d.join("train-labels-idx1-ubyte").exists()
        })
        .ok_or_else(|| {
            RnnError::Data("MNIST directory not found (set data_dir or ENSWEEP_DATA)".into())
        })
}

fn read_idx(dir: &Path, name: &str) -> Result<Vec<u8>, RnnError> {
    let gz = dir.join(format!("{name}.gz"));
    let mut buf = Vec::new();
    let err = |e: std::io::Error| RnnError::Data(format!("{}: {e}", dir.join(name).display()));
    if gz.exists() {
        flate2::read::GzDecoder::new(std::fs::File::open(&gz).map_err(err)?)
            .read_to_end(&mut buf)
            .map_err(err)?;
    } else {
        buf = std::fs::read(dir.join(name)).map_err(err)?;
    }
    Ok(buf)
}

/// Loads the training (`train = true`) or test split, keeping the first `limit` images.
pub fn load(dir: &Path, train: bool, limit: usize) -> Result<Mnist, RnnError> {
    let p = if train { "train" } else { "t10k" };
    let img = read_idx(dir, &format!("{p}-images-idx3-ubyte"))?;
    let lab = read_idx(dir, &format!("{p}-labels-idx1-ubyte"))?;
    if img.len() < 16 || lab.len() < 8 || img[2] != 8 || lab[2] != 8 {
        return Err(RnnError::Data("not an IDX ubyte file".into()));
    }
    let count = u32::from_be_bytes([lab[4], lab[5], lab[6], lab[7]]) as usize;
    let n = count.min(limit);
    if img.len() < 16 + n * 784 || lab.len() < 8 + n {
        return Err(RnnError::Data("truncated IDX file".into()));
    }
    Ok(Mnist {
        images: img[16..16 + n * 784]
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect(),
        labels: lab[8..8 + n].to_vec(),
    })
}
