//! The `sqz-host` command line: `infer` (classify images) and `bench` (time them).
//!
//! `main.rs` only calls [`main`]. Every failure becomes a message on stderr and a non-zero exit
//! status (1 for runtime errors, 2 for usage errors reported by clap); nothing panics.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use weights::{ClassNames, ModelSource};

use crate::backend::{Backend, BackendKind, Ranked};
use crate::image::load_preprocessed;

#[derive(Debug, Parser)]
#[command(
    name = "sqz-host",
    version,
    about = "Run SqueezeNet v1.0 (Deep Compression) on images"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify images and print the most probable ImageNet classes.
    Infer(InferArgs),
    /// Time preprocessing and inference per image.
    Bench(BenchArgs),
    /// Measure how closely the int8 arithmetic (the hardware's) follows the float model on
    /// photos and views of them: top-1 agreement, top-5 overlap, per-layer SQNR.
    Fidelity(FidelityArgs),
    /// Choose the activation scales from your own photos (and views of them) and write a
    /// calibration file for `--calibration`.
    Calibrate(CalibrateArgs),
    /// Identify the card behind --device: ID, version, config hash and its preset, state, counters.
    Info(crate::device::card::InfoArgs),
    /// Serve an emulated card (XDMA-like files in --dir) for `--backend xdma --device DIR/xdma0`.
    Emulate(crate::emulate::cli::EmulateArgs),
}

/// Options shared by every command that runs the network.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Which implementation runs the network. Default: xdma when /dev/xdma0_user exists (a card
    /// with the XDMA driver loaded), else reference; `infer` says which one ran.
    #[arg(long, value_enum, default_value_t = BackendKind::host_default())]
    pub backend: BackendKind,
    /// The Deep Compression model file (compressed_SqueezeNet.net). Default: $SQZ_MODEL, then
    /// the model built into sqz-host (the same public file).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Class names file (synset_words.txt). Default: the one next to the model file, else the
    /// built-in names.
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,
    /// Activation scales for the int8 arithmetic (from `sqz-host calibrate`). Default: the
    /// calibration built in (made from the photos listed in docs/NUMERICS.md).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Card options (sim and xdma backends).
    #[command(flatten)]
    pub card: crate::device::card::CardArgs,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// PNG or JPEG files to classify.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many classes to print per image.
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top: u16,
}

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

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Images to time. Default: the PNG files of the shared test-image folder.
    #[arg(long, num_args = 1.., value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Timed runs over all images (after one untimed warm-up run).
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Card backends: the engine clock from place and route, in MHz, for the projected
    /// images/s (default: the preset's target clock, reported as such).
    #[arg(long, value_name = "MHZ", value_parser = parse_mhz)]
    pub fmax: Option<f64>,
    /// Card backends: host<->card payload rate per direction in GB/s (XDMA on PCIe Gen2 x4).
    #[arg(long, value_name = "GBPS", default_value_t = crate::perf_report::DEFAULT_LINK_GBPS,
          value_parser = parse_gbps)]
    pub link_gbps: f64,
    /// Card backends: where to write the SVG plot of per-layer cycles vs the ideal
    /// (default: sqz-bench-PRESET.svg in the current directory).
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
}

fn parse_positive(s: &str, max: f64, unit: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= max => Ok(v),
        _ => Err(format!("`{s}` is not a number of {unit} in (0, {max}]")),
    }
}

fn parse_mhz(s: &str) -> Result<f64, String> {
    parse_positive(s, 2000.0, "MHz")
}

fn parse_gbps(s: &str) -> Result<f64, String> {
    parse_positive(s, 1000.0, "GB/s")
}

/// The shared test images beside the repository, used when `bench` gets no `--images`.
pub fn default_bench_images() -> Result<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/images");
    let entries = std::fs::read_dir(&dir).with_context(|| {
        format!(
            "no --images given and the shared test images {} are unreadable",
            dir.display()
        )
    })?;
    let mut images: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    images.sort();
    if images.is_empty() {
        bail!("no --images given and no PNG files in {}", dir.display());
    }
    Ok(images)
}

