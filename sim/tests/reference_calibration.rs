//! Recalibrating from the float reference on the four golden images reproduces the committed
//! calibration file (weights/data/squeezenet_v1.0_dc.calib.json) byte for byte, and the committed
//! calibration belongs to the shared model and quantizes it within the contract's ranges.

use sim::reference::calib::{calibrate_golden, Statistic, DEFAULT_STATISTIC};
use weights::quant::{Calibration, QuantModel, M_MAX, M_NORM_MIN};
use weights::Model;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
);

#[test]
fn recalibration_reproduces_the_committed_file() {
    let model = Model::load(MODEL).unwrap();
    let committed = Calibration::committed().unwrap();
    assert_eq!(committed.statistic, DEFAULT_STATISTIC);
    let fresh = calibrate_golden(&model, &committed.statistic).unwrap();
    let on_disk = std::fs::read_to_string(Calibration::committed_path()).unwrap();
    assert_eq!(
        fresh.to_json(),
        on_disk,
        "run `cargo run -p sim --release --bin calibrate` and commit the file"
    );
    assert_eq!(fresh, committed);
    for l in &fresh.layers {
        println!(
            "calib {:18} stat {:>10.3}  s_out {:.6}",
            l.name, l.stat, l.s_out
        );
    }
    println!(
        "calib input stat {} s_in {}",
        fresh.input_stat, fresh.input_scale
    );
}

#[test]
fn committed_calibration_quantizes_the_model_within_the_contract() {
    let model = Model::load(MODEL).unwrap();
    let q = QuantModel::from_model_committed(&model).unwrap();
    for (i, l) in q.layers.iter().enumerate() {
        assert_eq!(l.lut[0], 0);
        assert!(l.lut.iter().all(|&v| v >= -127));
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
        // Dense int8 weights are lut[code] at the decoded positions; zeros are exactly the f32 zeros
        // or codebook entries that round to 0.
        let f = &model.layers[i];
        for (wq, wf) in l.weights.iter().zip(&f.weights) {
            let want = (*wf as f64 / l.s_w as f64).round().clamp(-127.0, 127.0) as i8;
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
