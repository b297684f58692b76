//! `blend-denoise-localstd`: replaces stray pixels that deviate from their neighbourhood's
//! median by more than the local deviation plus `strength` (and less than `range` times it).

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage, MAX_TILE};
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct BlendDenoiseLocalStd;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional("strength", ParamType::Int { min: 0, max: 255 }),
    ParamSpec::optional("range", ParamType::Int { min: 1, max: 64 }),
];

impl Stage for BlendDenoiseLocalStd {
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
        let strength = run.stage.number("strength", 5.0) as f32;
        let range = run.stage.number("range", 4.0) as f32;
        Ok(sources
            .iter()
            .map(|image| onnx_web_imageops::denoise_local_std(image, strength, range))
            .collect())
    }
}
