//! `Model`: the decoded SqueezeNet v1.0 Deep Compression weights (dense f32 per layer plus the
//! compressed code / relative-index streams), where to find the model file
//! ([`default_model_path`]) and the ImageNet class names ([`ClassNames`]).

use crate::net::{NetError, NetFile, CODEBOOK_LEN};
use crate::sha256::sha256_hex;
use crate::topology::{LayerSpec, NUM_CLASSES};
use std::path::{Path, PathBuf};

/// File name of the model in the public repository and in `shared/models`.
pub const MODEL_FILE_NAME: &str = "compressed_SqueezeNet.net";
/// Class names file expected next to the model.
pub const CLASS_NAMES_FILE: &str = "synset_words.txt";
/// Environment variable that points at the model file.
pub const MODEL_ENV: &str = "SQZ_MODEL";
/// Where the model comes from, for error messages.
pub const MODEL_SOURCE: &str = "the public GitHub repository songhan/SqueezeNet-Deep-Compression";

/// Failure to find or load a model or its class names.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid SqueezeNet v1.0 `.net` file.
    #[error("{path} is not a valid SqueezeNet v1.0 Deep Compression .net file: {source}")]
    Net {
        path: PathBuf,
        #[source]
        source: NetError,
    },
    /// The path names something other than a regular file.
    #[error("{path} is not a regular file (a SqueezeNet v1.0 .net model file is expected)")]
    NotAFile { path: PathBuf },
    /// The file is larger than any SqueezeNet v1.0 `.net` file can be.
    #[error("{path} is {bytes} bytes; a SqueezeNet v1.0 Deep Compression .net file is at most {max} bytes")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        max: usize,
    },
    /// No model could be located.
    #[error("model file not found ({tried}). Fetch {MODEL_FILE_NAME} from {MODEL_SOURCE} and pass its path or set {MODEL_ENV}=/path/to/{MODEL_FILE_NAME}")]
    NotFound { tried: String },
    /// The class names file is malformed.
    #[error("{path}: {reason}")]
    ClassNames { path: PathBuf, reason: String },
}

/// One decoded convolution layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Shape and role from the topology.
    pub spec: &'static LayerSpec,
    /// Dense weights, (O,I,K,K) row-major.
    pub weights: Vec<f32>,
    /// One bias per output channel.
    pub bias: Vec<f32>,
    /// The 256-entry shared-weight codebook (`codebook[0] == 0`).
    pub codebook: [f32; CODEBOOK_LEN],
    /// Codebook index of every stored entry (fillers included), in file order.
    pub codes: Vec<u8>,
    /// 4-bit relative index of every stored entry.
    pub rel_idx: Vec<u8>,
}

impl Layer {
    /// Caffe name of the layer.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// Stored entries (nonzeros + fillers).
    pub fn entries(&self) -> usize {
        self.codes.len()
    }

    /// Nonzero weights.
    pub fn nonzeros(&self) -> usize {
        self.weights.iter().filter(|&&w| w != 0.0).count()
    }
}

/// The whole network's weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The 26 layers in topology order.
    pub layers: Vec<Layer>,
    /// Size in bytes of the `.net` file.
    pub file_bytes: u64,
    /// SHA-256 (hex) of the `.net` file; calibration files name the model by it.
    pub sha256: String,
    /// Path it was loaded from, if any.
    pub path: Option<PathBuf>,
}

