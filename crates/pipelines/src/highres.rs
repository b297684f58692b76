//! Highres (§6.1): each iteration upscales by `highresScale` (bilinear, lanczos or the upscaling
//! model) and refines with img2img at `highresStrength`, using `steps` (onnx-web ignores
//! `highresSteps` and so does this). Larger-than-tile images are refined in UNet views.

use image::RgbImage;

use crate::error::Result;
use crate::image_util::{resize, Resample};
use crate::options::HighresOptions;
use crate::sd::SdStage;

/// Runs the highres iterations; `upscale_model` upscales by the given factor with the
/// configured upscaling model (for `highresMethod=upscale`).
pub fn highres(
    sd: &SdStage<'_>,
    image: RgbImage,
    options: &HighresOptions,
    upscale_model: &dyn Fn(&RgbImage, u32) -> Result<RgbImage>,
) -> Result<RgbImage> {
    if !options.enabled || options.iterations == 0 {
        return Ok(image);
    }
    let mut image = image;
    let scale = options.scale.max(1);
    for iteration in 0..options.iterations {
        let stage = SdStage {
            prompt_stage: 1 + iteration as usize,
            ..sd.clone_ref()
        };
        if options.method == "upscale" {
            image = upscale_model(&image, scale)?;
        } else if scale > 1 {
            let method = if options.method == "lanczos" {
                Resample::Lanczos
            } else {
                Resample::Bilinear
            };
            image = resize(
                &image,
                image.width() * scale,
                image.height() * scale,
                method,
            );
        }
        image = stage
            .img2img(&image, options.strength, 1)?
            .pop()
            .expect("one image");
        sd.progress.check()?;
    }
    Ok(image)
}
