//! `calibrate`: regenerates the committed activation-scale file
//! `weights/data/squeezenet_v1.0_dc.calib.json` from the float reference on the four golden images
//! (`../shared/golden/inputs_4x3x227x227_f32.npy`), and with `--sweep` measures how each candidate
//! statistic (max, high percentiles) makes the int8 model agree with the float model.
//!
//! Usage: `cargo run -p sim --release --bin calibrate -- [--model FILE.net] [--stat max|pNN.N]
//! [--out FILE.json | --check] [--sweep]`.

use anyhow::{bail, Context, Result};
use sim::reference::calib::{calibrate_golden, evaluate, DEFAULT_STATISTIC};
use sim::reference::golden;
use std::path::PathBuf;
use weights::quant::Calibration;
use weights::Model;

struct Args {
    model: Option<PathBuf>,
    stat: String,
    out: Option<PathBuf>,
    check: bool,
    sweep: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        model: None,
        stat: DEFAULT_STATISTIC.to_string(),
        out: None,
        check: false,
        sweep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--model" => a.model = Some(value("--model")?.into()),
            "--stat" => a.stat = value("--stat")?,
            "--out" => a.out = Some(value("--out")?.into()),
            "--check" => a.check = true,
            "--sweep" => a.sweep = true,
            "-h" | "--help" => {
                println!(
                    "calibrate [--model FILE.net] [--stat max|pNN.N] [--out FILE.json | --check] [--sweep]\n\
                     Writes the activation scales (default statistic {DEFAULT_STATISTIC}) to {}",
                    Calibration::committed_path().display()
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let path = weights::default_model_path(args.model.as_deref())?;
    let model = Model::load(&path)?;
    if args.sweep {
        return sweep(&model);
    }
    let calib = calibrate_golden(&model, &args.stat)?;
    let text = calib.to_json();
    let out = args.out.unwrap_or_else(Calibration::committed_path);
    if args.check {
        let old = std::fs::read_to_string(&out)
            .with_context(|| format!("cannot read {}", out.display()))?;
        if old != text {
            bail!(
                "{} differs from a fresh calibration ({})",
                out.display(),
                args.stat
            );
        }
        println!("{} is up to date", out.display());
        return Ok(());
    }
    std::fs::write(&out, &text).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} (statistic {}, model {} sha256 {})",
        out.display(),
        args.stat,
        path.display(),
        model.sha256
    );
    Ok(())
}

fn sweep(model: &Model) -> Result<()> {
    let images = golden::load_inputs()?;
    println!("statistic  | per image (chelsea, coffee, astronaut, motorcycle_left): top1 float/int8 (rank), top5 overlap, cosine | min cosine");
    for stat in [
        "max", "p99.9999", "p99.9995", "p99.999", "p99.998", "p99.995", "p99.99", "p99.9", "p99.5",
    ] {
        let calib = calibrate_golden(model, stat)?;
        let ag = evaluate(model, &calib, &images)?;
        let mut line = format!("{stat:10} |");
        let mut min_cos = f64::INFINITY;
        for a in &ag {
            line += &format!(
                " {}/{} (r{}) {}/5 {:.4} |",
                a.float_top1, a.int8_top1, a.int8_top1_rank_in_float, a.top5_overlap, a.cosine
            );
            min_cos = min_cos.min(a.cosine);
        }
        println!("{line} {min_cos:.4}");
    }
    Ok(())
}
