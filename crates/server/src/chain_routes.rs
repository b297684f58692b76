//! `POST /api/chain` (§1.7): a JSON body, or a multipart form whose `chain` field (or file) holds
//! JSON or YAML, plus `source:<stage>` / `mask:<stage>` images. The chain is checked against the
//! schema, then every stage's parameters are parsed like a query string (params.json defaults
//! and bounds, models resolved), so a bad chain is a 400 naming the stage and field before any
//! job is queued.
//!
//! Differences from onnx-web, on purpose: every error is a 400 (onnx-web answers schema errors,
//! unknown stage types and a missing `defaults` with 500); `defaults` may be left out;
//! `source-txt2img` makes the full stage size (§6.2 quirk not copied).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::Json;
use onnx_web_chain::stages::{self, UPSCALING_STAGES};
use onnx_web_chain::{
    parse_chain, parse_tile_size, ChainPlan, ChainRequest, PlannedStage, StageImage, StageMask,
    StageRequest,
};
use onnx_web_imageops::decode_image;
use onnx_web_pipelines::Border as PipelineBorder;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::images_routes::{check_output_size, stage_options};
use crate::jobs::{ChainJob, Job, JobSpec, OutputMetadata};
use crate::naming::{make_output_names, unix_time_now, NameFields};
use crate::params::{
    build_base_params, build_border, build_highres, build_upscale, ParseContext, Query,
};
use crate::responses::{collect_warnings, image_response};
use crate::routes::metadata_parameters;
use crate::state::AppState;
use crate::uploads::{Uploads, MAX_UPLOAD_PIXELS};

/// Parameters whose values a query string would not carry (lists).
fn query_from(params: &Map<String, Value>, skip: &[&str]) -> Query {
    Query::from_pairs(
        params
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .filter_map(|(k, v)| onnx_web_chain::schema::scalar_text(v).map(|t| (k.clone(), t))),
    )
}

/// The multipart fields of a chain request, by name (the first of each).
async fn read_form(mut form: Multipart) -> Result<HashMap<String, Vec<u8>>, ApiError> {
    let mut fields = HashMap::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(ApiError::field("chain", format!("bad form: {error}"))),
        };
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::field(&name, format!("cannot read the upload: {e}")))?;
        fields.entry(name).or_insert_with(|| bytes.to_vec());
    }
    Ok(fields)
}

/// `POST /api/chain`.
pub async fn chain(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (body, body_type, files) = if is_form {
        let form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::field("chain", format!("bad form: {e}")))?;
        let mut files = read_form(form).await?;
        let body = files
            .remove("chain")
            .ok_or_else(|| ApiError::bad_request("chain pipeline must have a body"))?;
        (body, None, files)
    } else {
        let bytes = axum::body::Bytes::from_request(request, &state)
            .await
            .map_err(|e| ApiError::field("chain", format!("cannot read the body: {e}")))?;
        (bytes.to_vec(), content_type, HashMap::new())
    };
    let chain = parse_chain(&body, body_type.as_deref())
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let files = Arc::new(files);
    let state2 = Arc::clone(&state);
    let (plan, base, size, platform) = {
        let files = Arc::clone(&files);
        tokio::task::spawn_blocking(move || plan_chain(&state2, &chain, &files))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("planning the chain: {e}")))??
    };
    submit(&state, plan, base, size, platform).await
}

pub(crate) type Planned = (
    ChainPlan,
    crate::params::BaseParams,
    onnx_web_pipelines::Size,
    Option<String>,
);

/// Resolves the defaults and every stage (blocking: decodes the uploads).
fn plan_chain(
    state: &AppState,
    chain: &ChainRequest,
    files: &HashMap<String, Vec<u8>>,
) -> Result<Planned, ApiError> {
    let catalog = state.catalog();
    plan_chain_in(&state.parse_context(&catalog), chain, files)
}

