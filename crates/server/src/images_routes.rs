//! The image endpoints with uploads: `POST /api/img2img`, `/api/inpaint`, `/api/upscale` and
//! `/api/blend` (§1.6), plus the stage options every image endpoint shares.

use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{RawQuery, State};
use axum::Json;
use onnx_web_imageops::{parse_rgb, MaskFilter, NoiseSource, SourceFilter};
use onnx_web_pipelines::inpaint::InpaintOptions;
use onnx_web_pipelines::{
    Border as PipelineBorder, HighresOptions, Size, TileOptions, UpscaleOptions, UpscaleOrder,
};
use serde_json::Value;

use crate::error::ApiError;
use crate::jobs::{
    BlendJob, Img2ImgJob, InpaintJob, Job, JobSpec, OutputMetadata, SharedImage, SharedMask,
    StageOptions, Txt2ImgJob, UpscaleJob,
};
use crate::models::Catalog;
use crate::names::{resolve, Fallback, NameList};
use crate::naming::{make_output_names, unix_time_now, HashParam, NameFields};
use crate::params::{
    build_base_params, build_border, build_highres, build_upscale, get_boolean, BaseParams, Border,
    HighresParams, Query, UpscaleParams, SIMPLE_UPSCALERS,
};
use crate::responses::{collect_warnings, image_response};
use crate::routes::{metadata_parameters, MASK_FILTERS, NOISE_SOURCES, SOURCE_FILTERS};
use crate::state::AppState;
use crate::uploads::{decode_blocking, Uploads};

/// The largest image any job may produce, in pixels (8192 × 8192).
pub const MAX_OUTPUT_PIXELS: u64 = 8192 * 8192;

/// The pipelines' stage options from the parsed groups: model names resolved to files, orders
/// checked, and the models a request turns on required to exist.
pub fn stage_options(
    catalog: &Catalog,
    base: &BaseParams,
    upscale: &UpscaleParams,
    highres: Option<&HighresParams>,
) -> Result<StageOptions, ApiError> {
    let tiles = TileOptions {
        unet_tile: base.unet_tile,
        unet_overlap: base.unet_overlap,
        vae_tile: base.vae_tile,
        vae_overlap: base.vae_overlap,
        tiled_vae: base.tiled_vae,
    };
    let order = UpscaleOrder::from_name(&upscale.upscale_order).ok_or_else(|| {
        ApiError::field(
            "upscaleOrder",
            format!(
                "unknown order {:?}; available: correction-both, correction-first, correction-last",
                upscale.upscale_order
            ),
        )
    })?;
    let upscale_name = upscale.upscale_model.clone();
    let upscale_model = upscale_name
        .as_deref()
        .filter(|name| !SIMPLE_UPSCALERS.contains(name))
        .and_then(|name| catalog.resolve_model_dir(name));
    let correction_model = upscale
        .correction_model
        .as_deref()
        .and_then(|name| catalog.resolve_model_dir(name));
    let highres_upscales = highres.is_some_and(|h| h.enabled && h.method == "upscale");
    if (upscale.upscale || highres_upscales) && upscale_name.is_none() {
        return Err(ApiError::field(
            "upscaling",
            "no upscaling models are installed",
        ));
    }
    if upscale.faces && correction_model.is_none() {
        return Err(ApiError::field(
            "correction",
            "no correction models are installed",
        ));
    }
    let upscale = UpscaleOptions {
        upscale: upscale.upscale,
        upscale_model,
        upscale_name,
        faces: upscale.faces,
        correction_model,
        scale: upscale.scale,
        outscale: upscale.outscale,
        denoise: upscale.denoise as f32,
        face_outscale: upscale.face_outscale,
        face_strength: upscale.face_strength as f32,
        order,
    };
    let highres = match highres {
        Some(h) => HighresOptions {
            enabled: h.enabled,
            iterations: h.iterations,
            method: h.method.clone(),
            scale: h.scale,
            strength: h.strength as f32,
        },
        None => HighresOptions::disabled(),
    };
    Ok(StageOptions {
        tiles,
        upscale,
        highres,
    })
}