/// Model source, decoded weights and class names, as chosen by [`ModelArgs`].
pub struct Loaded {
    /// The model file, or the built-in model.
    pub model_source: ModelSource,
    /// The model's SHA-256 (hex).
    pub model_sha256: String,
    pub backend: Backend,
    pub labels: Labels,
    /// Time to read, decode and (for int8) quantize the model.
    pub load_time: Duration,
}

/// Class names, or only indices when no names file can be found.
pub struct Labels(Option<ClassNames>);

impl Labels {
    pub fn name(&self, class: usize) -> Option<&str> {
        self.0.as_ref().map(|n| n.short_name(class))
    }
    pub fn wnid(&self, class: usize) -> Option<&str> {
        self.0
            .as_ref()
            .and_then(|n| n.wnids.get(class))
            .map(String::as_str)
    }
}

impl ModelArgs {
    pub fn load(&self) -> Result<Loaded> {
        let model_source = resolve_source(self.model.as_deref())?;
        let t = Instant::now();
        let model = weights::Model::load_source(&model_source)?;
        let model_sha256 = model.sha256.clone();
        let calib = load_calibration(self.calibration.as_deref())?;
        let backend = Backend::with_card(self.backend, model, &calib, &self.card)?;
        let load_time = t.elapsed();
        let labels = match &self.labels {
            // Asked for explicitly: failing to read it is an error.
            Some(p) => Labels(Some(ClassNames::load(p)?)),
            None => match ClassNames::for_source(None, &model_source) {
                Ok(n) => Labels(Some(n)),
                Err(e) => {
                    eprintln!("warning: printing class indices only: {e}");
                    Labels(None)
                }
            },
        };
        Ok(Loaded {
            model_source,
            model_sha256,
            backend,
            labels,
            load_time,
        })
    }
}

/// One class of a top-N list in the JSON output.
#[derive(Debug, Serialize)]
pub struct JsonClass<'a> {
    pub rank: usize,
    pub class: usize,
    pub name: Option<&'a str>,
    pub wnid: Option<&'a str>,
    pub probability: f32,
}

/// One image in the JSON output of `infer`: `top` on success, `error` on failure.
#[derive(Debug, Serialize)]
pub struct JsonImage<'a> {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<Vec<JsonClass<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The JSON document printed by `infer --json`.
#[derive(Debug, Serialize)]
pub struct JsonInfer<'a> {
    pub backend: BackendKind,
    /// The model file, or "built-in".
    pub model: String,
    pub model_sha256: String,
    pub results: Vec<JsonImage<'a>>,
}

fn json_classes<'a>(labels: &'a Labels, top: &[Ranked]) -> Vec<JsonClass<'a>> {
    top.iter()
        .enumerate()
        .map(|(i, r)| JsonClass {
            rank: i + 1,
            class: r.class,
            name: labels.name(r.class),
            wnid: labels.wnid(r.class),
            probability: r.probability,
        })
        .collect()
}

/// Classify one image: decode, preprocess, run.
fn classify_file(backend: &Backend, path: &Path, n: usize) -> Result<Vec<Ranked>> {
    let input = load_preprocessed(path)?;
    let scores = backend.classify(&input).with_context(|| {
        format!(
            "running the {} backend on {}",
            backend.kind(),
            path.display()
        )
    })?;
    Ok(scores.top(n))
}

