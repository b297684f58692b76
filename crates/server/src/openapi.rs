//! `GET /openapi.json`: an OpenAPI 3.1 document of every route in [`ROUTES`], built with `utoipa`,
//! and `GET /api/docs`, a self-contained page (no external scripts) that renders it.
//!
//! The image endpoints read raw query strings (`params.rs`), so their query parameters are
//! generated here from the field tables below and the server's own `params.json` (the one
//! `/api/settings/params` serves): defaults, minimums and maximums are never retyped. Lists that
//! depend on the models folder (models, schedulers, platforms, upscaling and correction models)
//! become `enum`s of what this server has. Response bodies are `ToSchema` types that mirror the
//! JSON `responses.rs` writes; tests compare their keys with real responses.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required};
use utoipa::ToSchema;

use crate::params::{HIGHRES_METHODS, REFERENCE_PIPELINES, SIMPLE_UPSCALERS};
use crate::pipeline_routes::{MAX_TOKENS, MAX_TOKENS_DEFAULT, TEMPERATURE, TOP_K};
use crate::routes::{MASK_FILTERS, NOISE_SOURCES, ROUTES, SOURCE_FILTERS};
use crate::state::AppState;

/// The page of `/api/docs`.
pub const DOCS_HTML: &str = include_str!("api_docs.html");

/// `GET /openapi.json`.
pub async fn openapi_json(State(state): State<Arc<AppState>>) -> Response {
    let document = document(&state);
    match document.to_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(error) => crate::error::ApiError::Internal(error.into()).into_response(),
    }
}

/// `GET /api/docs`.
pub async fn api_docs() -> Html<&'static str> {
    Html(DOCS_HTML)
}

// ---------------------------------------------------------------------------------------------
// Response bodies (the shapes `responses.rs` and the handlers write)

/// Every error: a message that names the field at fault when there is one.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Error {
    /// e.g. `steps: expected an integer, got "abc"`.
    error: String,
}

/// A width and height in pixels.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Size {
    height: u64,
    width: u64,
}

/// onnx-web's `ImageParams.tojson()`: the parsed base parameters.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ImageParams {
    batch: u32,
    cfg: f64,
    /// The ControlNet network, or `""`.
    control: String,
    /// Always 3.
    denoise: u32,
    eta: f64,
    /// The negative prompt as received (before wildcards).
    input_negative_prompt: Option<String>,
    /// The prompt as received (before wildcards).
    input_prompt: String,
    loopback: u32,
    /// The model folder's name.
    model: String,
    /// After wildcards.
    negative_prompt: Option<String>,
    pipeline: String,
    /// After wildcards.
    prompt: String,
    scheduler: String,
    /// The seed used (random when `-1` was sent).
    seed: u32,
    steps: u32,
    tiled_vae: bool,
    unet_overlap: f64,
    unet_tile: u32,
    vae_overlap: f64,
    vae_tile: u32,
}

/// The upscale / correction group as parsed.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UpscaleParams {
    correction_model: Option<String>,
    denoise: f64,
    face_outscale: u32,
    face_strength: f64,
    faces: bool,
    /// Always `onnx`.
    format: String,
    outscale: u32,
    /// Always 0.
    pre_pad: u32,
    scale: u32,
    /// Always 10.
    tile_pad: u32,
    upscale: bool,
    upscale_model: Option<String>,
    upscale_order: String,
}

/// The highres group as parsed.
#[derive(ToSchema)]
#[allow(dead_code)]
struct HighresParams {
    enabled: bool,
    iterations: u32,
    method: String,
    scale: u32,
    steps: u32,
    strength: f64,
}

/// The outpaint border as parsed.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Border {
    bottom: u32,
    left: u32,
    right: u32,
    top: u32,
}

/// The answer to every accepted job, sent at once: the job is queued, `outputs[0]` is its key
/// for `/api/ready` and `/api/cancel`, and each output appears at `/output/<name>` when done.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ImageResponse {
    /// Only from `/api/inpaint`.
    #[schema(nullable = false)]
    border: Option<Border>,
    /// From txt2img, img2img, inpaint and upscale.
    #[schema(nullable = false)]
    highres: Option<HighresParams>,
    input_size: Size,
    /// The output file names, one per expected image.
    outputs: Vec<String>,
    params: ImageParams,
    /// The predicted size of the final images.
    size: Size,
    /// From every image endpoint except chain.
    #[schema(nullable = false)]
    upscale: Option<UpscaleParams>,
}

/// A job's state (`/api/ready`), or whether a cancel took (`/api/cancel`).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ReadyResponse {
    cancelled: bool,
    failed: bool,
    pending: bool,
    /// Diffusion steps done so far.
    progress: u32,
    ready: bool,
    /// Why a job failed (not in onnx-web); only when `failed` is true and the reason is known.
    #[schema(nullable = false)]
    reason: Option<String>,
}

/// A LoRA, Textual Inversion or ControlNet network.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Network {
    label: String,
    name: String,
    /// Only for inversions.
    #[schema(nullable = false)]
    token: Option<String>,
    tokens: Vec<String>,
    /// `control`, `inversion` or `lora`.
    #[schema(rename = "type")]
    kind: String,
}

/// `/api/settings/models`: the models this server has, by kind.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ModelsResponse {
    correction: Vec<String>,
    diffusion: Vec<String>,
    networks: Vec<Network>,
    upscaling: Vec<String>,
}

/// One entry of `/api`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct RouteEntry {
    methods: Vec<String>,
    path: String,
}

/// `/api`: every route.
#[derive(ToSchema)]
#[allow(dead_code)]
struct IntrospectResponse {
    name: String,
    routes: Vec<RouteEntry>,
}