/// The size a job really produces from a `width × height` input (the stages that are on only;
/// the response's `size` applies every factor, as onnx-web does), refused past
/// [`MAX_OUTPUT_PIXELS`].
pub fn check_output_size(
    width: u32,
    height: u32,
    stages: &StageOptions,
    field: &str,
) -> Result<(), ApiError> {
    let mut factor = 1u64;
    if stages.highres.enabled {
        factor = factor.saturating_mul(
            u64::from(stages.highres.scale.max(1)).saturating_pow(stages.highres.iterations),
        );
    }
    if stages.upscale.upscale {
        factor = factor.saturating_mul(u64::from(stages.upscale.outscale.max(1)));
    }
    if stages.upscale.faces {
        let passes = if stages.upscale.order == UpscaleOrder::CorrectionBoth {
            2
        } else {
            1
        };
        factor = factor
            .saturating_mul(u64::from(stages.upscale.face_outscale.max(1)).saturating_pow(passes));
    }
    let (w, h) = (
        u64::from(width).saturating_mul(factor),
        u64::from(height).saturating_mul(factor),
    );
    let max_pixels = crate::limits::current().max_job_pixels;
    if w.saturating_mul(h) > max_pixels {
        return Err(ApiError::field(
            field,
            format!(
                "the result would be {w}x{h} pixels, more than the limit of {max_pixels} pixels"
            ),
        ));
    }
    Ok(())
}

fn pipeline_border(border: &Border) -> PipelineBorder {
    PipelineBorder {
        left: border.left,
        right: border.right,
        top: border.top,
        bottom: border.bottom,
    }
}

/// A value fed to the output name hash, owned (see [`HashParam`]).
#[derive(Clone, Debug)]
enum NameExtra {
    Float(f64),
    Int(u32),
    Str(String),
}

impl NameExtra {
    fn hash_param(&self) -> HashParam<'_> {
        match self {
            Self::Float(value) => HashParam::Float(*value),
            Self::Int(value) => HashParam::Int(*value),
            Self::Str(value) => HashParam::Str(value),
        }
    }
}

/// Builds a job's spec once its output metadata is known.
type SpecBuilder = Box<dyn Fn(OutputMetadata) -> JobSpec + Send + Sync>;

/// A parsed and checked image request: everything that names its outputs and builds its job.
/// The HTTP handlers queue it ([`submit`]); `onnx-web generate` runs it in-process, so both
/// make the same job, names and metadata from the same query.
pub struct PreparedJob {
    mode: &'static str,
    catalog: Arc<Catalog>,
    base: BaseParams,
    size: Size,
    count: u32,
    extras: Vec<NameExtra>,
    platform: Option<String>,
    upscale: Option<UpscaleParams>,
    border: Option<Border>,
    highres: Option<HighresParams>,
    /// Whether the metadata written beside the images has the highres block (§6.9).
    metadata_highres: bool,
    metadata_upscale: bool,
    /// Names of the endpoint's own fields that were replaced (`crate::names`).
    warnings: Vec<String>,
    spec: SpecBuilder,
}

impl PreparedJob {
    /// The endpoint's name (`txt2img`, `img2img`, `inpaint`, `upscale`).
    pub fn mode(&self) -> &'static str {
        self.mode
    }

    /// The parsed base parameters (seed drawn, prompt expanded).
    pub fn base(&self) -> &BaseParams {
        &self.base
    }

    /// The size echoed and named.
    pub fn size(&self) -> Size {
        self.size
    }

    /// The platform the request asked for, if it is a device.
    pub fn platform(&self) -> Option<&str> {
        self.platform.as_deref()
    }

    /// Every name that was not in its list and was replaced (`crate::names`), as the response's
    /// `warnings` says it.
    pub fn warnings(&self) -> Vec<String> {
        collect_warnings(
            &self.base,
            self.upscale.as_ref(),
            self.highres.as_ref(),
            &self.warnings,
        )
    }

    /// The `parameters` text written into the outputs. Blocking: hashes network files.
    pub fn parameters(&self, state: &AppState) -> String {
        metadata_parameters(state, &self.catalog, &self.base, self.size)
    }

    /// The job whose outputs are named for `time`, and the response body that describes it.
    pub fn build(&self, state: &AppState, parameters: &str, time: u64) -> (Job, Value) {
        let model_path = self.base.model_dir.to_string_lossy().into_owned();
        let base = &self.base;
        let fields = NameFields {
            mode: self.mode,
            model_path: &model_path,
            pipeline: &base.pipeline,
            scheduler: &base.scheduler,
            prompt: &base.prompt,
            negative_prompt: base.negative_prompt.as_deref(),
            cfg: base.cfg,
            seed: base.seed,
            steps: base.steps,
            eta: base.eta,
            batch: base.batch,
            width: self.size.width,
            height: self.size.height,
            extras: self.extras.iter().map(NameExtra::hash_param).collect(),
        };
        let outputs = make_output_names(&fields, self.count, time, &state.config.image_format);
        let (upscale, border, highres) = (
            self.upscale.as_ref(),
            self.border.as_ref(),
            self.highres.as_ref(),
        );
        let warnings = self.warnings();
        let response = image_response(
            &outputs, base, self.size, upscale, border, highres, &warnings,
        );
        let written = image_response(
            &outputs,
            base,
            self.size,
            upscale.filter(|_| self.metadata_upscale),
            border,
            highres.filter(|_| self.metadata_highres),
            &warnings,
        );
        let job = Job {
            key: outputs[0].clone(),
            outputs,
            platform: self.platform.clone(),
            spec: (self.spec)(OutputMetadata {
                response: written,
                parameters: parameters.to_owned(),
            }),
        };
        (job, response)
    }
}

