//! `blend-img2img`: img2img on every source at `strength`, one result per source.

use image::RgbImage;
use onnx_web_pipelines::HighresOptions;

use super::{ParamSpec, ParamType, Stage, MAX_TILE};
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct BlendImg2Img;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("strength", ParamType::Number { min: 0.0, max: 1.0 }),
    ParamSpec::optional("prompt_index", ParamType::Int { min: 0, max: 64 }),
];

impl Stage for BlendImg2Img {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn max_tile(&self) -> u32 {
        MAX_TILE
    }

    fn tiled(&self) -> bool {
        true
    }

    fn diffusion(&self) -> bool {
        true
    }

    fn outputs(&self, n: usize) -> usize {
        n + 1
    }

    fn steps(&self, stage: &crate::plan::PlannedStage) -> u32 {
        stage.params.steps
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let strength = run.stage.number("strength", 0.5) as f32;
        let mut one = run.stage.clone();
        one.params.batch = 1;
        let run = StageRun {
            stage: &one,
            ..*run
        };
        let ctx = super::job_context(&run, HighresOptions::disabled());
        let mut out = Vec::with_capacity(sources.len());
        for source in &sources {
            out.extend(ctx.img2img(source, strength, 0)?);
        }
        Ok(out)
    }
}
