//! `upscale-highres`: onnx-web's highres on every image (upscale by `highresScale`, refine with
//! img2img at `highresStrength`, `highresIterations` times). onnx-web never builds the highres
//! group for chains; here it comes from the stage's highres parameters, as in a query.

use image::RgbImage;

use super::Stage;
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct UpscaleHighres;

impl Stage for UpscaleHighres {
    fn diffusion(&self) -> bool {
        true
    }

    fn output_size(&self, stage: &PlannedStage, input: Option<Size>) -> Option<Size> {
        let highres = &stage.highres;
        if highres.scale <= 1 {
            return input;
        }
        // Each iteration upscales by `scale`.
        let factor = highres.scale.saturating_pow(highres.iterations);
        input.map(|size| Size {
            width: size.width.saturating_mul(factor),
            height: size.height.saturating_mul(factor),
        })
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let mut highres = run.stage.highres.clone();
        if highres.scale <= 1 {
            return Ok(sources);
        }
        highres.enabled = true;
        let mut one = run.stage.clone();
        one.params.batch = 1;
        // Only highres: no correction or final upscaling in this stage.
        one.upscale.upscale = false;
        one.upscale.faces = false;
        let run = StageRun {
            stage: &one,
            ..*run
        };
        let ctx = super::job_context(&run, highres);
        sources
            .iter()
            .map(|image| Ok(ctx.upscale(image)?))
            .collect()
    }
}