/// Names the outputs, writes the response and queues the prepared job.
async fn submit(state: &Arc<AppState>, prepared: PreparedJob) -> Result<Value, ApiError> {
    let prepared = Arc::new(prepared);
    let parameters = {
        let state = Arc::clone(state);
        let prepared = Arc::clone(&prepared);
        tokio::task::spawn_blocking(move || prepared.parameters(&state))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing networks: {e}")))?
    };
    let outputs_dir = &state.config.outputs;
    let response = state.queue.submit_unique(
        unix_time_now(),
        |time| prepared.build(state, &parameters, time),
        |key| outputs_dir.join(key).exists(),
    )?;
    let base = &prepared.base;
    tracing::info!(job = %response["outputs"][0], model = %base.model, steps = base.steps, "{} queued", prepared.mode);
    Ok(response)
}

/// Parses and checks a txt2img query (see [`txt2img`]).
pub fn prepare_txt2img(state: &AppState, query: &Query) -> Result<PreparedJob, ApiError> {
    let catalog = state.catalog();
    let ctx = state.parse_context(&catalog);
    let (base, size, platform) = build_base_params(query, &ctx, "txt2img")?;
    let upscale = build_upscale(query, &ctx)?;
    let highres = build_highres(query, &ctx)?;
    let stages = stage_options(&catalog, &base, &upscale, Some(&highres))?;
    check_output_size(size.width, size.height, &stages, "width")?;
    let params = base.image_params();
    Ok(PreparedJob {
        mode: "txt2img",
        count: base.batch,
        extras: Vec::new(),
        platform,
        upscale: Some(upscale),
        border: None,
        highres: Some(highres),
        metadata_highres: true,
        metadata_upscale: true,
        warnings: Vec::new(),
        spec: Box::new(move |metadata| {
            JobSpec::Txt2Img(Txt2ImgJob {
                params: params.clone(),
                size,
                stages: stages.clone(),
                metadata,
            })
        }),
        catalog: Arc::clone(&catalog),
        base,
        size,
    })
}

/// `POST /api/txt2img`: query parameters only; the upscale and highres groups.
pub async fn txt2img(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let prepared = prepare_txt2img(&state, &query)?;
    Ok(Json(submit(&state, prepared).await?))
}

