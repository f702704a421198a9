//! The card backends of the command line: the options they share ([`CardArgs`]: device prefix,
//! preset, timeout), [`CardBackend`] (a [`Device`] plus the quantized model, classifying images
//! through the network sequencer), and `sqz-host info`.
//!
//! `--preset` names the configuration the host plans for. With `xdma` it is optional: the card's
//! `CONFIG_HASH` says which preset it was built from, and an explicit `--preset` that disagrees is
//! refused with both names. With `sim` it picks the RTL to build (default `tiny`, which simulates
//! fastest).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use spec::{regs, AccelConfig};
use weights::quant::QuantModel;
use weights::Model;

use crate::backend::{Backend, BackendKind};

use super::model::ModelDevice;
use super::xdma::{XdmaDevice, DEFAULT_PREFIX};
use super::{read_info, read_perf, Device, Timeouts};
use crate::emulate::rtl::RtlCard;
use crate::sequencer::{self, NetOutput, StepReport};

/// Options of the card backends.
#[derive(Clone, Debug, clap::Args)]
pub struct CardArgs {
    /// XDMA device prefix for `--backend xdma` and `info`: PREFIX_user, PREFIX_h2c_0 and
    /// PREFIX_c2h_0 (for an emulated card: DIR/xdma0).
    #[arg(long, value_name = "PREFIX", default_value = DEFAULT_PREFIX)]
    pub device: String,
    /// Engine configuration (nitefury, ecp5, tiny). xdma: default = the card's own; sim: default tiny.
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// Seconds the driver waits for one DMA transfer or one job before giving up
    /// (default: 10 on xdma; 600 on sim, whose RTL runs a few million cycles per second).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<f64>,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds in (0, 86400]")),
    }
}

impl CardArgs {
    fn timeouts(&self, default: Duration) -> Timeouts {
        Timeouts::uniform(self.timeout.map(Duration::from_secs_f64).unwrap_or(default))
    }

    fn preset(&self) -> Result<Option<AccelConfig>> {
        self.preset
            .as_deref()
            .map(AccelConfig::preset)
            .transpose()
            .map_err(Into::into)
    }
}

/// Open the xdma device and settle the configuration: the one asked for, else the card's own.
pub fn open_xdma(args: &CardArgs) -> Result<(XdmaDevice, AccelConfig)> {
    let mut dev = XdmaDevice::open(&args.device, args.timeouts(Timeouts::HARDWARE.dma))?;
    let cfg = match args.preset()? {
        Some(c) => c,
        None => {
            let info = read_info(&mut dev)?;
            if info.id != regs::ID_VALUE {
                // check_identity words the error.
                AccelConfig::tiny()
            } else {
                AccelConfig::preset_for_hash(info.config_hash).with_context(|| {
                    format!(
                        "the card's config hash 0x{:08X} matches no preset ({}): it was built from a custom configuration",
                        info.config_hash,
                        spec::PRESETS.join(", ")
                    )
                })?
            }
        }
    };
    super::check_identity(&mut dev, &cfg)?;
    Ok((dev, cfg))
}

/// A card behind the [`Device`] trait, ready to classify images.
pub struct CardBackend {
    pub dev: Box<dyn Device>,
    pub cfg: AccelConfig,
    /// Keeps the weights on the card between images when they fit.
    pub seq: sequencer::Sequencer,
    /// The last run's full output (layers, counters).
    pub last: Option<NetOutput>,
    /// Show a progress bar per image (the simulated card takes seconds per image).
    pub progress: bool,
}

impl CardBackend {
    pub fn new(
        dev: Box<dyn Device>,
        cfg: AccelConfig,
        model: &QuantModel,
        progress: bool,
    ) -> Result<CardBackend> {
        let seq = sequencer::Sequencer::new(&cfg, model)
            .with_context(|| format!("preparing the network for the {} engine", cfg.name))?;
        Ok(CardBackend {
            dev,
            cfg,
            seq,
            last: None,
            progress,
        })
    }

