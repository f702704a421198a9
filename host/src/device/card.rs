//! The card backends of the command line: the options they share ([`CardArgs`]: device prefix,
//! preset, timeout), [`CardBackend`] (a [`Device`] plus the quantized model, classifying images
//! through the network sequencer), its [`CycleReport`] (the `bench` performance report), and
//! `sqz-host info`.
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
use weights::quant::{Calibration, QuantModel};
use weights::Model;

use crate::backend::{Backend, BackendKind};

use super::model::ModelDevice;
use super::xdma::{XdmaDevice, DEFAULT_PREFIX};
use super::{read_info, read_perf, Device, Timeouts};
use crate::emulate::rtl::RtlCard;
use crate::perf_report::{self, Clocking, H2cBytes, LayerRow, Totals, Traffic};
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

/// Default `--timeout` of the xdma backend: a board's every transfer takes milliseconds; an
/// emulated card (its streams are named pipes) may run the Verilated RTL, a few million cycles a
/// second, as long as the sim backend.
fn default_xdma_timeout(args: &CardArgs) -> Duration {
    if crate::device::xdma::XdmaPaths::new(&args.device).is_emulated() {
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
            let q = QuantModel::from_model(&model, calib)
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
            let q = QuantModel::from_model(&model, calib)
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

/// Cycle figures of one network run on a card with `lanes` MAC lanes: the counters per layer,
/// the per-layer table with its cycle breakdown, totals at a clock and the bytes moved
/// ([`crate::perf_report`] computes them).
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
    /// Host time of the image in the sequencer (wall clock: planning, transfers, waiting for
    /// the card), and the host thread's CPU time in the per-image planning (the input's ACT_IN
    /// packets, each step's packet list) and output parsing (C2H bytes to CHW tensors); image
    /// decoding and preprocessing are not included.
    pub wall_ms: f64,
    pub host_ms: f64,
    pub layers: Vec<sequencer::LayerReport>,
    /// One row per layer: MACs, cycles, ideal, efficiency, utilisation, cycle breakdown.
    pub rows: Vec<LayerRow>,
    /// The image at the clock of [`Clocking`] (`bench --fmax`, else the target clock).
    pub totals: Totals,
    /// Bytes moved per image and their time on the link (`bench --link-gbps`).
    pub traffic: Traffic,
}

impl CycleReport {
    /// The report at the preset's target clock and the default link rate.
    pub fn of(out: &NetOutput, cfg: &AccelConfig) -> CycleReport {
        CycleReport::at(out, cfg, &Clocking::default())
    }

    pub fn at(out: &NetOutput, cfg: &AccelConfig, clock: &Clocking) -> CycleReport {
        let layers: Vec<_> = out.steps.iter().flat_map(|s| s.layers.clone()).collect();
        let cycles: u64 = layers.iter().map(|l| l.perf.busy).sum();
        let dense: u64 = layers.iter().map(|l| l.dense_macs).sum();
        let lanes = cfg.mac_lanes();
        let rows: Vec<LayerRow> = layers
            .iter()
            .map(|l| LayerRow::new(l.layer, l.dense_macs, &l.model, &l.perf, lanes))
            .collect();
        let totals = Totals::of(&rows, lanes, cfg.target_mhz, clock);
        let mut h2c = H2cBytes::default();
        for s in &out.steps {
            h2c += s.h2c;
        }
        let c2h = layers.iter().map(|l| l.out_bytes).sum();
        let hidden =
            layers.iter().map(|l| l.perf.h2c_hidden).sum::<u64>() * spec::STREAM_BYTES as u64;
        let traffic = Traffic::new(h2c, hidden, c2h, &totals, clock);
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
            rows,
            totals,
            traffic,
        }
    }

    /// The same counters projected at another clock and link rate.
    pub fn reclock(mut self, clock: &Clocking) -> CycleReport {
        self.totals = Totals::of(&self.rows, self.mac_lanes, self.target_mhz, clock);
        self.traffic = Traffic::new(
            self.traffic.h2c,
            self.traffic.h2c_hidden_bytes,
            self.traffic.c2h_bytes,
            &self.totals,
            clock,
        );
        self
    }

    /// The per-layer tables, totals, traffic and host time.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        perf_report::print_tables(out, &self.rows, &self.totals)?;
        perf_report::print_totals(
            out,
            &self.totals,
            &self.traffic,
            self.mac_lanes,
            &self.preset,
        )?;
        writeln!(
            out,
            "host: {:.1} ms per image in the sequencer, of which {:.2} ms CPU planning and parsing",
            self.wall_ms, self.host_ms
        )
    }

    /// Per-layer measured vs ideal cycles as an SVG document.
    pub fn svg(&self) -> String {
        perf_report::svg(
            &format!(
                "sqz {} ({} MAC lanes): cycles per layer, measured vs ideal; {} cycles per image, efficiency {:.3}",
                self.preset, self.mac_lanes, self.cycles, self.totals.efficiency
            ),
            &self.rows,
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
    /// The model `infer` would run here ($SQZ_MODEL or "built-in"), and its SHA-256.
    model: String,
    model_sha256: String,
}

/// The model `infer` uses without `--model`: its source and SHA-256 (or why it cannot load).
fn default_model() -> (String, String) {
    match weights::resolve_model(None)
        .and_then(|s| Ok((s.clone(), weights::Model::load_source(&s)?)))
    {
        Ok((s, m)) => (s.to_string(), m.sha256),
        Err(e) => (format!("unusable: {e}"), String::new()),
    }
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
        model: String::new(),
        model_sha256: String::new(),
    };
    let (model, model_sha256) = default_model();
    let doc = InfoJson {
        model,
        model_sha256,
        ..doc
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
        writeln!(
            out,
            "model       {} (sha256 {})",
            doc.model, doc.model_sha256
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Perf;
    use crate::perf_report::{H2cBytes, JobModel};
    use crate::sequencer::LayerReport;
    use reference::int8::QTensor;
    use std::time::Duration;

    /// Two steps of synthetic counters: one conv and one two-layer step.
    fn output() -> NetOutput {
        let layer = |name, busy, stall, e: u64| LayerReport {
            layer: name,
            perf: Perf {
                busy,
                macs: 16 * 3 * e,
                stall,
                jobs: 1,
                ..Default::default()
            },
            dense_macs: 9 * 64 * 8,
            out_bytes: 256,
            model: JobModel::from_channels(16, 4, 60, &[(e, 1), (e, 0)]),
        };
        let h2c = H2cBytes {
            weights: 1000,
            masks: 16,
            activations: 4000,
        };
        let step = |name, layers| StepReport {
            step: name,
            layers,
            h2c_bytes: h2c.total(),
            h2c,
            wall: Duration::from_millis(3),
            host: Duration::from_millis(1),
        };
        NetOutput {
            input: QTensor {
                c: 1,
                h: 1,
                w: 1,
                signed: true,
                data: vec![0],
            },
            layers: Vec::new(),
            logits: Vec::new(),
            probabilities: Vec::new(),
            steps: vec![
                step("a", vec![layer("a", 100, 36, 8)]),
                step("b", vec![layer("b1", 90, 26, 8), layer("b2", 60, 12, 6)]),
            ],
        }
    }

    #[test]
    fn report_json_and_text_carry_the_breakdown() {
        let cfg = AccelConfig::tiny();
        let r = CycleReport::of(&output(), &cfg);
        assert_eq!((r.rows.len(), r.cycles, r.totals.cycles), (3, 250, 250));
        assert_eq!(r.traffic.h2c_bytes, 2 * 5016);
        assert_eq!(r.traffic.c2h_bytes, 3 * 256);
        for row in &r.rows {
            assert_eq!(row.breakdown.total(), row.cycles as i64, "{row:?}");
        }
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["rows"].as_array().unwrap().len(), 3);
        assert_eq!(j["rows"][1]["layer"], "b1");
        assert!(j["rows"][0]["breakdown"]["useful"].as_u64().unwrap() > 0);
        assert!(j["rows"][0]["efficiency"].as_f64().unwrap() > 0.0);
        assert_eq!(j["totals"]["mhz_source"], perf_report::FMAX_TARGET);
        assert_eq!(j["traffic"]["h2c"]["weights"], 2000);
        assert_eq!(j["traffic"]["link_gbps"], 1.6);
        assert!(j["layers"][0]["model"]["entries"].as_u64().is_some());
        // At a P&R clock: the same counters, another time.
        let slow = r.clone().reclock(&Clocking {
            fmax_mhz: Some(37.0),
            link_gbps: 0.5,
        });
        assert_eq!(slow.totals.mhz_source, perf_report::FMAX_GIVEN);
        assert!((slow.totals.compute_ms - 250.0 / 37e3).abs() < 1e-12);
        assert_eq!(slow.traffic.effective_gbps, 0.296_f64.min(0.5));
        let mut text = Vec::new();
        slow.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("b2") && text.contains("lane waste"), "{text}");
        assert!(text.contains("at 37 MHz (P&R Fmax (--fmax))"), "{text}");
        assert_eq!(slow.svg().matches(r#"class="measured""#).count(), 3);
    }
}