/// Parses and checks an img2img query and its `source` upload (see [`img2img`]).
pub async fn prepare_img2img(
    state: &AppState,
    query: &Query,
    uploads: Arc<Uploads>,
) -> Result<PreparedJob, ApiError> {
    let catalog = state.catalog();
    let ctx = state.parse_context(&catalog);
    let (base, _, platform) = build_base_params(query, &ctx, "img2img")?;
    let upscale = build_upscale(query, &ctx)?;
    let highres = build_highres(query, &ctx)?;
    let strength = ctx.params.float(query, "strength")?;
    // get_from_list: a missing or unknown filter is the first one, canny (onnx-web quirk).
    let mut warnings = Vec::new();
    let source_filter = resolve(
        &mut warnings,
        &NameList {
            field: "sourceFilter",
            what: "a source filter",
            names: SOURCE_FILTERS,
            aliases: &[],
        },
        query.get("sourceFilter"),
        Fallback::to(Some(SOURCE_FILTERS[0]), "the first source filter"),
    )?
    .unwrap_or_else(|| SOURCE_FILTERS[0].to_owned());
    let source_filter_model = match SourceFilter::from_name(&source_filter) {
        Some(filter) => onnx_web_pipelines::source_filter::find_model(&catalog.root, filter)
            .map_err(|message| ApiError::field("sourceFilter", message))?,
        None => None,
    };
    let stages = stage_options(&catalog, &base, &upscale, Some(&highres))?;
    let control_model = crate::pipeline_routes::control_model(&catalog, base.control.as_deref());
    let source = decode_blocking(uploads, |u| u.rgb("source").map(|s| s.expect("checked"))).await?;
    let size = Size {
        width: source.width(),
        height: source.height(),
    };
    check_diffusion_size(size, "source")?;
    check_output_size(size.width, size.height, &stages, "source")?;
    let count = base.batch + u32::from(source_filter != "none");
    let source = SharedImage(Arc::new(source));
    let params = base.image_params();
    let loopback = base.loopback;
    Ok(PreparedJob {
        mode: "img2img",
        count,
        extras: vec![NameExtra::Float(strength)],
        platform,
        upscale: Some(upscale),
        border: None,
        highres: Some(highres),
        metadata_highres: true,
        metadata_upscale: true,
        warnings,
        spec: Box::new(move |metadata| {
            JobSpec::Img2Img(Img2ImgJob {
                params: params.clone(),
                stages: stages.clone(),
                source: source.clone(),
                source_filter: source_filter.clone(),
                source_filter_model: source_filter_model.clone(),
                control_model: control_model.clone(),
                strength: strength as f32,
                loopback,
                metadata,
            })
        }),
        catalog: Arc::clone(&catalog),
        base,
        size,
    })
}

/// `POST /api/img2img`: file `source`; `strength`, `sourceFilter`, `loopback`.
pub async fn img2img(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    // The whole body is read first, so an early 400 never cuts off a client still sending.
    let uploads = Arc::new(Uploads::read(multipart).await?);
    if !uploads.has("source") {
        return Err(ApiError::bad_request("source image is required"));
    }
    let query = Query::parse(raw.as_deref())?;
    let prepared = prepare_img2img(&state, &query, uploads).await?;
    Ok(Json(submit(&state, prepared).await?))
}

/// Parses and checks an inpaint query and its `source` and `mask` uploads (see [`inpaint`]).
pub async fn prepare_inpaint(
    state: &AppState,
    query: &Query,
    uploads: Arc<Uploads>,
) -> Result<PreparedJob, ApiError> {
    let catalog = state.catalog();
    let ctx = state.parse_context(&catalog);
    let (base, _, platform) = build_base_params(query, &ctx, "inpaint")?;
    let upscale = build_upscale(query, &ctx)?;
    let highres = build_highres(query, &ctx)?;
    let border = build_border(query, &ctx)?;
    let fullres = get_boolean(
        query,
        "fullresInpaint",
        ctx.params.default_bool("fullresInpaint"),
    );
    let fullres_padding = ctx.params.float(query, "fullresInpaintPadding")?;
    let fill_name = query
        .get_not_empty("fillColor")
        .unwrap_or("white")
        .to_owned();
    let fill = parse_rgb(&fill_name).map_err(|_| {
        ApiError::field(
            "fillColor",
            format!(
                "{fill_name:?} is not a colour (use #rrggbb, #rgb, rgb(r, g, b) or a colour name)"
            ),
        )
    })?;
    // get_from_map: unknown names use the default.
    let mut warnings = Vec::new();
    let filter = resolve(
        &mut warnings,
        &NameList {
            field: "filter",
            what: "a mask filter",
            names: MASK_FILTERS,
            aliases: &[],
        },
        query.get("filter"),
        Fallback::to(Some("none"), "the default mask filter"),
    )?
    .as_deref()
    .and_then(MaskFilter::from_name)
    .unwrap_or(MaskFilter::None);
    let noise = resolve(
        &mut warnings,
        &NameList {
            field: "noise",
            what: "a noise source",
            names: NOISE_SOURCES,
            aliases: &[],
        },
        query.get("noise"),
        Fallback::to(Some("histogram"), "the default noise source"),
    )?
    .as_deref()
    .and_then(NoiseSource::from_name)
    .unwrap_or(NoiseSource::Histogram);
    let stages = stage_options(&catalog, &base, &upscale, Some(&highres))?;
    let (source, mask) = decode_blocking(uploads, |u| {
        let source = u.rgb("source")?.expect("checked");
        let mask = u.mask("mask")?.expect("checked");
        Ok((source, mask))
    })
    .await?;
    let size = Size {
        width: source.width(),
        height: source.height(),
    };
    check_diffusion_size(size, "source")?;
    check_mask_covers(mask.dimensions(), size)?;
    let (full_w, full_h) = (
        size.width + border.left + border.right,
        size.height + border.top + border.bottom,
    );
    check_output_size(full_w, full_h, &stages, "source")?;
    let options = InpaintOptions {
        border: pipeline_border(&border),
        fill,
        noise,
        filter,
        fullres,
        fullres_padding,
    };
    let extras = vec![
        NameExtra::Int(border.left),
        NameExtra::Int(border.right),
        NameExtra::Int(border.top),
        NameExtra::Int(border.bottom),
        NameExtra::Str(filter.function_name().to_owned()),
        NameExtra::Str(noise.function_name().to_owned()),
        NameExtra::Str(fill_name),
        NameExtra::Str("spiral".to_owned()),
    ];
    let source = SharedImage(Arc::new(source));
    let mask = SharedMask(Arc::new(mask));
    let params = base.image_params();
    Ok(PreparedJob {
        mode: "inpaint",
        count: base.batch,
        extras,
        platform,
        upscale: Some(upscale),
        border: Some(border),
        highres: Some(highres),
        metadata_highres: false,
        metadata_upscale: true,
        warnings,
        spec: Box::new(move |metadata| {
            JobSpec::Inpaint(InpaintJob {
                params: params.clone(),
                stages: stages.clone(),
                source: source.clone(),
                mask: mask.clone(),
                options: options.clone(),
                metadata,
            })
        }),
        catalog: Arc::clone(&catalog),
        base,
        size,
    })
}

