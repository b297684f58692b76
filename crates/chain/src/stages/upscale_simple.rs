//! `upscale-simple`: resizes by `scale` with `method` (bilinear or lanczos); nothing to do
//! when `scale` is 1.

use image::RgbImage;
use onnx_web_imageops::ResizeMethod;

use super::{ParamSpec, ParamType, Stage};
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;

pub struct UpscaleSimple;

const PARAMS: &[ParamSpec] = &[ParamSpec::required(
    "method",
    ParamType::Choice(&["bilinear", "lanczos"]),
)];

impl Stage for UpscaleSimple {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn tiled(&self) -> bool {
        true
    }

    fn scale(&self, stage: &PlannedStage) -> u32 {
        stage.upscale.scale.max(1)
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let scale = run.stage.upscale.scale;
        if scale <= 1 {
            return Ok(sources);
        }
        let method = match run.stage.text("method") {
            Some("lanczos") => ResizeMethod::Lanczos,
            _ => ResizeMethod::Bilinear,
        };
        Ok(sources
            .iter()
            .map(|image| {
                onnx_web_imageops::resize(
                    image,
                    image.width() * scale,
                    image.height() * scale,
                    method,
                )
            })
            .collect())
    }
}