/// `/api/settings/filters`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct FiltersResponse {
    mask: Vec<String>,
    source: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Query fields

/// Where a choice field's values come from.
#[derive(Clone, Copy)]
enum Values {
    Fixed(&'static [&'static str]),
    /// `params.json`'s `keys` for the field.
    ParamsKeys,
    Models,
    Schedulers,
    Platforms,
    Upscaling,
    Correction,
    Networks,
    TextModels,
}

#[derive(Clone, Copy)]
enum Kind {
    /// An integer with `params.json`'s default, min and max.
    Int,
    /// A number with `params.json`'s default, min and max.
    Float,
    /// A boolean (`true`/`1` is true; anything else false) with `params.json`'s default.
    Bool,
    /// A boolean that defaults to false whatever `params.json` says.
    BoolFalse,
    /// Free text with a default of the handler's own.
    TextDefault(&'static str),
    /// Free text with no default.
    TextNone,
    /// One of a list; the default is `params.json`'s when listed, else the first value.
    Choice(Values),
    /// One of a list; missing means the first value (onnx-web's `get_from_list`).
    FirstOf(Values),
    /// Fixed integer bounds: default, min, max.
    IntFixed(i64, i64, i64),
    /// Fixed number bounds: default, min, max.
    FloatFixed(f64, f64, f64),
}

struct Field {
    name: &'static str,
    kind: Kind,
    text: &'static str,
}

const fn field(name: &'static str, kind: Kind, text: &'static str) -> Field {
    Field { name, kind, text }
}

/// The base group (`build_base_params`), read by every image endpoint.
const BASE: &[Field] = &[
    field("platform", Kind::Choice(Values::Platforms), "The device to run on; missing, empty or `any`: any device."),
    field("model", Kind::Choice(Values::Models), "The diffusion model folder."),
    field("control", Kind::Choice(Values::Networks), "A ControlNet network by name; missing or unknown: none."),
    field("pipeline", Kind::Choice(Values::Fixed(REFERENCE_PIPELINES)), "The pipeline; the default depends on the endpoint."),
    field("scheduler", Kind::Choice(Values::Schedulers), "The noise scheduler."),
    field("prompt", Kind::TextDefault(""), "The prompt: wildcards (`__name__`), networks (`<lora:name:weight>`, `<inversion:name:weight>`), regions and alternatives."),
    field("negativePrompt", Kind::TextNone, "The negative prompt; blank means none."),
    field("batch", Kind::Int, "Images per job."),
    field("cfg", Kind::Float, "Classifier-free guidance scale."),
    field("eta", Kind::Float, "DDIM eta."),
    field("loopback", Kind::Int, "Extra img2img passes (img2img only)."),
    field("steps", Kind::Int, "Diffusion steps."),
    field("tiled_vae", Kind::Bool, "Decode and encode in tiles."),
    field("unet_overlap", Kind::Float, "Overlap of UNet tiles (panorama)."),
    field("unet_tile", Kind::Int, "UNet tile size."),
    field("vae_overlap", Kind::Float, "Overlap of VAE tiles."),
    field("vae_tile", Kind::Int, "VAE tile size."),
    field("seed", Kind::Int, "The seed; `-1` picks a random one (echoed in the response)."),
    field("width", Kind::Int, "Image width; a multiple of 8."),
    field("height", Kind::Int, "Image height; a multiple of 8."),
];

/// The upscale / correction group (`build_upscale`).
const UPSCALE: &[Field] = &[
    field("upscale", Kind::BoolFalse, "Run the upscaling stage."),
    field("upscaling", Kind::FirstOf(Values::Upscaling), "The upscaling model, or a simple resampler (`bilinear`, `bicubic`, `lanczos`, `nearest`); missing or unknown: the first model."),
    field("scale", Kind::Int, "The upscaling model's native scale."),
    field("outscale", Kind::Int, "The final upscaling factor."),
    field("denoise", Kind::Float, "Real-ESRGAN x4v3 denoise weight / SD upscaler noise level."),
    field("faces", Kind::BoolFalse, "Run face correction."),
    field("correction", Kind::FirstOf(Values::Correction), "The correction model; missing or unknown: the first one."),
    field("faceOutscale", Kind::Int, "The face correction's upscaling factor."),
    field("faceStrength", Kind::Float, "Face correction strength."),
    field("upscaleOrder", Kind::Choice(Values::ParamsKeys), "When face correction runs, relative to upscaling."),
];

/// The highres group (`build_highres`).
const HIGHRES: &[Field] = &[
    field("highres", Kind::Bool, "Run the highres stage."),
    field("highresIterations", Kind::Int, "Highres passes."),
    field(
        "highresMethod",
        Kind::FirstOf(Values::Fixed(HIGHRES_METHODS)),
        "How each pass upscales; missing: `bilinear` (onnx-web's behaviour).",
    ),
    field("highresScale", Kind::Int, "Scale of each pass."),
    field(
        "highresSteps",
        Kind::Int,
        "Echoed; highres passes use `steps`.",
    ),
    field(
        "highresStrength",
        Kind::Float,
        "img2img strength of each pass.",
    ),
];

/// The border group (`build_border`), for outpainting.
const BORDER: &[Field] = &[
    field("left", Kind::Int, "Pixels added on the left (outpaint)."),
    field("right", Kind::Int, "Pixels added on the right (outpaint)."),
    field("top", Kind::Int, "Pixels added on the top (outpaint)."),
    field(
        "bottom",
        Kind::Int,
        "Pixels added on the bottom (outpaint).",
    ),
];

/// img2img's own fields.
const IMG2IMG: &[Field] = &[
    field("strength", Kind::Float, "How much the source changes."),
    field("sourceFilter", Kind::FirstOf(Values::Fixed(SOURCE_FILTERS)), "A filter applied to the source first (ControlNet); its result is saved as an extra, last output. Missing or unknown: `canny` (onnx-web's behaviour); send `none` for none."),
];

/// inpaint's own fields.
const INPAINT: &[Field] = &[
    field("fullresInpaint", Kind::Bool, "Inpaint a crop around the mask at full resolution."),
    field("fullresInpaintPadding", Kind::Float, "Padding factor of that crop."),
    field("fillColor", Kind::TextDefault("white"), "Colour of the new border area: `#rrggbb`, `#rgb`, `rgb(r, g, b)` or a colour name. Missing or empty: `white` (onnx-web's behaviour; its GUI sends `params.json`'s `#000000`)."),
    field("filter", Kind::Choice(Values::Fixed(MASK_FILTERS)), "Mask filter; unknown names: `none`."),
    field("noise", Kind::Choice(Values::Fixed(NOISE_SOURCES)), "Noise source for the masked area; unknown names: `histogram`."),
];

/// txt2txt's fields (`pipeline_routes::txt2txt`).
const TXT2TXT: &[Field] = &[
    field(
        "model",
        Kind::FirstOf(Values::TextModels),
        "The text model folder (decoder_model.onnx + tokenizer.json).",
    ),
    field("prompt", Kind::TextNone, "The text to continue (required)."),
    field(
        "max_tokens",
        Kind::IntFixed(MAX_TOKENS_DEFAULT, 1, MAX_TOKENS),
        "Tokens to generate at most.",
    ),
    field(
        "temperature",
        Kind::FloatFixed(TEMPERATURE.0, TEMPERATURE.1, TEMPERATURE.2),
        "Sampling temperature; 0 decodes greedily.",
    ),
    field(
        "top_k",
        Kind::IntFixed(TOP_K.0, TOP_K.1, TOP_K.2),
        "Sample from the k likeliest tokens; 0: all.",
    ),
    field("seed", Kind::Int, "The seed; `-1` picks a random one."),
];

/// What the document needs from the running server.
pub struct Inputs {
    /// The served `params.json`.
    pub params: Value,
    /// The server's version, when `params.json` has none.
    pub version: String,
    pub models: Vec<String>,
    pub schedulers: Vec<String>,
    pub platforms: Vec<String>,
    pub upscaling: Vec<String>,
    pub correction: Vec<String>,
    /// The ControlNet networks.
    pub networks: Vec<String>,
    pub text_models: Vec<String>,
}

impl Inputs {
    pub fn from_state(state: &AppState) -> Self {
        let catalog = state.catalog();
        let names = |list: &[crate::models::ModelEntry]| -> Vec<String> {
            list.iter().map(|entry| entry.name.clone()).collect()
        };
        Self {
            params: state.served_params(),
            version: state.config.server_version.clone(),
            models: catalog
                .diffusion_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            schedulers: state.schedulers.iter().map(|s| (*s).to_owned()).collect(),
            platforms: state.platforms.clone(),
            upscaling: names(&catalog.models.upscaling),
            correction: names(&catalog.models.correction),
            networks: catalog
                .models
                .networks
                .iter()
                .filter(|n| n.kind == "control")
                .map(|n| n.name.clone())
                .collect(),
            text_models: crate::pipeline_routes::text_models(&catalog.root)
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
        }
    }