/// `POST /api/inpaint`: files `source` and `mask`; borders, fill colour, mask filter, noise
/// source, full-resolution inpainting.
pub async fn inpaint(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    // The whole body is read first, so an early 400 never cuts off a client still sending.
    let uploads = Arc::new(Uploads::read(multipart).await?);
    if !uploads.has("source") {
        return Err(ApiError::bad_request("source image is required"));
    }
    if !uploads.has("mask") {
        return Err(ApiError::bad_request("mask image is required"));
    }
    let query = Query::parse(raw.as_deref())?;
    let prepared = prepare_inpaint(&state, &query, uploads).await?;
    Ok(Json(submit(&state, prepared).await?))
}

/// `POST /api/upscale`: file `source`; the upscale, correction and highres groups.
pub async fn upscale(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    // The whole body is read first, so an early 400 never cuts off a client still sending.
    let uploads = Arc::new(Uploads::read(multipart).await?);
    if !uploads.has("source") {
        return Err(ApiError::bad_request("source image is required"));
    }
    let query = Query::parse(raw.as_deref())?;
    let catalog = state.catalog();
    let ctx = state.parse_context(&catalog);
    // The size echoed and named is the query's, not the image's (onnx-web quirk).
    let (base, size, platform) = build_base_params(&query, &ctx, "txt2img")?;
    let upscale = build_upscale(&query, &ctx)?;
    let highres = build_highres(&query, &ctx)?;
    let stages = stage_options(&catalog, &base, &upscale, Some(&highres))?;
    let source = decode_blocking(uploads, |u| u.rgb("source").map(|s| s.expect("checked"))).await?;
    check_output_size(source.width(), source.height(), &stages, "source")?;
    let source = SharedImage(Arc::new(source));
    let params = base.image_params();
    let prepared = PreparedJob {
        mode: "upscale",
        count: base.batch,
        extras: Vec::new(),
        platform,
        upscale: Some(upscale),
        border: None,
        highres: Some(highres),
        metadata_highres: false,
        metadata_upscale: true,
        warnings: Vec::new(),
        spec: Box::new(move |metadata| {
            JobSpec::Upscale(UpscaleJob {
                params: params.clone(),
                stages: stages.clone(),
                source: source.clone(),
                metadata,
            })
        }),
        catalog: Arc::clone(&catalog),
        base,
        size,
    };
    Ok(Json(submit(&state, prepared).await?))
}