    /// Counters of the last image.
    pub fn cycle_report(&self) -> Option<CycleReport> {
        self.last.as_ref().map(|o| CycleReport::of(o, &self.cfg))
    }

    /// Run the network; returns (logits, probabilities).
    pub fn classify(&mut self, input: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let steps = sequencer::steps().len() as u64;
        let bar = self.progress.then(|| {
            let b = indicatif::ProgressBar::new(steps);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {msg:>14} [{bar:30}] {pos}/{len} steps, {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(self.dev.name());
            b
        });
        let mut tick = |s: &StepReport| {
            if let Some(b) = &bar {
                b.set_message(s.step);
                b.inc(1);
            }
        };
        let r = self.seq.run(self.dev.as_mut(), input, &mut tick);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let out = r.with_context(|| format!("running the network on {}", self.dev.name()))?;
        let scores = (out.logits.clone(), out.probabilities.clone());
        self.last = Some(out);
        Ok(scores)
    }
}

/// The `--backend` choice made real: reference and float as before, card backends opened and
/// checked (ID, config hash) before any image is read.
pub fn backend(kind: BackendKind, model: Model, args: &CardArgs) -> Result<Backend> {
    let progress = std::io::stderr().is_terminal();
    match kind {
        BackendKind::Xdma => {
            let (dev, cfg) = open_xdma(args)?;
            let q = QuantModel::from_model_committed(&model)
                .context("quantizing the model for the card")?;
            Ok(Backend::Card(
                kind,
                Box::new(Mutex::new(CardBackend::new(
                    Box::new(dev),
                    cfg,
                    &q,
                    progress,
                )?)),
            ))
        }
        BackendKind::Sim => {
            let cfg = args.preset()?.unwrap_or_else(AccelConfig::tiny);
            let card = RtlCard::new(&cfg).context("starting the Verilated engine")?;
            let dev = ModelDevice::new(card, args.timeouts(SIM_TIMEOUT));
            let q = QuantModel::from_model_committed(&model)
                .context("quantizing the model for the card")?;
            Ok(Backend::Card(
                kind,
                Box::new(Mutex::new(CardBackend::new(
                    Box::new(dev),
                    cfg,
                    &q,
                    progress,
                )?)),
            ))
        }
        other => Backend::new(other, model),
    }
}

/// Default wait of the `sim` backend: the RTL runs about two million cycles per second.
const SIM_TIMEOUT: Duration = Duration::from_secs(600);

/// Cycle figures of one network run on a card with `lanes` MAC lanes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CycleReport {
    pub preset: String,
    pub mac_lanes: u32,
    pub cycles: u64,
    pub macs_issued: u64,
    pub dense_macs: u64,
    /// dense MACs / (lanes x cycles).
    pub efficiency: f64,
    /// Images per second at the preset's target clock.
    pub images_per_s_at_target: f64,
    pub target_mhz: u32,
    /// Host time of the image: all of it, and the part spent planning and parsing (the rest is
    /// transfers and waiting for the card).
    pub wall_ms: f64,
    pub host_ms: f64,
    pub layers: Vec<sequencer::LayerReport>,
}

impl CycleReport {
    pub fn of(out: &NetOutput, cfg: &AccelConfig) -> CycleReport {
        let layers: Vec<_> = out.steps.iter().flat_map(|s| s.layers.clone()).collect();
        let cycles: u64 = layers.iter().map(|l| l.perf.busy).sum();
        let dense: u64 = layers.iter().map(|l| l.dense_macs).sum();
        let lanes = cfg.mac_lanes();
        CycleReport {
            preset: cfg.name.clone(),
            mac_lanes: lanes,
            cycles,
            macs_issued: layers.iter().map(|l| l.perf.macs).sum(),
            dense_macs: dense,
            efficiency: if cycles == 0 {
                0.0
            } else {
                dense as f64 / (lanes as f64 * cycles as f64)
            },
            images_per_s_at_target: if cycles == 0 {
                0.0
            } else {
                cfg.target_mhz as f64 * 1e6 / cycles as f64
            },
            target_mhz: cfg.target_mhz,
            wall_ms: out.steps.iter().map(|s| s.wall.as_secs_f64() * 1e3).sum(),
            host_ms: out.host_time().as_secs_f64() * 1e3,
            layers,
        }
    }