    fn values(&self, values: Values, field: &str) -> Vec<String> {
        let owned = |list: &[String]| list.to_vec();
        match values {
            Values::Fixed(list) => list.iter().map(|s| (*s).to_owned()).collect(),
            Values::ParamsKeys => self.params[field]["keys"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            Values::Models => owned(&self.models),
            Values::Schedulers => owned(&self.schedulers),
            Values::Platforms => owned(&self.platforms),
            Values::Upscaling => {
                let mut list = owned(&self.upscaling);
                list.extend(SIMPLE_UPSCALERS.iter().map(|s| (*s).to_owned()));
                list
            }
            Values::Correction => owned(&self.correction),
            Values::Networks => owned(&self.networks),
            Values::TextModels => owned(&self.text_models),
        }
    }

    /// `params.json`'s `key` for a field, if it is a number.
    fn number(&self, field: &str, key: &str) -> Option<Value> {
        self.params
            .get(field)?
            .get(key)
            .filter(|v| v.is_number())
            .cloned()
    }

    /// The schema of one query field, with its default, bounds and GUI step.
    fn field_schema(&self, field: &Field, pipeline_default: &str) -> Schema {
        let configured = self.params.get(field.name).and_then(|p| p.get("default"));
        let number = |ty: Type, default: Option<f64>, min: Option<f64>, max: Option<f64>| {
            let integer = ty == Type::Integer;
            let as_value = |n: f64| {
                if integer {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            };
            // The server clamps the default too (highresSteps: 0 → 1).
            let default = default.map(|d| {
                let d = min.map_or(d, |m| d.max(m));
                max.map_or(d, |m| d.min(m))
            });
            let mut object = ObjectBuilder::new()
                .schema_type(ty)
                .default(default.map(as_value))
                .minimum(min)
                .maximum(max);
            if let Some(step) = self.number(field.name, "step") {
                object =
                    object.extensions(Some(ExtensionsBuilder::new().add("x-step", step).build()));
            }
            if matches!(field.name, "width" | "height") {
                object = object.multiple_of(Some(8));
            }
            object
        };
        let from_params = |key: &str| self.number(field.name, key).and_then(|v| v.as_f64());
        let object = match field.kind {
            Kind::Int => number(
                Type::Integer,
                from_params("default"),
                from_params("min"),
                from_params("max"),
            ),
            Kind::Float => number(
                Type::Number,
                from_params("default"),
                from_params("min"),
                from_params("max"),
            ),
            Kind::IntFixed(default, min, max) => number(
                Type::Integer,
                Some(default as f64),
                Some(min as f64),
                Some(max as f64),
            ),
            Kind::FloatFixed(default, min, max) => {
                number(Type::Number, Some(default), Some(min), Some(max))
            }
            Kind::Bool => ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .default(Some(json!(configured
                    .and_then(Value::as_bool)
                    .unwrap_or(false)))),
            Kind::BoolFalse => ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .default(Some(json!(false))),
            Kind::TextDefault(default) => ObjectBuilder::new()
                .schema_type(Type::String)
                .default(Some(json!(default))),
            Kind::TextNone => ObjectBuilder::new().schema_type(Type::String),
            Kind::Choice(values) | Kind::FirstOf(values) => {
                let list = self.values(values, field.name);
                let default = if field.name == "pipeline" {
                    Some(pipeline_default.to_owned())
                } else if field.name == "platform" {
                    Some("any".to_owned())
                } else {
                    // An empty configured default (`control`) means none.
                    let configured = configured.and_then(Value::as_str);
                    match field.kind {
                        Kind::Choice(_) if configured == Some("") => None,
                        Kind::Choice(_) => configured
                            .filter(|c| list.iter().any(|v| v == c))
                            .map(str::to_owned)
                            .or_else(|| list.first().cloned()),
                        // get_from_list over the models: none when there are none.
                        _ if matches!(values, Values::Upscaling) => self.upscaling.first().cloned(),
                        _ => list.first().cloned(),
                    }
                };
                let mut object = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .default(default.clone().map(Value::String));
                if !list.is_empty() {
                    let mut list = list;
                    // A model named like a resampler is listed once.
                    let mut seen = std::collections::HashSet::new();
                    list.retain(|value| seen.insert(value.clone()));
                    if let Some(default) = default.filter(|d| !list.contains(d)) {
                        list.insert(0, default);
                    }
                    object = object.enum_values(Some(list));
                }
                object
            }
        };
        object.build().into()
    }

    fn query_parameters(
        &self,
        groups: &[&[Field]],
        pipeline_default: &str,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut seen: Vec<&str> = Vec::new();
        let mut parameters = Vec::new();
        for field in groups.iter().flat_map(|g| g.iter()) {
            if seen.contains(&field.name) {
                continue;
            }
            seen.push(field.name);
            let required = matches!(field.kind, Kind::TextNone) && field.name == "prompt";
            parameters.push(
                ParameterBuilder::new()
                    .name(field.name)
                    .parameter_in(ParameterIn::Query)
                    .required(if required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .description(Some(field.text))
                    .schema(Some(self.field_schema(field, pipeline_default)))
                    .build(),
            );
        }
        parameters
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::content::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn string_array() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .build()
        .into()
}

fn free_object(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .build()
        .into()
}

fn binary() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
}

/// The status → description of the errors an operation may answer.
fn error_text(status: u16) -> &'static str {
    match status {
        400 => "Bad input; the message names the field.",
        401 => "The admin token (admin routes) or the API token (changing requests, when the server has one) is missing or wrong.",
        404 => "Not found.",
        409 => "A model conversion is already running.",
        413 => "The body or an upload is larger than the server accepts.",
        429 => "Queue limit reached; retry after `Retry-After` seconds.",
        500 => "Server fault.",
        503 => "The job cannot be recorded now; retry later.",
        _ => "Error.",
    }
}

struct Op {
    tag: &'static str,
    summary: &'static str,
    description: String,
    parameters: Vec<utoipa::openapi::path::Parameter>,
    body: Option<RequestBody>,
    ok: ApiResponse,
    errors: &'static [u16],
    /// 0: none; 1: the API token (changing requests); 2: the admin token.
    security: u8,
}

const JOB_ERRORS: &[u16] = &[400, 401, 413, 429, 500, 503];

fn ok_json(description: &str, schema: RefOr<Schema>) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json_content(schema))
        .build()
}

fn multipart(files: &[(&str, &str)]) -> RequestBody {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, text) in files {
        object = object
            .property(*name, binary().description(Some(*text)))
            .required(*name);
    }
    RequestBodyBuilder::new()
        .description(Some("Image files (PNG, JPEG, ...) as multipart/form-data."))
        .required(Some(Required::True))
        .content("multipart/form-data", json_content(object.build().into()))
        .build()
}

