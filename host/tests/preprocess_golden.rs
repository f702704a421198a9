//! Preprocessing of the four shared test images against the golden inputs made with Pillow.
//!
//! The golden tensor (`../shared/golden/inputs_4x3x227x227_f32.npy`) holds what the model
//! README's pipeline produced in Python (PIL bilinear resize to 256 x 256, crop, BGR, mean).
//! Our Pillow-compatible resize must reproduce it to the level.

use host::image::{load_preprocessed, INPUT_LEN};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");
/// Row order of the golden tensor (see ../shared/golden/README.md).
const IMAGES: [&str; 4] = ["chelsea", "coffee", "astronaut", "motorcycle_left"];
/// Largest difference we accept, in pixel levels. Measured: 0 on all four images.
const MAX_ABS_DIFF: f32 = 0.0;

fn golden_inputs() -> Vec<f32> {
    let path = format!("{SHARED}/golden/inputs_4x3x227x227_f32.npy");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("npy header");
    assert_eq!(npy.shape(), &[4, 3, 227, 227]);
    npy.into_vec::<f32>().expect("npy f32 data")
}

#[test]
fn preprocessing_matches_pillow_golden_inputs() {
    let golden = golden_inputs();
    let mut report = Vec::new();
    for (row, name) in IMAGES.iter().enumerate() {
        let path = format!("{SHARED}/images/{name}.png");
        let ours = load_preprocessed(&path).unwrap_or_else(|e| panic!("{e}"));
        let want = &golden[row * INPUT_LEN..(row + 1) * INPUT_LEN];
        let (mut max, mut differing) = (0.0f32, 0usize);
        for (a, b) in ours.iter().zip(want) {
            let d = (a - b).abs();
            max = max.max(d);
            differing += usize::from(d > 0.0);
        }
        eprintln!("{name}: max abs diff {max} levels, {differing} of {INPUT_LEN} values differ");
        report.push((name, max, differing));
    }
    for (name, max, differing) in report {
        assert!(
            max <= MAX_ABS_DIFF,
            "{name}: max abs diff {max} > {MAX_ABS_DIFF} ({differing} values differ)"
        );
    }
}
