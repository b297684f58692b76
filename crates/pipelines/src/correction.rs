//! Face correction (§6.4) with GFPGAN- and CodeFormer-style ONNX models. No face detector model
//! is configured in this server, so the whole image is corrected: images up to the model's input
//! size (512) are resized to it and back; larger ones are corrected in 512-pixel tiles, so detail
//! is not lost to a downscale. The result is mixed with the original by `faceStrength` (models
//! with a fidelity input, CodeFormer, get the strength there instead), then the whole image is
//! scaled by `faceOutscale`.

use image::RgbImage;
use onnx_web_diffusion::image_model::ImageModel;

use crate::error::Result;
use crate::image_util::{from_signed_tensor, mix, resize, to_signed_tensor, Resample};
use crate::progress::Progress;
use crate::tiling::{process_tiles, TileOrder};

/// The input side of models that do not declare one.
const DEFAULT_FACE_SIZE: u32 = 512;

fn correct_square(
    model: &ImageModel,
    image: &RgbImage,
    side: u32,
    strength: f32,
) -> Result<RgbImage> {
    let (width, height) = image.dimensions();
    let input = resize(image, side, side, Resample::Bicubic);
    let (output, oh, ow) = model.run(
        &to_signed_tensor(&input),
        side as usize,
        side as usize,
        f64::from(strength),
    )?;
    let restored = resize(
        &from_signed_tensor(&output, oh, ow),
        width,
        height,
        Resample::Bicubic,
    );
    Ok(restored)
}

/// Corrects `image`, mixes by `strength`, scales by `outscale`.
pub fn correct_faces(
    model: &ImageModel,
    image: &RgbImage,
    strength: f32,
    outscale: u32,
    margins: crate::tiling::Margins,
    progress: &Progress,
) -> Result<RgbImage> {
    let side = model
        .fixed_size()
        .map(|(h, w)| h.max(w) as u32)
        .unwrap_or(DEFAULT_FACE_SIZE);
    let has_weight = model.model().inputs().len() > 1;
    let restored = process_tiles(
        image,
        None,
        side,
        0.25,
        TileOrder::Grid,
        1,
        margins,
        |tile| {
            let out = correct_square(model, tile.image, side, strength)?;
            progress.check()?;
            Ok(vec![out])
        },
    )?
    .pop()
    .expect("one output");
    let mixed = if has_weight {
        restored
    } else {
        mix(image, &restored, strength)
    };
    Ok(if outscale > 1 {
        resize(
            &mixed,
            image.width() * outscale,
            image.height() * outscale,
            Resample::Lanczos,
        )
    } else {
        mixed
    })
}