fn image_ok() -> ApiResponse {
    ok_json(
        "The job is queued; poll `/api/ready?output=<outputs[0]>`.",
        schema_ref("ImageResponse"),
    )
}

fn path_parameter(name: &str, text: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(text))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn output_parameter(text: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("output")
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .description(Some(text))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn file_ok(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content("*/*", json_content(binary().build().into()))
        .build()
}

/// The `ChainRequest` schema: onnx-web's `chain.yaml`, with the stage types and each type's own
/// parameters from the chain crate.
fn chain_request_schema() -> Schema {
    let stage_names: Vec<&str> = onnx_web_chain::stages::NAMES.to_vec();
    let mut stage_text = String::from("Each stage type's own parameters:\n");
    for name in &stage_names {
        let Some(stage) = onnx_web_chain::stages::find(name) else {
            continue;
        };
        let own: Vec<String> = stage
            .params()
            .iter()
            .map(|p| {
                let ty = match p.ty {
                    onnx_web_chain::stages::ParamType::Number { min, max } => {
                        format!("number {min}..{max}")
                    }
                    onnx_web_chain::stages::ParamType::Int { min, max } => {
                        format!("integer {min}..{max}")
                    }
                    onnx_web_chain::stages::ParamType::Text => "string".into(),
                    onnx_web_chain::stages::ParamType::Choice(list) => list.join("|"),
                    onnx_web_chain::stages::ParamType::Check(_, what) => what.to_owned(),
                    onnx_web_chain::stages::ParamType::TextList => "string or list".into(),
                    onnx_web_chain::stages::ParamType::IntList => "list of integers".into(),
                };
                let required = if p.required { ", required" } else { "" };
                format!("`{}` ({ty}{required})", p.name)
            })
            .collect();
        if !own.is_empty() {
            stage_text.push_str(&format!("- `{name}`: {}\n", own.join(", ")));
        }
    }
    let stage = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "name",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "The stage's name; stage images are sent as `source:<name>` / `mask:<name>`.",
                )),
        )
        .required("name")
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(stage_names.clone())),
        )
        .required("type")
        .property(
            "params",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(format!(
                    "The image query fields (as for txt2img, plus `tiles`), and the stage's own \
                     parameters; scalars only, except the list parameters.\n\n{stage_text}"
                )))
                .additional_properties(Some(AdditionalProperties::FreeForm(true))),
        )
        .required("params");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("A chain pipeline (onnx-web's `chain.yaml` schema)."))
        .property(
            "defaults",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "The base parameters of the response (model, prompt, size, ...: the txt2img query fields).",
                ))
                .additional_properties(Some(AdditionalProperties::FreeForm(true))),
        )
        .property(
            "platform",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Accepted and ignored, as in onnx-web.")),
        )
        .property(
            "stages",
            ArrayBuilder::new().items(stage).min_items(Some(1)),
        )
        .required("stages")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build()
        .into()
}

