//! Fidelity of the engine's arithmetic to the float model, and calibration from a user's photos.
//!
//! Both start from the same samples: every photo named (files, or the PNG/JPEG files of a
//! folder, sorted) in `views` views ([`crate::image::views`]), each preprocessed as `infer`
//! preprocesses an image. [`measure`] runs the float model and the int8 model (the hardware's
//! arithmetic) on every sample and reports top-1 agreement, agreement where the float model is
//! confident, top-5 overlap and each layer's signal-to-quantization-noise ratio.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use reference::{float, int8, overlap, par_map, softmax, top_k};
use serde::Serialize;
use weights::quant::QuantModel;
use weights::topology::{LAYERS, NUM_LAYERS};
use weights::Model;

use crate::image::{load_rgb8, preprocess, views::View};

/// The float model's margin (top-1 minus top-2 probability) above which a sample counts as
/// confident: where the int8 model must agree.
pub const CONFIDENT_MARGIN: f32 = 0.05;

/// The shared test photos of the built-in calibration and the check set (in `../shared/images`).
pub const SHARED_PHOTOS: [&str; 4] = [
    "chelsea.png",
    "coffee.png",
    "astronaut.png",
    "motorcycle_left.png",
];
/// The fetched photos of the built-in calibration (`scripts/fetch_photos.sh`).
pub const CALIBRATION_FETCHED: [&str; 2] = ["china.jpg", "DepartmentStore.jpg"];
/// Views per photo of the built-in calibration (views 0..8).
pub const CALIBRATION_VIEWS: u32 = 8;
/// The fetched photos only the check set uses (never calibrated on).
pub const CHECK_ONLY_FETCHED: [&str; 3] = ["flower.jpg", "grace_hopper.jpg", "luispedro.jpg"];
/// The check set's views of every photo: numbers the calibration never draws.
pub const CHECK_VIEWS: std::ops::Range<u32> = 1000..1012;

/// Where `scripts/fetch_photos.sh` put the fetched photos: `$SQZ_PHOTOS`, else `target/photos`
/// in the repository.
pub fn fetched_photos_dir() -> PathBuf {
    std::env::var_os("SQZ_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/photos"))
}

/// The shared test-photo folder beside the repository.
pub fn shared_photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/images")
}

/// The built-in calibration's photos, in order (views 0..[`CALIBRATION_VIEWS`] of each).
pub fn calibration_photos() -> Vec<PathBuf> {
    let shared = shared_photos_dir();
    let fetched = fetched_photos_dir();
    SHARED_PHOTOS
        .iter()
        .map(|p| shared.join(p))
        .chain(CALIBRATION_FETCHED.iter().map(|p| fetched.join(p)))
        .collect()
}

/// The check set's photos: the calibration's and three more ([`CHECK_VIEWS`] of each).
pub fn check_photos() -> Vec<PathBuf> {
    let fetched = fetched_photos_dir();
    calibration_photos()
        .into_iter()
        .chain(CHECK_ONLY_FETCHED.iter().map(|p| fetched.join(p)))
        .collect()
}

/// An error naming the missing photo and how to fetch it, when one is missing.
pub fn require_photos(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        if !p.is_file() {
            bail!(
                "photo {} is missing: run scripts/fetch_photos.sh (or set SQZ_PHOTOS to the folder it filled)",
                p.display()
            );
        }
    }
    Ok(())
}

/// One preprocessed input.
pub struct Sample {
    /// `photo.png`, or `photo.png#3` for view 3.
    pub name: String,
    /// What the view is.
    pub view: String,
    /// 3 x 227 x 227 CHW, BGR minus mean.
    pub input: Vec<f32>,
}

