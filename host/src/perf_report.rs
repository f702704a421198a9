//! The performance report of `sqz-host bench` on a card backend, as pure functions: the
//! planner's cycle model of each job ([`JobModel`], made by `spec::job` with the plan), the
//! per-layer rows (dense and nonzero MACs, cycles, ideal cycles, dense-equivalent efficiency,
//! nonzero utilisation) with a [`Breakdown`] of the measured busy cycles into causes that adds up
//! to the counter exactly, the totals at a clock, the bytes moved per image against the PCIe link,
//! and a hand-written SVG plot of measured vs ideal cycles per layer.
//!
//! The cycle model is the walker of hdl/src/engine.rs: a job issues every weight entry of a
//! channel (fillers included) once per tile of `S` grid positions, one entry per cycle; a tile's
//! last entry waits until >= [`MIN_TILE_CYCLES`] cycles after the previous tile's last (the
//! shared requantizers), and each channel spends [`CHANNEL_FETCH_CYCLES`] fetching its bias and
//! entry count. The card counts busy cycles and `stall` = busy cycles without an issue, so
//! `issued = busy - stall` is measured; the breakdown takes useful work and lane waste from the
//! plan, the short-channel and fetch cycles from the model, the rest of `stall` as measured, and
//! shows any disagreement between model and counters as `remainder` instead of hiding it.

use std::fmt::Write as _;

use serde::Serialize;
use spec::packet::{Packet, PacketType};

use crate::device::Perf;

pub use spec::cycles::{JobModel, CHANNEL_FETCH_CYCLES, MIN_TILE_CYCLES};
/// The link rate assumed when `--link-gbps` is not given: XDMA on PCIe Gen2 x4 (5 GT/s x 4 lanes,
/// 8b/10b = 2 GB/s raw per direction, about 1.6 GB/s of payload after TLP overhead).
pub const DEFAULT_LINK_GBPS: f64 = 1.6;

/// H2C bytes by kind (packet headers included in their packet's kind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct H2cBytes {
    /// Weight entries, codebooks and per-channel bias/count words.
    pub weights: u64,
    /// Output-position masks.
    pub masks: u64,
    /// Input activations (the image, each layer's input).
    pub activations: u64,
}

impl H2cBytes {
    pub fn of(packets: &[Packet]) -> H2cBytes {
        let mut b = H2cBytes::default();
        for p in packets {
            let n = (p.payload.len() as u64 + 1) * spec::STREAM_BYTES as u64;
            match p.ty {
                PacketType::Weights | PacketType::Codebook | PacketType::Bias => b.weights += n,
                PacketType::Mask => b.masks += n,
                PacketType::ActIn | PacketType::ActMid => b.activations += n,
            }
        }
        b
    }
    pub fn total(&self) -> u64 {
        self.weights + self.masks + self.activations
    }
}

impl std::ops::AddAssign for H2cBytes {
    fn add_assign(&mut self, o: H2cBytes) {
        self.weights += o.weights;
        self.masks += o.masks;
        self.activations += o.activations;
    }
}

/// Where a layer's busy cycles went. The fields add up to the measured busy cycles exactly
/// ([`Breakdown::total`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// Nonzero MACs / lanes (rounded to a cycle): the ideal.
    pub useful: u64,
    /// Issued cycles beyond the ideal: lanes on grid positions outside the output (tile
    /// quantisation, junk grid columns, the squeeze's border) and entries that decode to 0.
    pub lane_waste: u64,
    /// No-issue cycles of the minimum tile length (channels with few entries), modelled.
    pub short_channels: u64,
    /// No-issue cycles fetching each channel's bias and count, modelled.
    pub channel_fetch: u64,
    /// No-issue cycles the card counted as C2H back-pressure (`stall_out`, capped at the
    /// no-issue cycles left after the two above).
    pub c2h_stall: u64,
    /// The card's other no-issue cycles: output credits (C2H serializer, max-pool, mid
    /// writes), pipeline drain at the end of the job.
    pub other_stall: u64,
    /// Measured busy cycles minus all of the above: nonzero only where the model and the
    /// counters disagree (issue count differs, or modelled stalls exceed the counted ones).
    pub remainder: i64,
}

