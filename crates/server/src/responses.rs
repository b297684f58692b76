//! Response bodies: the ImageResponse of every accepted image request (§1.5), the ReadyResponse
//! of `ready`/`cancel` (§1.8), the admin status (§1.9), and the A1111-style `parameters` text of
//! the image metadata (§6.9). Keys are written in alphabetical order, as Flask's `jsonify` sends
//! them.

use onnx_web_pipelines::Size;
use serde_json::{json, Map, Value};

use crate::jobs::{JobStatus, QueueSnapshot};
use crate::params::{BaseParams, Border, HighresParams, UpscaleParams};

/// onnx-web's `ImageParams.tojson()`, with `model` as the folder's base name (20 keys).
pub fn params_json(base: &BaseParams) -> Value {
    json!({
        "batch": base.batch,
        "cfg": base.cfg,
        "control": base.control.as_deref().unwrap_or(""),
        "denoise": 3,
        "eta": base.eta,
        "input_negative_prompt": base.input_negative_prompt,
        "input_prompt": base.input_prompt,
        "loopback": base.loopback,
        "model": base.model_basename(),
        "negative_prompt": base.negative_prompt,
        "pipeline": base.pipeline,
        "prompt": base.prompt,
        "scheduler": base.scheduler,
        "seed": base.seed,
        "steps": base.steps,
        "tiled_vae": base.tiled_vae,
        "unet_overlap": base.unet_overlap,
        "unet_tile": base.unet_tile,
        "vae_overlap": base.vae_overlap,
        "vae_tile": base.vae_tile,
    })
}

pub fn size_json(width: u64, height: u64) -> Value {
    json!({"height": height, "width": width})
}

pub fn upscale_json(upscale: &UpscaleParams) -> Value {
    json!({
        "correction_model": upscale.correction_model,
        "denoise": upscale.denoise,
        "face_outscale": upscale.face_outscale,
        "face_strength": upscale.face_strength,
        "faces": upscale.faces,
        "format": "onnx",
        "outscale": upscale.outscale,
        "pre_pad": 0,
        "scale": upscale.scale,
        "tile_pad": 10,
        "upscale": upscale.upscale,
        "upscale_model": upscale.upscale_model,
        "upscale_order": upscale.upscale_order,
    })
}

pub fn highres_json(highres: &HighresParams) -> Value {
    json!({
        "enabled": highres.enabled,
        "iterations": highres.iterations,
        "method": highres.method,
        "scale": highres.scale,
        "steps": highres.steps,
        "strength": highres.strength,
    })
}

pub fn border_json(border: &Border) -> Value {
    json!({
        "bottom": border.bottom,
        "left": border.left,
        "right": border.right,
        "top": border.top,
    })
}

/// The predicted final size (`json_params`): input + border, × highres scale^iterations,
/// × outscale × face outscale (squared for `correction-both`). As in onnx-web, each factor applies
/// whether or not its stage is enabled.
pub fn predict_size(
    size: Size,
    border: Option<&Border>,
    highres: Option<&HighresParams>,
    upscale: Option<&UpscaleParams>,
) -> (u64, u64) {
    let mut width = u64::from(size.width);
    let mut height = u64::from(size.height);
    if let Some(border) = border {
        width += u64::from(border.left) + u64::from(border.right);
        height += u64::from(border.top) + u64::from(border.bottom);
    }
    if let Some(highres) = highres {
        let factor = u64::from(highres.scale).saturating_pow(highres.iterations);
        width = width.saturating_mul(factor);
        height = height.saturating_mul(factor);
    }
    if let Some(upscale) = upscale {
        let mut factor = u64::from(upscale.outscale) * u64::from(upscale.face_outscale);
        if upscale.upscale_order == "correction-both" {
            factor *= u64::from(upscale.face_outscale);
        }
        width = width.saturating_mul(factor);
        height = height.saturating_mul(factor);
    }
    (width, height)
}

/// Every name replaced while parsing a request (`crate::names`), in field order: the base group,
/// then upscale, highres and the endpoint's own fields (`extra`).
pub fn collect_warnings(
    base: &BaseParams,
    upscale: Option<&UpscaleParams>,
    highres: Option<&HighresParams>,
    extra: &[String],
) -> Vec<String> {
    let mut warnings = base.warnings.clone();
    warnings.extend(upscale.iter().flat_map(|u| u.warnings.iter().cloned()));
    warnings.extend(highres.iter().flat_map(|h| h.warnings.iter().cloned()));
    warnings.extend(extra.iter().cloned());
    warnings
}