/// `sqz-host infer`. Every image is attempted; a failed one is reported (stderr, and in the JSON
/// as `error`) and makes the command exit non-zero at the end.
pub fn infer(args: &InferArgs, out: &mut dyn Write) -> Result<bool> {
    let loaded = match args.model.load() {
        Ok(l) => l,
        // With --json an error before the first image is still one JSON document.
        Err(e) if args.json => {
            eprintln!("error: {}", describe(&e));
            let doc = serde_json::json!({
                "backend": args.model.backend,
                "error": describe(&e),
                "results": args.images.iter().map(|p| serde_json::json!({
                    "image": p.display().to_string(),
                    "error": "not run: the backend could not be prepared",
                })).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    eprintln!(
        "backend: {}; model: {} (sha256 {})",
        loaded.backend.kind(),
        loaded.model_source,
        &loaded.model_sha256[..16]
    );
    let n = usize::from(args.top);
    let mut all_ok = true;
    let mut json = Vec::new();
    for path in &args.images {
        let result = classify_file(&loaded.backend, path, n);
        if let Err(e) = &result {
            all_ok = false;
            eprintln!("error: {}", describe(e));
        }
        if args.json {
            json.push(match result {
                Ok(top) => JsonImage {
                    image: path.display().to_string(),
                    top: Some(json_classes(&loaded.labels, &top)),
                    error: None,
                },
                Err(e) => JsonImage {
                    image: path.display().to_string(),
                    top: None,
                    error: Some(describe(&e)),
                },
            });
        } else if let Ok(top) = result {
            writeln!(out, "{}", path.display())?;
            for (i, r) in top.iter().enumerate() {
                writeln!(
                    out,
                    "  {:>2}. {:>4}  {:.5}  {}",
                    i + 1,
                    r.class,
                    r.probability,
                    loaded.labels.name(r.class).unwrap_or("")
                )?;
            }
            out.flush()?;
        }
    }
    if args.json {
        let doc = JsonInfer {
            backend: loaded.backend.kind(),
            model: loaded.model_source.to_string(),
            model_sha256: loaded.model_sha256.clone(),
            results: json,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    }
    Ok(all_ok)
}

/// Median, minimum and maximum of a set of durations, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    /// `None` for an empty set. The median of an even count is the mean of the middle two.
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        let mid = ms.len() / 2;
        let median_ms = if ms.len() % 2 == 1 {
            ms[mid]
        } else {
            (ms[mid - 1] + ms[mid]) / 2.0
        };
        Some(Stats {
            median_ms,
            min_ms: ms[0],
            max_ms: ms[ms.len() - 1],
        })
    }
}

/// Timings of one image in `bench`.
#[derive(Debug, Serialize)]
pub struct BenchImage {
    pub image: String,
    /// Decode + resize + crop + mean.
    pub preprocess: Stats,
    /// The forward pass on the backend.
    pub inference: Stats,
    /// Both together.
    pub total: Stats,
}

/// The `bench` result.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub backend: BackendKind,
    /// The model file, or "built-in".
    pub model: String,
    pub model_sha256: String,
    pub runs: u32,
    pub model_load_ms: f64,
    pub images: Vec<BenchImage>,
    /// Milliseconds per image over all images, per run (end to end).
    pub per_image: Stats,
    /// Card backends: the card's counters for the last image, per layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<crate::device::card::CycleReport>,
    /// Card backends: the SVG plot written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
}

/// `sqz-host bench`.
pub fn bench(args: &BenchArgs, out: &mut dyn Write) -> Result<bool> {
    let images = if args.images.is_empty() {
        default_bench_images()?
    } else {
        args.images.clone()
    };
    let loaded = args.model.load()?;
    let backend = &loaded.backend;
    let time_one = |path: &Path| -> Result<(Duration, Duration)> {
        let t = Instant::now();
        let input = load_preprocessed(path)?;
        let pre = t.elapsed();
        let (_, inf) = backend.classify_timed(&input)?;
        Ok((pre, inf))
    };
    // Warm-up: also surfaces a bad image before any timing is printed.
    for p in &images {
        time_one(p)?;
    }
    let mut pre = vec![Vec::new(); images.len()];
    let mut inf = vec![Vec::new(); images.len()];
    let mut tot = vec![Vec::new(); images.len()];
    let mut per_run = Vec::new();
    for _ in 0..args.runs {
        let mut run = Duration::ZERO;
        for (i, p) in images.iter().enumerate() {
            let (a, b) = time_one(p)?;
            pre[i].push(a);
            inf[i].push(b);
            tot[i].push(a + b);
            run += a + b;
        }
        per_run.push(run / images.len() as u32);
    }
    let stats = |s: &[Duration]| Stats::of(s).context("no samples");
    let mut rows = Vec::new();
    for (i, p) in images.iter().enumerate() {
        rows.push(BenchImage {
            image: p.display().to_string(),
            preprocess: stats(&pre[i])?,
            inference: stats(&inf[i])?,
            total: stats(&tot[i])?,
        });
    }
    let clock = crate::perf_report::Clocking {
        fmax_mhz: args.fmax,
        link_gbps: args.link_gbps,
    };
    let card = backend.cycle_report().map(|c| c.reclock(&clock));
    let plot = match &card {
        Some(c) => {
            let path = args
                .plot
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("sqz-bench-{}.svg", c.preset)));
            std::fs::write(&path, c.svg())
                .with_context(|| format!("writing the plot {}", path.display()))?;
            Some(path.display().to_string())
        }
        None => {
            if args.plot.is_some() || args.fmax.is_some() {
                eprintln!(
                    "note: --plot and --fmax apply to the card backends (sim, xdma) only; the {} backend has no cycle counters",
                    backend.kind()
                );
            }
            None
        }
    };
    let report = BenchReport {
        backend: backend.kind(),
        model: loaded.model_source.to_string(),
        model_sha256: loaded.model_sha256.clone(),
        runs: args.runs,
        model_load_ms: loaded.load_time.as_secs_f64() * 1e3,
        images: rows,
        per_image: stats(&per_run)?,
        card,
        plot,
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        print_bench(&report, out)?;
    }
    Ok(true)
}

