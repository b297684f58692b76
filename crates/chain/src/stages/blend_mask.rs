//! `blend-mask`: `composite(stage_source, source, mask)`: white in the mask takes the
//! `source:<stage>` upload, black keeps the source.

use image::RgbImage;

use super::Stage;
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;

pub struct BlendMask;

// onnx-web tiles this stage (a mask is present); compositing is per pixel, so running it on
// the whole image gives the same result.
impl Stage for BlendMask {
    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let other = super::blend_linear::stage_source(run)?;
        let mask = run.mask.ok_or_else(|| {
            RunError::Input(format!(
                "blend-mask needs a mask uploaded as mask:{}",
                run.stage.name
            ))
        })?;
        Ok(sources
            .iter()
            .map(|image| {
                let other = super::blend_linear::fit(other, image);
                let mask = if mask.dimensions() == image.dimensions() {
                    mask.clone()
                } else {
                    onnx_web_imageops::fit_mask(mask, image.width(), image.height())
                };
                onnx_web_pipelines::blend::blend(image, &other, &mask)
            })
            .collect())
    }
}
