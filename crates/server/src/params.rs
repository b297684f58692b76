//! Request parameters: `params.json` (defaults and bounds, §4.4 and Appendix A), the query-string
//! parsing primitives with onnx-web's semantics (§0.3), and the parameter groups of the image
//! endpoints (§1.4).
//!
//! Where onnx-web answers bad input with an HTML 500 page, this server answers 400 with a message
//! that names the field:
//! - a non-numeric integer or float, NaN or infinity → 400; out-of-range numbers are clamped to
//!   the `params.json` min/max, as in onnx-web;
//! - names picked from a list (`model`, `scheduler`, `pipeline`, `platform`, `upscaling`, ...)
//!   follow the rule of [`crate::names`]: aliases map, unknown names fall back as in onnx-web,
//!   with a warning in the response; only values that are not names at all are a 400;
//! - `seed` outside `[-1, 2^32-1]` → 400;
//! - `width`/`height` that are not multiples of 8 → 400 (the UNet works on 1/8-size latents).
//!
//! The built-in `params.json` is onnx-web 0.12's, except that `width` and `height` go down to
//! 64 px (onnx-web: 128), so the tiny demo model, which works at 64 px, can be used from the GUI,
//! and that the `upscaling` default names the real upscaler `scripts/setup.sh` converts
//! (`upscaling-realesr-animevideov3-x4`); requests and the GUI fall back to the first listed
//! upscaler when it is not installed.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::Context;
use onnx_web_pipelines::{ImageParams, Size};
use rand::Rng;
use serde_json::Value;

use crate::config::parse_boolean;
use crate::error::ApiError;
use crate::models::Catalog;
use crate::names::{resolve, Fallback, NameList, SCHEDULER_ALIASES};

/// The built-in `params.json`.
pub const DEFAULT_PARAMS_JSON: &str = include_str!("params.json");

static DEFAULT_PARAMS: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(DEFAULT_PARAMS_JSON).expect("the built-in params.json is valid JSON")
});

/// Every scheduler of onnx-web 0.12, in its order (§3.1).
pub const REFERENCE_SCHEDULERS: &[&str] = &[
    "ddim",
    "ddpm",
    "deis-multi",
    "dpm-multi",
    "dpm-sde",
    "dpm-single",
    "euler",
    "euler-a",
    "heun",
    "ipndm",
    "k-dpm-2-a",
    "k-dpm-2",
    "lcm",
    "lms-discrete",
    "pndm",
    "unipc-multi",
];

/// The schedulers this server runs (the diffusion crate's registry).
pub const IMPLEMENTED_SCHEDULERS: &[&str] = onnx_web_diffusion::schedulers::SCHEDULER_NAMES;