impl Model {
    /// Load and decode a `.net` file.
    /// A file larger than the format allows ([`crate::net::max_file_bytes`]) is refused before it
    /// is read, and so is anything that is not a regular file (a FIFO, a device).
    pub fn load(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let max = crate::net::max_file_bytes();
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(ModelError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        if meta.len() > max as u64 {
            return Err(ModelError::TooLarge {
                path: path.to_path_buf(),
                bytes: meta.len(),
                max,
            });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() > max {
            return Err(ModelError::TooLarge {
                path: path.to_path_buf(),
                bytes: bytes.len() as u64,
                max,
            });
        }
        let mut m = Model::from_bytes(&bytes).map_err(|source| ModelError::Net {
            path: path.to_path_buf(),
            source,
        })?;
        m.path = Some(path.to_path_buf());
        Ok(m)
    }

    /// Load the model found by [`default_model_path`]`(None)`.
    pub fn load_default() -> Result<Model, ModelError> {
        Model::load(default_model_path(None)?)
    }

    /// Decode a `.net` file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, NetError> {
        let net = NetFile::parse(bytes)?;
        Ok(Model::from_net(&net, bytes))
    }

    fn from_net(net: &NetFile, bytes: &[u8]) -> Model {
        let layers = net
            .layers
            .iter()
            .map(|l| Layer {
                spec: l.spec,
                weights: l.decode_dense(),
                bias: l.bias.clone(),
                codebook: l.codebook,
                codes: l.codes.clone(),
                rel_idx: l.rel_idx.clone(),
            })
            .collect();
        Model {
            layers,
            file_bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            path: None,
        }
    }

    /// Total nonzero weights.
    pub fn nonzeros(&self) -> usize {
        self.layers.iter().map(|l| l.nonzeros()).sum()
    }
}

/// The repository root this crate was built in (the workspace root, parent of `weights/`).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The model file in the shared data folder beside the repository.
pub fn shared_model_path() -> PathBuf {
    repo_root()
        .join("..")
        .join("shared")
        .join("models")
        .join("squeezenet-v1.0-dc")
        .join(MODEL_FILE_NAME)
}

/// The model compiled into the binary (`weights/model/`, see its README): SqueezeNet v1.0 Deep
/// Compression, the same file as songhan/SqueezeNet-Deep-Compression's.
pub const BUILTIN_NET: &[u8] = include_bytes!("../model/compressed_SqueezeNet.net");
/// The 1000 class names compiled into the binary (`synset_words.txt`).
pub const BUILTIN_CLASS_NAMES: &str = include_str!("../model/synset_words.txt");

/// Where a model comes from: a file, or the copy compiled into the binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    File(PathBuf),
    BuiltIn,
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::File(p) => write!(f, "{}", p.display()),
            ModelSource::BuiltIn => write!(f, "built-in"),
        }
    }
}

/// Choose the model: the explicit path if given, else `$SQZ_MODEL`, else the built-in model. A
/// given path (or `$SQZ_MODEL`) that does not exist is an error, never a silent fallback.
pub fn resolve_model(explicit: Option<&Path>) -> Result<ModelSource, ModelError> {
    if explicit.is_some() || std::env::var_os(MODEL_ENV).is_some() {
        return default_model_path(explicit).map(ModelSource::File);
    }
    Ok(ModelSource::BuiltIn)
}

impl Model {
    /// The model compiled into the binary.
    pub fn builtin() -> Model {
        Model::from_bytes(BUILTIN_NET).expect("the built-in model decodes (checked by its test)")
    }

    /// Load the model `source` names.
    pub fn load_source(source: &ModelSource) -> Result<Model, ModelError> {
        match source {
            ModelSource::File(p) => Model::load(p),
            ModelSource::BuiltIn => Ok(Model::builtin()),
        }
    }
}

/// Resolve the model file: the explicit path if given, else `$SQZ_MODEL`, else
/// `<repo>/../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net` if it exists, else an
/// error telling the user where to get the file. A given path that does not exist is an error too.
pub fn default_model_path(explicit: Option<&Path>) -> Result<PathBuf, ModelError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ModelError::NotFound {
                tried: format!("given path {} does not exist", p.display()),
            })
        };
    }
    if let Some(v) = std::env::var_os(MODEL_ENV) {
        let p = PathBuf::from(v);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ModelError::NotFound {
                tried: format!("{MODEL_ENV}={} does not exist", p.display()),
            })
        };
    }
    let shared = shared_model_path();
    if shared.is_file() {
        return Ok(shared);
    }
    Err(ModelError::NotFound {
        tried: format!(
            "no path given, {MODEL_ENV} unset, {} absent",
            shared.display()
        ),
    })
}

