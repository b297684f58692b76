//! `GET /api/settings/pipelines` from the models that are present, the ControlNet file of a
//! request's `control`, and `POST /api/txt2txt` (text generation with an ONNX causal language
//! model, queued like the image jobs; its result is a `.txt` output).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::Json;
use onnx_web_diffusion::sdxl::is_sdxl;
use onnx_web_diffusion::stable_diffusion::part_path;
use onnx_web_diffusion::text_generation::{is_text_model, GenerateOptions};
use onnx_web_pipelines::txt2txt::Txt2TxtParams;
use onnx_web_pipelines::{Pipelines, Progress};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::jobs::{Deferred, Job, JobSpec};
use crate::models::Catalog;
use crate::naming::{output_hash, unix_time_now, HashParam, NameFields};
use crate::outputs::{write_atomic, OutputWriter};
use crate::params::{
    get_and_clamp_float, get_and_clamp_int, pick_seed, Query, REFERENCE_PIPELINES,
};
use crate::state::AppState;

/// The ONNX file of a listed `control` network (`models/control/<name>.onnx`).
pub fn control_model(catalog: &Catalog, name: Option<&str>) -> Option<PathBuf> {
    let network = catalog.network_of("control", name?)?;
    let path = &network.path;
    (path.extension().is_some_and(|e| e == "onnx") && path.is_file()).then(|| path.clone())
}

fn model_class(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("model_index.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|index| index["_class_name"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// onnx-web's pipeline names (in its order) whose models are present: the SD pipelines with
/// an SD model, the `-sdxl` ones with an SDXL export, `pix2pix` with an instruct-pix2pix model,
/// `controlnet` with a `cnet/` UNet and a ControlNet in `models/control/`, `upscale` with an
/// SD x4 upscaler folder.
pub fn available_pipelines(catalog: &Catalog) -> Vec<&'static str> {
    let dirs: Vec<&Path> = catalog
        .models
        .diffusion
        .iter()
        .map(|m| m.path.as_path())
        .filter(|p| part_path(p, "unet").is_file())
        .collect();
    let sd = dirs.iter().any(|d| !is_sdxl(d));
    let xl = dirs.iter().any(|d| is_sdxl(d));
    let pix2pix = dirs.iter().any(|d| model_class(d).contains("Pix2Pix"));
    let cnet = dirs.iter().any(|d| part_path(d, "cnet").is_file());
    let control = catalog
        .models
        .networks
        .iter()
        .any(|n| n.kind == "control" && control_model(catalog, Some(&n.name)).is_some());
    let upscale = catalog.models.upscaling.iter().any(|m| m.path.is_dir());
    REFERENCE_PIPELINES
        .iter()
        .copied()
        .filter(|name| match *name {
            "controlnet" => cnet && control,
            "pix2pix" => pix2pix,
            "upscale" => upscale,
            name if name.ends_with("-sdxl") => xl,
            _ => sd,
        })
        .collect()
}

pub async fn list_pipelines(State(state): State<Arc<AppState>>) -> Json<Value> {
    let catalog = state.catalog();
    Json(json!(available_pipelines(&catalog)))
}

/// Text models: folders of the models root with `decoder_model.onnx` and `tokenizer.json`.
pub fn text_models(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && is_text_model(path))
        .filter_map(|path| Some((path.file_name()?.to_str()?.to_owned(), path)))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    found.sort();
    found
}

#[derive(Debug, Clone)]
pub struct Txt2TxtJob {
    pub params: Txt2TxtParams,
    /// The response body, written beside the text.
    pub response: Value,
}

/// Generated tokens at most per request.
pub const MAX_TOKENS: i64 = 1024;
/// `max_tokens` when missing, and the least.
pub const MAX_TOKENS_DEFAULT: i64 = 64;
/// `temperature`: default, min, max.
pub const TEMPERATURE: (f64, f64, f64) = (0.8, 0.0, 2.0);
/// `top_k`: default, min, max.
pub const TOP_K: (i64, i64, i64) = (50, 0, 1000);

