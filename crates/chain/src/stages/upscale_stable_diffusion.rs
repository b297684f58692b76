//! `upscale-stable-diffusion`: the Stable Diffusion x4 upscaler (`upscaling`, a model folder)
//! on 128-pixel tiles with the stage's prompt, steps and cfg; `denoise` is the noise level.

use image::RgbImage;
use onnx_web_pipelines::HighresOptions;

use super::Stage;
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;

pub struct UpscaleStableDiffusion;

impl Stage for UpscaleStableDiffusion {
    fn diffusion(&self) -> bool {
        true
    }

    fn scale(&self, stage: &PlannedStage) -> u32 {
        stage.outscale
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        super::upscale_resrgan::model_path(run)?;
        let ctx = super::job_context(run, HighresOptions::disabled());
        sources
            .iter()
            .map(|image| Ok(ctx.upscale_with_model(image, run.stage.outscale)?))
            .collect()
    }
}