/// The 1000 ImageNet class names (Caffe/ILSVRC2012 order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassNames {
    /// WordNet ids, e.g. `n02124075`.
    pub wnids: Vec<String>,
    /// Human-readable names, e.g. `Egyptian cat`.
    pub names: Vec<String>,
}

impl ClassNames {
    /// Parse `synset_words.txt` text: line n = class n, `wnid name, synonyms`.
    pub fn parse(text: &str, path: &Path) -> Result<ClassNames, ModelError> {
        let mut wnids = Vec::with_capacity(NUM_CLASSES);
        let mut names = Vec::with_capacity(NUM_CLASSES);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let (wnid, name) = line.split_once(' ').unwrap_or((line, ""));
            if name.trim().is_empty() {
                return Err(ModelError::ClassNames {
                    path: path.to_path_buf(),
                    reason: format!("line {} has no class name: {line:?}", i + 1),
                });
            }
            wnids.push(wnid.to_string());
            names.push(name.trim().to_string());
        }
        if names.len() != NUM_CLASSES {
            return Err(ModelError::ClassNames {
                path: path.to_path_buf(),
                reason: format!("{} class names, expected {NUM_CLASSES}", names.len()),
            });
        }
        Ok(ClassNames { wnids, names })
    }

    /// Load a class names file.
    pub fn load(path: impl AsRef<Path>) -> Result<ClassNames, ModelError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ClassNames::parse(&text, path)
    }

    /// The class names compiled into the binary.
    pub fn builtin() -> ClassNames {
        ClassNames::parse(BUILTIN_CLASS_NAMES, Path::new("built-in synset_words.txt"))
            .expect("the built-in class names parse (checked by their test)")
    }

    /// The given file; else `synset_words.txt` next to a model file if there is one; else the
    /// built-in names (the network's 1000 classes are fixed by its topology).
    pub fn for_source(
        explicit: Option<&Path>,
        model: &ModelSource,
    ) -> Result<ClassNames, ModelError> {
        if let Some(p) = explicit {
            return ClassNames::load(p);
        }
        if let ModelSource::File(path) = model {
            let beside = path
                .parent()
                .unwrap_or(Path::new("."))
                .join(CLASS_NAMES_FILE);
            if beside.is_file() {
                return ClassNames::load(beside);
            }
        }
        Ok(ClassNames::builtin())
    }

    /// Load the given file, or `synset_words.txt` next to the model file.
    pub fn for_model(explicit: Option<&Path>, model_path: &Path) -> Result<ClassNames, ModelError> {
        match explicit {
            Some(p) => ClassNames::load(p),
            None => {
                let dir = model_path.parent().unwrap_or(Path::new("."));
                ClassNames::load(dir.join(CLASS_NAMES_FILE))
            }
        }
    }

    /// Name of class `i` (the part after the wnid), or `"?"` out of range.
    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map(String::as_str).unwrap_or("?")
    }

    /// Short name: the first synonym (`Egyptian cat`).
    pub fn short_name(&self, i: usize) -> &str {
        self.name(i).split(',').next().unwrap_or("?").trim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in model is the public file (its SHA-256 from the model's README) and decodes;
    /// the built-in class names are the 1000 ImageNet classes.
    #[test]
    fn builtin_model_and_class_names() {
        let m = Model::builtin();
        assert_eq!(m.file_bytes, 675_763);
        assert_eq!(
            m.sha256,
            "e4ab6960ae8cd81505e1c2136921201507e930966c53deaf15862a395b3a3261"
        );
        assert_eq!(m.layers.len(), crate::topology::NUM_LAYERS);
        assert!(m.path.is_none());
        let names = ClassNames::builtin();
        assert_eq!(names.short_name(285), "Egyptian cat");
        assert_eq!(names.wnids.len(), NUM_CLASSES);
    }

    #[test]
    fn a_named_model_that_does_not_exist_is_an_error_not_the_builtin() {
        let e = resolve_model(Some(Path::new("/nonexistent/model.net"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/model.net"), "{e}");
        assert_eq!(ModelSource::BuiltIn.to_string(), "built-in");
    }
}