impl Breakdown {
    /// Split the counters `p` of one job planned as `m`.
    pub fn of(m: &JobModel, p: &Perf) -> Breakdown {
        let lanes = m.lanes.max(1) as u64;
        let issue = m.issue_cycles();
        let useful = ((m.nonzero_macs() + lanes / 2) / lanes).min(issue);
        let short = m.short_cycles;
        let fetch = m.fetch_cycles();
        let left = p.stall as i64 - short as i64 - fetch as i64;
        let c2h = p.stall_out.min(left.max(0) as u64);
        let other = (left - c2h as i64).max(0) as u64;
        let mut b = Breakdown {
            useful,
            lane_waste: issue - useful,
            short_channels: short,
            channel_fetch: fetch,
            c2h_stall: c2h,
            other_stall: other,
            remainder: 0,
        };
        b.remainder = p.busy as i64 - b.total();
        b
    }
    /// Sum of all fields (= the busy cycles it was made from).
    pub fn total(&self) -> i64 {
        (self.useful
            + self.lane_waste
            + self.short_channels
            + self.channel_fetch
            + self.c2h_stall
            + self.other_stall) as i64
            + self.remainder
    }
}

impl std::ops::AddAssign for Breakdown {
    fn add_assign(&mut self, o: Breakdown) {
        self.useful += o.useful;
        self.lane_waste += o.lane_waste;
        self.short_channels += o.short_channels;
        self.channel_fetch += o.channel_fetch;
        self.c2h_stall += o.c2h_stall;
        self.other_stall += o.other_stall;
        self.remainder += o.remainder;
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// One row of the per-layer table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRow {
    pub layer: &'static str,
    /// K*K*I*O*OH*OW.
    pub dense_macs: u64,
    /// Nonzero weights x output positions.
    pub nonzero_macs: u64,
    /// Busy cycles counted by the card.
    pub cycles: u64,
    /// Cycles in which an entry issued (busy - stall), counted by the card.
    pub issued: u64,
    /// Nonzero MACs / MAC lanes.
    pub ideal_cycles: f64,
    /// Dense MACs / (lanes x cycles).
    pub efficiency: f64,
    /// Nonzero MACs / (lanes x cycles).
    pub utilisation: f64,
    /// Of the lane waste: issue cycles of entries that decode to 0 (fillers).
    pub zero_entry_cycles: u64,
    pub breakdown: Breakdown,
}

impl LayerRow {
    pub fn new(
        layer: &'static str,
        dense_macs: u64,
        m: &JobModel,
        p: &Perf,
        mac_lanes: u32,
    ) -> LayerRow {
        let lanes = mac_lanes as f64;
        let cap = lanes * p.busy as f64;
        LayerRow {
            layer,
            dense_macs,
            nonzero_macs: m.nonzero_macs(),
            cycles: p.busy,
            issued: p.busy.saturating_sub(p.stall),
            ideal_cycles: ratio(m.nonzero_macs() as f64, lanes),
            efficiency: ratio(dense_macs as f64, cap),
            utilisation: ratio(m.nonzero_macs() as f64, cap),
            zero_entry_cycles: m.zero_entry_cycles(),
            breakdown: Breakdown::of(m, p),
        }
    }
}

/// The clock and link a report is projected at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clocking {
    /// The engine clock from place and route (`--fmax`); `None`: the preset's target clock.
    pub fmax_mhz: Option<f64>,
    /// Host<->card payload rate per direction, GB/s (`--link-gbps`).
    pub link_gbps: f64,
}

impl Default for Clocking {
    fn default() -> Self {
        Clocking {
            fmax_mhz: None,
            link_gbps: DEFAULT_LINK_GBPS,
        }
    }
}

/// Totals of one image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    pub cycles: u64,
    pub dense_macs: u64,
    pub nonzero_macs: u64,
    pub ideal_cycles: f64,
    pub efficiency: f64,
    pub utilisation: f64,
    pub breakdown: Breakdown,
    /// The clock the times are projected at, and where it comes from.
    pub mhz: f64,
    pub mhz_source: &'static str,
    /// Compute time (busy cycles at `mhz`) and its rate.
    pub compute_ms: f64,
    pub images_per_s: f64,
}

pub const FMAX_GIVEN: &str = "P&R Fmax (--fmax)";
pub const FMAX_TARGET: &str = "target clock, no P&R figure given";

