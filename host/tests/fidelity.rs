//! Fidelity of the engine's arithmetic to the float model, on real photos (the shared ones and
//! those `scripts/fetch_photos.sh` fetches):
//! - the built-in calibration is what `sqz-host calibrate` makes from its documented photos,
//!   byte for byte;
//! - on the check set (views the calibration never saw, and three photos it never saw) the int8
//!   model keeps the float model's top-1 on >= 90 % of samples, on >= 97 % of those where the
//!   float model leads by more than 0.05, with a mean top-5 overlap >= 4.5;
//! - the `calibrate` and `fidelity` commands and `--calibration` work end to end.

use host::fidelity::{
    calibration_photos, check_photos, load_views, measure, require_photos, CALIBRATION_VIEWS,
    CHECK_VIEWS,
};
use std::process::Command;
use weights::quant::{Calibration, QuantModel};
use weights::Model;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
);

fn sqz() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sqz-host"))
}

#[test]
fn built_in_calibration_is_made_from_its_documented_photos() {
    let photos = calibration_photos();
    require_photos(&photos).unwrap();
    let model = Model::load(MODEL).unwrap();
    let samples = load_views(&photos, 0..CALIBRATION_VIEWS).unwrap();
    let names: Vec<String> = samples.iter().map(|s| s.name.clone()).collect();
    let inputs: Vec<Vec<f32>> = samples.into_iter().map(|s| s.input).collect();
    let fresh = reference::calib::calibrate(&model, &inputs, &names, "mse").unwrap();
    let on_disk = std::fs::read_to_string(Calibration::committed_path()).unwrap();
    assert_eq!(
        fresh.to_json(),
        on_disk,
        "the built-in calibration is stale: remake it with the command in docs/NUMERICS.md"
    );
}

#[test]
fn int8_follows_float_on_the_check_set() {
    let photos = check_photos();
    require_photos(&photos).unwrap();
    let model = Model::load(MODEL).unwrap();
    let q = QuantModel::from_model_committed(&model).unwrap();
    let samples = load_views(&photos, CHECK_VIEWS).unwrap();
    let r = measure(&model, &q, &samples).unwrap();
    let s = &r.summary;
    println!(
        "check set: {} samples, top-1 {}/{} = {:.3}, confident {}/{} = {:.3}, top-5 overlap {:.2}",
        s.samples,
        s.top1_agree,
        s.samples,
        s.top1_agreement,
        s.confident_agree,
        s.confident,
        s.confident_agreement,
        s.mean_top5_overlap
    );
    for l in &r.layers {
        println!("  {:18} {:6.1} dB", l.layer, l.sqnr_db);
    }
    assert_eq!(s.samples, photos.len() * CHECK_VIEWS.len());
    assert!(
        s.confident >= s.samples / 2,
        "too few confident samples to judge"
    );
    assert!(
        s.top1_agreement >= 0.90,
        "top-1 agreement {:.3}",
        s.top1_agreement
    );
    assert!(
        s.confident_agreement >= 0.97,
        "agreement where the float margin > 0.05: {:.3}",
        s.confident_agreement
    );
    assert!(
        s.mean_top5_overlap >= 4.5,
        "top-5 overlap {:.2}",
        s.mean_top5_overlap
    );
    // Every layer keeps a usable signal; the 8-bit activations bound it.
    for l in &r.layers {
        assert!(l.sqnr_db > 15.0, "{}: {:.1} dB", l.layer, l.sqnr_db);
    }
}

#[test]
fn calibrate_fidelity_and_calibration_option_end_to_end() {
    let dir = std::env::temp_dir().join(format!("sqz-fidelity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cal = dir.join("cal.json");
    let chelsea = host::fidelity::shared_photos_dir().join("chelsea.png");
    let out = sqz()
        .args(["calibrate", "--method", "p99.99", "--views", "2", "--out"])
        .arg(&cal)
        .arg(&chelsea)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = Calibration::load(&cal).unwrap();
    assert_eq!(c.images, ["chelsea.png", "chelsea.png#1"]);
    assert_eq!(c.statistic, "p99.99");

    // infer with it: a different calibration, still a cat.
    let out = sqz()
        .args(["infer", "--top", "1", "--calibration"])
        .arg(&cal)
        .arg(&chelsea)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("285"));

    // fidelity --json: one document with the summary, the layers and the samples.
    let out = sqz()
        .args(["fidelity", "--json", "--views", "2", "--calibration"])
        .arg(&cal)
        .arg(&chelsea)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["summary"]["samples"], 2);
    assert_eq!(v["report"]["layers"].as_array().unwrap().len(), 26);
    assert_eq!(v["report"]["samples"][0]["name"], "chelsea.png");

    // A missing or broken calibration file is an error naming it.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"format\": \"sqz-calib-v1\"}").unwrap();
    for f in [dir.join("none.json"), bad] {
        let out = sqz()
            .args(["infer", "--calibration"])
            .arg(&f)
            .arg(&chelsea)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&*f.to_string_lossy()), "{err}");
    }
    // No views is a usage error; a folder without photos is an error.
    let out = sqz()
        .args(["fidelity", "--views", "0"])
        .arg(&chelsea)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = sqz().arg("fidelity").arg(&dir).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PNG or JPEG"));
    std::fs::remove_dir_all(&dir).ok();
}
