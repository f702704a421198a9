//! `emit`: writes the generated engine and its companions into a directory: `sqz_top.v`,
//! `regmap.md`, `regmap.json`, `sqz_regs.h` (all from `spec::regs`), `filelist.f`, and any
//! memory init files. The same function backs the CLI and the Verilator harness's build.rs.

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
    let mut top = SqzTop::new(cfg)?;
    top.connect_all();
    let text = generate_verilog(&top);
    Ok(crate::post::finish(cfg, &text))
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
    Ok(EmitReport { top, files, verilog_lines: v.lines().count() })
}
