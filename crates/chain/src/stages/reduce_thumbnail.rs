//! `reduce-thumbnail`: shrinks every image to fit in `width × height`, keeping its aspect
//! ratio and never enlarging (PIL's `thumbnail`). onnx-web's stage is broken (it keeps PIL's
//! `None` result); this is what it means to do, applied to the sources.

use image::RgbImage;

use super::{ParamSpec, Stage};
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct ReduceThumbnail;

impl Stage for ReduceThumbnail {
    fn params(&self) -> &'static [ParamSpec] {
        super::reduce_crop::SIZE_PARAMS
    }

    fn output_size(&self, stage: &PlannedStage, input: Option<Size>) -> Option<Size> {
        let limit = stage.own_size();
        let input = input?;
        if input.width <= limit.width && input.height <= limit.height {
            return Some(input);
        }
        let (width, height) =
            onnx_web_imageops::contain_size(input.width, input.height, limit.width, limit.height);
        Some(Size {
            width: width.max(1),
            height: height.max(1),
        })
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let size = run.stage.own_size();
        Ok(sources
            .into_iter()
            .map(|image| {
                if image.width() <= size.width && image.height() <= size.height {
                    return image;
                }
                let (w, h) = onnx_web_imageops::contain_size(
                    image.width(),
                    image.height(),
                    size.width,
                    size.height,
                );
                onnx_web_imageops::resize(
                    &image,
                    w.max(1),
                    h.max(1),
                    onnx_web_imageops::ResizeMethod::Bicubic,
                )
            })
            .collect())
    }
}
