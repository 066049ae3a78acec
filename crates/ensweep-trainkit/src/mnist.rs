//! MNIST IDX reader: the four standard files, gzip-compressed or raw.
//!
//! Every failure names the file, what was expected and what was found, because a sweep that
//! dies on a worker with "invalid data" is useless; a missing directory says where we looked and
//! how to point ensweep at the data (`data_dir` in the trainer section, or `ENSWEEP_DATA`).

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Pixels per image (28 x 28).
pub const PIXELS: usize = 784;
/// Number of classes.
pub const CLASSES: usize = 10;

/// A set of images with labels; pixels are `value / 255` in `[0, 1]`, row-major, image-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// `len() * 784` pixel values.
    pub images: Vec<f32>,
    /// One label in `0..10` per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The first `n` images (all when `n` is larger).
    pub fn truncated(mut self, n: usize) -> Split {
        let n = n.min(self.len());
        self.images.truncate(n * PIXELS);
        self.labels.truncate(n);
        self
    }
}

/// Training and test splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// 60,000 training images (or fewer when asked, or when the directory holds a subset).
    pub train: Split,
    /// 10,000 test images (or fewer when asked).
    pub test: Split,
}

/// Why MNIST could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// No candidate directory holds the data; a variant of its own so that a worker can report
    /// missing data as the user's to fix rather than as a trainer failure.
    #[error(
        "MNIST not found; looked in: {looked}. Put the four IDX files (train-images-idx3-ubyte[.gz], \
         train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in a \
         directory (`ensweep data mnist --dir DIR` is to download them), then set `data_dir = \"DIR\"` in \
         the trainer section or the ENSWEEP_DATA environment variable, or use `data/mnist` under the \
         working directory"
    )]
    NotFound {
        /// The candidate directories, in the order tried.
        looked: String,
    },
    /// A file is missing from an existing directory.
    #[error("{dir}: missing MNIST file `{name}` (expected `{name}` or `{name}.gz`)")]
    MissingFile {
        /// Directory searched.
        dir: PathBuf,
        /// Base name of the file.
        name: String,
    },
    /// The file could not be read or decompressed.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O or gzip error.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds fewer images than the run asks for (e.g. the 1,000-image test subset).
    #[error("{path}: {asked} images asked for, the file holds {available}")]
    TooFew {
        /// The images file.
        path: PathBuf,
        /// Images the run asked for.
        asked: usize,
        /// Images in the file.
        available: usize,
    },
    /// The content does not match the IDX format or the expected shape.
    #[error("{path}: expected {expected}, found {found}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the reader expected.
        expected: String,
        /// What it found.
        found: String,
    },
}

/// Environment variable naming the MNIST directory.
pub const DATA_ENV: &str = "ENSWEEP_DATA";

/// Directory tried last, relative to the working directory (where `ensweep data mnist` is meant
/// to write by default).
pub const DEFAULT_DIR: &str = "data/mnist";

/// The one MNIST directory resolver of the workspace: `configured` if given (the trainer
/// section's `data_dir`), else `$ENSWEEP_DATA`, else [`DEFAULT_DIR`] under the working
/// directory. A candidate counts when it contains the training-images file (raw or gzip).
/// Nothing is baked in at build time, so a binary behaves the same wherever it was compiled.
pub fn resolve_data_dir(configured: Option<&str>) -> Result<PathBuf, DataError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(c) = configured {
        candidates.push(PathBuf::from(c));
    } else {
        if let Ok(env) = std::env::var(DATA_ENV)
            && !env.is_empty()
        {
            candidates.push(PathBuf::from(env));
        }
        candidates.push(PathBuf::from(DEFAULT_DIR));
    }
    for c in &candidates {
        if find_file(c, TRAIN_IMAGES).is_some() {
            return Ok(c.clone());
        }
    }
    let looked = candidates
        .iter()
        .map(|c| format!("`{}`", c.display()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(DataError::NotFound { looked })
}

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Loads the first `train_n` training and `test_n` test images from `dir`.
pub fn load(dir: &Path, train_n: usize, test_n: usize) -> Result<Mnist, DataError> {
    // The two splits decompress on two threads (each file is read and validated whole).
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| load_split(dir, TEST_IMAGES, TEST_LABELS, 10_000, test_n));
        let train = load_split(dir, TRAIN_IMAGES, TRAIN_LABELS, 60_000, train_n);
        (
            train,
            test.join().expect("MNIST test-split reader panicked"),
        )
    });
    Ok(Mnist {
        train: train?,
        test: test?,
    })
}

