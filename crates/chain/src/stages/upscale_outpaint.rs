//! `upscale-outpaint` and its alias `blend-inpaint`: inpaints every image where the
//! `mask:<stage>` upload is white, after extending it by the stage's `left/right/top/bottom`
//! border (filled with `noise_source` through `mask_filter`). Spiral tiles of `unet_tile` run
//! inside the inpaint pipeline; tiles with an empty mask are kept.

use image::{GrayImage, RgbImage};
use onnx_web_imageops::{MaskFilter, NoiseSource};
use onnx_web_pipelines::inpaint::InpaintOptions;
use onnx_web_pipelines::HighresOptions;

use super::{ParamSpec, ParamType, Stage, MAX_TILE};
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct UpscaleOutpaint;

fn is_noise(name: &str) -> bool {
    NoiseSource::from_name(name).is_some()
}

fn is_mask_filter(name: &str) -> bool {
    MaskFilter::from_name(name).is_some()
}

fn is_color(text: &str) -> bool {
    onnx_web_imageops::parse_rgb(text).is_ok()
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional("fill_color", ParamType::Check(is_color, "a colour")),
    ParamSpec::optional("fillColor", ParamType::Check(is_color, "a colour")),
    ParamSpec::optional(
        "mask_filter",
        ParamType::Check(is_mask_filter, "a mask filter (see /api/settings/masks)"),
    ),
    ParamSpec::optional(
        "noise_source",
        ParamType::Check(is_noise, "a noise source (see /api/settings/noises)"),
    ),
];

impl Stage for UpscaleOutpaint {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn max_tile(&self) -> u32 {
        MAX_TILE
    }

    fn diffusion(&self) -> bool {
        true
    }

    fn output_size(&self, stage: &PlannedStage, input: Option<Size>) -> Option<Size> {
        let border = stage.border;
        input.map(|size| Size {
            width: size.width + border.left + border.right,
            height: size.height + border.top + border.bottom,
        })
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let stage = run.stage;
        if run.mask.is_none() && stage.border.is_empty() {
            return Err(RunError::Input(format!(
                "{} needs a mask uploaded as mask:{} or a border (left, right, top, bottom)",
                stage.kind, stage.name
            )));
        }
        let fill = stage
            .text("fill_color")
            .or_else(|| stage.text("fillColor"))
            .and_then(|c| onnx_web_imageops::parse_rgb(c).ok())
            .unwrap_or(image::Rgb([0, 0, 0]));
        let options = InpaintOptions {
            border: stage.border,
            fill,
            noise: stage
                .text("noise_source")
                .and_then(NoiseSource::from_name)
                .unwrap_or(NoiseSource::Histogram),
            filter: stage
                .text("mask_filter")
                .and_then(MaskFilter::from_name)
                .unwrap_or(MaskFilter::None),
            fullres: false,
            fullres_padding: 0.0,
        };
        let mut one = stage.clone();
        one.params.batch = 1;
        let run = StageRun {
            stage: &one,
            ..*run
        };
        let ctx = super::job_context(&run, HighresOptions::disabled());
        let mut out = Vec::with_capacity(sources.len());
        for source in &sources {
            // No mask: keep the whole source and paint only the border.
            let mask = match run.mask {
                Some(mask) => mask.clone(),
                None => GrayImage::new(source.width(), source.height()),
            };
            out.extend(ctx.inpaint(source, &mask, &options)?);
        }
        Ok(out)
    }
}
