//! `upscale-resrgan`: a Real-ESRGAN-style ONNX model (`upscaling`) in padded tiles of the
//! stage tile (RealESRGANer's `tile_pad` 10), resized to `outscale` when that differs from the
//! model's native factor.

use std::path::Path;

use image::RgbImage;

use super::Stage;
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;

pub struct UpscaleRealEsrgan;

impl Stage for UpscaleRealEsrgan {
    fn scale(&self, stage: &PlannedStage) -> u32 {
        stage.outscale
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let tile = run.stage.tile_size.min(crate::plan::AUTO_TILE);
        super::upscale_bsrgan::upscale_with_file_model(run, sources, tile)
    }
}

/// The stage's upscaling model (checked to exist when the chain was accepted).
pub(super) fn model_path<'a>(run: &'a StageRun<'_>) -> Result<&'a Path> {
    run.stage
        .upscale
        .upscale_model
        .as_deref()
        .ok_or_else(|| RunError::Input(format!("{} needs an upscaling model", run.stage.kind)))
}
