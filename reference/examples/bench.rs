//! Times the float and int8 reference models per golden image (median of N runs, default 7) and
//! prints the int8-vs-float agreement. Run in release:
//! `cargo run -p sim --release --example reference_bench [-- RUNS]`.

use reference::calib::agreement;
use reference::{float, golden, int8};
use std::time::Instant;
use weights::quant::QuantModel;
use weights::Model;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(7)
        .max(1);
    let model = Model::load(weights::default_model_path(None)?)?;
    let q = QuantModel::from_model_committed(&model)?;
    let inputs = golden::load_inputs()?;
    println!("median of {runs} runs per image");
    for (name, x) in golden::IMAGES.iter().zip(&inputs) {
        let f = float::try_forward(&model, x)?;
        let i = int8::try_forward(&q, x)?;
        let a = agreement(&f, &i.logits);
        let tf = median_ms(runs, || {
            std::hint::black_box(float::forward(&model, x));
        });
        let ti = median_ms(runs, || {
            std::hint::black_box(int8::forward(&q, x));
        });
        println!(
            "{name:16} float {tf:6.1} ms  int8 {ti:6.1} ms  | top1 {}/{} top5 overlap {}/5 cosine {:.5}",
            a.float_top1, a.int8_top1, a.top5_overlap, a.cosine
        );
    }
    Ok(())
}