impl Totals {
    pub fn of(rows: &[LayerRow], mac_lanes: u32, target_mhz: u32, clock: &Clocking) -> Totals {
        let cycles: u64 = rows.iter().map(|r| r.cycles).sum();
        let dense: u64 = rows.iter().map(|r| r.dense_macs).sum();
        let nz: u64 = rows.iter().map(|r| r.nonzero_macs).sum();
        let mut breakdown = Breakdown::default();
        for r in rows {
            breakdown += r.breakdown;
        }
        let (mhz, mhz_source) = match clock.fmax_mhz {
            Some(f) => (f, FMAX_GIVEN),
            None => (target_mhz as f64, FMAX_TARGET),
        };
        let lanes = mac_lanes as f64;
        let compute_s = ratio(cycles as f64, mhz * 1e6);
        Totals {
            cycles,
            dense_macs: dense,
            nonzero_macs: nz,
            ideal_cycles: ratio(nz as f64, lanes),
            efficiency: ratio(dense as f64, lanes * cycles as f64),
            utilisation: ratio(nz as f64, lanes * cycles as f64),
            breakdown,
            mhz,
            mhz_source,
            compute_ms: compute_s * 1e3,
            images_per_s: ratio(1.0, compute_s),
        }
    }
}

/// Bytes moved per image and what they cost on the link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Traffic {
    pub h2c: H2cBytes,
    pub h2c_bytes: u64,
    /// H2C payload bytes the card wrote while a job ran (its `PERF_H2C_HIDDEN` x 8): loaded
    /// under compute.
    pub h2c_hidden_bytes: u64,
    /// Stream time of the rest of H2C, which loads between jobs.
    pub h2c_exposed_ms: f64,
    pub c2h_bytes: u64,
    /// The assumed link payload rate per direction (GB/s).
    pub link_gbps: f64,
    /// What the card's 64-bit streams carry at the clock: STREAM_BYTES x MHz (GB/s).
    pub stream_port_gbps: f64,
    /// min(link, stream port): the rate the bytes actually move at.
    pub effective_gbps: f64,
    pub h2c_ms: f64,
    pub c2h_ms: f64,
    pub compute_ms: f64,
    /// compute + H2C + C2H, nothing overlapped.
    pub serial_ms: f64,
    /// compute + exposed H2C: this engine (C2H drains during each job, the next input streams
    /// in under compute, the rest of H2C loads between jobs).
    pub today_ms: f64,
    /// max(compute, H2C, C2H): both directions under compute (full duplex).
    pub overlapped_ms: f64,
    /// Whether both directions would hide under compute if overlapped.
    pub hides_under_compute: bool,
}

impl Traffic {
    pub fn new(
        h2c: H2cBytes,
        h2c_hidden_bytes: u64,
        c2h_bytes: u64,
        totals: &Totals,
        clock: &Clocking,
    ) -> Traffic {
        let port = spec::STREAM_BYTES as f64 * totals.mhz * 1e6 / 1e9;
        let rate = clock.link_gbps.min(port);
        let ms = |bytes: u64| ratio(bytes as f64, rate * 1e9) * 1e3;
        let (h2c_ms, c2h_ms, compute_ms) = (ms(h2c.total()), ms(c2h_bytes), totals.compute_ms);
        let h2c_exposed_ms = ms(h2c.total().saturating_sub(h2c_hidden_bytes));
        Traffic {
            h2c,
            h2c_bytes: h2c.total(),
            h2c_hidden_bytes,
            h2c_exposed_ms,
            c2h_bytes,
            link_gbps: clock.link_gbps,
            stream_port_gbps: port,
            effective_gbps: rate,
            h2c_ms,
            c2h_ms,
            compute_ms,
            serial_ms: compute_ms + h2c_ms + c2h_ms,
            today_ms: compute_ms + h2c_exposed_ms,
            overlapped_ms: compute_ms.max(h2c_ms).max(c2h_ms),
            hides_under_compute: h2c_ms.max(c2h_ms) <= compute_ms,
        }
    }
}

