//! Float reference vs the onnxruntime golden logits on the four shared images: max |diff| per image
//! must be <= 1e-3 x max |logit|, and top-1 must be the golden top-1. Prints every figure.

use reference::{float, golden, top_k};
use weights::Model;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
);

#[test]
fn float_reference_matches_golden_logits() {
    let model = Model::load(MODEL).unwrap();
    let inputs = golden::load_inputs().unwrap();
    let gold = golden::load_logits().unwrap();
    for ((name, x), g) in golden::IMAGES.iter().zip(&inputs).zip(&gold) {
        let t = std::time::Instant::now();
        let y = float::forward(&model, x);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(y.len(), 1000);
        let max_abs = g.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
        let diff = y
            .iter()
            .zip(g)
            .fold(0.0f32, |a, (&p, &q)| a.max((p - q).abs()));
        let (t1, g1) = (top_k(&y, 1)[0], top_k(g, 1)[0]);
        println!(
            "float {name:16} max|diff| {diff:.3e}  max|logit| {max_abs:.3}  rel {:.3e}  top1 {t1} (golden {g1})  {ms:.0} ms",
            diff / max_abs
        );
        assert!(
            diff <= 1e-3 * max_abs,
            "{name}: max diff {diff} > 1e-3 x {max_abs}"
        );
        assert_eq!(t1, g1, "{name}");
    }
}

#[test]
fn float_forward_rejects_a_wrong_input_size() {
    let model = Model::load(MODEL).unwrap();
    let e = float::try_forward(&model, &[0.0; 10]).unwrap_err();
    assert!(e.to_string().contains("154587"), "{e}");
}