/// The chain request body: JSON, YAML text, or a form with `chain` and stage images.
fn chain_body() -> RequestBody {
    let form = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "`chain`: the pipeline as JSON or YAML text (field or file); further files \
             `source:<stage name>` and `mask:<stage name>` are that stage's images.",
        ))
        .property(
            "chain",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The pipeline, JSON or YAML.")),
        )
        .required("chain")
        .additional_properties(Some(AdditionalProperties::RefOr(
            binary()
                .description(Some("A stage image: `source:<stage>` or `mask:<stage>`."))
                .build()
                .into(),
        )));
    RequestBodyBuilder::new()
        .description(Some(
            "The pipeline as JSON (`application/json`), as YAML or JSON text (any other type), \
             or as a multipart form with stage images.",
        ))
        .required(Some(Required::True))
        .content("application/json", json_content(schema_ref("ChainRequest")))
        .content(
            "application/yaml",
            json_content(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .build()
                    .into(),
            ),
        )
        .content("multipart/form-data", json_content(form.build().into()))
        .build()
}

/// The operation of one route, by method and path as `ROUTES` writes them.
fn operation(inputs: &Inputs, method: &str, path: &str) -> Option<Op> {
    let list = |summary: &'static str, description: &str| Op {
        tag: "settings",
        summary,
        description: description.to_owned(),
        parameters: Vec::new(),
        body: None,
        ok: ok_json(summary, string_array()),
        errors: &[],
        security: 0,
    };
    let job = |summary: &'static str,
               description: &str,
               groups: &[&[Field]],
               pipeline: &str,
               body: Option<RequestBody>| Op {
        tag: "jobs",
        summary,
        description: description.to_owned(),
        parameters: inputs.query_parameters(groups, pipeline),
        body,
        ok: image_ok(),
        errors: JOB_ERRORS,
        security: 1,
    };
    let admin = |summary: &'static str, description: &str, ok: ApiResponse, errors| Op {
        tag: "admin",
        summary,
        description: description.to_owned(),
        parameters: Vec::new(),
        body: None,
        ok,
        errors,
        security: 2,
    };
    let status_schema = || {
        let tuple = ArrayBuilder::new()
            .description(Some(
                "`[job or device, progress or jobs started, pending or worker alive, finished, cancelled, failed]`",
            ))
            .prefix_items([
                Schema::from(ObjectBuilder::new().schema_type(Type::String)),
                Schema::from(ObjectBuilder::new().schema_type(Type::Integer)),
                Schema::from(ObjectBuilder::new().schema_type(Type::Boolean)),
                Schema::from(ObjectBuilder::new().schema_type(Type::Boolean)),
                Schema::from(ObjectBuilder::new().schema_type(Type::Boolean)),
                Schema::from(ObjectBuilder::new().schema_type(Type::Boolean)),
            ])
            .build();
        let mut object = ObjectBuilder::new().schema_type(Type::Object);
        for key in ["cancelled", "finished", "pending", "running", "total"] {
            object = object
                .property(
                    key,
                    ArrayBuilder::new().items(RefOr::<Schema>::from(tuple.clone())),
                )
                .required(key);
        }
        RefOr::from(object.build())
    };
    Some(match (method, path) {
        ("GET", "/") => Op {
            tag: "gui",
            summary: "The GUI's index.html",
            description: "onnx-web's GUI bundle, when the server has one (`--bundle`).".into(),
            parameters: Vec::new(),
            body: None,
            ok: ResponseBuilder::new()
                .description("index.html")
                .content("text/html", json_content(ObjectBuilder::new().schema_type(Type::String).build().into()))
                .build(),
            errors: &[404],
            security: 0,
        },
        ("GET", "/:filename") => Op {
            tag: "gui",
            summary: "A GUI bundle file",
            description: "Any file of the GUI bundle, e.g. `bundle/main.js`; `config.json` is \
                          written for this server."
                .into(),
            parameters: vec![path_parameter("filename", "The file's path in the bundle (may contain `/`).")],
            body: None,
            ok: file_ok("The file, with its content type."),
            errors: &[404],
            security: 0,
        },
        ("GET", "/output/:filename") => Op {
            tag: "outputs",
            summary: "An output file",
            description: "An output image, its `.json` metadata sidecar, or a txt2txt text, by \
                          the name in `outputs`. Ready once `/api/ready` says `ready` and not \
                          `failed`."
                .into(),
            parameters: vec![path_parameter("filename", "An output name from an ImageResponse's `outputs`, or that name + `.json`.")],
            body: None,
            ok: file_ok("The file (`image/png`, `image/jpeg`, `application/json`, `text/plain`)."),
            errors: &[404],
            security: 0,
        },
        ("GET", "/api") => Op {
            tag: "settings",
            summary: "Every route",
            description: "Introspection: the routes and their methods.".into(),
            parameters: Vec::new(),
            body: None,
            ok: ok_json("The routes.", schema_ref("IntrospectResponse")),
            errors: &[],
            security: 0,
        },
        ("GET", "/api/settings/filters") => Op {
            ok: ok_json("Mask and source filter names.", schema_ref("FiltersResponse")),
            ..list("Mask and source filters", "The `filter` (inpaint) and `sourceFilter` (img2img) values.")
        },
        ("GET", "/api/settings/masks") => list("Mask filters", "The `filter` values of `/api/inpaint` (deprecated list)."),
        ("GET", "/api/settings/models") => Op {
            ok: ok_json("The models.", schema_ref("ModelsResponse")),
            ..list("Models", "The diffusion, upscaling and correction models, and the networks (LoRA, Textual Inversion, ControlNet), as found in the models folder.")
        },
        ("GET", "/api/settings/noises") => list("Noise sources", "The `noise` values of `/api/inpaint`."),
        ("GET", "/api/settings/params") => Op {
            ok: ok_json("params.json", free_object("Each field's `default`, `min`, `max` and `step` (or `keys`), and the `version`.")),
            ..list("Parameter defaults and limits", "The server's `params.json`: the defaults and limits of the image query fields (the same values this document shows).")
        },
        ("GET", "/api/settings/pipelines") => list("Pipelines", "The pipelines the models allow."),
        ("GET", "/api/settings/platforms") => list("Platforms", "The `platform` values."),
        ("GET", "/api/settings/schedulers") => list("Schedulers", "The `scheduler` values."),
        ("GET", "/api/settings/strings") => Op {
            ok: ok_json("Strings", free_object("`{language: {namespace: {key: text}}}`")),
            ..list("Extra strings", "Labels from the extras files, by language.")
        },
        ("GET", "/api/settings/wildcards") => list("Wildcards", "The wildcard names usable as `__name__` in prompts."),
        ("POST", "/api/img2img") => job(
            "img2img",
            "Transforms the `source` image. The output size is the source's.",
            &[BASE, UPSCALE, HIGHRES, IMG2IMG],
            "img2img",
            Some(multipart(&[("source", "The source image.")])),
        ),
        ("POST", "/api/txt2img") => job(
            "txt2img",
            "An image from a prompt. Query parameters only; no body.",
            &[BASE, UPSCALE, HIGHRES],
            "txt2img",
            None,
        ),
        ("POST", "/api/txt2txt") => Op {
            description: "Continues `prompt` with a text model (unstable in onnx-web). The text \
                          appears at `/output/<outputs[0]>`."
                .into(),
            parameters: inputs.query_parameters(&[TXT2TXT], "txt2txt"),
            ok: ok_json("The job is queued.", free_object("`outputs` and the parsed parameters.")),
            ..job("txt2txt", "", &[], "", None)
        },
        ("POST", "/api/inpaint") => job(
            "inpaint / outpaint",
            "Repaints the white areas of `mask` in `source`; with a border, outpaints.",
            &[BASE, UPSCALE, HIGHRES, BORDER, INPAINT],
            "inpaint",
            Some(multipart(&[
                ("source", "The source image."),
                ("mask", "The mask: white is repainted, black kept."),
            ])),
        ),
        ("POST", "/api/upscale") => job(
            "upscale",
            "Upscales and/or corrects faces in `source`. The echoed size is the query's \
             `width`/`height` (onnx-web's behaviour).",
            &[BASE, UPSCALE, HIGHRES],
            "txt2img",
            Some(multipart(&[("source", "The source image.")])),
        ),
        ("POST", "/api/chain") => Op {
            parameters: Vec::new(),
            ..job(
                "chain pipeline",
                "Runs a chain of stages. Nothing is saved unless a `persist-*` stage runs.",
                &[],
                "",
                Some(chain_body()),
            )
        },
        ("POST", "/api/blend") => job(
            "blend",
            "Blends `source:0` and `source:1` through `mask`.",
            &[BASE, UPSCALE],
            "txt2img",
            Some(multipart(&[
                ("mask", "The mask."),
                ("source:0", "The first image."),
                ("source:1", "The second image."),
            ])),
        ),
        ("PUT", "/api/cancel") => Op {
            tag: "jobs",
            summary: "Cancel a job",
            description: "Always 200; `cancelled` says whether a pending or running job was cancelled.".into(),
            parameters: vec![output_parameter("The job's key: `outputs[0]` of its ImageResponse.")],
            body: None,
            ok: ok_json("Whether the job was cancelled.", schema_ref("ReadyResponse")),
            errors: &[400, 401],
            security: 1,
        },
        ("GET", "/api/ready") => Op {
            tag: "jobs",
            summary: "A job's state",
            description: "Poll until `ready`; then the outputs exist unless `failed` or `cancelled`. \
                          `progress` counts diffusion steps."
                .into(),
            parameters: vec![output_parameter("The job's key: `outputs[0]` of its ImageResponse.")],
            body: None,
            ok: ok_json("The job's state.", schema_ref("ReadyResponse")),
            errors: &[400],
            security: 0,
        },
        ("GET", "/api/extras") => admin(
            "The extras file",
            "The text of the first extras file.",
            ok_json("The extras file.", free_object("onnx-web's extras file.")),
            &[401, 500],
        ),
        ("PUT", "/api/extras") => Op {
            body: Some(
                RequestBodyBuilder::new()
                    .description(Some("The new extras file, JSON or YAML text (any content type)."))
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        json_content(free_object("onnx-web's extras file.")),
                    )
                    .content(
                        "application/yaml",
                        json_content(ObjectBuilder::new().schema_type(Type::String).build().into()),
                    )
                    .build(),
            ),
            ..admin(
                "Replace the extras file",
                "Writes the extras file, re-reads models, extras and wildcards, and answers the parsed data.",
                ok_json("The parsed extras.", free_object("onnx-web's extras file.")),
                &[400, 401, 409, 413, 500],
            )
        },
        ("POST", "/api/restart") => admin(
            "Restart the workers",
            "Workers drop their loaded models and the catalog is re-read; answers the queue status.",
            ok_json("The queue status.", status_schema()),
            &[401],
        ),
        ("GET", "/api/status") => admin(
            "The queue status",
            "onnx-web's worker pool status tuples.",
            ok_json("The queue status.", status_schema()),
            &[401],
        ),
        ("GET", "/openapi.json") => Op {
            tag: "docs",
            summary: "This document",
            description: "The OpenAPI document of every route, built from the server's parameter table.".into(),
            parameters: Vec::new(),
            body: None,
            ok: ok_json("The OpenAPI 3.1 document.", free_object("OpenAPI 3.1")),
            errors: &[],
            security: 0,
        },
        ("GET", "/api/docs") => Op {
            tag: "docs",
            summary: "API documentation page",
            description: "A page that renders `/openapi.json` as tables (no external scripts).".into(),
            parameters: Vec::new(),
            body: None,
            ok: ResponseBuilder::new()
                .description("The page.")
                .content("text/html", json_content(ObjectBuilder::new().schema_type(Type::String).build().into()))
                .build(),
            errors: &[],
            security: 0,
        },
        _ => return None,
    })
}

