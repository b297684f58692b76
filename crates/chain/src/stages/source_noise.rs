//! `source-noise`: adds one `width × height` noise image (`noise_source`, default histogram)
//! per existing image, made from that image; with no images yet, one from a blank canvas.

use image::{Rgb, RgbImage};
use onnx_web_imageops::NoiseSource;

use super::{ParamSpec, ParamType, Stage};
use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct SourceNoise;

fn is_noise(name: &str) -> bool {
    NoiseSource::from_name(name).is_some()
}

const PARAMS: &[ParamSpec] = &[ParamSpec::optional(
    "noise_source",
    ParamType::Check(is_noise, "a noise source (see /api/settings/noises)"),
)];

impl Stage for SourceNoise {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn output_size(&self, stage: &PlannedStage, _input: Option<Size>) -> Option<Size> {
        Some(stage.size)
    }

    fn outputs(&self, n: usize) -> usize {
        n + 1
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let noise = run
            .stage
            .text("noise_source")
            .and_then(NoiseSource::from_name)
            .unwrap_or(NoiseSource::Histogram);
        let size = run.stage.size;
        let seed = u64::from(run.stage.params.seed);
        let fill = Rgb([0, 0, 0]);
        let blank = [RgbImage::from_pixel(size.width, size.height, fill)];
        let bases: &[RgbImage] = if sources.is_empty() { &blank } else { &sources };
        let added: Vec<RgbImage> = bases
            .iter()
            .enumerate()
            .map(|(i, base)| {
                noise.generate(base, size.width, size.height, (0, 0), fill, seed + i as u64)
            })
            .collect();
        let mut out = sources;
        out.extend(added);
        Ok(out)
    }
}