/// Reads and validates a whole split, and converts its first `take` images.
fn load_split(
    dir: &Path,
    img: &str,
    lab: &str,
    count: usize,
    take: usize,
) -> Result<Split, DataError> {
    let locate = |name: &str| {
        find_file(dir, name).ok_or_else(|| DataError::MissingFile {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        })
    };
    let img_path = locate(img)?;
    let lab_path = locate(lab)?;
    // A directory may hold a leading subset of the split (the repository's test subset does):
    // the images file's header says how many; the labels file must agree.
    let raw = read_bytes(&img_path)?;
    let count = leading_count(&raw, count);
    let pixels = check_idx(&img_path, raw, 0x0803, &[count, 28, 28])?;
    let labels = read_idx(&lab_path, 0x0801, &[count])?;
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= CLASSES) {
        return Err(DataError::Format {
            path: lab_path,
            expected: "labels in 0..=9".into(),
            found: format!("label {bad}"),
        });
    }
    if take != usize::MAX && take > count {
        return Err(DataError::TooFew {
            path: img_path,
            asked: take,
            available: count,
        });
    }
    let take = take.min(count);
    Ok(Split {
        images: pixels[..take * PIXELS]
            .iter()
            .map(|&p| p as f32 / 255.0)
            .collect(),
        labels: labels[..take].to_vec(),
    })
}

/// The item count in an IDX header when it is between 1 and `max`, else `max` (so that the
/// shape check reports the mismatch).
fn leading_count(bytes: &[u8], max: usize) -> usize {
    match bytes.get(4..8) {
        Some(w) => {
            let n = u32::from_be_bytes(w.try_into().expect("4 bytes")) as usize;
            if (1..=max).contains(&n) { n } else { max }
        }
        None => max,
    }
}

/// Reads one IDX file of unsigned bytes, checking magic number, dimensions and length.
fn read_idx(path: &Path, magic: u32, dims: &[usize]) -> Result<Vec<u8>, DataError> {
    check_idx(path, read_bytes(path)?, magic, dims)
}

/// The file's bytes, gunzipped when it starts with the gzip magic.
fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    Ok(if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(io)?;
        out
    } else {
        raw
    })
}

