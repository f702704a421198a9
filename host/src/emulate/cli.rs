//! `sqz-host emulate --dir DIR [--preset P] [--card soft|rtl]`: serve an emulated card in DIR until
//! interrupted (or for `--seconds`), so `sqz-host info|infer --backend xdma --device DIR/xdma0`
//! can be tried without a board.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use spec::AccelConfig;

use super::rtl::RtlCard;
use super::soft::SoftCard;
use super::{CardModel, Emulator, EmulatorOptions};

/// What computes the emulated card's jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CardKind {
    /// The functional engine model written from `spec` (instant).
    Soft,
    /// The Verilated RTL of the engine (about two million cycles per second).
    Rtl,
}

#[derive(Debug, clap::Args)]
pub struct EmulateArgs {
    /// Directory for the card's files (xdma0_user, xdma0_h2c_0, xdma0_c2h_0).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Engine configuration the card reports and computes with.
    #[arg(long, value_name = "PRESET", default_value = "tiny")]
    pub preset: String,
    /// The card model behind the files.
    #[arg(long, value_enum, default_value_t = CardKind::Rtl)]
    pub card: CardKind,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_name = "SECONDS")]
    pub seconds: Option<u64>,
}

/// Set by SIGINT/SIGTERM: the serving loop stops and the card's files are removed.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

/// Route SIGINT and SIGTERM to [`request_stop`], so `kill` or Ctrl-C leaves no stale card files
/// behind (a later `info` would otherwise find a dead card's registers).
fn stop_on_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only stores to a static atomic (async-signal-safe);
        // the function pointer has the C signature `signal` expects.
        unsafe {
            libc::signal(
                sig,
                request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

pub fn emulate(args: &EmulateArgs, out: &mut dyn Write) -> Result<bool> {
    let cfg = AccelConfig::preset(&args.preset)?;
    let kind = args.card;
    let model_cfg = cfg.clone();
    let emu = Emulator::start(&args.dir, EmulatorOptions::default(), move || match kind {
        CardKind::Soft => Ok(Box::new(SoftCard::engine(model_cfg)) as Box<dyn CardModel>),
        CardKind::Rtl => RtlCard::new(&model_cfg)
            .map(|c| Box::new(c) as Box<dyn CardModel>)
            .map_err(|e| e.to_string()),
    })
    .with_context(|| format!("starting the emulated card in {}", args.dir.display()))?;
    writeln!(
        out,
        "emulated {} card ({:?} model, config hash 0x{:08X}) serving {}_user, _h2c_0, _c2h_0\nuse: sqz-host info --device {}",
        cfg.name,
        kind,
        cfg.config_hash(),
        emu.prefix(),
        emu.prefix()
    )?;
    out.flush()?;
    stop_on_signals();
    let t0 = Instant::now();
    while emu.is_running() && !STOP_REQUESTED.load(Ordering::SeqCst) {
        if args
            .seconds
            .is_some_and(|s| t0.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = emu
        .stop()
        .map_err(|e| anyhow::anyhow!("the emulated card failed: {e}"))?;
    writeln!(
        out,
        "stopped: {} register writes, {} H2C bytes, {} C2H bytes",
        stats.reg_writes, stats.h2c_bytes, stats.c2h_bytes
    )?;
    Ok(true)
}