/// The per-layer table and the breakdown table, with totals.
pub fn print_tables(
    out: &mut dyn std::io::Write,
    rows: &[LayerRow],
    t: &Totals,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<20} {:>12} {:>12} {:>11} {:>11} {:>9} {:>8}",
        "layer", "dense MACs", "nonzero MACs", "cycles", "ideal", "dense eff", "nz util"
    )?;
    let line = |out: &mut dyn std::io::Write,
                name: &str,
                dense: u64,
                nz: u64,
                cycles: u64,
                ideal: f64,
                eff: f64,
                util: f64| {
        writeln!(
            out,
            "{name:<20} {dense:>12} {nz:>12} {cycles:>11} {ideal:>11.0} {eff:>9.3} {util:>8.3}"
        )
    };
    for r in rows {
        line(
            out,
            r.layer,
            r.dense_macs,
            r.nonzero_macs,
            r.cycles,
            r.ideal_cycles,
            r.efficiency,
            r.utilisation,
        )?;
    }
    line(
        out,
        "total",
        t.dense_macs,
        t.nonzero_macs,
        t.cycles,
        t.ideal_cycles,
        t.efficiency,
        t.utilisation,
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "cycles = useful + lane waste + short ch + ch fetch + C2H stall + other stall + remainder"
    )?;
    writeln!(
        out,
        "{:<20} {:>11} {:>10} {:>10} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "layer",
        "cycles",
        "useful",
        "lane waste",
        "short ch",
        "ch fetch",
        "C2H stall",
        "other stall",
        "remainder"
    )?;
    let brk = |out: &mut dyn std::io::Write, name: &str, cycles: u64, b: &Breakdown| {
        writeln!(
            out,
            "{name:<20} {cycles:>11} {:>10} {:>10} {:>9} {:>9} {:>9} {:>11} {:>9}",
            b.useful,
            b.lane_waste,
            b.short_channels,
            b.channel_fetch,
            b.c2h_stall,
            b.other_stall,
            b.remainder
        )
    };
    for r in rows {
        brk(out, r.layer, r.cycles, &r.breakdown)?;
    }
    brk(out, "total", t.cycles, &t.breakdown)?;
    let pct = |x: u64| 100.0 * ratio(x as f64, t.cycles as f64);
    let b = &t.breakdown;
    writeln!(
        out,
        "share of cycles: useful {:.1} %, lane waste {:.1} % (of which zero-weight entries {:.1} %), \
         short channels {:.1} %, channel fetch {:.1} %, C2H stall {:.1} %, other stall {:.1} %",
        pct(b.useful),
        pct(b.lane_waste),
        pct(rows.iter().map(|r| r.zero_entry_cycles).sum()),
        pct(b.short_channels),
        pct(b.channel_fetch),
        pct(b.c2h_stall),
        pct(b.other_stall)
    )
}

/// The totals and traffic lines.
pub fn print_totals(
    out: &mut dyn std::io::Write,
    t: &Totals,
    tr: &Traffic,
    mac_lanes: u32,
    preset: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "total: {} cycles per image on {mac_lanes} MAC lanes ({preset}); dense-equivalent efficiency {:.3}, \
         nonzero utilisation {:.3}",
        t.cycles, t.efficiency, t.utilisation
    )?;
    writeln!(
        out,
        "compute: {:.3} ms per image, {:.1} images/s at {} MHz ({})",
        t.compute_ms,
        t.images_per_s,
        fmt_mhz(t.mhz),
        t.mhz_source
    )?;
    let weights = if tr.h2c.weights == 0 {
        "0 B (resident on the card, sent with the first image only)".to_string()
    } else {
        format!("{} B", tr.h2c.weights)
    };
    writeln!(
        out,
        "bytes per image: H2C {} B = weights/codebooks/biases {weights} + masks {} B + activations {} B; C2H {} B",
        tr.h2c_bytes, tr.h2c.masks, tr.h2c.activations, tr.c2h_bytes
    )?;
    writeln!(
        out,
        "link: {:.2} GB/s per direction assumed (XDMA PCIe Gen2 x4; --link-gbps), the card's 64-bit streams \
         carry {:.2} GB/s at {} MHz: bytes move at {:.2} GB/s",
        tr.link_gbps,
        tr.stream_port_gbps,
        fmt_mhz(t.mhz),
        tr.effective_gbps
    )?;
    writeln!(
        out,
        "stream time: H2C {:.3} ms, C2H {:.3} ms; compute {:.3} ms",
        tr.h2c_ms, tr.c2h_ms, tr.compute_ms
    )?;
    writeln!(
        out,
        "serial (nothing overlapped): compute + H2C + C2H = {:.3} ms/image ({:.1} images/s)",
        tr.serial_ms,
        ratio(1e3, tr.serial_ms),
    )?;
    writeln!(
        out,
        "this engine: C2H drains during each job, and {} of the {} H2C bytes ({:.1} %) loaded while a job ran \
         (PERF_H2C_HIDDEN: each step's output streamed back as the next input, the next step's weights); the rest \
         (the image, masks, what trails a job's end, weights that do not fit beside the running step's) loads \
         between jobs: compute + {:.3} ms = {:.3} ms/image ({:.1} images/s)",
        tr.h2c_hidden_bytes,
        tr.h2c_bytes,
        100.0 * ratio(tr.h2c_hidden_bytes as f64, tr.h2c_bytes as f64),
        tr.h2c_exposed_ms,
        tr.today_ms,
        ratio(1e3, tr.today_ms)
    )?;
    writeln!(
        out,
        "fully overlapped (both directions wholly under compute): {:.3} ms/image ({:.1} images/s); the traffic {}",
        tr.overlapped_ms,
        ratio(1e3, tr.overlapped_ms),
        if tr.hides_under_compute {
            format!(
                "would hide under compute ({:.0} % of it)",
                100.0 * ratio(tr.h2c_ms.max(tr.c2h_ms), tr.compute_ms)
            )
        } else {
            "would NOT hide under compute: link-bound".to_string()
        }
    )
}

