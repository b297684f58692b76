//! `reduce-crop`: crops every image to `width × height` at (`left`, `top`).
//!
//! onnx-web's stage takes `origin` and `size` objects that a chain cannot send (and treats
//! `size` as the bottom-right corner); here the origin is `left`/`top` and the size is the
//! stage's own `width`/`height` (any size, not clamped like an image's; default: the
//! chain's image size).

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage};
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct ReduceCrop;

/// The crop size; `left`/`top` are the border group's.
pub(super) const SIZE_PARAMS: &[ParamSpec] = &[
    ParamSpec::optional(
        "width",
        ParamType::Int {
            min: 1,
            max: 65_536,
        },
    ),
    ParamSpec::optional(
        "height",
        ParamType::Int {
            min: 1,
            max: 65_536,
        },
    ),
];

impl Stage for ReduceCrop {
    fn params(&self) -> &'static [ParamSpec] {
        SIZE_PARAMS
    }

    fn output_size(&self, stage: &PlannedStage, _input: Option<Size>) -> Option<Size> {
        Some(stage.own_size())
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let (left, top) = (run.stage.border.left, run.stage.border.top);
        let size = run.stage.own_size();
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
