//! A chain ready to run: each stage with its parameters resolved by the server (models found,
//! values clamped, uploads decoded). Plain data, cloneable, so a job can be queued and stored.

use std::sync::Arc;

use image::{GrayImage, RgbImage};
use onnx_web_pipelines::{Border, HighresOptions, ImageParams, Size, TileOptions, UpscaleOptions};
use serde_json::{Map, Value};

/// onnx-web's `SizeChart` names for stage `tiles`.
const SIZE_CHART: &[(&str, u32)] = &[
    ("micro", 64),
    ("mini", 128),
    ("half", 256),
    ("auto", 512),
    ("hd1k", 1024),
    ("hd2k", 2048),
    ("hd4k", 4096),
    ("hd8k", 8192),
    ("hd16k", 16384),
    ("hd32k", 32768),
    ("hd64k", 65536),
    ("max", u32::MAX),
];

/// The default stage tile (`auto`).
pub const AUTO_TILE: u32 = 512;

/// onnx-web's `get_size`: `tiles` as a pixel count or a size name (`auto` = 512, `max` = no cap).
pub fn parse_tile_size(value: &Value) -> Result<u32, String> {
    let from_number = |n: f64| {
        if n.fract() == 0.0 && (8.0..=f64::from(u32::MAX)).contains(&n) {
            Ok(n as u32)
        } else {
            Err(format!(
                "a tile size must be a whole number of pixels, at least 8; got {n}"
            ))
        }
    };
    match value {
        Value::Null => Ok(AUTO_TILE),
        Value::Number(n) => from_number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => match SIZE_CHART.iter().find(|(name, _)| name == s) {
            Some((_, size)) => Ok(*size),
            None => match s.trim().parse::<f64>() {
                Ok(n) => from_number(n),
                Err(_) => Err(format!(
                    "unknown size {s:?}; a number of pixels or one of: {}",
                    SIZE_CHART
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        },
        _ => Err("expected a number or a size name".into()),
    }
}

/// An uploaded stage image, shared and printed by size only.
#[derive(Clone)]
pub struct StageImage(pub Arc<RgbImage>);

impl std::fmt::Debug for StageImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.0.width(), self.0.height())
    }
}

/// An uploaded stage mask, shared and printed by size only.
#[derive(Clone)]
pub struct StageMask(pub Arc<GrayImage>);

impl std::fmt::Debug for StageMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrayImage({}x{})", self.0.width(), self.0.height())
    }
}

/// One stage with everything it needs.
#[derive(Clone, Debug)]
pub struct PlannedStage {
    pub name: String,
    /// The registered stage type.
    pub kind: String,
    /// The stage's diffusion parameters (its own `params`, with params.json defaults).
    pub params: ImageParams,
    /// The stage's `width` × `height`.
    pub size: Size,
    pub tiles: TileOptions,
    /// The stage's upscaling/correction group, models resolved.
    pub upscale: UpscaleOptions,
    /// The stage's highres group (`upscale-highres`).
    pub highres: HighresOptions,
    pub border: Border,
    /// The stage's `tiles` (the tile cap of §6.2).
    pub tile_size: u32,
    /// The stage's `outscale` (1–4).
    pub outscale: u32,
    /// The raw stage parameters, for the stage's own values (validated by the schema).
    pub raw: Map<String, Value>,
    /// `source:<name>` upload.
    pub source: Option<StageImage>,
    /// `mask:<name>` upload.
    pub mask: Option<StageMask>,
}

impl PlannedStage {
    /// A number parameter, or `default`.
    pub fn number(&self, key: &str, default: f64) -> f64 {
        self.raw
            .get(key)
            .and_then(crate::schema::number)
            .unwrap_or(default)
    }

    /// The stage's own `width`/`height` (reduce stages), default the image size.
    pub fn own_size(&self) -> Size {
        Size {
            width: self.number("width", f64::from(self.size.width)) as u32,
            height: self.number("height", f64::from(self.size.height)) as u32,
        }
    }

    /// A text parameter.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }

    /// A list parameter (one string counts as a list of one).
    pub fn list(&self, key: &str) -> Vec<Value> {
        match self.raw.get(key) {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        }
    }

    /// Tile overlap for stage tiling (onnx-web's default 0.5).
    pub fn overlap(&self) -> f64 {
        self.number("overlap", 0.5)
    }

    /// The stage's tile order (spiral by default).
    pub fn tile_order(&self) -> onnx_web_pipelines::tiling::TileOrder {
        match self.text("tile_order") {
            Some("grid") => onnx_web_pipelines::tiling::TileOrder::Grid,
            _ => onnx_web_pipelines::tiling::TileOrder::Spiral,
        }
    }
}

/// A whole chain.
#[derive(Clone, Debug)]
pub struct ChainPlan {
    pub stages: Vec<PlannedStage>,
}

impl ChainPlan {
    /// onnx-web's `pipeline.outputs(params, 0)`: source stages, `blend-img2img` and `blend-grid`
    /// add one each (so `blend-img2img` over-counts, as in onnx-web).
    pub fn outputs(&self) -> usize {
        self.stages.iter().fold(0, |n, stage| {
            crate::stages::find(&stage.kind).map_or(n, |s| s.outputs(n))
        })
    }

    /// The size of the chain's last images as far as the plan tells (a download's size is
    /// known only once fetched), else `fallback`: the response's `size`.
    pub fn output_size(&self, fallback: Size) -> Size {
        self.stages
            .iter()
            .fold(None, |size, stage| {
                crate::stages::find(&stage.kind).map_or(size, |s| s.output_size(stage, size))
            })
            .unwrap_or(fallback)
    }

    /// onnx-web's `pipeline.steps(params, size)`: the response's `params.steps`.
    pub fn steps(&self) -> u32 {
        self.stages
            .iter()
            .map(|stage| crate::stages::find(&stage.kind).map_or(1, |s| s.steps(stage)))
            .fold(0u32, u32::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tile_sizes() {
        assert_eq!(parse_tile_size(&json!("hd8k")), Ok(8192));
        assert_eq!(parse_tile_size(&json!("max")), Ok(u32::MAX));
        assert_eq!(parse_tile_size(&json!(256)), Ok(256));
        assert_eq!(parse_tile_size(&json!("128")), Ok(128));
        assert_eq!(parse_tile_size(&Value::Null), Ok(512));
        assert!(parse_tile_size(&json!("huge")).is_err());
        assert!(parse_tile_size(&json!(-5)).is_err());
        assert!(parse_tile_size(&json!(1.5)).is_err());
    }
}