/// `POST /api/blend`: files `mask`, `source:0`, `source:1`; the upscale group. Outputs are named
/// `upscale_...` (onnx-web quirk).
pub async fn blend(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    // The whole body is read first, so an early 400 never cuts off a client still sending.
    let uploads = Arc::new(Uploads::read(multipart).await?);
    if !uploads.has("mask") {
        return Err(ApiError::bad_request("mask image is required"));
    }
    // onnx-web only logs a missing source and fails the job later; refuse it up front.
    for name in ["source:0", "source:1"] {
        if !uploads.has(name) {
            return Err(ApiError::field(name, "source image is required"));
        }
    }
    let query = Query::parse(raw.as_deref())?;
    let catalog = state.catalog();
    let ctx = state.parse_context(&catalog);
    let (base, size, platform) = build_base_params(&query, &ctx, "txt2img")?;
    let upscale = build_upscale(&query, &ctx)?;
    let stages = stage_options(&catalog, &base, &upscale, None)?;
    let (first, second, mask) = decode_blocking(uploads, |u| {
        let mask = u.mask("mask")?.expect("checked");
        let first = u.rgb("source:0")?.expect("checked");
        let second = u.rgb("source:1")?.expect("checked");
        Ok((first, second, mask))
    })
    .await?;
    check_output_size(second.width(), second.height(), &stages, "source:1")?;
    let sources = [SharedImage(Arc::new(first)), SharedImage(Arc::new(second))];
    let mask = SharedMask(Arc::new(mask));
    let params = base.image_params();
    let prepared = PreparedJob {
        mode: "upscale",
        count: base.batch,
        extras: Vec::new(),
        platform,
        upscale: Some(upscale),
        border: None,
        highres: None,
        metadata_highres: false,
        metadata_upscale: true,
        warnings: Vec::new(),
        spec: Box::new(move |metadata| {
            JobSpec::Blend(BlendJob {
                params: params.clone(),
                stages: stages.clone(),
                sources: sources.clone(),
                mask: mask.clone(),
                metadata,
            })
        }),
        catalog: Arc::clone(&catalog),
        base,
        size,
    };
    Ok(Json(submit(&state, prepared).await?))
}

/// The mask is fitted to the source as onnx-web fits it: contained in a square of the source's
/// longest side, then cropped (the GUI paints a square canvas over the contained source). A mask
/// whose shape cannot cover the source that way would leave part of it unmasked by accident, so it
/// is refused rather than padded.
/// The smallest image side diffusion works on: one latent pixel is 8 image pixels.
const MIN_DIFFUSION_SIDE: u32 = 8;

/// Refuses an upload too small to have latents (400 naming the field).
fn check_diffusion_size(size: Size, field: &str) -> Result<(), ApiError> {
    if size.width < MIN_DIFFUSION_SIDE || size.height < MIN_DIFFUSION_SIDE {
        return Err(ApiError::field(
            field,
            format!(
                "the image is {}x{} pixels; diffusion needs at least {MIN_DIFFUSION_SIDE} in each side",
                size.width, size.height
            ),
        ));
    }
    Ok(())
}

fn check_mask_covers((mask_width, mask_height): (u32, u32), source: Size) -> Result<(), ApiError> {
    let longest = source.width.max(source.height);
    let (fitted_width, fitted_height) =
        onnx_web_imageops::contain_size(mask_width, mask_height, longest, longest);
    if fitted_width < source.width || fitted_height < source.height {
        return Err(ApiError::bad_request(format!(
            "mask: a {mask_width}x{mask_height} mask cannot cover the {}x{} source \
             (it is fitted to the source's longest side, then cropped)",
            source.width, source.height
        )));
    }
    Ok(())
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn masks_must_cover_the_source_once_fitted() {
        let source = |width, height| Size { width, height };
        // The GUI's square canvas covers any source.
        assert!(check_mask_covers((512, 512), source(640, 480)).is_ok());
        assert!(check_mask_covers((512, 512), source(64, 200)).is_ok());
        // Same size and same shape at another scale are fine.
        assert!(check_mask_covers((64, 48), source(64, 48)).is_ok());
        assert!(check_mask_covers((128, 96), source(64, 48)).is_ok());
        // A wide strip cannot cover a square source; a tall one cannot cover a wide source.
        let error = check_mask_covers((512, 100), source(512, 512)).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(error
            .message()
            .starts_with("mask: a 512x100 mask cannot cover"));
        assert!(check_mask_covers((10, 100), source(100, 50)).is_err());
    }
}