/// `POST /api/txt2txt?prompt=&model=&max_tokens=&temperature=&top_k=&seed=`: queues the
/// generation and answers at once with the output name; `/api/ready` follows it, and the text
/// (prompt and continuation) is then at `/output/<name>`. `temperature=0` decodes greedily.
pub async fn txt2txt(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let catalog = state.catalog();
    let models = text_models(&catalog.root);
    let names: Vec<&str> = models.iter().map(|(name, _)| name.as_str()).collect();
    let (model, model_dir) = match query.get_not_empty("model") {
        Some(name) => models
            .iter()
            .find(|(n, _)| n == name)
            .cloned()
            .ok_or_else(|| {
                ApiError::field(
                    "model",
                    format!(
                        "unknown text model {name:?}, available: {}",
                        names.join(", ")
                    ),
                )
            })?,
        None => models.first().cloned().ok_or_else(|| {
            ApiError::field(
                "model",
                format!(
                    "no text models (decoder_model.onnx + tokenizer.json) in {}",
                    catalog.root.display()
                ),
            )
        })?,
    };
    let prompt = query
        .get_not_empty("prompt")
        .ok_or_else(|| ApiError::field("prompt", "is required"))?
        .to_owned();
    let max_tokens = get_and_clamp_int(&query, "max_tokens", MAX_TOKENS_DEFAULT, MAX_TOKENS, 1)?;
    let (default, min, max) = TEMPERATURE;
    let temperature = get_and_clamp_float(&query, "temperature", default, max, min)?;
    let (default, min, max) = TOP_K;
    let top_k = get_and_clamp_int(&query, "top_k", default, max, min)?;
    let seed = pick_seed(&query)?;

    let model_path = model_dir.to_string_lossy().into_owned();
    let fields = NameFields {
        mode: "txt2txt",
        model_path: &model_path,
        pipeline: "txt2txt",
        scheduler: "",
        prompt: &prompt,
        negative_prompt: None,
        cfg: temperature,
        seed,
        steps: max_tokens as u32,
        eta: 0.0,
        batch: 1,
        width: 0,
        height: 0,
        extras: vec![HashParam::Int(top_k as u32)],
    };
    let hash = output_hash(&fields);
    let params = Txt2TxtParams {
        model_dir,
        prompt: prompt.clone(),
        options: GenerateOptions {
            max_tokens: max_tokens as usize,
            temperature: temperature as f32,
            top_k: top_k as usize,
            seed: u64::from(seed),
        },
    };
    let build = |time: u64| {
        let name = format!("txt2txt_{seed}_{hash}_{time}_0.txt");
        let response = json!({
            "outputs": [name],
            "params": {
                "model": model,
                "prompt": prompt,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "top_k": top_k,
                "seed": seed,
            },
        });
        let job = Job {
            key: name.clone(),
            outputs: vec![name],
            platform: None,
            spec: JobSpec::Txt2Txt(Txt2TxtJob {
                params: params.clone(),
                response: response.clone(),
            }),
        };
        (job, response)
    };
    let outputs_dir = &state.config.outputs;
    let response = state
        .queue
        .submit_unique(unix_time_now(), build, |key| outputs_dir.join(key).exists())?;
    tracing::info!(job = %response["outputs"][0], "txt2txt queued");
    Ok(Json(response))
}

/// Runs a txt2txt job; returns the writing of its text and JSON sidecar.
pub fn run_job(
    pipelines: &Pipelines,
    writer: &OutputWriter,
    device: &str,
    job: &Job,
    txt2txt: &Txt2TxtJob,
    progress: &Progress,
) -> anyhow::Result<Deferred> {
    let output = onnx_web_pipelines::txt2txt::run(pipelines, device, &txt2txt.params, progress)?;
    tracing::info!(job = %job.key, tokens = output.new_tokens, "txt2txt generated");
    let dir = writer.dir().to_path_buf();
    let name = job.key.clone();
    let mut sidecar = txt2txt.response.clone();
    sidecar["outputs"] = json!(name);
    sidecar["text"] = json!(output.text);
    sidecar["tokens"] = json!(output.new_tokens);
    Ok(Box::new(move || {
        write_atomic(&dir.join(&name), output.text.as_bytes())?;
        write_atomic(
            &dir.join(format!("{name}.json")),
            &serde_json::to_vec(&sidecar)?,
        )
    }))
}
