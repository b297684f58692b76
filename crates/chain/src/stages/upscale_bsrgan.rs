//! `upscale-bsrgan`: a BSRGAN ONNX model (`upscaling`, RGB in [0, 1]) on 64-pixel tiles.

use image::RgbImage;

use super::{Stage, MICRO_TILE};
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;

pub struct UpscaleBsrgan;

impl Stage for UpscaleBsrgan {
    fn max_tile(&self) -> u32 {
        MICRO_TILE
    }

    fn tiled(&self) -> bool {
        true
    }

    fn scale(&self, stage: &PlannedStage) -> u32 {
        stage.outscale
    }

    /// onnx-web: `(w // t) * h // t` with `t = min(unet_tile, 64)`.
    fn steps(&self, stage: &PlannedStage) -> u32 {
        let t = stage.tiles.unet_tile.clamp(1, MICRO_TILE);
        (stage.size.width / t).saturating_mul(stage.size.height) / t
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        upscale_with_file_model(run, sources, MICRO_TILE)
    }
}

/// Runs the stage's `.onnx` upscaling model over each source in `tile`-pixel tiles, giving
/// `outscale` times the source.
pub(super) fn upscale_with_file_model(
    run: &StageRun<'_>,
    sources: Vec<RgbImage>,
    tile: u32,
) -> Result<Vec<RgbImage>> {
    let path = super::upscale_resrgan::model_path(run)?;
    let model = run.pipelines.image_model(path, run.platform)?;
    sources
        .iter()
        .map(|image| {
            Ok(onnx_web_pipelines::upscale::upscale_onnx(
                &model,
                image,
                tile,
                run.stage.outscale,
                run.progress,
            )?)
        })
        .collect()
}
