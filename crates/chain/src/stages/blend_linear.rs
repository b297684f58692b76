//! `blend-linear`: `source + alpha × (stage_source − source)` (PIL's `Image.blend`), with the
//! `source:<stage>` upload resized to each source.

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage};
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;

pub struct BlendLinear;

const PARAMS: &[ParamSpec] = &[ParamSpec::required(
    "alpha",
    ParamType::Number { min: 0.0, max: 1.0 },
)];

impl Stage for BlendLinear {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let other = stage_source(run)?;
        let alpha = run.stage.number("alpha", 0.5) as f32;
        sources
            .iter()
            .map(|image| {
                let other = fit(other, image);
                Ok(onnx_web_imageops::blend_linear(image, &other, alpha)?)
            })
            .collect()
    }
}

/// The stage's `source:<name>` upload.
pub(super) fn stage_source<'a>(run: &'a StageRun<'_>) -> Result<&'a RgbImage> {
    run.stage
        .source
        .as_ref()
        .map(|s| s.0.as_ref())
        .ok_or_else(|| {
            RunError::Input(format!(
                "{} needs an image uploaded as source:{}",
                run.stage.kind, run.stage.name
            ))
        })
}

/// `other` at the size of `like` (bilinear), as the stage images must match the sources.
pub(super) fn fit(other: &RgbImage, like: &RgbImage) -> RgbImage {
    if other.dimensions() == like.dimensions() {
        other.clone()
    } else {
        onnx_web_imageops::resize(
            other,
            like.width(),
            like.height(),
            onnx_web_imageops::ResizeMethod::Bilinear,
        )
    }
}