/// `/:name` → `/{name}`.
pub fn openapi_path(route: &str) -> String {
    route
        .split('/')
        .map(|part| match part.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(part.trim_start_matches(':').chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '_'
            }
        }));
    }
    if path == "/" {
        id.push_str("_index");
    }
    id
}

fn build_operation(op: Op, method: &str, path: &str) -> Operation {
    let mut builder = OperationBuilder::new()
        .tag(op.tag)
        .summary(Some(op.summary))
        .description(Some(op.description))
        .operation_id(Some(operation_id(method, path)))
        .parameters(Some(op.parameters))
        .request_body(op.body)
        .response("200", op.ok);
    for status in op.errors {
        builder = builder.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(error_text(*status))
                .content("application/json", json_content(schema_ref("Error")))
                .build(),
        );
    }
    match op.security {
        1 => {
            builder = builder.securities(Some([
                SecurityRequirement::default(),
                SecurityRequirement::new("api_token", Vec::<String>::new()),
                SecurityRequirement::new("api_bearer", Vec::<String>::new()),
            ]))
        }
        2 => {
            builder = builder.securities(Some([
                SecurityRequirement::new("admin_token", Vec::<String>::new()),
                SecurityRequirement::new("admin_header", Vec::<String>::new()),
            ]))
        }
        _ => {}
    }
    builder.build()
}

