//! `weights`: the model side of sqz. Reads the Deep Compression `.net` file ([`net`]), holds the
//! SqueezeNet v1.0 topology as data ([`topology`]), decodes it into a [`Model`] (dense f32 weights plus
//! the compressed code / relative-index streams), quantizes it to the engine's int8 numerics
//! ([`quant`]) and locates the model file and the class names. The model and the class names are
//! also compiled in ([`BUILTIN_NET`], `weights/model/`), the default when no file is named.

pub mod model;
pub mod net;
pub mod quant;
pub mod sha256;
pub mod topology;

pub use model::{
    default_model_path, repo_root, resolve_model, shared_model_path, ClassNames, Layer, Model,
    ModelError, ModelSource, BUILTIN_CLASS_NAMES, BUILTIN_NET, CLASS_NAMES_FILE, MODEL_ENV,
    MODEL_FILE_NAME,
};
pub use net::{NetError, NetFile};
pub use quant::{Calibration, QuantError, QuantLayer, QuantModel};
