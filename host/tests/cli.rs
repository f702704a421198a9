//! End-to-end tests of the `sqz-host` binary: classes of the shared test images on both software
//! backends, JSON output, and clear non-zero exits for corrupt images, non-images and a missing
//! model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sqz-host");
const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

fn image(name: &str) -> String {
    format!("{IMAGES}/{name}.png")
}

/// Run the binary with the default model lookup (no `SQZ_MODEL` leaking in from the caller).
fn sqz(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SQZ_MODEL")
        .output()
        .expect("spawn sqz-host")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory unique to this test process and test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sqz-host-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One image of the text output: its path and `(class, probability, name)` per rank.
type Block = (String, Vec<(usize, f64, String)>);

fn parse_text(stdout: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for line in stdout.lines() {
        if !line.starts_with(' ') {
            blocks.push((line.to_string(), Vec::new()));
            continue;
        }
        // "   1.  285  0.70047  Egyptian cat"
        let mut f = line.split_whitespace();
        let _rank = f.next().expect("rank");
        let class = f.next().expect("class").parse().expect("class index");
        let prob = f.next().expect("probability").parse().expect("probability");
        let name = f.collect::<Vec<_>>().join(" ");
        blocks
            .last_mut()
            .expect("image line first")
            .1
            .push((class, prob, name));
    }
    blocks
}

fn check_cat_and_espresso(backend: &str) {
    let out = sqz(&[
        "infer",
        &image("chelsea"),
        &image("coffee"),
        "--backend",
        backend,
    ]);
    assert!(out.status.success(), "{backend}: {}", text(&out.stderr));
    let blocks = parse_text(&text(&out.stdout));
    assert_eq!(blocks.len(), 2, "{}", text(&out.stdout));
    for ((path, top), (want, name)) in blocks
        .iter()
        .zip([(285, "Egyptian cat"), (967, "espresso")])
    {
        assert_eq!(top.len(), 5, "default --top is 5");
        assert_eq!(top[0].0, want, "{backend}: {path} top-1 {:?}", top[0]);
        assert_eq!(top[0].2, name);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1), "sorted: {top:?}");
        assert!(top[0].1 > 0.3 && top[0].1 <= 1.0, "{top:?}");
    }
}

#[test]
fn reference_backend_sees_cat_and_espresso() {
    check_cat_and_espresso("reference");
}

#[test]
fn float_backend_sees_cat_and_espresso() {
    check_cat_and_espresso("float");
}

#[test]
fn json_output_parses_and_is_consistent() {
    let names = ["chelsea", "coffee", "astronaut", "motorcycle_left"];
    let paths: Vec<String> = names.iter().map(|n| image(n)).collect();
    let mut args = vec!["infer", "--json", "--top", "3", "--backend", "float"];
    args.extend(paths.iter().map(String::as_str));
    let out = sqz(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["backend"], "float");
    // No --model and SQZ_MODEL unset (`sqz` removes it): the built-in model, named with its hash.
    assert_eq!(doc["model"], "built-in");
    assert_eq!(doc["model_sha256"], weights::Model::builtin().sha256);
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    // Top-1 classes of the float model (../shared/golden/README.md).
    for ((r, path), want) in results.iter().zip(&paths).zip([285, 967, 503, 665]) {
        assert_eq!(r["image"], path.as_str());
        assert!(r.get("error").is_none());
        let top = r["top"].as_array().expect("top");
        assert_eq!(top.len(), 3);
        assert_eq!(top[0]["class"], want, "{path}");
        let probs: Vec<f64> = top
            .iter()
            .map(|c| c["probability"].as_f64().unwrap())
            .collect();
        assert!(probs.windows(2).all(|w| w[0] >= w[1]) && probs.iter().sum::<f64>() <= 1.0 + 1e-5);
        for (i, c) in top.iter().enumerate() {
            assert_eq!(c["rank"], i + 1);
            assert!(c["name"].as_str().is_some_and(|n| !n.is_empty()));
            assert!(c["wnid"].as_str().is_some_and(|w| w.starts_with('n')));
        }
    }
}