fn http_method(method: &str) -> Option<HttpMethod> {
    Some(match method {
        "GET" => HttpMethod::Get,
        "HEAD" => HttpMethod::Head,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        _ => return None,
    })
}

/// The document, from what the running server has.
pub fn document(state: &AppState) -> OpenApi {
    build(&Inputs::from_state(state))
}

/// The document of every route in [`ROUTES`].
pub fn build(inputs: &Inputs) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (route, methods) in ROUTES {
        for method in *methods {
            let Some(http) = http_method(method) else {
                continue;
            };
            // HEAD answers like GET, without the body.
            let lookup = if *method == "HEAD" { "GET" } else { method };
            let op = operation(inputs, lookup, route).unwrap_or_else(|| Op {
                tag: "other",
                summary: "Undocumented",
                description: String::new(),
                parameters: Vec::new(),
                body: None,
                ok: ResponseBuilder::new().description("OK").build(),
                errors: &[],
                security: 0,
            });
            let mut operation = build_operation(op, method, route);
            if *method == "HEAD" {
                operation.summary = operation.summary.map(|s| format!("{s} (headers only)"));
            }
            paths = paths.path(openapi_path(route), PathItem::new(http, operation));
        }
    }
    let components = ComponentsBuilder::new()
        .schema_from::<Error>()
        .schema_from::<Size>()
        .schema_from::<ImageParams>()
        .schema_from::<UpscaleParams>()
        .schema_from::<HighresParams>()
        .schema_from::<Border>()
        .schema_from::<ImageResponse>()
        .schema_from::<ReadyResponse>()
        .schema_from::<Network>()
        .schema_from::<ModelsResponse>()
        .schema_from::<RouteEntry>()
        .schema_from::<IntrospectResponse>()
        .schema_from::<FiltersResponse>()
        .schema("ChainRequest", chain_request_schema())
        .security_scheme(
            "api_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Token",
                "Needed by POST and PUT requests when the server runs with `--api-token`.",
            ))),
        )
        .security_scheme(
            "api_bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The API token as `Authorization: Bearer <token>`."))
                    .build(),
            ),
        )
        .security_scheme(
            "admin_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "The admin token (`ONNX_WEB_ADMIN_TOKEN` / `--admin-token`).",
            ))),
        )
        .security_scheme(
            "admin_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Admin-Token",
                "The admin token, as a header.",
            ))),
        )
        .build();
    let tags = [
        ("jobs", "Queue image jobs and follow them."),
        ("settings", "Lists and defaults for building requests."),
        ("outputs", "Finished images and their metadata."),
        ("admin", "Admin routes (admin token)."),
        ("gui", "onnx-web's GUI bundle."),
        ("docs", "This document."),
    ]
    .map(|(name, text)| TagBuilder::new().name(name).description(Some(text)).build());
    let version = inputs.params["version"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| inputs.version.clone());
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("onnx-web")
                .version(version)
                .description(Some(
                    "onnx-web 0.12's HTTP API. Image jobs take their fields in the query string \
                     (defaults and limits below are this server's `params.json`, also served at \
                     `/api/settings/params`; values out of range are clamped), are queued at once, \
                     and are followed with `/api/ready?output=<outputs[0]>`. Errors are \
                     `{\"error\": \"...\"}`.",
                )),
        )
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(tags))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            params: crate::params::ParamsConfig::builtin(Some("cpu"))
                .served()
                .clone(),
            version: "v0.12.0".into(),
            models: vec!["diffusion-a".into()],
            schedulers: vec!["ddim".into(), "euler-a".into()],
            platforms: vec!["any".into(), "cpu".into()],
            upscaling: vec![],
            correction: vec!["correction-x".into()],
            networks: vec![],
            text_models: vec![],
        }
    }

    fn doc() -> Value {
        serde_json::to_value(build(&inputs())).unwrap()
    }

    #[test]
    fn every_route_has_an_operation() {
        for (route, methods) in ROUTES {
            for method in *methods {
                let lookup = if *method == "HEAD" { "GET" } else { method };
                assert!(
                    operation(&inputs(), lookup, route).is_some(),
                    "{method} {route} is not described"
                );
            }
        }
    }

    #[test]
    fn fields_come_from_params_json() {
        let doc = doc();
        let params = doc["paths"]["/api/txt2img"]["post"]["parameters"]
            .as_array()
            .unwrap();
        let steps = params.iter().find(|p| p["name"] == "steps").unwrap();
        assert_eq!(steps["in"], "query");
        assert_eq!(steps["schema"]["type"], "integer");
        assert_eq!(steps["schema"]["default"], 25);
        assert_eq!(steps["schema"]["minimum"], 1);
        assert_eq!(steps["schema"]["maximum"], 300);
        let cfg = params.iter().find(|p| p["name"] == "cfg").unwrap();
        assert_eq!(cfg["schema"]["type"], "number");
        assert_eq!(cfg["schema"]["x-step"], 0.1);
        let scheduler = params.iter().find(|p| p["name"] == "scheduler").unwrap();
        assert_eq!(scheduler["schema"]["default"], "euler-a");
        // The default model is not here: the first one is.
        let model = params.iter().find(|p| p["name"] == "model").unwrap();
        assert_eq!(model["schema"]["default"], "diffusion-a");
        assert_eq!(model["schema"]["enum"], json!(["diffusion-a"]));
        let order = params.iter().find(|p| p["name"] == "upscaleOrder").unwrap();
        assert_eq!(order["schema"]["enum"].as_array().unwrap().len(), 3);
        let inpaint = doc["paths"]["/api/inpaint"]["post"]["parameters"]
            .as_array()
            .unwrap();
        assert!(inpaint.iter().any(|p| p["name"] == "left"));
        let highres_steps = params.iter().find(|p| p["name"] == "highresSteps").unwrap();
        assert_eq!(
            highres_steps["schema"]["default"], 1,
            "clamped like the server"
        );
        assert_eq!(
            doc["paths"]["/api/img2img"]["post"]["requestBody"]["content"]["multipart/form-data"]
                ["schema"]["required"],
            json!(["source"])
        );
        assert_eq!(
            doc["paths"]["/api/chain"]["post"]["requestBody"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/ChainRequest"
        );
        assert!(doc["components"]["schemas"]["ChainRequest"]["properties"]["stages"].is_object());
    }

    #[test]
    fn ready_schema_matches_ready_json() {
        let doc = doc();
        let schema = &doc["components"]["schemas"]["ReadyResponse"]["properties"];
        let body = crate::responses::ready_json(crate::responses::empty_status());
        for key in body.as_object().unwrap().keys() {
            assert!(schema.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn paths_use_braces() {
        assert_eq!(openapi_path("/output/:filename"), "/output/{filename}");
        assert_eq!(openapi_path("/"), "/");
        assert_eq!(operation_id("GET", "/"), "get_index");
        assert_eq!(
            operation_id("GET", "/api/settings/models"),
            "get_api_settings_models"
        );
    }
}
