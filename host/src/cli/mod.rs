//! The `sqz-host` command line: the parser ([`Cli`], [`Command`]), [`run`] (one function per
//! subcommand, each in its own file: [`infer`](mod@infer), [`bench`](mod@bench), `fidelity` and
//! `calibrate` in [`samples`], `info` in [`info`](mod@info), `emulate` in `crate::emulate::cli`),
//! the model options every network command shares ([`model`]), and error reporting.
//!
//! `main.rs` only calls [`main`]. Every failure becomes a message on stderr and a non-zero exit
//! status (1 for runtime errors, 2 for usage errors reported by clap); nothing panics.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub mod bench;
pub mod infer;
pub mod info;
pub mod model;
pub mod samples;

pub use bench::{bench, default_bench_images, BenchArgs, BenchImage, BenchReport, Stats};
pub use infer::{infer, InferArgs, JsonClass, JsonImage, JsonInfer};
pub use model::{load_calibration, Labels, Loaded, ModelArgs};
pub use samples::{calibrate, fidelity, CalibrateArgs, FidelityArgs, SampleArgs};

#[derive(Debug, Parser)]
#[command(
    name = "sqz-host",
    version,
    about = "Run SqueezeNet v1.0 (Deep Compression) on images"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify images and print the most probable ImageNet classes.
    Infer(InferArgs),
    /// Time preprocessing and inference per image.
    Bench(BenchArgs),
    /// Measure how closely the int8 arithmetic (the hardware's) follows the float model on
    /// photos and views of them: top-1 agreement, top-5 overlap, per-layer SQNR.
    Fidelity(FidelityArgs),
    /// Choose the activation scales from your own photos (and views of them) and write a
    /// calibration file for `--calibration`.
    Calibrate(CalibrateArgs),
    /// Identify the card behind --device: ID, version, config hash and its preset, state, counters.
    Info(info::InfoArgs),
    /// Serve an emulated card (XDMA-like files in --dir) for `--backend xdma --device DIR/xdma0`.
    Emulate(crate::emulate::cli::EmulateArgs),
}

/// One line for an error and its causes. Many error types (ours and the `weights` crate's) both
/// print their cause in their message and expose it as `source()`, so a cause whose text is
/// already in the line is not repeated.
pub fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Whether `e` is a write to a closed pipe (e.g. `sqz-host infer ... | head -1`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

/// Run a parsed command line, writing results to `out`. `Ok(false)`: some input failed.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<bool> {
    match &cli.command {
        Command::Infer(a) => infer(a, out),
        Command::Bench(a) => bench(a, out),
        Command::Info(a) => info::info(a, out),
        Command::Fidelity(a) => fidelity(a, out),
        Command::Calibrate(a) => calibrate(a, out),
        Command::Emulate(a) => crate::emulate::cli::emulate(a, out),
    }
}

/// The whole program: parse arguments, run, map the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // The reader went away; nothing more to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;
    use clap::CommandFactory;
    use std::path::PathBuf;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_infer_and_bench() {
        let c = Cli::try_parse_from([
            "sqz-host", "infer", "a.png", "b.jpg", "--top", "3", "--json",
        ])
        .unwrap();
        let Command::Infer(a) = c.command else {
            panic!("not infer")
        };
        assert_eq!(a.images.len(), 2);
        assert_eq!(
            (a.top, a.json, a.model.backend),
            (3, true, BackendKind::Reference)
        );
        let c = Cli::try_parse_from(["sqz-host", "bench", "--backend", "float", "--runs", "2"])
            .unwrap();
        let Command::Bench(b) = c.command else {
            panic!("not bench")
        };
        assert_eq!((b.runs, b.model.backend), (2, BackendKind::Float));
        assert!(b.images.is_empty());
        assert_eq!((b.fmax, b.link_gbps, b.plot), (None, 1.6, None));
        let c = Cli::try_parse_from([
            "sqz-host",
            "bench",
            "--backend",
            "sim",
            "--fmax",
            "37.5",
            "--link-gbps",
            "0.8",
            "--plot",
            "p.svg",
        ])
        .unwrap();
        let Command::Bench(b) = c.command else {
            panic!("not bench")
        };
        assert_eq!(
            (b.fmax, b.link_gbps, b.plot),
            (Some(37.5), 0.8, Some(PathBuf::from("p.svg")))
        );
        // Bad usage is rejected by the parser, not discovered later.
        for bad in [
            &["sqz-host", "infer"][..],
            &["sqz-host", "infer", "a.png", "--top", "0"],
            &["sqz-host", "infer", "a.png", "--backend", "gpu"],
            &["sqz-host", "bench", "--runs", "0"],
            &["sqz-host", "bench", "--fmax", "0"],
            &["sqz-host", "bench", "--fmax", "fast"],
            &["sqz-host", "bench", "--link-gbps", "-1"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn describe_does_not_repeat_causes() {
        let io = io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected end of file");
        let e = anyhow::Error::new(crate::image::ImageError::Read {
            path: "x.png".into(),
            source: io,
        })
        .context("classifying x.png");
        assert_eq!(
            describe(&e),
            "classifying x.png: cannot read image x.png: unexpected end of file"
        );
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&e), "outer: inner");
    }
}