/// The ImageResponse (§1.5): `outputs`, `params`, `input_size`, `size`, and the groups the
/// endpoint passed, plus `warnings` (not in onnx-web) when a name was replaced.
pub fn image_response(
    outputs: &[String],
    base: &BaseParams,
    size: Size,
    upscale: Option<&UpscaleParams>,
    border: Option<&Border>,
    highres: Option<&HighresParams>,
    warnings: &[String],
) -> Value {
    let (width, height) = predict_size(size, border, highres, upscale);
    let mut body = Map::new();
    if let Some(border) = border {
        body.insert("border".into(), border_json(border));
    }
    if let Some(highres) = highres {
        body.insert("highres".into(), highres_json(highres));
    }
    body.insert(
        "input_size".into(),
        size_json(size.width.into(), size.height.into()),
    );
    body.insert("outputs".into(), json!(outputs));
    body.insert("params".into(), params_json(base));
    body.insert("size".into(), size_json(width, height));
    if let Some(upscale) = upscale {
        body.insert("upscale".into(), upscale_json(upscale));
    }
    if !warnings.is_empty() {
        body.insert("warnings".into(), json!(warnings));
    }
    Value::Object(body)
}

/// The body of `ready` and `cancel` (all five keys, always).
pub fn ready_json(status: JobStatus) -> Value {
    json!({
        "cancelled": status.cancelled,
        "failed": status.failed,
        "pending": status.pending,
        "progress": status.progress,
        "ready": status.ready,
    })
}

/// A ReadyResponse with every flag false and no progress.
pub fn empty_status() -> JobStatus {
    JobStatus {
        cancelled: false,
        failed: false,
        pending: false,
        progress: 0,
        ready: false,
    }
}

/// onnx-web's pool status (§1.9): `[key or device, progress or jobs, pending or alive,
/// finished, cancelled, failed]` tuples.
pub fn status_json(snapshot: &QueueSnapshot) -> Value {
    let mut finished: Vec<_> = snapshot.finished.iter().collect();
    finished.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "cancelled": [],
        "finished": finished
            .iter()
            .map(|(key, s)| json!([key, s.progress, false, true, s.cancelled, s.failed]))
            .collect::<Vec<_>>(),
        "pending": snapshot
            .pending
            .iter()
            .map(|key| json!([key, 0, true, false, false, false]))
            .collect::<Vec<_>>(),
        "running": snapshot
            .running
            .iter()
            .map(|(key, progress)| json!([key, progress, false, false, false, false]))
            .collect::<Vec<_>>(),
        "total": snapshot
            .devices
            .iter()
            .map(|d| json!([d.device, d.jobs_started, true, false, false, false]))
            .collect::<Vec<_>>(),
    })
}

/// Python's `str(float)`.
pub fn python_float(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "nan".into()
        } else if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        // Python: shortest digits, exponent with a sign and at least two digits.
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').expect("exponent form");
        let exponent: i32 = exponent.parse().expect("exponent");
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{value:?}")
}

/// Python's `json.dumps` of a string (ASCII only, `\uXXXX` escapes).
fn python_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// The inputs of the A1111-style `parameters` text.
#[derive(Clone, Debug, Default)]
pub struct ParametersText<'a> {
    pub prompt: &'a str,
    pub negative_prompt: Option<&'a str>,
    pub steps: u32,
    pub scheduler: &'a str,
    pub cfg: f64,
    pub seed: u32,
    /// The input size.
    pub width: u32,
    pub height: u32,
    pub model_hash: &'a str,
    /// The model folder's base name.
    pub model_name: &'a str,
    pub server_version: &'a str,
    /// (name, SHA-256 in upper case)
    pub inversions: &'a [(String, String)],
    pub loras: &'a [(String, String)],
}