/// The photos named by `paths`: files as given, folders as their PNG/JPEG files, sorted.
pub fn photo_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension().is_some_and(|e| {
                            ["png", "jpg", "jpeg"]
                                .iter()
                                .any(|x| e.eq_ignore_ascii_case(x))
                        })
                })
                .collect();
            v.sort();
            if v.is_empty() {
                bail!("folder {} holds no PNG or JPEG file", p.display());
            }
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Short display name of a photo: its file name.
fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `views` views (view 0 = the photo) of every photo named by `paths`.
pub fn load_samples(paths: &[PathBuf], views: u32) -> Result<Vec<Sample>> {
    load_views(paths, 0..views)
}

/// Views `range` of every photo named by `paths`.
pub fn load_views(paths: &[PathBuf], range: std::ops::Range<u32>) -> Result<Vec<Sample>> {
    if range.is_empty() {
        bail!("no views asked for: the number of views must be at least 1");
    }
    let mut out = Vec::new();
    for p in photo_paths(paths)? {
        let rgb = load_rgb8(&p)?;
        let name = file_name(&p);
        for n in range.clone() {
            let v = View::nth(n, rgb.width(), rgb.height());
            out.push(Sample {
                name: if n == 0 {
                    name.clone()
                } else {
                    format!("{name}#{n}")
                },
                view: v.to_string(),
                input: preprocess(&v.apply(&rgb)),
            });
        }
    }
    Ok(out)
}

/// How the int8 model answered one sample, next to the float model.
#[derive(Clone, Debug, Serialize)]
pub struct SampleResult {
    pub name: String,
    pub float_top1: usize,
    pub int8_top1: usize,
    /// Float probability of its top-1 minus its top-2.
    pub float_margin: f32,
    pub float_prob: f32,
    pub int8_prob: f32,
    /// |float top-5 ∩ int8 top-5|.
    pub top5_overlap: usize,
}

impl SampleResult {
    pub fn agrees(&self) -> bool {
        self.float_top1 == self.int8_top1
    }
    pub fn confident(&self) -> bool {
        self.float_margin > CONFIDENT_MARGIN
    }
}

/// Signal-to-quantization-noise ratio of one layer's output over all samples.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSqnr {
    pub layer: &'static str,
    /// `10 log10(sum f^2 / sum (f - s_out * y)^2)`: f the float output, y the int8 output (after
    /// the layer's max-pool), over every value of every sample.
    pub sqnr_db: f64,
}

/// The figures of a fidelity run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub top1_agree: usize,
    pub top1_agreement: f64,
    pub confident: usize,
    pub confident_agree: usize,
    /// Agreement where the float margin exceeds [`CONFIDENT_MARGIN`] (1.0 when no sample does).
    pub confident_agreement: f64,
    pub mean_top5_overlap: f64,
}

/// Everything [`measure`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub summary: Summary,
    pub layers: Vec<LayerSqnr>,
    pub samples: Vec<SampleResult>,
}

/// Compare the int8 model `q` with the float `model` on `samples`.
pub fn measure(model: &Model, q: &QuantModel, samples: &[Sample]) -> Result<Report> {
    if samples.is_empty() {
        bail!("no samples to measure");
    }
    type One = (SampleResult, Vec<(f64, f64)>);
    let per = par_map(samples, |s| -> Result<One> {
        let trace = float::forward_trace(model, &s.input)?;
        let out = int8::try_forward(q, &s.input)?;
        let fp = softmax(&trace.logits);
        if fp.iter().chain(&out.probs).any(|p| !p.is_finite()) {
            bail!("{}: a model produced a non-finite probability", s.name);
        }
        let mut noise = Vec::with_capacity(NUM_LAYERS);
        for (i, spec) in LAYERS.iter().enumerate() {
            let f = &trace.outputs[i];
            let f = if spec.pool {
                float::max_pool(f)
            } else {
                f.clone()
            };
            let s_out = q.layers[i].s_out as f64;
            let (mut sig, mut err) = (0.0f64, 0.0f64);
            for (&a, &y) in f.data.iter().zip(&out.layers[i].data) {
                let d = a as f64 - y as f64 * s_out;
                sig += a as f64 * a as f64;
                err += d * d;
            }
            noise.push((sig, err));
        }
        Ok((compare(&s.name, &fp, &out.probs), noise))
    });
    let mut results = Vec::with_capacity(samples.len());
    let mut totals = vec![(0.0f64, 0.0f64); NUM_LAYERS];
    for r in per {
        let (res, noise) = r?;
        for (t, n) in totals.iter_mut().zip(noise) {
            t.0 += n.0;
            t.1 += n.1;
        }
        results.push(res);
    }
    let summary = summarise(&results);
    let layers = LAYERS
        .iter()
        .zip(totals)
        .map(|(l, (sig, err))| LayerSqnr {
            layer: l.name,
            sqnr_db: if err > 0.0 {
                10.0 * (sig / err).log10()
            } else {
                f64::INFINITY
            },
        })
        .collect();
    Ok(Report {
        summary,
        layers,
        samples: results,
    })
}