#[test]
fn corrupt_png_fails_naming_the_file_but_other_images_still_run() {
    let dir = TempDir::new("corrupt");
    let real = std::fs::read(image("chelsea")).expect("read chelsea.png");
    let truncated = dir.file("truncated.png", &real[..real.len() / 3]);
    let t = truncated.to_str().unwrap();

    let out = sqz(&["infer", t, "--backend", "float"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(t) && err.contains("cannot decode"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // In a batch the bad file is reported in the JSON and the exit status, the good one classified.
    let good = image("coffee");
    let out = sqz(&["infer", "--json", "--backend", "float", t, &good]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let r = doc["results"].as_array().unwrap();
    assert!(
        r[0]["error"].as_str().is_some_and(|e| e.contains(t)),
        "{}",
        r[0]
    );
    assert!(r[0].get("top").is_none());
    assert_eq!(r[1]["top"][0]["class"], 967);
}

#[test]
fn text_file_and_missing_file_fail_with_a_message() {
    let dir = TempDir::new("text");
    let notes = dir.file("notes.png", b"this is plain text, not an image\n");
    let n = notes.to_str().unwrap();
    let out = sqz(&["infer", n, "--backend", "float"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(n) && err.contains("not a PNG or JPEG"),
        "{err}"
    );

    let missing = dir.0.join("absent.jpg");
    let m = missing.to_str().unwrap();
    let out = sqz(&["infer", m, "--backend", "float"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(m) && err.contains("cannot read"), "{err}");
}

#[test]
fn missing_model_says_where_to_get_it() {
    let dir = TempDir::new("nomodel");
    let absent = dir.0.join("compressed_SqueezeNet.net");
    let a = absent.to_str().unwrap();
    let chelsea = image("chelsea");
    let check = |out: Output| {
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("songhan/SqueezeNet-Deep-Compression"), "{err}");
        assert!(err.contains(a) && err.contains("SQZ_MODEL"), "{err}");
        assert!(out.stdout.is_empty());
    };
    check(sqz(&["infer", &chelsea, "--model", a]));
    let out = Command::new(BIN)
        .args(["infer", &chelsea])
        .env("SQZ_MODEL", &absent)
        .output()
        .expect("spawn sqz-host");
    check(out);
    check(sqz(&["bench", "--runs", "1", "--model", a]));
}

/// `--model FILE` runs that file and says so (path and SHA-256); without it the built-in model
/// runs, which is the same public file.
#[test]
fn the_model_that_ran_is_named() {
    let shared = weights::shared_model_path();
    let chelsea = image("chelsea");
    let out = sqz(&[
        "infer",
        "--json",
        "--backend",
        "float",
        "--model",
        shared.to_str().unwrap(),
        &chelsea,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["model"]
        .as_str()
        .unwrap()
        .ends_with("compressed_SqueezeNet.net"));
    assert_eq!(doc["model_sha256"], weights::Model::builtin().sha256);
    let out = sqz(&["infer", "--backend", "float", &chelsea]);
    assert!(
        text(&out.stderr).contains("model: built-in"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn corrupt_model_file_is_an_error() {
    let dir = TempDir::new("badmodel");
    let bad = dir.file("compressed_SqueezeNet.net", &[7u8; 1000]);
    let out = sqz(&["infer", &image("chelsea"), "--model", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(bad.to_str().unwrap()) && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["infer"][..],
        &["infer", "x.png", "--backend", "gpu"],
        &["bench", "--runs", "0"],
    ] {
        let out = sqz(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn bench_reports_median_min_max_per_image() {
    let out = sqz(&[
        "bench",
        "--backend",
        "float",
        "--runs",
        "3",
        "--json",
        "--images",
        &image("chelsea"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["runs"], 3);
    let row = &doc["images"][0];
    assert!(Path::new(row["image"].as_str().unwrap()).ends_with("chelsea.png"));
    for key in ["preprocess", "inference", "total"] {
        let (md, mn, mx) = (
            row[key]["median_ms"].as_f64().unwrap(),
            row[key]["min_ms"].as_f64().unwrap(),
            row[key]["max_ms"].as_f64().unwrap(),
        );
        assert!(mn > 0.0 && mn <= md && md <= mx, "{key}: {row}");
    }
    assert!(doc["per_image"]["median_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn jpeg_and_rgba16_inputs_classify_like_the_png() {
    let dir = TempDir::new("formats");
    let rgb = image::open(image("chelsea"))
        .expect("decode chelsea.png")
        .to_rgb8();
    let jpg = dir.0.join("chelsea.jpg");
    image::DynamicImage::ImageRgb8(rgb.clone())
        .save_with_format(&jpg, image::ImageFormat::Jpeg)
        .expect("write jpeg");
    // 16-bit RGBA with an opaque alpha: decodes to the same 8-bit RGB as the original.
    let rgba16 = image::ImageBuffer::from_fn(rgb.width(), rgb.height(), |x, y| {
        let p = rgb.get_pixel(x, y).0;
        image::Rgba([
            p[0] as u16 * 257,
            p[1] as u16 * 257,
            p[2] as u16 * 257,
            u16::MAX,
        ])
    });
    let png16 = dir.0.join("chelsea16.png");
    image::DynamicImage::ImageRgba16(rgba16)
        .save(&png16)
        .expect("write png");
    let out = sqz(&[
        "infer",
        "--json",
        "--backend",
        "float",
        jpg.to_str().unwrap(),
        png16.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["top"][0]["class"], 285, "{r}");
    }
}

/// Card options on a software backend are refused, not silently ignored; a FIFO or device as an
/// image and a truncated JPEG are errors naming the file, never a hang or a classification.
#[test]
fn ignored_options_and_unreadable_inputs_are_errors() {
    let chelsea = image("chelsea");
    for (backend, opt, val) in [
        ("reference", "--preset", "bogus"),
        ("float", "--preset", "tiny"),
        ("reference", "--timeout", "3"),
    ] {
        let out = sqz(&["infer", "--backend", backend, opt, val, &chelsea]);
        assert!(!out.status.success(), "{backend} {opt}");
        let err = text(&out.stderr);
        assert!(err.contains(opt) && err.contains("card backends"), "{err}");
    }
    let out = sqz(&["infer", "/dev/zero"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a regular file"),
        "{}",
        text(&out.stderr)
    );

    // A real photo as a JPEG, cut to a tenth.
    let rgb = image::open(&chelsea).unwrap().to_rgb8();
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(rgb)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let dir = TempDir::new("truncated-jpeg");
    let cut = dir.file("cut.jpg", &jpeg[..jpeg.len() / 10]);
    let out = sqz(&["infer", cut.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("truncated JPEG") && err.contains("cut.jpg"),
        "{err}"
    );
}

/// `--json` prints one JSON document even when the backend cannot be prepared (here: a model
/// file that is not a model), naming the error and every image not run; the exit is non-zero.
#[test]
fn json_errors_before_the_first_image_are_one_document() {
    let dir = TempDir::new("json-early-error");
    let bad = dir.file("bad.net", b"not a model");
    let chelsea = image("chelsea");
    let out = sqz(&[
        "infer",
        "--json",
        "--model",
        bad.to_str().unwrap(),
        &chelsea,
    ]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert!(v["error"].as_str().unwrap().contains("bad.net"), "{v}");
    assert_eq!(v["results"][0]["image"], chelsea.as_str());
    assert!(v["results"][0]["error"].is_string());
}
