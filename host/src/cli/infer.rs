//! `sqz-host infer`: classify images and print the most probable classes, as text or as one
//! JSON document ([`JsonInfer`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::describe;
use super::model::{Labels, ModelArgs};
use crate::backend::{Backend, BackendKind, Ranked};
use crate::image::load_preprocessed;

#[derive(Debug, Args)]
pub struct InferArgs {
    /// PNG or JPEG files to classify.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many classes to print per image.
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top: u16,
}

/// One class of a top-N list in the JSON output.
#[derive(Debug, Serialize)]
pub struct JsonClass<'a> {
    pub rank: usize,
    pub class: usize,
    pub name: Option<&'a str>,
    pub wnid: Option<&'a str>,
    pub probability: f32,
}

/// One image in the JSON output of `infer`: `top` on success, `error` on failure.
#[derive(Debug, Serialize)]
pub struct JsonImage<'a> {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<Vec<JsonClass<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The JSON document printed by `infer --json`.
#[derive(Debug, Serialize)]
pub struct JsonInfer<'a> {
    pub backend: BackendKind,
    /// The model file, or "built-in".
    pub model: String,
    pub model_sha256: String,
    pub results: Vec<JsonImage<'a>>,
}

fn json_classes<'a>(labels: &'a Labels, top: &[Ranked]) -> Vec<JsonClass<'a>> {
    top.iter()
        .enumerate()
        .map(|(i, r)| JsonClass {
            rank: i + 1,
            class: r.class,
            name: labels.name(r.class),
            wnid: labels.wnid(r.class),
            probability: r.probability,
        })
        .collect()
}

/// Classify one image: decode, preprocess, run.
fn classify_file(backend: &Backend, path: &Path, n: usize) -> Result<Vec<Ranked>> {
    let input = load_preprocessed(path)?;
    let scores = backend.classify(&input).with_context(|| {
        format!(
            "running the {} backend on {}",
            backend.kind(),
            path.display()
        )
    })?;
    Ok(scores.top(n))
}

/// `sqz-host infer`. Every image is attempted; a failed one is reported (stderr, and in the JSON
/// as `error`) and makes the command exit non-zero at the end.
pub fn infer(args: &InferArgs, out: &mut dyn Write) -> Result<bool> {
    let loaded = match args.model.load() {
        Ok(l) => l,
        // With --json an error before the first image is still one JSON document.
        Err(e) if args.json => {
            eprintln!("error: {}", describe(&e));
            let doc = serde_json::json!({
                "backend": args.model.backend,
                "error": describe(&e),
                "results": args.images.iter().map(|p| serde_json::json!({
                    "image": p.display().to_string(),
                    "error": "not run: the backend could not be prepared",
                })).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    eprintln!(
        "backend: {}; model: {} (sha256 {})",
        loaded.backend.kind(),
        loaded.model_source,
        &loaded.model_sha256[..16]
    );
    let n = usize::from(args.top);
    let mut all_ok = true;
    let mut json = Vec::new();
    for path in &args.images {
        let result = classify_file(&loaded.backend, path, n);
        if let Err(e) = &result {
            all_ok = false;
            eprintln!("error: {}", describe(e));
        }
        if args.json {
            json.push(match result {
                Ok(top) => JsonImage {
                    image: path.display().to_string(),
                    top: Some(json_classes(&loaded.labels, &top)),
                    error: None,
                },
                Err(e) => JsonImage {
                    image: path.display().to_string(),
                    top: None,
                    error: Some(describe(&e)),
                },
            });
        } else if let Ok(top) = result {
            writeln!(out, "{}", path.display())?;
            for (i, r) in top.iter().enumerate() {
                writeln!(
                    out,
                    "  {:>2}. {:>4}  {:.5}  {}",
                    i + 1,
                    r.class,
                    r.probability,
                    loaded.labels.name(r.class).unwrap_or("")
                )?;
            }
            out.flush()?;
        }
    }
    if args.json {
        let doc = JsonInfer {
            backend: loaded.backend.kind(),
            model: loaded.model_source.to_string(),
            model_sha256: loaded.model_sha256.clone(),
            results: json,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    }
    Ok(all_ok)
}