/// onnx-web's `str_params` (§6.9).
pub fn parameters_text(p: &ParametersText<'_>) -> String {
    let pairs = |list: &[(String, String)]| -> String {
        list.iter()
            .map(|(name, hash)| format!("{name}: {hash}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    // A Python dict: later duplicates overwrite values but keep the first position.
    let mut hashes: Vec<(&str, &str)> = vec![(p.model_name, p.model_hash)];
    for (name, hash) in p.inversions.iter().chain(p.loras) {
        match hashes.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = hash,
            None => hashes.push((name, hash)),
        }
    }
    let hashes = hashes
        .iter()
        .map(|(name, hash)| format!("{}: {}", python_json_string(name), python_json_string(hash)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{prompt}\nNegative prompt: {negative}\n\
         Steps: {steps}, Sampler: {scheduler}, CFG scale: {cfg}, Seed: {seed}, Size: {width}x{height}, \
         Model hash: {model_hash}, Model: {model}, Tool: onnx-web, Version: {version}, \
         Inversion hashes: \"{inversions}\", Lora hashes: \"{loras}\", Hashes: {{{hashes}}}",
        prompt = p.prompt,
        negative = p.negative_prompt.unwrap_or(""),
        steps = p.steps,
        scheduler = p.scheduler,
        cfg = python_float(p.cfg),
        seed = p.seed,
        width = p.width,
        height = p.height,
        model_hash = p.model_hash,
        model = p.model_name,
        version = p.server_version,
        inversions = pairs(p.inversions),
        loras = pairs(p.loras),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec_base() -> BaseParams {
        BaseParams {
            model: "stable-diffusion-onnx-v1-5".into(),
            model_dir: PathBuf::from("../models/stable-diffusion-onnx-v1-5"),
            pipeline: "txt2img".into(),
            scheduler: "euler-a".into(),
            prompt: "an astronaut eating a hamburger".into(),
            negative_prompt: None,
            input_prompt: "an astronaut eating a hamburger".into(),
            input_negative_prompt: None,
            cfg: 6.0,
            seed: 1234567890,
            steps: 25,
            eta: 0.0,
            batch: 1,
            control: None,
            loopback: 0,
            tiled_vae: false,
            unet_overlap: 0.25,
            unet_tile: 512,
            vae_overlap: 0.25,
            vae_tile: 512,
            warnings: Vec::new(),
        }
    }

    fn spec_upscale() -> UpscaleParams {
        UpscaleParams {
            upscale: false,
            upscale_model: Some("upscaling-real-esrgan-x2-plus".into()),
            correction_model: Some("correction-gfpgan-v1-3".into()),
            scale: 1,
            outscale: 1,
            denoise: 0.5,
            faces: false,
            face_outscale: 1,
            face_strength: 0.5,
            upscale_order: "correction-first".into(),
            warnings: Vec::new(),
        }
    }

    fn spec_highres() -> HighresParams {
        HighresParams {
            enabled: false,
            iterations: 1,
            method: "bilinear".into(),
            scale: 1,
            steps: 1,
            strength: 0.1,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn txt2img_example_of_the_spec() {
        let outputs = vec!["txt2img_1234567890_460a7730a9fe515c018fb46f5b9dcc9524c2b21735fc4a9675e64d4954750c72_1704067200_0.png".to_owned()];
        let size = Size {
            width: 512,
            height: 512,
        };
        let body = image_response(
            &outputs,
            &spec_base(),
            size,
            Some(&spec_upscale()),
            None,
            Some(&spec_highres()),
            &[],
        );
        let expected: Value = serde_json::from_str(r#"{
          "highres": {"enabled": false, "iterations": 1, "method": "bilinear", "scale": 1, "steps": 1, "strength": 0.1},
          "input_size": {"height": 512, "width": 512},
          "outputs": ["txt2img_1234567890_460a7730a9fe515c018fb46f5b9dcc9524c2b21735fc4a9675e64d4954750c72_1704067200_0.png"],
          "params": {
            "batch": 1, "cfg": 6.0, "control": "", "denoise": 3, "eta": 0.0,
            "input_negative_prompt": null, "input_prompt": "an astronaut eating a hamburger",
            "loopback": 0, "model": "stable-diffusion-onnx-v1-5", "negative_prompt": null,
            "pipeline": "txt2img", "prompt": "an astronaut eating a hamburger", "scheduler": "euler-a",
            "seed": 1234567890, "steps": 25, "tiled_vae": false,
            "unet_overlap": 0.25, "unet_tile": 512, "vae_overlap": 0.25, "vae_tile": 512
          },
          "size": {"height": 512, "width": 512},
          "upscale": {
            "correction_model": "correction-gfpgan-v1-3", "denoise": 0.5, "face_outscale": 1, "face_strength": 0.5,
            "faces": false, "format": "onnx", "outscale": 1, "pre_pad": 0, "scale": 1, "tile_pad": 10,
            "upscale": false, "upscale_model": "upscaling-real-esrgan-x2-plus", "upscale_order": "correction-first"
          }
        }"#).unwrap();
        assert_eq!(body, expected);
        // Same text too (keys sorted, floats as Python prints them).
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
        assert_eq!(body["params"].as_object().unwrap().len(), 20);
        // Replaced names add a `warnings` list, last (keys stay sorted).
        let mut base = spec_base();
        base.warnings = vec!["scheduler: \"deis\" is not a scheduler here".into()];
        let upscale = UpscaleParams {
            warnings: vec!["upscaling: \"x\" is not an upscaling model here".into()],
            ..spec_upscale()
        };
        let warnings = collect_warnings(
            &base,
            Some(&upscale),
            Some(&spec_highres()),
            &["noise: n".into()],
        );
        let body = image_response(&outputs, &base, size, Some(&upscale), None, None, &warnings);
        assert_eq!(
            body["warnings"],
            json!([
                "scheduler: \"deis\" is not a scheduler here",
                "upscaling: \"x\" is not an upscaling model here",
                "noise: n"
            ])
        );
        let text = serde_json::to_string(&body).unwrap();
        assert!(
            text.ends_with(&format!("\"warnings\":{}}}", body["warnings"])),
            "{text}"
        );
    }

    #[test]
    fn size_prediction() {
        let size = Size {
            width: 512,
            height: 512,
        };
        assert_eq!(predict_size(size, None, None, None), (512, 512));
        let border = Border {
            left: 256,
            right: 256,
            top: 0,
            bottom: 0,
        };
        assert_eq!(predict_size(size, Some(&border), None, None), (1024, 512));
        // The user guide's example: highres ×2 twice, upscale ×2, correction ×2 both → 16k.
        let highres = HighresParams {
            scale: 2,
            iterations: 2,
            ..spec_highres()
        };
        let upscale = UpscaleParams {
            outscale: 2,
            face_outscale: 2,
            upscale_order: "correction-both".into(),
            ..spec_upscale()
        };
        assert_eq!(
            predict_size(size, None, Some(&highres), Some(&upscale)),
            (16384, 16384)
        );
        let first = UpscaleParams {
            upscale_order: "correction-first".into(),
            ..upscale
        };
        assert_eq!(predict_size(size, None, None, Some(&first)), (2048, 2048));
        // Disabled stages still count (onnx-web quirk).
        assert!(!highres.enabled);
    }

    #[test]
    fn parameters_string() {
        let text = parameters_text(&ParametersText {
            prompt: "an astronaut",
            negative_prompt: None,
            steps: 25,
            scheduler: "euler-a",
            cfg: 6.0,
            seed: 42,
            width: 512,
            height: 512,
            model_hash: "unknown",
            model_name: "diffusion-tiny-demo",
            server_version: "v0.12.0",
            inversions: &[],
            loras: &[],
        });
        assert_eq!(
            text,
            "an astronaut\nNegative prompt: \nSteps: 25, Sampler: euler-a, CFG scale: 6.0, Seed: 42, \
             Size: 512x512, Model hash: unknown, Model: diffusion-tiny-demo, Tool: onnx-web, \
             Version: v0.12.0, Inversion hashes: \"\", Lora hashes: \"\", \
             Hashes: {\"diffusion-tiny-demo\": \"unknown\"}"
        );
        let loras = vec![
            ("détail".to_owned(), "AB".to_owned()),
            ("x".to_owned(), "CD".to_owned()),
        ];
        let inversions = vec![("x".to_owned(), "EF".to_owned())];
        let text = parameters_text(&ParametersText {
            prompt: "p",
            negative_prompt: Some("blurry"),
            cfg: 7.5,
            model_name: "m",
            model_hash: "H",
            inversions: &inversions,
            loras: &loras,
            ..Default::default()
        });
        assert!(text.contains("Negative prompt: blurry\n"), "{text}");
        assert!(text.contains("CFG scale: 7.5,"), "{text}");
        assert!(
            text.contains("Inversion hashes: \"x: EF\", Lora hashes: \"détail: AB,x: CD\""),
            "{text}"
        );
        assert!(
            text.ends_with("Hashes: {\"m\": \"H\", \"x\": \"CD\", \"d\\u00e9tail\": \"AB\"}"),
            "{text}"
        );
    }

    #[test]
    fn python_floats() {
        assert_eq!(python_float(6.0), "6.0");
        assert_eq!(python_float(0.0), "0.0");
        assert_eq!(python_float(7.25), "7.25");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e-5), "1e-05");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(1.5e-7), "1.5e-07");
    }

    #[test]
    fn ready_shape() {
        let body = ready_json(empty_status());
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"cancelled":false,"failed":false,"pending":false,"progress":0,"ready":false}"#
        );
    }
}
