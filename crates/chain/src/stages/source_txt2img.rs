//! `source-txt2img`: txt2img at the stage's `width × height` (MultiDiffusion views past
//! `unet_tile`, where onnx-web would make a `unet_tile`-sized image), adding `batch` images.

use image::RgbImage;
use onnx_web_pipelines::HighresOptions;

use super::{ParamSpec, ParamType, Stage, MAX_TILE};
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct SourceTxt2Img;

const PARAMS: &[ParamSpec] = &[ParamSpec::optional(
    "prompt_index",
    ParamType::Int { min: 0, max: 64 },
)];

impl Stage for SourceTxt2Img {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn max_tile(&self) -> u32 {
        MAX_TILE
    }

    fn diffusion(&self) -> bool {
        true
    }

    fn output_size(&self, stage: &PlannedStage, _input: Option<Size>) -> Option<Size> {
        Some(stage.size)
    }

    fn outputs(&self, n: usize) -> usize {
        n + 1
    }

    fn steps(&self, stage: &crate::plan::PlannedStage) -> u32 {
        stage.params.steps
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let ctx = super::job_context(run, HighresOptions::disabled());
        let size = run.stage.size;
        let images = ctx.txt2img(size, |models| {
            Ok(onnx_web_pipelines::txt2img::run(models, ctx.params, size, ctx.progress)?.images)
        })?;
        let mut out = sources;
        out.extend(images);
        Ok(out)
    }
}
