//! `blend-denoise` and `blend-denoise-fastnlmeans`: OpenCV-style fastNlMeans colour denoising
//! with `h = hColor = strength`.

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage, MAX_TILE};
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct BlendDenoiseFastNlMeans;

const PARAMS: &[ParamSpec] = &[ParamSpec::optional(
    "strength",
    ParamType::Int { min: 0, max: 100 },
)];

impl Stage for BlendDenoiseFastNlMeans {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn max_tile(&self) -> u32 {
        MAX_TILE
    }

    fn tiled(&self) -> bool {
        true
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let strength = run.stage.number("strength", 3.0) as f32;
        Ok(sources
            .iter()
            .map(|image| onnx_web_imageops::fast_nl_means_colored(image, strength, strength))
            .collect())
    }
}
