//! `upscale-swinir`: a SwinIR ONNX model (`upscaling`), the same interface as BSRGAN, on
//! 64-pixel tiles.

use image::RgbImage;

use super::{Stage, MICRO_TILE};
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;

pub struct UpscaleSwinIr;

impl Stage for UpscaleSwinIr {
    fn max_tile(&self) -> u32 {
        MICRO_TILE
    }

    fn tiled(&self) -> bool {
        true
    }

    fn scale(&self, stage: &PlannedStage) -> u32 {
        stage.outscale
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        super::upscale_bsrgan::upscale_with_file_model(run, sources, MICRO_TILE)
    }
}