    /// A per-layer table.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:<20} {:>12} {:>14} {:>12} {:>8}",
            "layer", "cycles", "MACs issued", "stall", "eff"
        )?;
        for l in &self.layers {
            let eff = if l.perf.busy == 0 {
                0.0
            } else {
                l.dense_macs as f64 / (self.mac_lanes as f64 * l.perf.busy as f64)
            };
            writeln!(
                out,
                "{:<20} {:>12} {:>14} {:>12} {:>8.3}",
                l.layer, l.perf.busy, l.perf.macs, l.perf.stall, eff
            )?;
        }
        writeln!(
            out,
            "total: {} cycles on {} MAC lanes ({}), dense-equivalent efficiency {:.3}, {:.1} images/s at {} MHz",
            self.cycles, self.mac_lanes, self.preset, self.efficiency, self.images_per_s_at_target, self.target_mhz
        )?;
        writeln!(
            out,
            "host: {:.1} ms per image in the sequencer, of which {:.1} ms planning and parsing",
            self.wall_ms, self.host_ms
        )
    }
}

/// `sqz-host info`: identification, state and counters of the card behind `--device`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub card: CardArgs,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct InfoJson {
    device: String,
    id_ok: bool,
    #[serde(flatten)]
    info: super::CardInfo,
    status: u32,
    status_text: String,
    err: u32,
    err_bits: Vec<&'static str>,
    perf: super::Perf,
}

/// Run `info`; `Ok(false)` when the card is not a usable sqz engine (wrong ID or unknown hash).
pub fn info(args: &InfoArgs, out: &mut dyn Write) -> Result<bool> {
    let mut dev = XdmaDevice::open(
        &args.card.device,
        args.card.timeouts(Timeouts::HARDWARE.dma),
    )?;
    let info = read_info(&mut dev)?;
    let status = dev.read_reg(regs::STATUS.offset)?;
    let err = dev.read_reg(regs::ERR.offset)?;
    let perf = read_perf(&mut dev)?;
    let id_ok = info.id == regs::ID_VALUE;
    let doc = InfoJson {
        device: args.card.device.clone(),
        id_ok,
        info: info.clone(),
        status,
        status_text: super::describe_status(status),
        err,
        err_bits: super::err_bits(err).iter().map(|b| b.name).collect(),
        perf,
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        let (maj, min, pat) = info.version;
        writeln!(out, "device      {}", args.card.device)?;
        writeln!(
            out,
            "ID          0x{:08X} {}",
            info.id,
            if id_ok {
                "(sqz engine)"
            } else {
                "(NOT an sqz engine: wrong bitstream or wrong device)"
            }
        )?;
        writeln!(out, "version     {maj}.{min}.{pat}")?;
        writeln!(
            out,
            "config hash 0x{:08X} = {}",
            info.config_hash,
            info.preset
                .as_deref()
                .map(|p| format!("preset `{p}`"))
                .unwrap_or_else(|| "no known preset".into())
        )?;
        writeln!(
            out,
            "engine      {} PE group(s) x {} pixel lanes, {} weight entries",
            info.pe_groups, info.pixel_lanes, info.weight_entries
        )?;
        writeln!(out, "status      {} (0x{status:08X})", doc.status_text)?;
        writeln!(
            out,
            "errors      {}",
            if err == 0 {
                "none".to_string()
            } else {
                doc.err_bits.join(" ")
            }
        )?;
        writeln!(
            out,
            "counters    {} jobs, {} busy cycles, {} MACs, {} stall cycles",
            perf.jobs, perf.busy, perf.macs, perf.stall
        )?;
    }
    if let Some(want) = args.card.preset()? {
        super::check_identity(&mut dev, &want)?;
    }
    if !id_ok {
        bail!(
            "{} is not an sqz engine (ID 0x{:08X})",
            args.card.device,
            info.id
        );
    }
    Ok(info.preset.is_some())
}