fn print_bench(r: &BenchReport, out: &mut dyn Write) -> io::Result<()> {
    let s = |s: &Stats| format!("{:9.2} {:9.2} {:9.2}", s.median_ms, s.min_ms, s.max_ms);
    writeln!(out, "backend {}, model {}", r.backend, r.model)?;
    writeln!(
        out,
        "model load (read + decode{}): {:.1} ms",
        if r.backend == BackendKind::Reference {
            " + quantize"
        } else {
            ""
        },
        r.model_load_ms
    )?;
    writeln!(
        out,
        "{} timed runs per image after one warm-up; milliseconds as median / min / max",
        r.runs
    )?;
    writeln!(
        out,
        "{:<24} {:>29} {:>29} {:>29}",
        "image", "preprocess", "inference", "total"
    )?;
    for i in &r.images {
        let name = Path::new(&i.image)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| i.image.clone());
        writeln!(
            out,
            "{name:<24} {} {} {}",
            s(&i.preprocess),
            s(&i.inference),
            s(&i.total)
        )?;
    }
    writeln!(
        out,
        "ms/image (all images, per run): median {:.2}, min {:.2}, max {:.2}",
        r.per_image.median_ms, r.per_image.min_ms, r.per_image.max_ms
    )?;
    if let Some(c) = &r.card {
        c.print(out)?;
    }
    if let Some(p) = &r.plot {
        writeln!(out, "plot: per-layer cycles vs ideal written to {p}")?;
    }
    Ok(())
}

