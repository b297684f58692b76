//! `correct-gfpgan`: face restoration with the stage's `correction` model (GFPGAN-style),
//! weight `faceStrength`, the result scaled by `faceOutscale`; skipped without a model.

use image::RgbImage;

use super::Stage;
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct CorrectGfpgan;

impl Stage for CorrectGfpgan {
    fn scale(&self, stage: &crate::plan::PlannedStage) -> u32 {
        stage.upscale.face_outscale.max(1)
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        super::correct_codeformer::correct(run, sources)
    }
}