/// One row of [`ablation`]: a model with some sources of error, against the float model.
#[derive(Clone, Debug, Serialize)]
pub struct AblationRow {
    pub what: String,
    pub summary: Summary,
}

/// The float model with its weights replaced by the quantizer's LUT entries of at most `qmax`
/// (`weights::quant::quantize_layer`, as the engine gets them) times the layer's weight scale;
/// everything else float.
fn with_rounded_weights(model: &Model, qmax: i32) -> Result<Model> {
    let mut m = model.clone();
    for l in &mut m.layers {
        // Only the weights are used: any input and output scale will do.
        let q = weights::quant::quantize_layer(l, 1.0, 1.0, qmax)?;
        l.weights = q
            .weights
            .iter()
            .map(|&v| (v as f64 * q.s_w as f64) as f32)
            .collect();
    }
    Ok(m)
}

/// Activations rounded to the uint8 grid of each layer's scale, clamped at 255 steps.
fn round_activations(scales: &[f32]) -> impl Fn(usize, &mut float::Tensor) + '_ {
    move |i, t| {
        let s = scales[i];
        for v in &mut t.data {
            *v = (*v / s).round().clamp(0.0, 255.0) * s;
        }
    }
}

/// The int8 image of the earlier contract: `round(x / s)` clamped to -128..=127 at scale
/// `max|x| / 127` of the image itself (its best case).
fn round_input_int8(x: &[f32]) -> Vec<f32> {
    let s = x.iter().fold(0.0f32, |a, &v| a.max(v.abs())) / 127.0;
    x.iter()
        .map(|&v| (v / s).round().clamp(-128.0, 127.0) * s)
        .collect()
}

fn summarise(results: &[SampleResult]) -> Summary {
    let n = results.len().max(1);
    let agree = results.iter().filter(|r| r.agrees()).count();
    let confident = results.iter().filter(|r| r.confident()).count();
    let confident_agree = results
        .iter()
        .filter(|r| r.confident() && r.agrees())
        .count();
    Summary {
        samples: results.len(),
        top1_agree: agree,
        top1_agreement: agree as f64 / n as f64,
        confident,
        confident_agree,
        confident_agreement: if confident == 0 {
            1.0
        } else {
            confident_agree as f64 / confident as f64
        },
        mean_top5_overlap: results.iter().map(|r| r.top5_overlap as f64).sum::<f64>() / n as f64,
    }
}

fn compare(name: &str, float_probs: &[f32], probs: &[f32]) -> SampleResult {
    let ft = top_k(float_probs, 5);
    let it = top_k(probs, 5);
    SampleResult {
        name: name.to_string(),
        float_top1: ft[0],
        int8_top1: it[0],
        float_margin: float_probs[ft[0]] - float_probs[ft[1]],
        float_prob: float_probs[ft[0]],
        int8_prob: probs[it[0]],
        top5_overlap: overlap(&ft, &it),
    }
}