/// One line for an error and its causes. Many error types (ours and the `weights` crate's) both
/// print their cause in their message and expose it as `source()`, so a cause whose text is
/// already in the line is not repeated.
pub fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Whether `e` is a write to a closed pipe (e.g. `sqz-host infer ... | head -1`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

/// The calibration at `path`, or the built-in one.
pub fn load_calibration(path: Option<&Path>) -> Result<weights::Calibration> {
    Ok(match path {
        Some(p) => weights::Calibration::load(p)?,
        None => weights::Calibration::committed()?,
    })
}

/// The model `--model` names (or $SQZ_MODEL, or the built-in one); a file path is shown
/// resolved (`/repo/../shared/x` reads better as `/shared/x`).
fn resolve_source(path: Option<&Path>) -> Result<ModelSource> {
    Ok(match weights::resolve_model(path)? {
        ModelSource::File(p) => ModelSource::File(std::fs::canonicalize(&p).unwrap_or(p)),
        s => s,
    })
}

fn load_model(path: Option<&Path>) -> Result<(ModelSource, weights::Model)> {
    let s = resolve_source(path)?;
    let m = weights::Model::load_source(&s)?;
    Ok((s, m))
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

/// Run a parsed command line, writing results to `out`. `Ok(false)`: some input failed.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<bool> {
    match &cli.command {
        Command::Infer(a) => infer(a, out),
        Command::Bench(a) => bench(a, out),
        Command::Info(a) => crate::device::card::info(a, out),
        Command::Fidelity(a) => fidelity(a, out),
        Command::Calibrate(a) => calibrate(a, out),
        Command::Emulate(a) => crate::emulate::cli::emulate(a, out),
    }
}

/// The whole program: parse arguments, run, map the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // The reader went away; nothing more to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_infer_and_bench() {
        let c = Cli::try_parse_from([
            "sqz-host", "infer", "a.png", "b.jpg", "--top", "3", "--json",
        ])
        .unwrap();
        let Command::Infer(a) = c.command else {
            panic!("not infer")
        };
        assert_eq!(a.images.len(), 2);
        assert_eq!(
            (a.top, a.json, a.model.backend),
            (3, true, BackendKind::Reference)
        );
        let c = Cli::try_parse_from(["sqz-host", "bench", "--backend", "float", "--runs", "2"])
            .unwrap();
        let Command::Bench(b) = c.command else {
            panic!("not bench")
        };
        assert_eq!((b.runs, b.model.backend), (2, BackendKind::Float));
        assert!(b.images.is_empty());
        assert_eq!((b.fmax, b.link_gbps, b.plot), (None, 1.6, None));
        let c = Cli::try_parse_from([
            "sqz-host",
            "bench",
            "--backend",
            "sim",
            "--fmax",
            "37.5",
            "--link-gbps",
            "0.8",
            "--plot",
            "p.svg",
        ])
        .unwrap();
        let Command::Bench(b) = c.command else {
            panic!("not bench")
        };
        assert_eq!(
            (b.fmax, b.link_gbps, b.plot),
            (Some(37.5), 0.8, Some(PathBuf::from("p.svg")))
        );
        // Bad usage is rejected by the parser, not discovered later.
        for bad in [
            &["sqz-host", "infer"][..],
            &["sqz-host", "infer", "a.png", "--top", "0"],
            &["sqz-host", "infer", "a.png", "--backend", "gpu"],
            &["sqz-host", "bench", "--runs", "0"],
            &["sqz-host", "bench", "--fmax", "0"],
            &["sqz-host", "bench", "--fmax", "fast"],
            &["sqz-host", "bench", "--link-gbps", "-1"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn describe_does_not_repeat_causes() {
        let io = io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected end of file");
        let e = anyhow::Error::new(crate::image::ImageError::Read {
            path: "x.png".into(),
            source: io,
        })
        .context("classifying x.png");
        assert_eq!(
            describe(&e),
            "classifying x.png: cannot read image x.png: unexpected end of file"
        );
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&e), "outer: inner");
    }

    #[test]
    fn stats_median_min_max() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let s = Stats::of(&ms(&[5, 1, 9])).unwrap();
        assert_eq!((s.median_ms, s.min_ms, s.max_ms), (5.0, 1.0, 9.0));
        assert_eq!(Stats::of(&ms(&[4, 2, 8, 6])).unwrap().median_ms, 5.0);
        assert!(Stats::of(&[]).is_none());
    }
}
