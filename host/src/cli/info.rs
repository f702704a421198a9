//! `sqz-host info`: identification (ID, version, config hash and its preset), state, error bits
//! and counters of the card behind `--device`, as text or JSON; only device-level reads.

use std::io::Write;

use anyhow::{bail, Result};
use spec::regs;

use crate::card::CardArgs;
use crate::device::xdma::XdmaDevice;
use crate::device::{
    check_identity, describe_status, err_bits, read_info, read_perf, CardInfo, Device, Perf,
    Timeouts,
};

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
    info: CardInfo,
    status: u32,
    status_text: String,
    err: u32,
    err_bits: Vec<&'static str>,
    perf: Perf,
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
        status_text: describe_status(status),
        err,
        err_bits: err_bits(err).iter().map(|b| b.name).collect(),
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
        check_identity(&mut dev, &want)?;
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
