//! `reduce-crop`: crops every image to `width × height` at (`left`, `top`).
//!
//! onnx-web's stage takes `origin` and `size` objects that a chain cannot send (and treats
//! `size` as the bottom-right corner); here the origin is `left`/`top` and the size is the
//! stage's `width`/`height`.

use image::RgbImage;

use super::Stage;
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;

pub struct ReduceCrop;

impl Stage for ReduceCrop {
    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let (left, top) = (run.stage.border.left, run.stage.border.top);
        let size = run.stage.size;
        sources
            .iter()
            .map(|image| {
                if left + size.width > image.width() || top + size.height > image.height() {
                    return Err(RunError::Input(format!(
                        "the crop {}x{} at ({left}, {top}) is outside the {}x{} image",
                        size.width,
                        size.height,
                        image.width(),
                        image.height()
                    )));
                }
                Ok(image::imageops::crop_imm(image, left, top, size.width, size.height).to_image())
            })
            .collect()
    }
}