/// Checks magic number, dimensions and length of IDX `bytes` and returns the body.
fn check_idx(
    path: &Path,
    bytes: Vec<u8>,
    magic: u32,
    dims: &[usize],
) -> Result<Vec<u8>, DataError> {
    let fmt = |expected: String, found: String| DataError::Format {
        path: path.to_path_buf(),
        expected,
        found,
    };
    let header = 4 + 4 * dims.len();
    if bytes.len() < header {
        return Err(fmt(
            format!("an IDX header of {header} bytes"),
            format!("{} bytes", bytes.len()),
        ));
    }
    let word = |i: usize| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4"));
    if word(0) != magic {
        return Err(fmt(
            format!("magic number 0x{magic:08x}"),
            format!("0x{:08x}", word(0)),
        ));
    }
    let found: Vec<usize> = (0..dims.len()).map(|i| word(i + 1) as usize).collect();
    if found != dims {
        return Err(fmt(
            format!("dimensions {dims:?}"),
            format!("dimensions {found:?}"),
        ));
    }
    let body: usize = dims.iter().product();
    if bytes.len() != header + body {
        return Err(fmt(
            format!("{} data bytes after the header", body),
            format!("{}", bytes.len() - header),
        ));
    }
    Ok(bytes[header..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(body);
        v
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn err_text(e: DataError) -> String {
        e.to_string()
    }

    #[test]
    fn bad_files_are_reported_with_file_expected_and_found() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        // Wrong magic.
        std::fs::write(&p, idx(0x0802, &[2], &[1, 2])).unwrap();
        let e = err_text(read_idx(&p, 0x0801, &[2]).unwrap_err());
        assert!(
            e.contains("x") && e.contains("0x00000801") && e.contains("0x00000802"),
            "{e}"
        );
        // Wrong dimensions.
        std::fs::write(&p, idx(0x0801, &[3], &[1, 2, 3])).unwrap();
        let e = err_text(read_idx(&p, 0x0801, &[2]).unwrap_err());
        assert!(e.contains("dimensions [2]") && e.contains("[3]"), "{e}");
        // Truncated body.
        std::fs::write(&p, idx(0x0801, &[4], &[1, 2, 3])).unwrap();
        let e = err_text(read_idx(&p, 0x0801, &[4]).unwrap_err());
        assert!(e.contains("4 data bytes") && e.contains("found 3"), "{e}");
        // Truncated header.
        std::fs::write(&p, [0u8, 0, 8]).unwrap();
        let e = err_text(read_idx(&p, 0x0801, &[4]).unwrap_err());
        assert!(
            e.contains("header of 8 bytes") && e.contains("found 3 bytes"),
            "{e}"
        );
        // Corrupt gzip (valid magic bytes, cut stream).
        let mut z = gz(&idx(0x0801, &[4], &[1, 2, 3, 4]));
        z.truncate(z.len() / 2);
        std::fs::write(&p, z).unwrap();
        let e = read_idx(&p, 0x0801, &[4]).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }), "{e}");
        assert!(err_text(e).contains("cannot read"));
        // A good gzip file reads back.
        std::fs::write(&p, gz(&idx(0x0801, &[4], &[1, 2, 3, 4]))).unwrap();
        assert_eq!(read_idx(&p, 0x0801, &[4]).unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn missing_file_and_directory_say_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("train-images-idx3-ubyte"),
            idx(0x0803, &[60000, 28, 28], &[]),
        )
        .unwrap();
        let e = err_text(load(d.path(), 10, 10).unwrap_err());
        assert!(
            e.contains("missing MNIST file `train-labels-idx1-ubyte`"),
            "{e}"
        );
        let dir = d.path().to_str().unwrap();
        assert_eq!(resolve_data_dir(Some(dir)).unwrap(), d.path());
        let nowhere = d.path().join("nope");
        let e = err_text(resolve_data_dir(Some(nowhere.to_str().unwrap())).unwrap_err());
        assert!(
            e.contains("nope") && e.contains("data_dir") && e.contains(DATA_ENV),
            "{e}"
        );
        // The truncated training-images file is reported as such.
        std::fs::write(
            d.path().join("train-labels-idx1-ubyte"),
            idx(0x0801, &[60000], &[0; 60000]),
        )
        .unwrap();
        let e = err_text(load(d.path(), 10, 10).unwrap_err());
        assert!(
            e.contains("train-images-idx3-ubyte") && e.contains("47040000 data bytes"),
            "{e}"
        );
    }

    #[test]
    fn bad_label_value_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        let n = 60000usize;
        std::fs::write(
            d.path().join("train-images-idx3-ubyte.gz"),
            gz(&idx(0x0803, &[n as u32, 28, 28], &vec![0; n * 784])),
        )
        .unwrap();
        let mut labels = vec![0u8; n];
        labels[7] = 12;
        std::fs::write(
            d.path().join("train-labels-idx1-ubyte"),
            idx(0x0801, &[n as u32], &labels),
        )
        .unwrap();
        let e = err_text(load_split(d.path(), TRAIN_IMAGES, TRAIN_LABELS, n, n).unwrap_err());
        assert!(
            e.contains("labels in 0..=9") && e.contains("label 12"),
            "{e}"
        );
    }

    /// The real MNIST files (gzip) read with the expected shapes and statistics: the committed
    /// 1,000 + 1,000 subset, or the full set where `$ENSWEEP_DATA` names it.
    #[test]
    fn reads_the_real_files() {
        let dir = ensweep_testkit::mnist_dir();
        let (train, test) = if ensweep_testkit::on_subset() {
            (1_000, 1_000)
        } else {
            (60_000, 10_000)
        };
        let m = load(&dir, usize::MAX, usize::MAX).unwrap();
        assert_eq!((m.train.len(), m.test.len()), (train, test));
        assert_eq!(m.train.images.len(), train * PIXELS);
        // Well-known first labels of the MNIST training and test sets.
        assert_eq!(&m.train.labels[..5], &[5, 0, 4, 1, 9]);
        assert_eq!(&m.test.labels[..5], &[7, 2, 1, 0, 4]);
        assert!(m.train.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        let zero = m.train.images.iter().filter(|&&p| p == 0.0).count() as f64;
        let frac = zero / m.train.images.len() as f64;
        assert!((0.75..0.85).contains(&frac), "zero-pixel fraction {frac}");
    }
}
