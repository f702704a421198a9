//! The commands over photo samples and views of them: `sqz-host fidelity` (how closely the int8
//! arithmetic follows the float model, or with `--ablation` where the disagreement comes from)
//! and `sqz-host calibrate` (choose the activation scales, write a calibration file).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::model::{load_calibration, load_model};

/// Where the samples of `fidelity` and `calibrate` come from.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Photos (PNG or JPEG), or folders of them.
    #[arg(required = true, value_name = "IMAGE|DIR")]
    pub images: Vec<PathBuf>,
    /// Views per photo: view 0 is the photo, the others crops, flips and small rotations of it.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub views: u32,
    /// Number of the first view (views FIRST..FIRST+N), to draw views unlike another run's.
    #[arg(long, default_value_t = 0, value_name = "FIRST")]
    pub first_view: u32,
}

impl SampleArgs {
    fn load(&self) -> Result<Vec<crate::fidelity::Sample>> {
        let end = self
            .first_view
            .checked_add(self.views)
            .context("--first-view + --views overflows")?;
        crate::fidelity::load_views(&self.images, self.first_view..end)
    }
}

#[derive(Debug, Args)]
pub struct FidelityArgs {
    #[command(flatten)]
    pub samples: SampleArgs,
    /// The Deep Compression model file. Default: $SQZ_MODEL, then the shared data folder's.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Activation scales (from `sqz-host calibrate`). Default: the built-in calibration.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// List every sample, not only those where int8 and float disagree.
    #[arg(long)]
    pub all: bool,
    /// Measure the arithmetic with a narrower codebook LUT than the engine's 16 bits (what a
    /// smaller multiplier would cost in fidelity; only 16 is what the engine computes).
    #[arg(long, value_name = "BITS", default_value_t = spec::numerics::LUT_BITS as u8,
          value_parser = clap::value_parser!(u8).range(4..=16))]
    pub lut_bits: u8,
    /// Instead: where the disagreement comes from. The float model with one source of error at
    /// a time (weights, input, activations), then the int8 model, each against the float model.
    #[arg(long)]
    pub ablation: bool,
    /// With --ablation: a second calibration whose activation scales get a row of their own.
    #[arg(long, value_name = "FILE", requires = "ablation")]
    pub compare_calibration: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub samples: SampleArgs,
    /// The Deep Compression model file. Default: $SQZ_MODEL, then the shared data folder's.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// How to choose each layer's clipping point: `mse` (least squared error of the int8
    /// model against the float model, layer by layer), `max`, or a percentile `pNN.N`.
    #[arg(long, default_value = reference::calib::DEFAULT_METHOD, value_name = "METHOD")]
    pub method: String,
    /// Where to write the calibration (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `sqz-host fidelity`.
pub fn fidelity(args: &FidelityArgs, out: &mut dyn Write) -> Result<bool> {
    let (model_path, model) = load_model(args.model.as_deref())?;
    let calib = load_calibration(args.calibration.as_deref())?;
    let qmax = (1i32 << (args.lut_bits - 1)) - 1;
    let q = weights::QuantModel::from_model_with_qmax(&model, &calib, qmax)?;
    let samples = args.samples.load()?;
    if args.ablation {
        let other = match &args.compare_calibration {
            Some(p) => Some((p.display().to_string(), weights::Calibration::load(p)?)),
            None => None,
        };
        let rows = crate::fidelity::ablation(
            &model,
            &calib,
            other.as_ref().map(|(n, c)| (n.as_str(), c)),
            &samples,
        )?;
        if args.json {
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
            return Ok(true);
        }
        writeln!(
            out,
            "against the float model on {} samples: top-1 agreement overall | where float margin > {:.2} | mean top-5 overlap",
            samples.len(),
            crate::fidelity::CONFIDENT_MARGIN
        )?;
        for r in rows {
            let s = r.summary;
            writeln!(
                out,
                "  {:64} {:.3} | {:.3} ({}/{}) | {:.2}",
                r.what,
                s.top1_agreement,
                s.confident_agreement,
                s.confident_agree,
                s.confident,
                s.mean_top5_overlap
            )?;
        }
        return Ok(true);
    }
    let r = crate::fidelity::measure(&model, &q, &samples)?;
    if args.json {
        #[derive(Serialize)]
        struct Doc<'a> {
            model: String,
            calibration: String,
            report: &'a crate::fidelity::Report,
        }
        serde_json::to_writer_pretty(
            &mut *out,
            &Doc {
                model: model_path.to_string(),
                calibration: args
                    .calibration
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "built-in".into()),
                report: &r,
            },
        )?;
        writeln!(out)?;
        return Ok(true);
    }
    let s = &r.summary;
    if u32::from(args.lut_bits) == spec::numerics::LUT_BITS {
        writeln!(
            out,
            "the engine's integer arithmetic vs float on {} samples",
            s.samples
        )?;
    } else {
        writeln!(
            out,
            "integer arithmetic with a {}-bit LUT (not the engine's {}) vs float on {} samples",
            args.lut_bits,
            spec::numerics::LUT_BITS,
            s.samples
        )?;
    }
    writeln!(
        out,
        "top-1 agreement            {:>4} / {:<4} = {:.3}",
        s.top1_agree, s.samples, s.top1_agreement
    )?;
    writeln!(
        out,
        "  where float margin > {:.2} {:>4} / {:<4} = {:.3}",
        crate::fidelity::CONFIDENT_MARGIN,
        s.confident_agree,
        s.confident,
        s.confident_agreement
    )?;
    writeln!(
        out,
        "mean top-5 overlap         {:.2} / 5",
        s.mean_top5_overlap
    )?;
    writeln!(
        out,
        "\nper-layer SQNR (float output vs dequantized int8 output, dB):"
    )?;
    for l in &r.layers {
        writeln!(out, "  {:18} {:6.1}", l.layer, l.sqnr_db)?;
    }
    let listed: Vec<_> = r
        .samples
        .iter()
        .filter(|x| args.all || !x.agrees())
        .collect();
    if !listed.is_empty() {
        writeln!(
            out,
            "\n{}sample: float top-1 (p, margin) -> int8 top-1 (p), top-5 overlap",
            if args.all { "" } else { "disagreements, " }
        )?;
        for x in listed {
            writeln!(
                out,
                "  {:28} {:4} ({:.3}, {:.3}) -> {:4} ({:.3}) {}/5{}",
                x.name,
                x.float_top1,
                x.float_prob,
                x.float_margin,
                x.int8_top1,
                x.int8_prob,
                x.top5_overlap,
                if x.agrees() { "" } else { "  differs" }
            )?;
        }
    }
    Ok(true)
}

/// `sqz-host calibrate`.
pub fn calibrate(args: &CalibrateArgs, out: &mut dyn Write) -> Result<bool> {
    let (_, model) = load_model(args.model.as_deref())?;
    let samples = args.samples.load()?;
    let names: Vec<String> = samples.iter().map(|s| s.name.clone()).collect();
    let inputs: Vec<Vec<f32>> = samples.into_iter().map(|s| s.input).collect();
    let calib = reference::calib::calibrate(&model, &inputs, &names, &args.method)?;
    std::fs::write(&args.out, calib.to_json())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(
        out,
        "wrote {} ({} samples, method {}); use it with --calibration {}",
        args.out.display(),
        names.len(),
        args.method,
        args.out.display()
    )?;
    Ok(true)
}
