//! `weights` command line: `inspect FILE.net` prints the per-layer table of a Deep Compression
//! model (shape, stored entries, fillers, density, bytes) and the totals; `path` prints the model
//! path that [`weights::default_model_path`] resolves.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use weights::net::{NetFile, HEADER_BYTES};
use weights::topology::total_dense_weights;

#[derive(Parser)]
#[command(
    name = "weights",
    about = "Inspect Deep Compression SqueezeNet .net files"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the per-layer table and totals of a .net file (default: the resolved model).
    Inspect {
        /// The .net file; if omitted, $SQZ_MODEL or ../shared/models/...
        file: Option<PathBuf>,
    },
    /// Print the model path that would be used.
    Path {
        /// An explicit path to check.
        file: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Inspect { file } => inspect(file),
        Cmd::Path { file } => {
            println!(
                "{}",
                weights::default_model_path(file.as_deref())?.display()
            );
            Ok(())
        }
    }
}

fn inspect(file: Option<PathBuf>) -> Result<()> {
    let path = weights::default_model_path(file.as_deref())?;
    let bytes =
        std::fs::read(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let net = NetFile::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    println!(
        "{}: {} bytes, sha256 {}",
        path.display(),
        bytes.len(),
        weights::sha256::sha256_hex(&bytes)
    );
    println!(
        "{:>2}  {:<16} {:>16} {:>6} {:>8} {:>7} {:>7} {:>7} {:>8}",
        "#", "layer", "shape (O,I,K,K)", "s/p", "entries", "fillers", "nonzero", "density", "bytes"
    );
    let mut total_bytes = HEADER_BYTES;
    for (i, l) in net.layers.iter().enumerate() {
        let s = l.spec;
        let shape = format!("{},{},{},{}", s.out_c, s.in_c, s.k, s.k);
        println!(
            "{:>2}  {:<16} {:>16} {:>6} {:>8} {:>7} {:>7} {:>7.3} {:>8}",
            i,
            s.name,
            shape,
            format!("{}/{}", s.stride, s.pad),
            l.entries(),
            l.fillers(),
            l.nonzeros(),
            l.nonzeros() as f64 / s.weight_count() as f64,
            l.file_bytes()
        );
        total_bytes += l.file_bytes();
    }
    let dense = total_dense_weights();
    println!(
        "total: {} entries = {} nonzero weights + {} fillers; {} dense weights, density {:.3}; {} bytes ({} header)",
        net.total_entries(),
        net.total_nonzeros(),
        net.total_fillers(),
        dense,
        net.total_nonzeros() as f64 / dense as f64,
        total_bytes,
        HEADER_BYTES
    );
    Ok(())
}
