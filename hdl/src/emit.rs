//! `emit`: writes the generated engine and its companions into a directory: `sqz_top.v` (every
//! module in one file, no memory init files: every memory is loaded over H2C), `regmap.md`,
//! `regmap.json`, `sqz_regs.h` (all from `spec::regs`) and `filelist.f`. The same function
//! backs the CLI and the Verilator harness's build.rs.

use crate::top::SqzTop;
use anyhow::Context;
use rust_hdl::prelude::*;
use spec::AccelConfig;
use std::path::{Path, PathBuf};

/// What `emit` wrote.
#[derive(Debug, Clone)]
pub struct EmitReport {
    /// The top-level Verilog file.
    pub top: PathBuf,
    /// Every file written, top first.
    pub files: Vec<PathBuf>,
    /// Lines of Verilog in `sqz_top.v`.
    pub verilog_lines: usize,
}

/// The Verilog text of `sqz_top` for `cfg` (module named `sqz_top`).
pub fn verilog(cfg: &AccelConfig) -> anyhow::Result<String> {
    cfg.validate()?;
    // rust-hdl walks the block tree recursively; 256 lanes need more than the default stack.
    let c = cfg.clone();
    let text = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || generate(&c))
        .context("spawning the generator thread")?
        .join()
        .map_err(|_| anyhow::anyhow!("the Verilog generator panicked"))??;
    Ok(crate::post::finish(cfg, &text))
}

fn generate(cfg: &AccelConfig) -> anyhow::Result<String> {
    let text = match cfg.pixel_lanes {
        16 => gen::<16, 128, 4>(cfg)?,
        32 => gen::<32, 256, 8>(cfg)?,
        64 => gen::<64, 512, 16>(cfg)?,
        128 => gen::<128, 1024, 32>(cfg)?,
        256 => gen::<256, 2048, 64>(cfg)?,
        n => anyhow::bail!("no engine instance for pixel_lanes = {n} (16, 32, 64, 128, 256)"),
    };
    Ok(text)
}

// rust-hdl needs the lane count, the bus width (S*8) and the requantizer count (S/4) as
// separate const generics.
fn gen<const S: usize, const S8: usize, const R: usize>(
    cfg: &AccelConfig,
) -> anyhow::Result<String> {
    let mut top = SqzTop::<S, S8, R>::new(cfg)?;
    top.connect_all();
    Ok(generate_verilog(&top))
}

/// Write all generated files for `cfg` into `out_dir` (created if missing).
pub fn emit(cfg: &AccelConfig, out_dir: &Path) -> anyhow::Result<EmitReport> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let v = verilog(cfg)?;
    let mut files = Vec::new();
    let mut write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
        let p = out_dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        files.push(p.clone());
        Ok(p)
    };
    let top = write("sqz_top.v", &v)?;
    write("regmap.md", &spec::regs::to_markdown(cfg))?;
    write("regmap.json", &spec::regs::to_json(cfg))?;
    write("sqz_regs.h", &spec::regs::to_c_header(cfg))?;
    write("filelist.f", "sqz_top.v\n")?;
    Ok(EmitReport {
        top,
        files,
        verilog_lines: v.lines().count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_writes_every_file_with_the_fixed_ports() {
        let cfg = AccelConfig::tiny();
        let dir = std::env::temp_dir().join(format!("sqz-emit-test-{}", std::process::id()));
        let r = emit(&cfg, &dir).unwrap();
        for f in [
            "sqz_top.v",
            "regmap.md",
            "regmap.json",
            "sqz_regs.h",
            "filelist.f",
        ] {
            assert!(dir.join(f).exists(), "{f}");
        }
        let v = std::fs::read_to_string(&r.top).unwrap();
        let header = v
            .lines()
            .find(|l| l.starts_with("module sqz_top("))
            .unwrap();
        for port in [
            "clk",
            "resetn",
            "s_axil_awaddr",
            "s_axil_rresp",
            "s_axis_tdata",
            "s_axis_tkeep",
            "s_axis_tready",
            "m_axis_tdata",
            "m_axis_tkeep",
            "m_axis_tlast",
            "m_axis_tvalid",
            "m_axis_tready",
            "irq",
        ] {
            assert!(
                header.contains(&format!("{port},")) || header.contains(&format!("{port});")),
                "{port}"
            );
        }
        // The register file is generated from the table: every fixed value appears.
        for reg in spec::regs::REGISTERS
            .iter()
            .filter(|r| matches!(r.access, spec::regs::Access::RO) && r.count == 1)
        {
            let v32 = spec::regs::fixed_value(reg, &cfg);
            if !reg.name.starts_with("PERF") && reg.name != "STATUS" {
                assert!(v.contains(&format!("32'h{v32:08X}")), "{}", reg.name);
            }
        }
        // Every sub-module header carries its DECLFILENAME waiver.
        let modules = v.lines().filter(|l| l.starts_with("module ")).count();
        assert_eq!(v.matches("lint_off DECLFILENAME").count(), modules - 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_configs_are_errors_not_panics() {
        let bad = AccelConfig {
            axil_addr_bits: 14,
            ..AccelConfig::tiny()
        };
        assert!(verilog(&bad).is_err());
        let bad = AccelConfig {
            pixel_lanes: 24,
            ..AccelConfig::tiny()
        };
        assert!(verilog(&bad).is_err());
    }
}