/// [`plan_chain`] against a parse context (the fuzz target's sample models).
pub(crate) fn plan_chain_in(
    ctx: &ParseContext<'_>,
    chain: &ChainRequest,
    files: &HashMap<String, Vec<u8>>,
) -> Result<Planned, ApiError> {
    // onnx-web's pipeline_from_json: params from `defaults.params` when present, else
    // `defaults`; the device from `defaults.device`, else `defaults`.
    let defaults = &chain.defaults;
    let params_map = defaults
        .get("params")
        .and_then(Value::as_object)
        .unwrap_or(defaults);
    let mut query = query_from(params_map, &[]);
    if let Some(device) = defaults.get("device").and_then(Value::as_object) {
        if let Some(platform) = device.get("platform").and_then(Value::as_str) {
            query = Query::from_pairs(
                std::iter::once(("platform".to_owned(), platform.to_owned())).chain(
                    params_map.iter().filter_map(|(k, v)| {
                        onnx_web_chain::schema::scalar_text(v).map(|t| (k.clone(), t))
                    }),
                ),
            );
        }
    }
    let (mut base, size, platform) = build_base_params(&query, ctx, "txt2img")
        .map_err(|e| ApiError::bad_request(format!("defaults: {}", e.message())))?;
    for warning in &mut base.warnings {
        *warning = format!("defaults: {warning}");
    }
    let mut stages = Vec::with_capacity(chain.stages.len());
    for (index, stage) in chain.stages.iter().enumerate() {
        let (planned, warnings) = plan_stage(ctx, index, stage, files)?;
        // The response is built from the defaults; the stages' replaced names go with them.
        base.warnings.extend(warnings);
        stages.push(planned);
    }
    Ok((ChainPlan { stages }, base, size, platform))
}

fn stage_error(index: usize, stage: &StageRequest, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "stage {index} {:?} ({}): {message}",
        stage.name, stage.kind
    ))
}

