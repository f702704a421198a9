//! Access to the shared golden data (`../shared/golden` beside the repository): the four
//! preprocessed images and their onnxruntime logits, read from `.npy` files.

use std::path::{Path, PathBuf};

/// Image names in the row order of the golden `.npy` files.
pub const IMAGES: [&str; 4] = ["chelsea", "coffee", "astronaut", "motorcycle_left"];

/// `<repo>/../shared/golden`.
pub fn golden_dir() -> PathBuf {
    weights::repo_root()
        .join("..")
        .join("shared")
        .join("golden")
}

/// The preprocessed inputs, 4x3x227x227 f32.
pub fn inputs_path() -> PathBuf {
    golden_dir().join("inputs_4x3x227x227_f32.npy")
}

/// The onnxruntime logits, 4x1000 f32.
pub fn logits_path() -> PathBuf {
    golden_dir().join("logits_4x1000_f32.npy")
}

/// A little-endian f32 `.npy` file: (shape, data in C order).
pub fn read_npy_f32(path: &Path) -> anyhow::Result<(Vec<u64>, Vec<f32>)> {
    use anyhow::Context;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("{} is not a .npy file", path.display()))?;
    if npy.order() != npyz::Order::C {
        anyhow::bail!("{}: Fortran order is not supported", path.display());
    }
    let shape = npy.shape().to_vec();
    let data: Vec<f32> = npy
        .into_vec()
        .with_context(|| format!("{}: not an f32 array", path.display()))?;
    Ok((shape, data))
}

/// Rows of a 2-D-or-more f32 `.npy` file, each flattened.
pub fn read_rows(path: &Path) -> anyhow::Result<Vec<Vec<f32>>> {
    let (shape, data) = read_npy_f32(path)?;
    let n = *shape
        .first()
        .ok_or_else(|| anyhow::anyhow!("{}: scalar array", path.display()))? as usize;
    if n == 0 {
        anyhow::bail!("{}: no rows", path.display());
    }
    let row = data.len() / n;
    Ok(data.chunks(row).map(|c| c.to_vec()).collect())
}

/// The four golden input images (3x227x227 each).
pub fn load_inputs() -> anyhow::Result<Vec<Vec<f32>>> {
    let rows = read_rows(&inputs_path())?;
    if rows.len() != IMAGES.len() || rows.iter().any(|r| r.len() != weights::topology::INPUT_LEN) {
        anyhow::bail!("{}: expected 4x3x227x227", inputs_path().display());
    }
    Ok(rows)
}

/// The four golden logit vectors (1000 each).
pub fn load_logits() -> anyhow::Result<Vec<Vec<f32>>> {
    let rows = read_rows(&logits_path())?;
    if rows.len() != IMAGES.len()
        || rows
            .iter()
            .any(|r| r.len() != weights::topology::NUM_CLASSES)
    {
        anyhow::bail!("{}: expected 4x1000", logits_path().display());
    }
    Ok(rows)
}
