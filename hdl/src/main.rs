//! The `hdl` command line: `emit` writes the RTL and register map, `lint` runs Verilator's
//! linter on it, `synth` runs Yosys and prints the resources, `pnr` runs nextpnr-ecp5 for Fmax,
//! `vivado` writes a board's Vivado flow (`hdl::board`) and runs it when Vivado is installed.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hdl::tools::{Placer, PnrOptions};
use spec::AccelConfig;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "sqz RTL generator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write sqz_top.v, regmap.md/.json, sqz_regs.h and filelist.f.
    Emit {
        #[arg(long, default_value = "nitefury")]
        preset: String,
        #[arg(long, default_value = "build/rtl")]
        out: PathBuf,
    },
    /// verilator --lint-only -Wall on the emitted Verilog.
    Lint {
        #[arg(long, default_value = "tiny")]
        preset: String,
    },
    /// Yosys + nextpnr-ecp5 (LFE5U-85F, CABGA381, out of context); prints the Fmax.
    Pnr {
        #[arg(long, default_value = "ecp5")]
        preset: String,
        /// Speed grade: 8 is the part constraints/ecp5.lpf names (LFE5U-85F-8BG381); 6 is the
        /// slowest grade (nextpnr's default).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(6..=8))]
        speed: u8,
        /// nextpnr's placement seed: the routed Fmax moves with placement, so a figure is
        /// quoted with its seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// nextpnr's placer.
        #[arg(long, value_enum, default_value_t = Placer::Static)]
        placer: Placer,
        /// Place and route this netlist (the `sqz_top.json` of an earlier run) instead of
        /// synthesizing again: another seed or placer on the same netlist.
        #[arg(long)]
        netlist: Option<PathBuf>,
    },
    /// Yosys synthesis; prints LUT/FF/DSP/BRAM.
    Synth {
        #[arg(long, default_value = "nitefury")]
        preset: String,
        /// xc7a200t, xc7a100t or ecp5.
        #[arg(long, default_value = "xc7a200t")]
        target: String,
    },
    /// Write a board's Vivado batch flow (RTL, early.xdc, normal.xdc, build.tcl, flash.tcl) and
    /// run `vivado -mode batch -source build.tcl` if Vivado is on PATH.
    Vivado {
        /// nitefury or litefury (`spec::board::BOARDS`).
        #[arg(long, default_value = "nitefury")]
        board: String,
        /// Output directory; the board's files go into `<out>/<board>`.
        #[arg(long, default_value = "build/vivado")]
        out: PathBuf,
        /// Only write the files, even if Vivado is installed.
        #[arg(long)]
        no_run: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Emit { preset, out } => {
            let cfg = AccelConfig::preset(&preset)?;
            let r = hdl::emit(&cfg, &out).context("emit")?;
            println!("{cfg}");
            for f in &r.files {
                println!("wrote {}", f.display());
            }
            println!("sqz_top.v: {} lines", r.verilog_lines);
        }
        Cmd::Lint { preset } => {
            let cfg = AccelConfig::preset(&preset)?;
            hdl::tools::lint(&cfg)?;
        }
        Cmd::Pnr {
            preset,
            speed,
            seed,
            placer,
            netlist,
        } => {
            let cfg = AccelConfig::preset(&preset)?;
            let opt = PnrOptions {
                speed,
                seed,
                placer,
                netlist,
            };
            hdl::tools::pnr(&cfg, &opt)?;
        }
        Cmd::Synth { preset, target } => {
            let cfg = AccelConfig::preset(&preset)?;
            hdl::tools::synth(&cfg, &target)?;
        }
        Cmd::Vivado { board, out, no_run } => {
            let b = spec::board::board(&board).with_context(|| {
                let names: Vec<_> = spec::board::BOARDS.iter().map(|b| b.name).collect();
                format!("unknown board {board}; boards: {}", names.join(", "))
            })?;
            let dir = out.join(b.name);
            let w = hdl::board::write(&b, &dir)?;
            println!("{}", b.config());
            for f in &w.files {
                println!("wrote {}", f.display());
            }
            let has_vivado = std::process::Command::new("vivado")
                .arg("-version")
                .output()
                .is_ok_and(|o| o.status.success());
            let cmd = format!(
                "vivado -mode batch -nojournal -log {} -source {}",
                dir.join("vivado.log").display(),
                w.build_tcl.display()
            );
            if has_vivado && !no_run {
                println!("running: {cmd}");
                let st = std::process::Command::new("vivado")
                    .args(["-mode", "batch", "-nojournal", "-log"])
                    .arg(dir.join("vivado.log"))
                    .arg("-source")
                    .arg(&w.build_tcl)
                    .status()
                    .context("running vivado")?;
                anyhow::ensure!(
                    st.success(),
                    "vivado failed ({st}): see {}",
                    dir.join("vivado.log").display()
                );
            } else {
                println!(
                    "{}; build the bitstream and flash image with:\n  {cmd}",
                    if has_vivado {
                        "--no-run"
                    } else {
                        "vivado is not on PATH"
                    }
                );
            }
        }
    }
    Ok(())
}
