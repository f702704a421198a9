//! The calibration search on the four golden images, and the committed calibration: it belongs to
//! the shared model and quantizes it within the contract's ranges. (That the committed file is
//! reproduced from its photos is checked in `host/tests/fidelity.rs`, which makes the views.)

use reference::calib::{calibrate, Method, Statistic, DEFAULT_METHOD};
use reference::{float, golden, int8};
use weights::quant::{Calibration, QuantModel, M_MAX, M_NORM_MIN, WEIGHT_QMAX};
use weights::Model;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
);

/// The error-minimising search is deterministic and, on the images it was made on, gives the
/// int8 model logits closer to the float model's than a fixed percentile does.
#[test]
fn mse_calibration_is_deterministic_and_beats_a_percentile() {
    let model = Model::load(MODEL).unwrap();
    let images = golden::load_inputs().unwrap();
    let names: Vec<String> = golden::IMAGES.iter().map(|s| s.to_string()).collect();
    let mse = calibrate(&model, &images, &names, DEFAULT_METHOD).unwrap();
    let again = calibrate(&model, &images, &names, DEFAULT_METHOD).unwrap();
    assert_eq!(mse.to_json(), again.to_json());
    let pct = calibrate(&model, &images, &names, "p99.999").unwrap();
    let logit_err = |c: &Calibration| -> f64 {
        let q = QuantModel::from_model(&model, c).unwrap();
        images
            .iter()
            .map(|x| {
                let f = float::forward(&model, x);
                let i = int8::forward(&q, x).logits;
                f.iter()
                    .zip(&i)
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
            })
            .sum()
    };
    let (e_mse, e_pct) = (logit_err(&mse), logit_err(&pct));
    println!("sum of squared logit errors: mse {e_mse:.3}, p99.999 {e_pct:.3}");
    assert!(e_mse < e_pct, "mse {e_mse} vs p99.999 {e_pct}");
    for l in &mse.layers {
        println!(
            "calib {:18} clip {:>10.3}  s_out {:.6}",
            l.name, l.stat, l.s_out
        );
    }
    // Statistics parse; nonsense does not.
    assert!(Method::parse("mse").is_ok() && Method::parse("p99.9").is_ok());
    assert!(Method::parse("p100").is_err() && Method::parse("median").is_err());
    assert_eq!(Statistic::parse("max").unwrap(), Statistic::Max);
}

#[test]
fn committed_calibration_quantizes_the_model_within_the_contract() {
    let model = Model::load(MODEL).unwrap();
    let q = QuantModel::from_model_committed(&model).unwrap();
    for (i, l) in q.layers.iter().enumerate() {
        assert_eq!(l.lut[0], 0);
        assert!(l.lut.iter().all(|&v| (v as i32).abs() <= WEIGHT_QMAX));
        assert_eq!(
            l.lut.iter().map(|&v| (v as i32).abs()).max().unwrap(),
            WEIGHT_QMAX,
            "the largest codebook entry uses the LUT's full range"
        );
        assert!(
            (M_NORM_MIN..=M_MAX).contains(&l.m),
            "{} m {}",
            l.name(),
            l.m
        );
        assert!((1..=46).contains(&l.shift));
        let r = l.requant_ratio();
        let approx = l.m as f64 / (1u64 << l.shift) as f64;
        assert!((approx - r).abs() <= r / 32768.0, "{}", l.name());
        // Dense weights are lut[code] at the decoded positions; zeros are exactly the f32 zeros
        // or codebook entries that round to 0.
        let f = &model.layers[i];
        let q = WEIGHT_QMAX as f64;
        for (wq, wf) in l.weights.iter().zip(&f.weights) {
            let want = (*wf as f64 / l.s_w as f64).round().clamp(-q, q) as i16;
            assert_eq!(*wq, want);
        }
        println!(
            "quant {:18} s_w {:.3e} s_in {:.4} s_out {:.4} m {:5} shift {:2} bias range [{}, {}]",
            l.name(),
            l.s_w,
            l.s_in,
            l.s_out,
            l.m,
            l.shift,
            l.bias.iter().min().unwrap(),
            l.bias.iter().max().unwrap()
        );
    }
    // The calibration refuses another model.
    let mut other = model.clone();
    other.sha256 = "00".repeat(32);
    let e = QuantModel::from_model(&other, &Calibration::committed().unwrap()).unwrap_err();
    assert!(e.to_string().contains("different model"), "{e}");
}

#[test]
fn statistics_parse_and_evaluate() {
    let mut v: Vec<f32> = (1..=100_000).map(|i| i as f32).collect();
    assert_eq!(Statistic::parse("max").unwrap().eval(&mut v), 100_000.0);
    assert_eq!(Statistic::parse("p99.999").unwrap().eval(&mut v), 99_999.0);
    assert_eq!(Statistic::parse("p50").unwrap().eval(&mut v), 50_000.0);
    for bad in ["p100", "p0", "x", "p", "pabc", "p-1"] {
        assert!(Statistic::parse(bad).is_err(), "{bad}");
    }
}
