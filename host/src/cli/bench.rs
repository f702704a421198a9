//! `sqz-host bench`: time preprocessing and inference per image ([`Stats`] over the runs), and on a
//! card backend add the card's cycle report and write its SVG plot.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use super::model::ModelArgs;
use crate::backend::BackendKind;
use crate::image::load_preprocessed;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Images to time. Default: the PNG files of the shared test-image folder.
    #[arg(long, num_args = 1.., value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Timed runs over all images (after the untimed warm-up runs).
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
    /// Untimed warm-up runs over all images before the timed ones (they also surface a bad
    /// image before any timing is printed; on a card the first run loads resident weights).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub warmup: u32,
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
    /// Untimed warm-up runs before them.
    pub warmup: u32,
    pub model_load_ms: f64,
    pub images: Vec<BenchImage>,
    /// Milliseconds per image over all images, per run (end to end).
    pub per_image: Stats,
    /// Card backends: the sequencer's own CPU time per image over every timed image (planning,
    /// packets, streaming the next input, output checks and parsing; not the device's calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_cpu: Option<Stats>,
    /// Card backends: the card's counters for the last image, per layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<crate::card::CycleReport>,
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
    let mut host = Vec::new();
    let mut time_one = |path: &Path| -> Result<(Duration, Duration)> {
        let t = Instant::now();
        let input = load_preprocessed(path)?;
        let pre = t.elapsed();
        let (_, inf) = backend.classify_timed(&input)?;
        host.extend(backend.host_time());
        Ok((pre, inf))
    };
    // Warm-up: also surfaces a bad image before any timing is printed.
    for _ in 0..args.warmup {
        for p in &images {
            time_one(p)?;
        }
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
    // The timed runs' images only.
    let host_cpu = Stats::of(
        &host[host
            .len()
            .saturating_sub((args.runs as usize) * images.len())..],
    );
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
        warmup: args.warmup,
        model_load_ms: loaded.load_time.as_secs_f64() * 1e3,
        images: rows,
        per_image: stats(&per_run)?,
        host_cpu,
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
        "{} timed runs per image after {} warm-up; milliseconds as median / min / max",
        r.runs, r.warmup
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
    if let Some(h) = &r.host_cpu {
        writeln!(
            out,
            "host CPU per image in the sequencer (all timed images): median {:.2} ms, min {:.2}, max {:.2}",
            h.median_ms, h.min_ms, h.max_ms
        )?;
    }
    if let Some(p) = &r.plot {
        writeln!(out, "plot: per-layer cycles vs ideal written to {p}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
