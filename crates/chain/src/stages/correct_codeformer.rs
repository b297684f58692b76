//! `correct-codeformer`: face restoration with a CodeFormer-style model (the stage's
//! `correction`, or the first listed CodeFormer model), fidelity `faceStrength`, the result
//! scaled by `faceOutscale`.

use image::RgbImage;
use onnx_web_pipelines::HighresOptions;

use super::Stage;
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct CorrectCodeformer;

impl Stage for CorrectCodeformer {
    fn scale(&self, stage: &crate::plan::PlannedStage) -> u32 {
        stage.upscale.face_outscale.max(1)
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        correct(run, sources)
    }
}

/// Corrects every source with the stage's correction model (none: the sources pass through,
/// as onnx-web's GFPGAN stage does without a model).
pub(super) fn correct(run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
    if run.stage.upscale.correction_model.is_none() {
        tracing::warn!(stage = %run.stage.name, "no correction model, skipping");
        return Ok(sources);
    }
    let ctx = super::job_context(run, HighresOptions::disabled());
    sources
        .iter()
        .map(|image| Ok(ctx.correct(image)?))
        .collect()
}