fn fmt_mhz(mhz: f64) -> String {
    if mhz.fract() == 0.0 {
        format!("{mhz:.0}")
    } else {
        format!("{mhz:.1}")
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Axis label: 200k, 5M, ...
fn axis_label(v: f64) -> String {
    if v >= 1e9 {
        format!("{}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// Per-layer measured cycles (bars) vs the ideal (nonzero MACs / lanes, a tick per layer) on a
/// log axis, as a standalone SVG document.
pub fn svg(title: &str, rows: &[LayerRow]) -> String {
    let (left, right, top, bottom) = (70.0, 20.0, 60.0, 150.0);
    let slot = 30.0;
    let plot_w = slot * rows.len().max(1) as f64;
    let plot_h = 320.0;
    let (w, h) = (left + plot_w + right, top + plot_h + bottom);
    let positive = rows
        .iter()
        .flat_map(|r| [r.cycles as f64, r.ideal_cycles])
        .filter(|&v| v > 0.0);
    let lo = positive.clone().fold(f64::INFINITY, f64::min);
    let hi = positive.fold(0.0, f64::max);
    // log10 range: from the decade below the smallest value to just above the largest.
    let (a_lo, a_hi) = if hi > 0.0 {
        let l = lo.log10().floor();
        (l, (hi.log10() + 0.1).max(l + 1.0))
    } else {
        (0.0, 1.0)
    };
    let y = |v: f64| -> f64 {
        let l = if v > 0.0 { v.log10() } else { a_lo };
        let f = ((l - a_lo) / (a_hi - a_lo)).clamp(0.0, 1.0);
        top + plot_h * (1.0 - f)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="11">
<rect x="0" y="0" width="{w:.0}" height="{h:.0}" fill="white"/>
<text x="{:.1}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        xml_escape(title)
    );
    // Grid lines and labels at 1, 2 and 5 x 10^e.
    for e in a_lo as i32..=a_hi.floor() as i32 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e);
            if v.log10() > a_hi + 1e-9 {
                continue;
            }
            let yy = y(v);
            let shade = if m == 1.0 { "#bbbbbb" } else { "#e4e4e4" };
            let _ = writeln!(
                s,
                r#"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{shade}"/>
<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left + plot_w,
                left - 6.0,
                yy + 4.0,
                axis_label(v)
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">cycles per image (log)</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    for (i, r) in rows.iter().enumerate() {
        let x0 = left + slot * i as f64;
        let yb = y(r.cycles as f64);
        let yi = y(r.ideal_cycles);
        let name = xml_escape(r.layer);
        let _ = writeln!(
            s,
            r##"<rect class="measured" x="{:.1}" y="{yb:.1}" width="{:.1}" height="{:.1}" fill="#4a7ab5"><title>{name}: {} cycles measured, {:.0} ideal</title></rect>
<line class="ideal" x1="{:.1}" y1="{yi:.1}" x2="{:.1}" y2="{yi:.1}" stroke="#e07b00" stroke-width="3"/>
<text x="{:.1}" y="{:.1}" transform="rotate(-60 {:.1} {:.1})" text-anchor="end">{name}</text>"##,
            x0 + 5.0,
            slot - 10.0,
            top + plot_h - yb,
            r.cycles,
            r.ideal_cycles,
            x0 + 2.0,
            x0 + slot - 2.0,
            x0 + slot / 2.0,
            top + plot_h + 12.0,
            x0 + slot / 2.0,
            top + plot_h + 12.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/>
<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>
<rect x="{:.1}" y="34" width="12" height="12" fill="#4a7ab5"/>
<text x="{:.1}" y="44">measured (busy cycles)</text>
<line x1="{:.1}" y1="40" x2="{:.1}" y2="40" stroke="#e07b00" stroke-width="3"/>
<text x="{:.1}" y="44">ideal (nonzero MACs / lanes)</text>
</svg>"##,
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        left,
        left + 16.0,
        left + 170.0,
        left + 184.0,
        left + 190.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf(busy: u64, stall: u64, stall_out: u64) -> Perf {
        Perf {
            busy,
            stall,
            stall_out,
            jobs: 1,
            ..Default::default()
        }
    }

    #[test]
    fn short_channel_cycles_follow_the_walker() {
        // One channel of 1 entry, 3 tiles: the 2nd and 3rd tile wait 3 cycles each.
        assert_eq!(
            JobModel::from_channels(16, 3, 40, &[(1, 0)]).short_cycles,
            6
        );
        // A second channel of 1 entry: its first tile waits what the fetch does not cover (no
        // cycle with the three fetch cycles), then 3 per tile.
        let m = JobModel::from_channels(16, 3, 40, &[(1, 0), (1, 0)]);
        assert_eq!(
            m.short_cycles,
            6 + MIN_TILE_CYCLES.saturating_sub(CHANNEL_FETCH_CYCLES + 1) + 6
        );
        // 2 entries after a fetch do not wait; 4 entries never wait.
        assert_eq!(
            JobModel::from_channels(16, 2, 20, &[(4, 1), (2, 0)]).short_cycles,
            2
        );
        assert_eq!(
            JobModel::from_channels(16, 5, 20, &[(4, 0), (9, 2)]).short_cycles,
            0
        );
    }

    #[test]
    fn breakdown_adds_up_to_busy_on_a_synthetic_job() {
        // 3 channels: 5 entries (1 filler), 2 entries, 7 entries (2 fillers); 4 tiles of 16
        // positions, 50 of the 64 kept.
        let m = JobModel::from_channels(16, 4, 50, &[(5, 1), (2, 0), (7, 2)]);
        assert_eq!(m.issue_cycles(), 4 * 14);
        assert_eq!(m.nonzero_macs(), 11 * 50);
        // ch 2: 3 tiles after the first wait 2 each; its first tile follows a fetch: no wait.
        assert_eq!(m.short_cycles, 6);
        let f = m.fetch_cycles();
        assert_eq!(f, 3 * CHANNEL_FETCH_CYCLES);
        // A card that issued exactly the model and stalled 6 + f + 20 cycles, 5 of them C2H.
        let stall = 6 + f + 20;
        let p = perf(56 + stall, stall, 5);
        let b = Breakdown::of(&m, &p);
        assert_eq!(b.useful, (550 + 8) / 16);
        assert_eq!(b.useful + b.lane_waste, 56);
        assert_eq!((b.short_channels, b.channel_fetch, b.c2h_stall), (6, f, 5));
        assert_eq!(b.other_stall, 15);
        assert_eq!(b.remainder, 0);
        assert_eq!(b.total(), p.busy as i64);
        // The counters disagree with the model (3 issues more than planned): shown, not hidden.
        let p = perf(56 + 3 + stall, stall, 5);
        let b = Breakdown::of(&m, &p);
        assert_eq!((b.remainder, b.total()), (3, p.busy as i64));
        // Fewer stalls than modelled: negative remainder, other stall 0.
        let p = perf(56 + 8, 8, 0);
        let b = Breakdown::of(&m, &p);
        assert_eq!(
            (b.other_stall, b.remainder, b.total()),
            (0, 8 - 6 - f as i64, 64)
        );
        // Back-pressure counted while the walker issued is capped at the no-issue cycles left.
        let p = perf(56 + 6 + f + 2, 6 + f + 2, 100);
        let b = Breakdown::of(&m, &p);
        assert_eq!((b.c2h_stall, b.other_stall, b.remainder), (2, 0, 0));
    }

    #[test]
    fn rows_totals_and_traffic() {
        let m = JobModel::from_channels(16, 4, 50, &[(5, 1), (2, 0), (7, 2)]);
        let p = perf(100, 44, 0);
        let r = LayerRow::new("x", 9 * 3 * 64, &m, &p, 16);
        assert_eq!(r.issued, 56);
        assert!((r.efficiency - 1728.0 / 1600.0).abs() < 1e-12);
        assert!((r.utilisation - 550.0 / 1600.0).abs() < 1e-12);
        assert!((r.ideal_cycles - 550.0 / 16.0).abs() < 1e-12);
        let rows = vec![r.clone(), LayerRow { layer: "y", ..r }];
        let t = Totals::of(&rows, 16, 150, &Clocking::default());
        assert_eq!((t.cycles, t.breakdown.total()), (200, 200));
        assert_eq!(t.mhz_source, FMAX_TARGET);
        assert!((t.images_per_s - 150e6 / 200.0).abs() < 1e-6);
        let clock = Clocking {
            fmax_mhz: Some(50.0),
            link_gbps: 1.6,
        };
        let t = Totals::of(&rows, 16, 150, &clock);
        assert_eq!(t.mhz_source, FMAX_GIVEN);
        assert!((t.compute_ms - 200.0 / 50e6 * 1e3).abs() < 1e-12);
        // At 50 MHz the 64-bit stream (0.4 GB/s) is slower than the link: it sets the rate.
        let h2c = H2cBytes {
            weights: 800,
            masks: 8,
            activations: 400_000,
        };
        let tr = Traffic::new(h2c, 0, 8000, &t, &clock);
        assert!((tr.effective_gbps - 0.4).abs() < 1e-12);
        assert!((tr.h2c_ms - 400_808.0 / 0.4e9 * 1e3).abs() < 1e-9);
        assert!(!tr.hides_under_compute, "1 ms of H2C vs 4 us of compute");
        assert!((tr.serial_ms - (tr.compute_ms + tr.h2c_ms + tr.c2h_ms)).abs() < 1e-12);
        assert_eq!(tr.overlapped_ms, tr.h2c_ms);
        let big = Totals {
            compute_ms: 10.0,
            ..t.clone()
        };
        assert!(Traffic::new(h2c, 0, 8000, &big, &clock).hides_under_compute);
        // Bytes loaded under compute leave the exposed part only.
        let tr = Traffic::new(h2c, 400_000, 8000, &big, &clock);
        assert!((tr.h2c_exposed_ms - 808.0 / 0.4e9 * 1e3).abs() < 1e-9);
        assert!((tr.today_ms - (10.0 + tr.h2c_exposed_ms)).abs() < 1e-12);
    }

    #[test]
    fn h2c_bytes_by_kind_include_headers() {
        let p = [
            Packet::weights(0, &[(1, 0); 5]).unwrap(),
            Packet::codebook(0, &[0i16; 256]).unwrap(),
            Packet::bias(0, &[(0, 5)]).unwrap(),
            Packet::mask(0, &[true; 70]).unwrap(),
            Packet::act(false, 0, &[1u8; 20]).unwrap(),
        ];
        let b = H2cBytes::of(&p);
        let cb = spec::packet::CODEBOOK_BEATS as u64;
        assert_eq!(b.weights, 8 * ((1 + 2) + (1 + cb) + (1 + 1)));
        assert_eq!(b.masks, 8 * 3);
        assert_eq!(b.activations, 8 * 4);
        let beats: usize = p.iter().map(|p| p.to_beats().len()).sum();
        assert_eq!(b.total(), 8 * beats as u64);
    }

    /// The job models of the real network, planned for `tiny` and `nitefury`: one per layer,
    /// nonzero weights equal to the quantized model's, positions equal to each layer's output,
    /// and the nonzero MACs of the whole network.
    #[test]
    fn real_network_nonzero_macs() {
        use weights::topology::{LAYERS, NUM_LAYERS};
        let path = weights::default_model_path(None).expect("model file");
        let bytes = std::fs::read(&path).unwrap();
        let net = weights::net::NetFile::parse(&bytes).unwrap();
        let q =
            weights::quant::QuantModel::from_model_committed(&weights::Model::load(&path).unwrap())
                .unwrap();
        // Nonzero weights x output positions, from the .net file (`weights inspect`'s
        // "nonzero" column) and from the int8 model the card runs.
        let file_macs: u64 = (0..NUM_LAYERS)
            .map(|i| net.layers[i].nonzeros() as u64 * (LAYERS[i].out_hw * LAYERS[i].out_hw) as u64)
            .sum();
        let q_nonzeros: Vec<u64> = q
            .layers
            .iter()
            .map(|l| l.weights.iter().filter(|&&w| w != 0).count() as u64)
            .collect();
        let q_macs: u64 = (0..NUM_LAYERS)
            .map(|i| q_nonzeros[i] * (LAYERS[i].out_hw * LAYERS[i].out_hw) as u64)
            .sum();
        eprintln!(
            "nonzero MACs: {file_macs} from the .net file ({} nonzeros), {q_macs} in int8 ({} nonzeros); dense {}",
            net.total_nonzeros(),
            q_nonzeros.iter().sum::<u64>(),
            weights::topology::total_dense_macs()
        );
        for cfg in [spec::AccelConfig::tiny(), spec::AccelConfig::nitefury()] {
            let seq = crate::sequencer::Sequencer::new(&cfg, &q).unwrap();
            let models: Vec<&JobModel> = seq.job_models().iter().flatten().collect();
            assert_eq!(models.len(), NUM_LAYERS, "{}", cfg.name);
            for (i, m) in models.iter().enumerate() {
                let l = &LAYERS[i];
                assert_eq!(
                    m.nonzero_weights(),
                    q_nonzeros[i],
                    "{} {}",
                    cfg.name,
                    l.name
                );
                assert_eq!(
                    m.positions,
                    (l.out_hw * l.out_hw) as u64,
                    "{} {}",
                    cfg.name,
                    l.name
                );
                assert_eq!(m.out_c as usize, l.out_c);
                assert!(
                    m.lanes == cfg.pixel_lanes && m.ntiles as u64 * m.lanes as u64 >= m.positions
                );
            }
            let total: u64 = models.iter().map(|m| m.nonzero_macs()).sum();
            assert_eq!(total, q_macs, "{}", cfg.name);
        }
        // `weights inspect`: 415,921 nonzero weights in the file, 443.2 M nonzero MACs; 47 of
        // them round to 0 in the 16-bit LUT and are not issued (443.19 M MACs).
        assert_eq!(net.total_nonzeros(), 415_921);
        assert_eq!(file_macs, 443_223_545);
        assert_eq!(q_nonzeros.iter().sum::<u64>(), 415_874);
        assert_eq!(q_macs, 443_189_282);
    }

    /// A small well-formedness check: tags nest and close, attributes are quoted, `&` starts an
    /// entity; returns the element names in document order.
    fn xml_elements(doc: &str) -> Result<Vec<String>, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = doc;
        let mut roots = 0;
        while let Some(i) = rest.find(['<', '&']) {
            if stack.is_empty() && !rest[..i].trim().is_empty() {
                return Err(format!("text outside the root: {:?}", &rest[..i]));
            }
            rest = &rest[i..];
            if rest.starts_with('&') {
                let end = rest.find(';').ok_or("unterminated entity")?;
                if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&&rest[..=end]) {
                    return Err(format!("bad entity {}", &rest[..=end]));
                }
                rest = &rest[end + 1..];
                continue;
            }
            if rest.starts_with("<?") {
                rest = &rest[rest.find("?>").ok_or("unterminated <?")? + 2..];
                continue;
            }
            // Find the tag's end outside quotes.
            let mut quote = None;
            let mut end = None;
            for (j, c) in rest.char_indices().skip(1) {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, '<') => return Err("'<' inside a tag".into()),
                    (None, '>') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("unterminated tag")?;
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .to_string();
            // Attributes: name="value" pairs.
            let mut attrs = body[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}>"))?;
                let after = attrs[eq + 1..].trim_start();
                let q = after.chars().next().ok_or("missing value")?;
                if q != '"' && q != '\'' {
                    return Err(format!("unquoted attribute in <{name}>"));
                }
                let close = after[1..].find(q).ok_or("unterminated value")?;
                attrs = after[close + 2..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        if !stack.is_empty() || roots != 1 {
            return Err(format!("unclosed {stack:?} or {roots} roots"));
        }
        Ok(names)
    }

    #[test]
    fn svg_is_well_formed_with_one_bar_per_layer() {
        let m = JobModel::from_channels(16, 4, 50, &[(5, 1), (2, 0), (7, 2)]);
        let names = ["conv1", "fire2/squeeze1x1", "a&b<c>", "zero"];
        let rows: Vec<LayerRow> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let busy = if i == 3 { 0 } else { 10u64.pow(i as u32 + 3) };
                LayerRow::new(n, 1000, &m, &perf(busy, 0, 0), 16)
            })
            .collect();
        let doc = svg("sqz tiny <test>", &rows);
        let elements = xml_elements(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        assert_eq!(elements[0], "svg");
        assert_eq!(doc.matches(r#"<rect class="measured""#).count(), 4);
        assert_eq!(doc.matches(r#"<line class="ideal""#).count(), 4);
        assert!(doc.contains("a&amp;b&lt;c&gt;") && doc.contains("fire2/squeeze1x1"));
        assert!(doc.contains("measured (busy cycles)") && doc.contains("ideal (nonzero MACs"));
        // Decades from 10 (ideal 34) to 100k (the largest bar) are labelled.
        assert!(doc.contains(">10<") && doc.contains(">100k<"), "{doc}");
        assert!(!doc.contains(">1M<"), "{doc}");
        // The checker itself rejects broken documents.
        assert!(xml_elements("<svg><g></svg>").is_err());
        assert!(xml_elements("<svg a=1/>").is_err());
        assert!(xml_elements("<svg>a & b</svg>").is_err());
    }
}
