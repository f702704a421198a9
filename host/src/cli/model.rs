//! The options every command that runs the network shares ([`ModelArgs`]: backend, model file,
//! class names, calibration, card options) and what they load ([`Loaded`]: the model source and
//! its hash, the prepared [`Backend`], the class names); plus the model and calibration loaders
//! the sample commands (`fidelity`, `calibrate`) use.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use weights::{ClassNames, ModelSource};

use crate::backend::{Backend, BackendKind};

/// Options shared by every command that runs the network.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Which implementation runs the network. Default: xdma when /dev/xdma0_user exists (a card
    /// with the XDMA driver loaded), else reference; `infer` says which one ran.
    #[arg(long, value_enum, default_value_t = BackendKind::host_default())]
    pub backend: BackendKind,
    /// The Deep Compression model file (compressed_SqueezeNet.net). Default: $SQZ_MODEL, then
    /// the model built into sqz-host (the same public file).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Class names file (synset_words.txt). Default: the one next to the model file, else the
    /// built-in names.
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,
    /// Activation scales for the int8 arithmetic (from `sqz-host calibrate`). Default: the
    /// calibration built in (made from the photos listed in docs/NUMERICS.md).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Card options (sim and xdma backends).
    #[command(flatten)]
    pub card: crate::card::CardArgs,
}

/// Model source, decoded weights and class names, as chosen by [`ModelArgs`].
pub struct Loaded {
    /// The model file, or the built-in model.
    pub model_source: ModelSource,
    /// The model's SHA-256 (hex).
    pub model_sha256: String,
    pub backend: Backend,
    pub labels: Labels,
    /// Time to read, decode and (for int8) quantize the model.
    pub load_time: Duration,
}

/// Class names, or only indices when no names file can be found.
pub struct Labels(Option<ClassNames>);

impl Labels {
    pub fn name(&self, class: usize) -> Option<&str> {
        self.0.as_ref().map(|n| n.short_name(class))
    }
    pub fn wnid(&self, class: usize) -> Option<&str> {
        self.0
            .as_ref()
            .and_then(|n| n.wnids.get(class))
            .map(String::as_str)
    }
}

impl ModelArgs {
    pub fn load(&self) -> Result<Loaded> {
        let model_source = resolve_source(self.model.as_deref())?;
        let t = Instant::now();
        let model = weights::Model::load_source(&model_source)?;
        let model_sha256 = model.sha256.clone();
        let calib = load_calibration(self.calibration.as_deref())?;
        let backend = Backend::with_card(self.backend, model, &calib, &self.card)?;
        let load_time = t.elapsed();
        let labels = match &self.labels {
            // Asked for explicitly: failing to read it is an error.
            Some(p) => Labels(Some(ClassNames::load(p)?)),
            None => match ClassNames::for_source(None, &model_source) {
                Ok(n) => Labels(Some(n)),
                Err(e) => {
                    eprintln!("warning: printing class indices only: {e}");
                    Labels(None)
                }
            },
        };
        Ok(Loaded {
            model_source,
            model_sha256,
            backend,
            labels,
            load_time,
        })
    }
}

/// The calibration at `path`, or the built-in one.
pub fn load_calibration(path: Option<&Path>) -> Result<weights::Calibration> {
    Ok(match path {
        Some(p) => weights::Calibration::load(p)?,
        None => weights::Calibration::committed()?,
    })
}

/// The model `--model` names (or $SQZ_MODEL, or the built-in one); a file path is shown
/// resolved (`/repo/../shared/x` reads better as `/shared/x`).
pub(crate) fn resolve_source(path: Option<&Path>) -> Result<ModelSource> {
    Ok(match weights::resolve_model(path)? {
        ModelSource::File(p) => ModelSource::File(std::fs::canonicalize(&p).unwrap_or(p)),
        s => s,
    })
}

/// The model `--model` names, decoded.
pub(crate) fn load_model(path: Option<&Path>) -> Result<(ModelSource, weights::Model)> {
    let s = resolve_source(path)?;
    let m = weights::Model::load_source(&s)?;
    Ok((s, m))
}