/// The implemented schedulers, in onnx-web's order; names onnx-web does not have come last.
pub fn available_schedulers(implemented: &[&'static str]) -> Vec<&'static str> {
    let mut list: Vec<&'static str> = REFERENCE_SCHEDULERS
        .iter()
        .copied()
        .filter(|name| implemented.contains(name))
        .collect();
    let extra: Vec<&'static str> = implemented
        .iter()
        .copied()
        .filter(|name| !REFERENCE_SCHEDULERS.contains(name))
        .collect();
    list.extend(extra);
    list
}

/// Every pipeline name of onnx-web 0.12, in its order (§3.5). Requests may name any of them;
/// the name is echoed, and the endpoint runs its own pipeline.
pub const REFERENCE_PIPELINES: &[&str] = &[
    "controlnet",
    "img2img",
    "img2img-sdxl",
    "inpaint",
    "lpw",
    "panorama",
    "panorama-sdxl",
    "pix2pix",
    "txt2img-sdxl",
    "txt2img",
    "upscale",
];

/// Resamplers usable as `upscaling` models (onnx-web's `upscale-simple` methods).
pub const SIMPLE_UPSCALERS: &[&str] = &["bilinear", "bicubic", "lanczos", "nearest"];

/// onnx-web's highres methods (§1.4.3).
pub const HIGHRES_METHODS: &[&str] = &["bilinear", "lanczos", "upscale"];

// ---------------------------------------------------------------------------------------------
// Query strings

/// A decoded query string. Repeated keys keep every value; lookups take the first one, as
/// Flask's `request.args.get` does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

fn decode_component(text: &str) -> Result<String, ApiError> {
    let spaced = text.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    let decoded = String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the query string is not valid UTF-8"))?;
    if decoded.contains('\0') {
        return Err(ApiError::bad_request(
            "the query string contains a NUL character",
        ));
    }
    Ok(decoded)
}

impl Query {
    /// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte). Pairs
    /// without `=` have an empty value; invalid UTF-8 or NUL characters are a 400.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode_component(key)?, decode_component(value)?));
        }
        Ok(Self { pairs })
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` unless it is missing or empty (onnx-web's `get_not_empty`).
    pub fn get_not_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing primitives

use crate::names::quote;

/// Removes `_` separators the way Python number literals allow them: only single ones, between
/// two digits. `None` for any other underscore.
fn strip_digit_separators(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            let before = i > 0 && chars[i - 1].is_ascii_digit();
            let after = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Python's `int(str)`: surrounding whitespace, an optional sign, decimal digits with `_`
/// separators. Values beyond `i64` saturate (they are clamped or refused afterwards).
pub fn parse_python_int(text: &str) -> Option<i64> {
    let digits = strip_digit_separators(text.trim())?;
    let (negative, digits) = match digits.as_bytes().first() {
        Some(b'-') => (true, &digits[1..]),
        Some(b'+') => (false, &digits[1..]),
        _ => (false, digits.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i64 = 0;
    for b in digits.bytes() {
        let digit = i64::from(b - b'0');
        value = match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => v,
            None => return Some(if negative { i64::MIN } else { i64::MAX }),
        };
    }
    Some(if negative { -value } else { value })
}

/// Python's `float(str)`: decimal or exponent notation with `_` separators; `inf`/`nan` parse
/// (and are refused by the callers).
pub fn parse_python_float(text: &str) -> Option<f64> {
    let cleaned = strip_digit_separators(text.trim())?;
    let lower = cleaned.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if lower.len() - unsigned.len() > 1 {
        return None;
    }
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    let allowed = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'));
    if !allowed || !unsigned.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    lower.parse().ok()
}

/// An integer field: missing → `default`; otherwise parsed and clamped to `[min, max]`.
pub fn get_and_clamp_int(
    query: &Query,
    key: &str,
    default: i64,
    max: i64,
    min: i64,
) -> Result<i64, ApiError> {
    let value = match query.get(key) {
        None => default,
        Some(text) => parse_python_int(text).ok_or_else(|| {
            ApiError::field(key, format!("expected an integer, got {}", quote(text)))
        })?,
    };
    Ok(value.max(min).min(max))
}

/// A float field: missing → `default`; otherwise parsed, refused when not finite, and clamped to
/// `[min, max]`.
pub fn get_and_clamp_float(
    query: &Query,
    key: &str,
    default: f64,
    max: f64,
    min: f64,
) -> Result<f64, ApiError> {
    let value = match query.get(key) {
        None => default,
        Some(text) => {
            let value = parse_python_float(text).ok_or_else(|| {
                ApiError::field(key, format!("expected a number, got {}", quote(text)))
            })?;
            if !value.is_finite() {
                return Err(ApiError::field(
                    key,
                    format!("expected a finite number, got {}", quote(text)),
                ));
            }
            value
        }
    };
    Ok(value.max(min).min(max))
}

/// onnx-web's `get_boolean` on a query: missing → `default`, else `1/t/true/y/yes` (any case).
pub fn get_boolean(query: &Query, key: &str, default: bool) -> bool {
    query.get(key).map_or(default, parse_boolean)
}

/// onnx-web's `get_from_list`: the value when it is in `values`, else the first item (or `None`
/// for an empty list). Used where an unknown name is harmless.
pub fn get_from_list<'a>(query: &Query, key: &str, values: &'a [String]) -> Option<&'a str> {
    let selected = query.get(key);
    values
        .iter()
        .find(|v| Some(v.as_str()) == selected)
        .or_else(|| values.first())
        .map(String::as_str)
}

fn to_u32(key: &str, value: i64) -> Result<u32, ApiError> {
    u32::try_from(value).map_err(|_| ApiError::field(key, format!("{value} is out of range")))
}

// ---------------------------------------------------------------------------------------------
// params.json

/// `params.json`: what `/api/settings/params` serves, and the defaults and bounds of every field.
#[derive(Clone, Debug)]
pub struct ParamsConfig {
    served: Value,
    source: Option<PathBuf>,
}

impl ParamsConfig {
    /// The built-in file.
    pub fn builtin(default_platform: Option<&str>) -> Self {
        let mut served = DEFAULT_PARAMS.clone();
        override_platform(&mut served, default_platform);
        Self {
            served,
            source: None,
        }
    }

    /// `<dir>/params.json` (JSON or YAML) if it exists, else the built-in file. A file that
    /// cannot be read or is not an object stops the server. Keys missing from the file are
    /// filled in from the built-in file (and logged), so the GUI finds every key it reads.
    pub fn load(dir: &Path, default_platform: Option<&str>) -> anyhow::Result<Self> {
        let path = dir.join("params.json");
        if !path.is_file() {
            tracing::info!(
                "no params.json in {}; using the built-in parameters",
                dir.display()
            );
            return Ok(Self::builtin(default_platform));
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut served = crate::models::parse_config_text(&text)
            .with_context(|| format!("parsing {}", path.display()))?;
        let Value::Object(map) = &mut served else {
            anyhow::bail!("{} must hold a JSON object", path.display());
        };
        let mut missing = Vec::new();
        if let Value::Object(defaults) = &*DEFAULT_PARAMS {
            for (key, value) in defaults {
                if !map.contains_key(key) {
                    missing.push(key.as_str());
                    map.insert(key.clone(), value.clone());
                }
            }
        }
        if !missing.is_empty() {
            tracing::warn!(
                "{} lacks {}; using the built-in values",
                path.display(),
                missing.join(", ")
            );
        }
        override_platform(&mut served, default_platform);
        tracing::info!("server parameters loaded from {}", path.display());
        Ok(Self {
            served,
            source: Some(path),
        })
    }

    /// Makes the served platform default one of `platforms` (the served list), when it is not:
    /// onnx-web's own params.json says `amd`, and its GUI sends that default from tabs without a
    /// platform menu (Blend), which this server would replace (with a warning) as an unknown platform.
    pub fn use_available_platform(&mut self, platforms: &[String]) {
        let Some(first) = platforms.first() else {
            return;
        };
        let current = self.default_str("platform").map(str::to_owned);
        if current
            .as_deref()
            .is_some_and(|p| platforms.iter().any(|q| q == p))
        {
            return;
        }
        tracing::info!(
            "default platform {:?} is not available here; serving {first:?} as the default",
            current.unwrap_or_default()
        );
        override_platform(&mut self.served, Some(first));
    }

    /// The body of `/api/settings/params`.
    pub fn served(&self) -> &Value {
        &self.served
    }

    /// Where the parameters came from (`None`: built in).
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// `params[key][subkey]`, falling back to the built-in file when the value is missing or
    /// has the wrong type.
    fn number(&self, key: &str, subkey: &str) -> f64 {
        let lookup = |params: &Value| params.get(key)?.get(subkey)?.as_f64();
        lookup(&self.served)
            .or_else(|| lookup(&DEFAULT_PARAMS))
            .unwrap_or(0.0)
    }

    /// The `default` string of a field.
    pub fn default_str(&self, key: &str) -> Option<&str> {
        self.served.get(key)?.get("default")?.as_str()
    }

    /// The `default` boolean of a field.
    pub fn default_bool(&self, key: &str) -> bool {
        let lookup = |params: &Value| params.get(key)?.get("default")?.as_bool();
        lookup(&self.served)
            .or_else(|| lookup(&DEFAULT_PARAMS))
            .unwrap_or(false)
    }

    /// An integer field with its `params.json` default and bounds.
    pub fn int(&self, query: &Query, key: &str) -> Result<i64, ApiError> {
        get_and_clamp_int(
            query,
            key,
            self.number(key, "default") as i64,
            self.number(key, "max") as i64,
            self.number(key, "min") as i64,
        )
    }

    /// A non-negative integer field with its `params.json` default and bounds.
    pub fn uint(&self, query: &Query, key: &str) -> Result<u32, ApiError> {
        to_u32(key, self.int(query, key)?)
    }

    /// A float field with its `params.json` default and bounds.
    pub fn float(&self, query: &Query, key: &str) -> Result<f64, ApiError> {
        get_and_clamp_float(
            query,
            key,
            self.number(key, "default"),
            self.number(key, "max"),
            self.number(key, "min"),
        )
    }
}

fn override_platform(params: &mut Value, default_platform: Option<&str>) {
    if let (Some(platform), Some(Value::Object(entry))) =
        (default_platform, params.get_mut("platform"))
    {
        entry.insert("default".into(), Value::String(platform.to_owned()));
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter groups

/// What the parsers need from the server state.
#[derive(Clone, Copy)]
pub struct ParseContext<'a> {
    pub params: &'a ParamsConfig,
    pub catalog: &'a Catalog,
    /// The served platform list (`any` included when enabled).
    pub platforms: &'a [String],
    /// Implemented schedulers, in list order.
    pub schedulers: &'a [&'static str],
}

/// onnx-web's `ImageParams` as a request sets it (§1.4.1), before and after wildcards.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseParams {
    /// The model's listed name.
    pub model: String,
    /// The model folder, inside the models root.
    pub model_dir: PathBuf,
    pub pipeline: String,
    pub scheduler: String,
    /// After wildcards.
    pub prompt: String,
    /// After wildcards; `None` when blank.
    pub negative_prompt: Option<String>,
    /// As received.
    pub input_prompt: String,
    /// As received; `None` when blank.
    pub input_negative_prompt: Option<String>,
    pub cfg: f64,
    pub seed: u32,
    pub steps: u32,
    pub eta: f64,
    pub batch: u32,
    /// A ControlNet name from the network list, if one matched.
    pub control: Option<String>,
    pub loopback: u32,
    pub tiled_vae: bool,
    pub unet_overlap: f64,
    pub unet_tile: u32,
    pub vae_overlap: f64,
    pub vae_tile: u32,
    /// Names replaced by [`crate::names::resolve`] (the response's `warnings`).
    pub warnings: Vec<String>,
}

impl BaseParams {
    /// The typed parameters handed to the pipelines.
    pub fn image_params(&self) -> ImageParams {
        ImageParams {
            model_dir: self.model_dir.clone(),
            pipeline: self.pipeline.clone(),
            scheduler: self.scheduler.clone(),
            prompt: self.prompt.clone(),
            negative_prompt: self.negative_prompt.clone(),
            cfg: self.cfg as f32,
            seed: self.seed,
            steps: self.steps,
            eta: self.eta as f32,
            batch: self.batch,
        }
    }

    /// The model folder's base name, as responses show it.
    pub fn model_basename(&self) -> String {
        self.model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.model.clone())
    }
}

/// onnx-web's `UpscaleParams` (§1.4.2).
#[derive(Clone, Debug, PartialEq)]
pub struct UpscaleParams {
    pub upscale: bool,
    pub upscale_model: Option<String>,
    pub correction_model: Option<String>,
    pub scale: u32,
    pub outscale: u32,
    pub denoise: f64,
    pub faces: bool,
    pub face_outscale: u32,
    pub face_strength: f64,
    pub upscale_order: String,
    /// Names replaced by [`crate::names::resolve`].
    pub warnings: Vec<String>,
}

/// onnx-web's `HighresParams` (§1.4.3).
#[derive(Clone, Debug, PartialEq)]
pub struct HighresParams {
    pub enabled: bool,
    pub iterations: u32,
    pub method: String,
    pub scale: u32,
    pub steps: u32,
    pub strength: f64,
    /// Names replaced by [`crate::names::resolve`].
    pub warnings: Vec<String>,
}

/// onnx-web's `Border` (§1.4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Border {
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
}

/// The upscale orders (§1.4.2), the default first.
pub const UPSCALE_ORDERS: &[&str] = &["correction-first", "correction-last", "correction-both"];

fn pick_model(
    query: &Query,
    ctx: &ParseContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<(String, PathBuf), ApiError> {
    let names = ctx.catalog.diffusion_names();
    let default = ctx
        .params
        .default_str("model")
        .filter(|d| names.contains(d))
        .or_else(|| names.first().copied());
    let list = NameList {
        field: "model",
        what: "a diffusion model",
        names: &names,
        aliases: &[],
    };
    let fallback = Fallback::to(default, "the default model");
    let name = resolve(warnings, &list, query.get("model"), fallback)?.ok_or_else(|| {
        ApiError::field(
            "model",
            format!(
                "no diffusion models found in {}",
                ctx.catalog.root.display()
            ),
        )
    })?;
    let dir = ctx
        .catalog
        .resolve_diffusion_model(&name)
        .filter(|path| path.is_dir())
        .ok_or_else(|| {
            ApiError::field("model", format!("{} is not a model folder", quote(&name)))
        })?;
    Ok((name, dir.to_path_buf()))
}

fn pick_scheduler(
    query: &Query,
    ctx: &ParseContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<String, ApiError> {
    let default = ctx
        .params
        .default_str("scheduler")
        .filter(|d| ctx.schedulers.contains(d))
        .or_else(|| ctx.schedulers.first().copied());
    let list = NameList {
        field: "scheduler",
        what: "a scheduler",
        names: ctx.schedulers,
        aliases: SCHEDULER_ALIASES,
    };
    let fallback = Fallback::to(default, "the default scheduler");
    resolve(warnings, &list, query.get("scheduler"), fallback)?
        .ok_or_else(|| ApiError::field("scheduler", "no schedulers are available"))
}

fn pick_pipeline(
    query: &Query,
    default_pipeline: &str,
    warnings: &mut Vec<String>,
) -> Result<String, ApiError> {
    let list = NameList {
        field: "pipeline",
        what: "a pipeline",
        names: REFERENCE_PIPELINES,
        aliases: &[],
    };
    let fallback = Fallback::to(Some(default_pipeline), "the endpoint's pipeline");
    Ok(resolve(warnings, &list, query.get("pipeline"), fallback)?
        .unwrap_or_else(|| default_pipeline.to_owned()))
}

/// The requested platform: `None` for missing, empty, `any` or unknown (onnx-web's
/// `build_device`: no device preference).
pub fn pick_platform(
    query: &Query,
    ctx: &ParseContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, ApiError> {
    let names: Vec<&str> = ctx.platforms.iter().map(String::as_str).collect();
    let list = NameList {
        field: "platform",
        what: "a platform",
        names: &names,
        aliases: &[],
    };
    let given = query.get("platform").filter(|p| *p != "any");
    let platform = resolve(
        warnings,
        &list,
        given,
        Fallback::to(None, "on any platform"),
    )?;
    Ok(platform.filter(|p| p != "any"))
}

/// `control`: a network of any type matched by name (onnx-web); anything else is no ControlNet.
fn pick_control(
    query: &Query,
    ctx: &ParseContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, ApiError> {
    let names: Vec<&str> = ctx
        .catalog
        .models
        .networks
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    let list = NameList {
        field: "control",
        what: "a network",
        names: &names,
        aliases: &[],
    };
    resolve(
        warnings,
        &list,
        query.get("control"),
        Fallback::to(None, "without a ControlNet"),
    )
}

pub fn pick_seed(query: &Query) -> Result<u32, ApiError> {
    let seed = match query.get("seed") {
        None => -1,
        Some(text) => parse_python_int(text).ok_or_else(|| {
            ApiError::field("seed", format!("expected an integer, got {}", quote(text)))
        })?,
    };
    if seed == -1 {
        // numpy.random.randint(2**31 - 1): [0, 2^31 - 2].
        // Recorded with the job, so a restart replays the same seed (`persist`).
        return Ok(crate::persist::random_seed(|| {
            rand::rng().random_range(0..=2_147_483_646)
        }));
    }
    u32::try_from(seed).map_err(|_| {
        ApiError::field(
            "seed",
            format!("must be -1 (random) or between 0 and 4294967295, got {seed}"),
        )
    })
}

fn pick_size(query: &Query, ctx: &ParseContext<'_>) -> Result<Size, ApiError> {
    let mut dims = [0u32; 2];
    for (slot, key) in dims.iter_mut().zip(["width", "height"]) {
        let value = ctx.params.uint(query, key)?;
        if !value.is_multiple_of(8) {
            return Err(ApiError::field(
                key,
                format!("must be a multiple of 8, got {value}"),
            ));
        }
        *slot = value;
    }
    Ok(Size {
        width: dims[0],
        height: dims[1],
    })
}

/// The base parameters, size and platform of an image request (§1.4.1), with wildcards expanded.
pub fn build_base_params(
    query: &Query,
    ctx: &ParseContext<'_>,
    default_pipeline: &str,
) -> Result<(BaseParams, Size, Option<String>), ApiError> {
    let mut warnings = Vec::new();
    let platform = pick_platform(query, ctx, &mut warnings)?;
    let (model, model_dir) = pick_model(query, ctx, &mut warnings)?;
    let pipeline = pick_pipeline(query, default_pipeline, &mut warnings)?;
    let scheduler = pick_scheduler(query, ctx, &mut warnings)?;
    let params = ctx.params;
    let cfg = params.float(query, "cfg")?;
    let steps = params.uint(query, "steps")?;
    let eta = params.float(query, "eta")?;
    let batch = params.uint(query, "batch")?;
    let loopback = params.uint(query, "loopback")?;
    let tiled_vae = get_boolean(query, "tiled_vae", params.default_bool("tiled_vae"));
    let unet_overlap = params.float(query, "unet_overlap")?;
    let unet_tile = params.uint(query, "unet_tile")?;
    let vae_overlap = params.float(query, "vae_overlap")?;
    let vae_tile = params.uint(query, "vae_tile")?;
    let seed = pick_seed(query)?;
    let size = pick_size(query, ctx)?;
    let control = pick_control(query, ctx, &mut warnings)?;

    let input_prompt = query.get("prompt").unwrap_or("").to_owned();
    let input_negative_prompt = query
        .get("negativePrompt")
        .filter(|p| !p.trim().is_empty())
        .map(str::to_owned);
    let wildcards = &ctx.catalog.wildcards;
    let prompt = wildcards
        .expand(&input_prompt, seed)
        .map_err(|e| ApiError::field("prompt", e))?;
    let negative_prompt = match &input_negative_prompt {
        Some(text) => Some(
            wildcards
                .expand(text, seed)
                .map_err(|e| ApiError::field("negativePrompt", e))?,
        )
        .filter(|p| !p.trim().is_empty()),
        None => None,
    };

    let base = BaseParams {
        model,
        model_dir,
        pipeline,
        scheduler,
        prompt,
        negative_prompt,
        input_prompt,
        input_negative_prompt,
        cfg,
        seed,
        steps,
        eta,
        batch,
        control,
        loopback,
        tiled_vae,
        unet_overlap,
        unet_tile,
        vae_overlap,
        vae_tile,
        warnings,
    };
    Ok((base, size, platform))
}

/// The pipeline parameters, size and platform of an image request.
pub fn build_image_params(
    query: &Query,
    ctx: &ParseContext<'_>,
    default_pipeline: &str,
) -> Result<(ImageParams, Size, Option<String>), ApiError> {
    let (base, size, platform) = build_base_params(query, ctx, default_pipeline)?;
    Ok((base.image_params(), size, platform))
}

/// The upscale / correction group (§1.4.2). `upscaling` falls back to the `params.json` default
/// when that is listed (the real Real-ESRGAN animevideov3 model of the default set-up), else to
/// the first listed model, and also takes the simple resamplers' names; `correction` falls back
/// to the first listed model (or none), like onnx-web. `upscaleOrder` falls back to the default
/// order (onnx-web skips the correction instead).
pub fn build_upscale(query: &Query, ctx: &ParseContext<'_>) -> Result<UpscaleParams, ApiError> {
    let mut warnings = Vec::new();
    let models = &ctx.catalog.models;
    let upscaling: Vec<&str> = models.upscaling.iter().map(|e| e.name.as_str()).collect();
    let correction: Vec<&str> = models.correction.iter().map(|e| e.name.as_str()).collect();
    // The simple resamplers are accepted by name beside the model list.
    let mut upscalers = upscaling.clone();
    upscalers.extend(SIMPLE_UPSCALERS.iter().copied());
    let upscale_model = resolve(
        &mut warnings,
        &NameList {
            field: "upscaling",
            what: "an upscaling model",
            names: &upscalers,
            aliases: &[],
        },
        query.get("upscaling"),
        match ctx
            .params
            .default_str("upscaling")
            .filter(|d| upscaling.contains(d))
        {
            Some(default) => Fallback::to(Some(default), "the default upscaling model"),
            None => Fallback::to(upscaling.first().copied(), "the first upscaling model"),
        },
    )?;
    let correction_model = resolve(
        &mut warnings,
        &NameList {
            field: "correction",
            what: "a correction model",
            names: &correction,
            aliases: &[],
        },
        query.get("correction"),
        Fallback::to(correction.first().copied(), "the first correction model"),
    )?;
    let default_order = ctx
        .params
        .default_str("upscaleOrder")
        .filter(|o| UPSCALE_ORDERS.contains(o))
        .unwrap_or(UPSCALE_ORDERS[0]);
    let upscale_order = resolve(
        &mut warnings,
        &NameList {
            field: "upscaleOrder",
            what: "an upscale order",
            names: UPSCALE_ORDERS,
            aliases: &[],
        },
        query.get("upscaleOrder"),
        Fallback::to(Some(default_order), "the default order"),
    )?
    .unwrap_or_else(|| default_order.to_owned());
    let params = ctx.params;
    Ok(UpscaleParams {
        upscale: get_boolean(query, "upscale", false),
        upscale_model,
        correction_model,
        scale: params.uint(query, "scale")?,
        outscale: params.uint(query, "outscale")?,
        denoise: params.float(query, "denoise")?,
        faces: get_boolean(query, "faces", false),
        face_outscale: params.uint(query, "faceOutscale")?,
        face_strength: params.float(query, "faceStrength")?,
        upscale_order,
        warnings,
    })
}

/// The highres group (§1.4.3). A missing or unknown `highresMethod` is `bilinear`, as in onnx-web.
pub fn build_highres(query: &Query, ctx: &ParseContext<'_>) -> Result<HighresParams, ApiError> {
    let mut warnings = Vec::new();
    let method = resolve(
        &mut warnings,
        &NameList {
            field: "highresMethod",
            what: "a highres method",
            names: HIGHRES_METHODS,
            aliases: &[],
        },
        query.get("highresMethod"),
        Fallback::to(Some(HIGHRES_METHODS[0]), "the first method"),
    )?
    .unwrap_or_else(|| HIGHRES_METHODS[0].to_owned());
    let params = ctx.params;
    Ok(HighresParams {
        enabled: get_boolean(query, "highres", false),
        iterations: params.uint(query, "highresIterations")?,
        method,
        scale: params.uint(query, "highresScale")?,
        steps: params.uint(query, "highresSteps")?,
        strength: params.float(query, "highresStrength")?,
        warnings,
    })
}

/// The border group (§1.4.4).
pub fn build_border(query: &Query, ctx: &ParseContext<'_>) -> Result<Border, ApiError> {
    let params = ctx.params;
    Ok(Border {
        left: params.uint(query, "left")?,
        right: params.uint(query, "right")?,
        top: params.uint(query, "top")?,
        bottom: params.uint(query, "bottom")?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::models::{ModelEntry, ModelLists, Wildcards};
    use serde_json::json;

    fn query(pairs: &[(&str, &str)]) -> Query {
        Query::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("a=1&a=2&b=x+y%2Bz&c&=e&d=%E2%9C%93&&f=%zz")).unwrap();
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y+z"));
        assert_eq!(q.get("c"), Some(""));
        assert_eq!(q.get(""), Some("e"));
        assert_eq!(q.get("d"), Some("✓"));
        assert_eq!(q.get("f"), Some("%zz"));
        assert_eq!(q.get_not_empty("c"), None);
        assert!(Query::parse(None).unwrap().get("a").is_none());
        let error = Query::parse(Some("prompt=%FF")).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(Query::parse(Some("prompt=a%00b")).is_err());
    }

    #[test]
    fn python_int() {
        assert_eq!(parse_python_int("42"), Some(42));
        assert_eq!(parse_python_int(" -7 "), Some(-7));
        assert_eq!(parse_python_int("+1_000"), Some(1000));
        assert_eq!(parse_python_int("5.0"), None);
        assert_eq!(parse_python_int("1__0"), None);
        assert_eq!(parse_python_int("_1"), None);
        assert_eq!(parse_python_int(""), None);
        assert_eq!(parse_python_int("-"), None);
        assert_eq!(parse_python_int("0x10"), None);
        assert_eq!(parse_python_int("99999999999999999999999"), Some(i64::MAX));
        assert_eq!(parse_python_int("-99999999999999999999999"), Some(i64::MIN));
    }

    #[test]
    fn python_float() {
        assert_eq!(parse_python_float("6"), Some(6.0));
        assert_eq!(parse_python_float(" 6.50 "), Some(6.5));
        assert_eq!(parse_python_float(".5"), Some(0.5));
        assert_eq!(parse_python_float("5."), Some(5.0));
        assert_eq!(parse_python_float("1e1"), Some(10.0));
        assert_eq!(parse_python_float("-1_0.5"), Some(-10.5));
        assert!(parse_python_float("nan").unwrap().is_nan());
        assert_eq!(parse_python_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_python_float("abc"), None);
        assert_eq!(parse_python_float(""), None);
        assert_eq!(parse_python_float("--1"), None);
        assert_eq!(parse_python_float("1,5"), None);
    }

    #[test]
    fn clamping_and_field_errors() {
        let q = query(&[
            ("steps", "1000"),
            ("batch", "-3"),
            ("cfg", "-3"),
            ("eta", "2.5"),
        ]);
        assert_eq!(get_and_clamp_int(&q, "steps", 25, 300, 1).unwrap(), 300);
        assert_eq!(get_and_clamp_int(&q, "batch", 1, 5, 1).unwrap(), 1);
        assert_eq!(get_and_clamp_int(&q, "missing", 25, 300, 1).unwrap(), 25);
        assert_eq!(get_and_clamp_float(&q, "cfg", 6.0, 30.0, 0.0).unwrap(), 0.0);
        assert_eq!(get_and_clamp_float(&q, "eta", 0.0, 1.0, 0.0).unwrap(), 1.0);

        let bad = query(&[
            ("steps", "abc"),
            ("cfg", "nan"),
            ("eta", "inf"),
            ("batch", "2.0"),
        ]);
        let message = get_and_clamp_int(&bad, "steps", 25, 300, 1)
            .unwrap_err()
            .message();
        assert_eq!(message, "steps: expected an integer, got \"abc\"");
        let message = get_and_clamp_int(&bad, "batch", 1, 5, 1)
            .unwrap_err()
            .message();
        assert_eq!(message, "batch: expected an integer, got \"2.0\"");
        let message = get_and_clamp_float(&bad, "cfg", 6.0, 30.0, 0.0)
            .unwrap_err()
            .message();
        assert_eq!(message, "cfg: expected a finite number, got \"nan\"");
        let error = get_and_clamp_float(&bad, "eta", 0.0, 1.0, 0.0).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(error.message().starts_with("eta: "));
        let long = "x".repeat(1000);
        let message = get_and_clamp_int(&query(&[("steps", &long)]), "steps", 1, 2, 1)
            .unwrap_err()
            .message();
        assert!(message.len() < 120, "{message}");
    }

    #[test]
    fn booleans() {
        let q = query(&[("a", "TRUE"), ("b", "yes"), ("c", "on"), ("d", "")]);
        assert!(get_boolean(&q, "a", false));
        assert!(get_boolean(&q, "b", false));
        assert!(!get_boolean(&q, "c", true));
        assert!(!get_boolean(&q, "d", true));
        assert!(get_boolean(&q, "missing", true));
    }

    #[test]
    fn list_fallback() {
        let values = vec!["x".to_owned(), "y".to_owned()];
        assert_eq!(
            get_from_list(&query(&[("k", "y")]), "k", &values),
            Some("y")
        );
        assert_eq!(
            get_from_list(&query(&[("k", "z")]), "k", &values),
            Some("x")
        );
        assert_eq!(get_from_list(&query(&[]), "k", &values), Some("x"));
        assert_eq!(get_from_list(&query(&[]), "k", &[]), None);
    }

    #[test]
    fn builtin_params() {
        let params = ParamsConfig::builtin(Some("cpu"));
        let served = params.served();
        assert_eq!(served["version"], json!("0.12.0"));
        assert_eq!(served.as_object().unwrap().len(), 47);
        assert_eq!(served["width"]["min"], json!(64));
        assert_eq!(served["height"]["min"], json!(64));
        assert_eq!(served["platform"]["default"], json!("cpu"));
        assert_eq!(served["unet_overlap"]["min"], json!(0.0));
        assert_eq!(
            ParamsConfig::builtin(None).served()["platform"]["default"],
            json!("amd")
        );
        // Served with a platform this machine has, so the GUI never sends one it lacks.
        let mut params = ParamsConfig::builtin(None);
        params.use_available_platform(&["any".into(), "cpu".into()]);
        assert_eq!(params.served()["platform"]["default"], json!("any"));
        let mut params = ParamsConfig::builtin(Some("cpu"));
        params.use_available_platform(&["any".into(), "cpu".into()]);
        assert_eq!(params.served()["platform"]["default"], json!("cpu"));
    }

    #[test]
    fn custom_params_file() {
        let dir = std::env::temp_dir().join(format!("onnx-web-params-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("params.json"),
            r#"{"version": "0.12.0", "steps": {"default": 10, "min": 2, "max": 20, "step": 1}}"#,
        )
        .unwrap();
        let params = ParamsConfig::load(&dir, None).unwrap();
        assert_eq!(params.int(&query(&[]), "steps").unwrap(), 10);
        assert_eq!(
            params.int(&query(&[("steps", "100")]), "steps").unwrap(),
            20
        );
        // Missing keys come from the built-in file.
        assert_eq!(params.served()["batch"]["max"], json!(5));
        assert_eq!(params.int(&query(&[("batch", "9")]), "batch").unwrap(), 5);
        std::fs::write(dir.join("params.json"), "[1, 2]").unwrap();
        assert!(ParamsConfig::load(&dir, None).is_err());
        std::fs::remove_dir_all(&dir).ok();
        let missing = ParamsConfig::load(Path::new("/nonexistent"), None).unwrap();
        assert!(missing.source().is_none());
    }

    #[test]
    fn scheduler_order() {
        assert_eq!(
            available_schedulers(&["pndm", "euler-a", "ddim", "euler"]),
            vec!["ddim", "euler", "euler-a", "pndm"]
        );
        assert_eq!(
            available_schedulers(&["custom", "ddim"]),
            vec!["ddim", "custom"]
        );
    }

    /// A catalog with two diffusion models in a temp folder.
    pub(crate) fn test_catalog(root: &Path) -> Catalog {
        let mut models = ModelLists::default();
        for name in ["diffusion-a", "diffusion-b"] {
            std::fs::create_dir_all(root.join(name)).unwrap();
            models.diffusion.push(ModelEntry {
                name: name.into(),
                path: root.join(name),
            });
        }
        models.upscaling.push(ModelEntry {
            name: "upscaling-x".into(),
            path: root.join("upscaling-x.onnx"),
        });
        Catalog {
            root: root.to_owned(),
            models,
            extras: crate::models::load_extras(&[]),
            wildcards: Wildcards::from_lists(&[("color", &["red"])]),
        }
    }

    fn with_context<T>(f: impl FnOnce(&ParseContext<'_>) -> T) -> T {
        let root = std::env::temp_dir().join(format!(
            "onnx-web-parse-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let catalog = test_catalog(&root);
        let params = ParamsConfig::builtin(None);
        let platforms = vec!["any".to_owned(), "cpu".to_owned()];
        let schedulers = available_schedulers(IMPLEMENTED_SCHEDULERS);
        let ctx = ParseContext {
            params: &params,
            catalog: &catalog,
            platforms: &platforms,
            schedulers: &schedulers,
        };
        let out = f(&ctx);
        std::fs::remove_dir_all(&root).ok();
        out
    }

    #[test]
    fn base_params_defaults() {
        with_context(|ctx| {
            let (base, size, platform) = build_base_params(&query(&[]), ctx, "txt2img").unwrap();
            // The params.json default model is not installed: the first listed one is used.
            assert_eq!(base.model, "diffusion-a");
            assert_eq!(base.model_basename(), "diffusion-a");
            assert_eq!(base.pipeline, "txt2img");
            assert_eq!(base.scheduler, "euler-a");
            assert_eq!(base.prompt, "");
            assert_eq!(base.negative_prompt, None);
            assert_eq!(
                (base.cfg, base.steps, base.eta, base.batch),
                (6.0, 25, 0.0, 1)
            );
            assert_eq!(
                (base.unet_tile, base.vae_tile, base.loopback),
                (512, 512, 0)
            );
            assert!(base.seed <= 2_147_483_646);
            assert_eq!(base.control, None);
            assert_eq!(
                size,
                Size {
                    width: 512,
                    height: 512
                }
            );
            assert_eq!(platform, None);
            let image = base.image_params();
            assert_eq!(image.cfg, 6.0);
            assert_eq!(image.model_dir, base.model_dir);
        });
    }

    #[test]
    fn base_params_choices() {
        with_context(|ctx| {
            let q = query(&[
                ("model", "diffusion-b"),
                ("scheduler", "ddim"),
                ("pipeline", "controlnet"),
                ("platform", "cpu"),
                ("seed", "4294967295"),
                ("prompt", "a __color__ cat"),
                ("negativePrompt", "  "),
                ("width", "32"),
                ("height", "100000"),
                ("cfg", "7.5"),
            ]);
            let (base, size, platform) = build_base_params(&q, ctx, "txt2img").unwrap();
            assert_eq!(base.model, "diffusion-b");
            assert_eq!(base.scheduler, "ddim");
            assert_eq!(base.pipeline, "controlnet");
            assert_eq!(platform.as_deref(), Some("cpu"));
            assert_eq!(base.seed, u32::MAX);
            assert_eq!(base.prompt, "a red cat");
            assert_eq!(base.input_prompt, "a __color__ cat");
            assert_eq!(base.input_negative_prompt, None);
            assert_eq!(
                size,
                Size {
                    width: 64,
                    height: 8192
                }
            );
            assert_eq!(base.cfg, 7.5);

            let any = query(&[("platform", "any"), ("pipeline", ""), ("seed", "5")]);
            let (base, _, platform) = build_base_params(&any, ctx, "txt2img").unwrap();
            assert_eq!(
                (platform, base.pipeline.as_str(), base.seed),
                (None, "txt2img", 5)
            );
        });
    }

    #[test]
    fn base_params_errors() {
        with_context(|ctx| {
            let cases: &[(&str, &str, &str)] = &[
                (
                    "model",
                    "../diffusion-a",
                    "model: \"../diffusion-a\" is not a name",
                ),
                (
                    "scheduler",
                    "\u{1f408}",
                    "scheduler: \"\u{1f408}\" is not a name",
                ),
                ("pipeline", "a/b", "pipeline: \"a/b\" is not a name"),
                ("seed", "-2", "seed: must be -1"),
                ("seed", "4294967296", "seed: must be -1"),
                ("seed", "1.5", "seed: expected an integer"),
                ("steps", "abc", "steps: expected an integer, got \"abc\""),
                ("cfg", "NaN", "cfg: expected a finite number"),
                ("width", "100", "width: must be a multiple of 8, got 100"),
            ];
            for (key, value, expected) in cases {
                let error = build_base_params(&query(&[(key, value)]), ctx, "txt2img").unwrap_err();
                assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
                assert!(
                    error.message().starts_with(expected),
                    "{key}={value}: {}",
                    error.message()
                );
            }
        });
    }

    #[test]
    fn unknown_names_fall_back_with_warnings() {
        with_context(|ctx| {
            let q = query(&[
                ("model", "foo"),
                ("scheduler", "deis"),
                ("pipeline", "magic"),
                ("platform", "cuda"),
                ("control", "nope"),
            ]);
            let (base, _, platform) = build_base_params(&q, ctx, "img2img").unwrap();
            assert_eq!(base.model, "diffusion-a");
            assert_eq!(base.scheduler, "deis-multi");
            assert_eq!(base.pipeline, "img2img");
            assert_eq!(platform, None);
            assert_eq!(base.control, None);
            assert_eq!(
                base.warnings,
                [
                    "platform: \"cuda\" is not a platform here; ran on any platform",
                    "model: \"foo\" is not a diffusion model here; ran the default model \"diffusion-a\" instead",
                    "pipeline: \"magic\" is not a pipeline here; ran the endpoint's pipeline \"img2img\" instead",
                    "scheduler: \"deis\" is not a scheduler here; ran \"deis-multi\", the name it stands for",
                    "control: \"nope\" is not a network here; ran without a ControlNet",
                ]
            );
            // Case and separators: the listed name.
            let q = query(&[("scheduler", "Euler A"), ("platform", "CPU")]);
            let (base, _, platform) = build_base_params(&q, ctx, "txt2img").unwrap();
            assert_eq!(
                (base.scheduler.as_str(), platform.as_deref()),
                ("euler-a", Some("cpu"))
            );
            assert_eq!(base.warnings.len(), 2);
            // Listed names: no warnings.
            let (base, _, _) =
                build_base_params(&query(&[("scheduler", "ddim")]), ctx, "txt2img").unwrap();
            assert!(base.warnings.is_empty());

            let q = query(&[
                ("upscaling", "correction-gfpgan"),
                ("correction", "nonexistent"),
                ("upscaleOrder", "sideways"),
            ]);
            let upscale = build_upscale(&q, ctx).unwrap();
            assert_eq!(upscale.upscale_model.as_deref(), Some("upscaling-x"));
            assert_eq!(upscale.correction_model, None);
            assert_eq!(upscale.upscale_order, "correction-first");
            assert_eq!(
                upscale.warnings,
                [
                    "upscaling: \"correction-gfpgan\" is not an upscaling model here; ran the first upscaling model \"upscaling-x\" instead",
                    "correction: \"nonexistent\" is not a correction model here; ran the first correction model",
                    "upscaleOrder: \"sideways\" is not an upscale order here; ran the default order \"correction-first\" instead",
                ]
            );
            let upscale = build_upscale(&query(&[("upscaling", "lanczos")]), ctx).unwrap();
            assert_eq!(upscale.upscale_model.as_deref(), Some("lanczos"));
            assert!(upscale.warnings.is_empty());
            let highres = build_highres(&query(&[("highresMethod", "x")]), ctx).unwrap();
            assert_eq!(highres.method, "bilinear");
            assert_eq!(highres.warnings.len(), 1);
        });
    }

    #[test]
    fn upscale_and_highres_groups() {
        with_context(|ctx| {
            let upscale = build_upscale(&query(&[]), ctx).unwrap();
            assert_eq!(
                upscale,
                UpscaleParams {
                    upscale: false,
                    upscale_model: Some("upscaling-x".into()),
                    correction_model: None,
                    scale: 1,
                    outscale: 1,
                    denoise: 0.5,
                    faces: false,
                    face_outscale: 1,
                    face_strength: 0.5,
                    upscale_order: "correction-first".into(),
                    warnings: Vec::new(),
                }
            );
            let q = query(&[
                ("upscale", "true"),
                ("outscale", "9"),
                ("upscaleOrder", "correction-both"),
            ]);
            let upscale = build_upscale(&q, ctx).unwrap();
            assert!(upscale.upscale);
            assert_eq!(upscale.outscale, 4);
            assert_eq!(upscale.upscale_order, "correction-both");

            let highres = build_highres(&query(&[]), ctx).unwrap();
            assert_eq!(
                highres,
                HighresParams {
                    enabled: false,
                    iterations: 1,
                    method: "bilinear".into(),
                    scale: 1,
                    steps: 1,
                    strength: 0.1,
                    warnings: Vec::new(),
                }
            );
            let border = build_border(&query(&[("left", "2000")]), ctx).unwrap();
            assert_eq!(border.left, 1024);
        });
    }

    #[test]
    fn the_upscaling_default_is_the_real_upscaler_when_listed() {
        let root = Path::new("/nonexistent");
        let mut catalog = test_catalog(
            &std::env::temp_dir()
                .join(format!("onnx-web-upscaling-default-{}", std::process::id())),
        );
        for name in ["upscaling-a", "upscaling-realesr-animevideov3-x4"] {
            catalog.models.upscaling.push(ModelEntry {
                name: name.into(),
                path: root.join(format!("{name}.onnx")),
            });
        }
        let params = ParamsConfig::builtin(None);
        let platforms = vec!["cpu".to_owned()];
        let schedulers = available_schedulers(IMPLEMENTED_SCHEDULERS);
        let ctx = ParseContext {
            params: &params,
            catalog: &catalog,
            platforms: &platforms,
            schedulers: &schedulers,
        };
        let model =
            |pairs: &[(&str, &str)]| build_upscale(&query(pairs), &ctx).unwrap().upscale_model;
        let real = Some("upscaling-realesr-animevideov3-x4".to_owned());
        assert_eq!(model(&[]), real);
        assert_eq!(model(&[("upscaling", "nope")]), real);
        assert_eq!(
            model(&[("upscaling", "upscaling-a")]),
            Some("upscaling-a".into())
        );
        assert_eq!(model(&[("upscaling", "lanczos")]), Some("lanczos".into()));
        std::fs::remove_dir_all(&catalog.root).ok();
        // Not listed: the first listed model, as before (see upscale_and_highres_groups).
    }
}
