//! The report as text: the per-layer table and the breakdown table with their totals
//! ([`print_tables`]), and the totals at the clock with the traffic on the link ([`print_totals`]).

use super::{ratio, Breakdown, LayerRow, Totals, Traffic};

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