/// A stage's plan, and the names replaced in its parameters (`crate::names`), each prefixed with
/// the stage.
fn plan_stage(
    ctx: &ParseContext<'_>,
    index: usize,
    stage: &StageRequest,
    files: &HashMap<String, Vec<u8>>,
) -> Result<(PlannedStage, Vec<String>), ApiError> {
    let err = |e: ApiError| stage_error(index, stage, format!("params.{}", e.message()));
    let kind = stages::find(&stage.kind).expect("checked by the schema");
    // The stage's own keys (blend-grid's `width`/`height` are columns and rows) are not image
    // parameters.
    let own: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
    let query = query_from(&stage.params, &own);
    let (base, size, _platform) = build_base_params(&query, ctx, "txt2img").map_err(err)?;
    let mut upscale = build_upscale(&query, ctx).map_err(err)?;
    if stage.kind == "correct-codeformer" && query.get("correction").is_none() {
        // onnx-web's stage always uses its CodeFormer weights.
        upscale.correction_model = ctx
            .catalog
            .models
            .correction
            .iter()
            .find(|m| m.name.contains("codeformer"))
            .map(|m| m.name.clone())
            .or(upscale.correction_model);
    }
    if UPSCALING_STAGES.contains(&stage.kind.as_str()) && query.get_not_empty("upscaling").is_none()
    {
        // Without a model, an upscaling stage takes the default upscaler when it is of the kind
        // the stage runs (an .onnx file, or a folder for upscale-stable-diffusion), else the
        // first listed one that is: upscale-resrgan gets the real Real-ESRGAN model of the
        // default set-up, upscale-stable-diffusion the SD upscaler folder.
        let wants_folder = stage.kind == "upscale-stable-diffusion";
        let fits = |name: &str| {
            ctx.catalog
                .models
                .upscaling
                .iter()
                .find(|m| m.name == name)
                .is_some_and(|m| m.path.is_dir() == wants_folder)
        };
        if !upscale.upscale_model.as_deref().is_some_and(fits) {
            if let Some(model) = ctx
                .catalog
                .models
                .upscaling
                .iter()
                .find(|m| m.path.is_dir() == wants_folder)
            {
                upscale.upscale_model = Some(model.name.clone());
            }
        }
    }
    let highres = build_highres(&query, ctx).map_err(err)?;
    let border = build_border(&query, ctx).map_err(err)?;
    let options = stage_options(ctx.catalog, &base, &upscale, Some(&highres)).map_err(err)?;
    check_output_size(size.width, size.height, &options, "width").map_err(err)?;
    // Replaced names (an unknown `upscaling` or `correction` falls back to the first listed
    // model, as in the image endpoints) are reported, not refused.
    let warnings: Vec<String> = collect_warnings(&base, Some(&upscale), Some(&highres), &[])
        .into_iter()
        .map(|w| {
            format!(
                "stage {index} {:?} ({}): params.{w}",
                stage.name, stage.kind
            )
        })
        .collect();
    if UPSCALING_STAGES.contains(&stage.kind.as_str()) {
        let wants_folder = stage.kind == "upscale-stable-diffusion";
        let usable = options.upscale.upscale_model.as_ref().is_some_and(|p| {
            if wants_folder {
                p.is_dir()
            } else {
                p.is_file()
            }
        });
        if !usable {
            let what = if wants_folder {
                "a Stable Diffusion upscaler folder"
            } else {
                "an .onnx upscaling model"
            };
            // A replaced name says why this model was tried.
            let replaced = upscale
                .warnings
                .iter()
                .find(|w| w.starts_with("upscaling: "))
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Err(stage_error(
                index,
                stage,
                format!(
                    "params.upscaling: {:?} is not {what}{replaced}",
                    upscale.upscale_model.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    let tile_size = parse_tile_size(stage.params.get("tiles").unwrap_or(&Value::Null))
        .map_err(|m| stage_error(index, stage, format!("params.tiles: {m}")))?;
    let outscale = stage
        .params
        .get("outscale")
        .and_then(onnx_web_chain::schema::number)
        .map_or(1, |n| n.clamp(1.0, 4.0) as u32);
    let source_key = format!("source:{}", stage.name);
    let mask_key = format!("mask:{}", stage.name);
    let decode = |key: &str| -> Result<Option<image::DynamicImage>, ApiError> {
        match files.get(key) {
            None => Ok(None),
            Some(bytes) => decode_image(bytes, MAX_UPLOAD_PIXELS)
                .map(Some)
                .map_err(|e| ApiError::field(key, e)),
        }
    };
    let source = decode(&source_key)?.map(|i| StageImage(Arc::new(i.to_rgb8())));
    let mask = match files.get(&mask_key) {
        None => None,
        Some(bytes) => {
            let uploads = Uploads::from_files([(mask_key.clone(), bytes.clone())]);
            uploads.mask(&mask_key)?.map(|m| StageMask(Arc::new(m)))
        }
    };
    for required in ["blend-linear", "blend-mask"] {
        if stage.kind == required && source.is_none() {
            return Err(stage_error(
                index,
                stage,
                format!("{required} needs an image uploaded as {source_key}"),
            ));
        }
    }
    if stage.kind == "blend-mask" && mask.is_none() {
        return Err(stage_error(
            index,
            stage,
            format!("blend-mask needs a mask uploaded as {mask_key}"),
        ));
    }
    let planned = PlannedStage {
        name: stage.name.clone(),
        kind: stage.kind.clone(),
        params: base.image_params(),
        size,
        tiles: options.tiles,
        upscale: options.upscale,
        highres: options.highres,
        border: PipelineBorder {
            left: border.left,
            right: border.right,
            top: border.top,
            bottom: border.bottom,
        },
        tile_size,
        outscale,
        raw: stage.params.clone(),
        source,
        mask,
    };
    Ok((planned, warnings))
}

/// Names the outputs and queues the chain; the response has no upscale/highres/border groups.
async fn submit(
    state: &Arc<AppState>,
    plan: ChainPlan,
    mut base: crate::params::BaseParams,
    size: onnx_web_pipelines::Size,
    platform: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let catalog = state.catalog();
    let count = u32::try_from(plan.outputs().max(1)).unwrap_or(u32::MAX);
    let parameters = {
        let state = Arc::clone(state);
        let catalog = Arc::clone(&catalog);
        let base = base.clone();
        tokio::task::spawn_blocking(move || metadata_parameters(&state, &catalog, &base, size))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing networks: {e}")))?
    };
    let model_path = base.model_dir.to_string_lossy().into_owned();
    let named = base.clone();
    let fields = NameFields {
        mode: "chain",
        model_path: &model_path,
        pipeline: &named.pipeline,
        scheduler: &named.scheduler,
        prompt: &named.prompt,
        negative_prompt: named.negative_prompt.as_deref(),
        cfg: named.cfg,
        seed: named.seed,
        steps: named.steps,
        eta: named.eta,
        batch: named.batch,
        width: size.width,
        height: size.height,
        extras: Vec::new(),
    };
    // The response's steps are the chain's (onnx-web's `pipeline.steps`).
    base.steps = plan.steps();
    let allow_private_urls = state.config.allow_private_urls;
    // The size of what the chain makes, not of the request's default image.
    let output_size = plan.output_size(size);
    let allow_url_addresses = state.config.url_allow_list();
    let build = |time: u64| {
        let outputs = make_output_names(&fields, count, time, &state.config.image_format);
        let response = image_response(
            &outputs,
            &base,
            output_size,
            None,
            None,
            None,
            &base.warnings,
        );
        let job = Job {
            key: outputs[0].clone(),
            outputs,
            platform: platform.clone(),
            spec: JobSpec::Chain(ChainJob {
                plan: plan.clone(),
                allow_private_urls,
                allow_url_addresses: allow_url_addresses.clone(),
                metadata: OutputMetadata {
                    response: response.clone(),
                    parameters: parameters.clone(),
                },
            }),
        };
        (job, response)
    };
    let outputs_dir = &state.config.outputs;
    let response = state
        .queue
        .submit_unique(unix_time_now(), build, |key| outputs_dir.join(key).exists())?;
    tracing::info!(job = %response["outputs"][0], stages = plan.stages.len(), "chain queued");
    Ok(Json(response))
}

/// `persist-disk` writes through the server's output writer, with the job's metadata.
struct DiskSink<'a> {
    writer: &'a crate::outputs::OutputWriter,
    metadata: &'a OutputMetadata,
}

impl onnx_web_chain::ImageSink for DiskSink<'_> {
    fn save(&self, name: &str, image: &image::RgbImage) -> Result<(), String> {
        // Each file's metadata names its own size (a chain's images may differ).
        let mut metadata = self.metadata.clone();
        metadata.response["size"] =
            crate::responses::size_json(image.width().into(), image.height().into());
        self.writer
            .save(name, image, &metadata)
            .map_err(|e| format!("{e:#}"))
    }
}

/// Runs a queued chain on the worker thread (the worker's hook for [`JobSpec::Chain`]).
pub fn run_job(
    pipelines: &onnx_web_pipelines::Pipelines,
    writer: &crate::outputs::OutputWriter,
    device: &str,
    job: &Job,
    chain: &ChainJob,
    progress: &onnx_web_pipelines::Progress,
) -> anyhow::Result<()> {
    let sink = DiskSink {
        writer,
        metadata: &chain.metadata,
    };
    let s3 = onnx_web_chain::S3Settings::from_env();
    let urls = onnx_web_chain::UrlPolicy {
        allow_private: chain.allow_private_urls,
        allow: chain.allow_url_addresses.clone(),
        ..onnx_web_chain::UrlPolicy::default()
    };
    let env = onnx_web_chain::ChainEnv {
        pipelines,
        platform: device,
        progress,
        outputs: &job.outputs,
        sink: &sink,
        s3: &s3,
        urls: &urls,
    };
    onnx_web_chain::run_chain(&chain.plan, &env)?;
    Ok(())
}