/// Where the int8 model's disagreement comes from: the float model with one source of error at a
/// time (weights rounded to the LUT, the input to int8, activations to uint8), then the whole
/// int8 model, each judged against the float model on `samples`. `calib` gives the activation
/// scales; `old_calib`, when given, a second set of scales to compare with.
pub fn ablation(
    model: &Model,
    calib: &weights::Calibration,
    old_calib: Option<(&str, &weights::Calibration)>,
    samples: &[Sample],
) -> Result<Vec<AblationRow>> {
    if samples.is_empty() {
        bail!("no samples to measure");
    }
    let scales = |c: &weights::Calibration| c.layers.iter().map(|l| l.s_out).collect::<Vec<_>>();
    let new_scales = scales(calib);
    let old_scales = old_calib.map(|(_, c)| scales(c));
    let w16 = with_rounded_weights(model, weights::quant::WEIGHT_QMAX)?;
    let w8 = with_rounded_weights(model, 127)?;
    let q = QuantModel::from_model(model, calib)?;
    let q8 = QuantModel::from_model_with_qmax(model, calib, 127)?;
    let mut rows: Vec<(String, Vec<SampleResult>)> = vec![
        (
            format!("weights: {}-bit LUT (the engine)", weights::quant::LUT_BITS),
            vec![],
        ),
        ("weights: 8-bit LUT".into(), vec![]),
        ("input: raw 8-bit pixels (the engine)".into(), vec![]),
        ("input: int8 at max|x|/127".into(), vec![]),
        (
            format!("activations: uint8, {} scales", calib.statistic),
            vec![],
        ),
    ];
    if let Some((name, _)) = old_calib {
        rows.push((format!("activations: uint8, {name} scales"), vec![]));
    }
    let q8_old = match old_calib {
        Some((name, c)) => {
            rows.push((format!("int8 model, 8-bit LUT, {name} scales"), vec![]));
            Some(QuantModel::from_model_with_qmax(model, c, 127)?)
        }
        None => None,
    };
    rows.push(("int8 model, 8-bit LUT".into(), vec![]));
    rows.push((
        "int8 model (the engine: all of the above plus requantization)".into(),
        vec![],
    ));
    let per = par_map(samples, |s| -> Result<Vec<SampleResult>> {
        let sm = |l: Vec<f32>| softmax(&l);
        let fp = sm(float::try_forward(model, &s.input)?);
        let mut r = vec![
            sm(float::try_forward(&w16, &s.input)?),
            sm(float::try_forward(&w8, &s.input)?),
            // The raw pixels are the float input exactly (an image of whole 8-bit pixels).
            sm(float::try_forward(model, &{
                let px = weights::quant::pixels_of_input(&s.input);
                let plane = px.len() / 3;
                px.iter()
                    .enumerate()
                    .map(|(i, &p)| p as f32 - weights::topology::INPUT_MEAN_BGR[i / plane])
                    .collect::<Vec<f32>>()
            })?),
            sm(float::try_forward(model, &round_input_int8(&s.input))?),
            sm(float::forward_with(
                model,
                &s.input,
                round_activations(&new_scales),
            )?),
        ];
        if let Some(o) = &old_scales {
            r.push(sm(float::forward_with(
                model,
                &s.input,
                round_activations(o),
            )?));
        }
        if let Some(q) = &q8_old {
            r.push(int8::try_forward(q, &s.input)?.probs);
        }
        r.push(int8::try_forward(&q8, &s.input)?.probs);
        r.push(int8::try_forward(&q, &s.input)?.probs);
        Ok(r.iter().map(|p| compare(&s.name, &fp, p)).collect())
    });
    for one in per {
        for (row, res) in rows.iter_mut().zip(one?) {
            row.1.push(res);
        }
    }
    Ok(rows
        .into_iter()
        .map(|(what, r)| AblationRow {
            what,
            summary: summarise(&r),
        })
        .collect())
}
