//! The card backends of the command line: the options they share ([`CardArgs`]: device prefix,
//! preset, timeout), [`CardBackend`] (a [`Device`] plus the quantized model, classifying images
//! through the network sequencer) and [`backend`] (opening the card `--backend` names); the
//! `bench` performance report of a run is [`CycleReport`] (in `report.rs`), `sqz-host info` is
//! `crate::cli::info`. This sits above the device boundary (`crate::device`), which knows nothing
//! of the sequencer or the report.
//!
//! `--preset` names the configuration the host plans for. With `xdma` it is optional: the card's
//! `CONFIG_HASH` says which preset it was built from, and an explicit `--preset` that disagrees is
//! refused with both names. With `sim` it picks the RTL to build (default `tiny`, which simulates
//! fastest).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use spec::{regs, AccelConfig};
use weights::quant::{Calibration, QuantModel};
use weights::Model;

use crate::backend::{Backend, BackendKind};
use crate::device::model::ModelDevice;
use crate::device::xdma::{XdmaDevice, XdmaPaths, DEFAULT_PREFIX};
use crate::device::{check_identity, read_info, Device, Timeouts};
use crate::emulate::rtl::RtlCard;
use crate::sequencer::{self, NetOutput, StepReport};

mod report;
pub use report::CycleReport;

/// Options of the card backends.
#[derive(Clone, Debug, clap::Args)]
pub struct CardArgs {
    /// XDMA device prefix for `--backend xdma` and `info`: PREFIX_user, PREFIX_h2c_0 and
    /// PREFIX_c2h_0 (for an emulated card: DIR/xdma0).
    #[arg(long, value_name = "PREFIX", default_value = DEFAULT_PREFIX)]
    pub device: String,
    /// Engine configuration (nitefury, litefury, ecp5, tiny). xdma: default = the card's own; sim: default tiny.
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// Seconds the driver waits for one DMA transfer or one job before giving up, an absolute
    /// deadline however the card trickles (default: 10 on a board; 600 on sim and on an
    /// emulated card, whose RTL runs a few million cycles per second).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<f64>,
    /// xdma: when another process holds the card, wait for it (up to --timeout) instead of
    /// failing at once.
    #[arg(long)]
    pub wait: bool,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds in (0, 86400]")),
    }
}

impl CardArgs {
    pub(crate) fn timeouts(&self, default: Duration) -> Timeouts {
        Timeouts::uniform(self.timeout.map(Duration::from_secs_f64).unwrap_or(default))
    }

    pub(crate) fn preset(&self) -> Result<Option<AccelConfig>> {
        self.preset
            .as_deref()
            .map(AccelConfig::preset)
            .transpose()
            .map_err(Into::into)
    }
}

/// Default `--timeout` of the xdma backend: a board's every transfer takes milliseconds; an
/// emulated card (its streams are named pipes) may run the Verilated RTL, a few million cycles a
/// second, as long as the sim backend.
fn default_xdma_timeout(args: &CardArgs) -> Duration {
    if XdmaPaths::new(&args.device).is_emulated() {
        SIM_TIMEOUT
    } else {
        Timeouts::HARDWARE.dma
    }
}

/// Open the xdma device and settle the configuration: the one asked for, else the card's own.
pub fn open_xdma(args: &CardArgs) -> Result<(XdmaDevice, AccelConfig)> {
    let mut dev = XdmaDevice::open(&args.device, args.timeouts(default_xdma_timeout(args)))?;
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
    check_identity(&mut dev, &cfg)?;
    Ok((dev, cfg))
}

/// A card behind the [`Device`] trait, ready to classify images.
pub struct CardBackend {
    pub dev: Box<dyn Device>,
    pub cfg: AccelConfig,
    /// Keeps the weights on the card between images when they fit.
    pub seq: sequencer::Sequencer,
    /// The last run's output (the last layer, logits, counters).
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
        let mut seq = sequencer::Sequencer::new(&cfg, model)
            .with_context(|| format!("preparing the network for the {} engine", cfg.name))?;
        // Classifying needs the last layer only; every job's output is still checked.
        seq.read_layers(false);
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

/// A card backend on `dev`: the model quantized for the card, the sequencer planned for `cfg`.
fn card_backend(
    kind: BackendKind,
    dev: Box<dyn Device>,
    cfg: AccelConfig,
    model: &Model,
    calib: &Calibration,
    progress: bool,
) -> Result<Backend> {
    let q = QuantModel::from_model(model, calib).context("quantizing the model for the card")?;
    Ok(Backend::Card(
        kind,
        Box::new(Mutex::new(CardBackend::new(dev, cfg, &q, progress)?)),
    ))
}

/// The `--backend` choice made real: reference and float as before, card backends opened and
/// checked (ID, config hash) before any image is read.
pub fn backend(
    kind: BackendKind,
    model: Model,
    calib: &Calibration,
    args: &CardArgs,
) -> Result<Backend> {
    let progress = std::io::stderr().is_terminal();
    match kind {
        BackendKind::Xdma => {
            let (mut dev, cfg) = open_xdma(args)?;
            // One user at a time: two processes' jobs would corrupt each other's streams.
            let wait = args
                .wait
                .then(|| args.timeouts(default_xdma_timeout(args)).dma);
            dev.lock(wait)?;
            card_backend(kind, Box::new(dev), cfg, &model, calib, progress)
        }
        BackendKind::Sim => {
            let cfg = args.preset()?.unwrap_or_else(AccelConfig::tiny);
            let card = RtlCard::new(&cfg).context("starting the Verilated engine")?;
            let dev = ModelDevice::new(card, args.timeouts(SIM_TIMEOUT));
            card_backend(kind, Box::new(dev), cfg, &model, calib, progress)
        }
        other => {
            // The software models run no card: card options would be silently ignored.
            let mut given = Vec::new();
            if args.preset.is_some() {
                given.push("--preset");
            }
            if args.timeout.is_some() {
                given.push("--timeout");
            }
            if args.device != DEFAULT_PREFIX {
                given.push("--device");
            }
            if args.wait {
                given.push("--wait");
            }
            if !given.is_empty() {
                anyhow::bail!(
                    "{} applies to the card backends (sim, xdma), not to --backend {other}",
                    given.join(", ")
                );
            }
            Backend::new(other, model, calib)
        }
    }
}

/// Default wait of the `sim` backend: the RTL runs about two million cycles per second.
const SIM_TIMEOUT: Duration = Duration::from_secs(600);
